package actions

import (
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
)

// Component is the event source and reporting controller of opsdeck's Events.
const Component = "opsdeck"

// EventRecorder is client-go's event recorder (component and reporting controller "opsdeck")
// that can also wait until what it recorded has reached the API server: a CLI verb exits right
// after its action, and the broadcaster writes asynchronously.
type EventRecorder struct {
	record.EventRecorder
	broadcaster record.EventBroadcaster

	mu        sync.Mutex
	cond      *sync.Cond
	recorded  int
	delivered int
}

// NewEventRecorder starts a broadcaster writing to client's Events API.
func NewEventRecorder(client kubernetes.Interface) *EventRecorder {
	r := &EventRecorder{broadcaster: record.NewBroadcaster()}
	r.cond = sync.NewCond(&r.mu)
	r.broadcaster.StartRecordingToSink(&countingSink{
		EventSink: &typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")},
		r:         r,
	})
	r.EventRecorder = r.broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: Component})
	return r
}

// Event records an event.
func (r *EventRecorder) Event(obj runtime.Object, eventtype, reason, message string) {
	r.count()
	r.EventRecorder.Event(obj, eventtype, reason, message)
}

// Eventf records an event with a formatted message.
func (r *EventRecorder) Eventf(obj runtime.Object, eventtype, reason, messageFmt string, args ...any) {
	r.count()
	r.EventRecorder.Eventf(obj, eventtype, reason, messageFmt, args...)
}

// AnnotatedEventf records an event with annotations.
func (r *EventRecorder) AnnotatedEventf(obj runtime.Object, annotations map[string]string, eventtype, reason, messageFmt string, args ...any) {
	r.count()
	r.EventRecorder.AnnotatedEventf(obj, annotations, eventtype, reason, messageFmt, args...)
}

func (r *EventRecorder) count() {
	r.mu.Lock()
	r.recorded++
	r.mu.Unlock()
}

func (r *EventRecorder) written() {
	r.mu.Lock()
	r.delivered++
	r.cond.Broadcast()
	r.mu.Unlock()
}

// Flush waits until every event recorded so far was written (or given up), at most timeout.
// It reports whether all were.
func (r *EventRecorder) Flush(timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	timer := time.AfterFunc(timeout, func() {
		r.mu.Lock()
		r.cond.Broadcast()
		r.mu.Unlock()
	})
	defer timer.Stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	for r.delivered < r.recorded && time.Now().Before(deadline) {
		r.cond.Wait()
	}
	return r.delivered >= r.recorded
}

// Close flushes (at most timeout) and stops the broadcaster.
func (r *EventRecorder) Close(timeout time.Duration) {
	r.Flush(timeout)
	r.broadcaster.Shutdown()
}

// countingSink counts the events written, so Flush knows when it may return (an event that
// fails is waited for until Flush's timeout).
type countingSink struct {
	record.EventSink
	r *EventRecorder
}

func (s *countingSink) Create(e *corev1.Event) (*corev1.Event, error) {
	out, err := s.EventSink.Create(e)
	if err == nil {
		s.r.written()
	}
	return out, err
}

func (s *countingSink) Update(e *corev1.Event) (*corev1.Event, error) {
	out, err := s.EventSink.Update(e)
	if err == nil {
		s.r.written()
	}
	return out, err
}

func (s *countingSink) Patch(e *corev1.Event, data []byte) (*corev1.Event, error) {
	out, err := s.EventSink.Patch(e, data)
	if err == nil {
		s.r.written()
	}
	return out, err
}
