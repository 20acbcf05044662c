package demo

import (
	"fmt"
	"strconv"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/scheme"
	k8stesting "k8s.io/client-go/testing"

	"github.com/opsdeck/opsdeck/internal/domain"
)

// apiServer is the part of an API server that opsdeck's executor relies on and client-go's
// fake tracker leaves out: every write gets a new resourceVersion in the object, an update
// or patch that names an older resourceVersion is refused with Conflict (the executor's
// preconditions), a Deployment's generation moves when its spec changes, and a new object
// gets a UID and a creation time from the demo's clock.
type apiServer struct {
	k8stesting.ObjectTracker
	clock domain.Clock

	mu sync.Mutex
	rv int64
	// onWrite, when set, is called after every successful write (the simulation's kick).
	onWrite func()
}

// newClientset returns a fake clientset served by an apiServer on clock.
func newClientset(clock domain.Clock) (*client, *apiServer) {
	api := &apiServer{ObjectTracker: k8stesting.NewObjectTracker(scheme.Scheme, scheme.Codecs.UniversalDecoder()), clock: clock}
	cs := &client{}
	cs.PrependReactor("*", "*", k8stesting.ObjectReaction(api))
	cs.PrependReactor("*", "deployments", api.scale)
	cs.PrependWatchReactor("*", func(action k8stesting.Action) (bool, watch.Interface, error) {
		var opts metav1.ListOptions
		if w, ok := action.(k8stesting.WatchActionImpl); ok {
			opts = w.ListOptions
		}
		w, err := api.Watch(action.GetResource(), action.GetNamespace(), opts)
		return true, w, err
	})
	return cs, api
}

// scale serves a Deployment's scale subresource (the executor's scale uses it): get reads
// the replicas, update sets them under the Deployment's resourceVersion.
func (a *apiServer) scale(action k8stesting.Action) (bool, runtime.Object, error) {
	if action.GetSubresource() != "scale" {
		return false, nil, nil
	}
	gvr, ns := action.GetResource(), action.GetNamespace()
	var name string
	var want *autoscalingv1.Scale
	switch act := action.(type) {
	case k8stesting.GetAction:
		name = act.GetName()
	case k8stesting.UpdateAction:
		sc, ok := act.GetObject().(*autoscalingv1.Scale)
		if !ok {
			return true, nil, fmt.Errorf("scale: unexpected %T", act.GetObject())
		}
		name, want = sc.Name, sc
	default:
		return false, nil, nil
	}
	obj, err := a.Get(gvr, ns, name)
	if err != nil {
		return true, nil, err
	}
	d := obj.(*appsv1.Deployment)
	if want != nil {
		d = d.DeepCopy()
		d.ResourceVersion = want.ResourceVersion
		d.Spec.Replicas = &want.Spec.Replicas
		if err := a.Update(gvr, d, ns); err != nil {
			return true, nil, err
		}
	}
	sc := &autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{Name: d.Name, Namespace: d.Namespace, ResourceVersion: d.ResourceVersion, UID: d.UID},
		Status: autoscalingv1.ScaleStatus{Replicas: d.Status.Replicas}}
	if d.Spec.Replicas != nil {
		sc.Spec.Replicas = *d.Spec.Replicas
	}
	return true, sc, nil
}

func (a *apiServer) nextRV() string {
	a.rv++
	return strconv.FormatInt(a.rv, 10)
}

func (a *apiServer) wrote() {
	if a.onWrite != nil {
		a.onWrite()
	}
}

// Add stores a seed object as Create does.
func (a *apiServer) Add(obj runtime.Object) error {
	m, err := meta.Accessor(obj)
	if err != nil {
		return err
	}
	gvks, _, err := scheme.Scheme.ObjectKinds(obj)
	if err != nil {
		return err
	}
	gvr, _ := meta.UnsafeGuessKindToResource(gvks[0])
	return a.Create(gvr, obj, m.GetNamespace())
}

func (a *apiServer) Create(gvr schema.GroupVersionResource, obj runtime.Object, ns string, opts ...metav1.CreateOptions) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	obj = obj.DeepCopyObject()
	m, err := meta.Accessor(obj)
	if err != nil {
		return err
	}
	if m.GetUID() == "" {
		m.SetUID(types.UID(fmt.Sprintf("demo-%s-%s-%s", gvr.Resource, ns, m.GetName())))
	}
	if ts := m.GetCreationTimestamp(); ts.IsZero() {
		m.SetCreationTimestamp(metav1.NewTime(a.clock.Now()))
	}
	if _, ok := obj.(*appsv1.Deployment); ok && m.GetGeneration() == 0 {
		m.SetGeneration(1)
	}
	m.SetResourceVersion(a.nextRV())
	if err := a.ObjectTracker.Create(gvr, obj, ns, opts...); err != nil {
		a.rv--
		return err
	}
	defer a.wrote()
	return nil
}

func (a *apiServer) Update(gvr schema.GroupVersionResource, obj runtime.Object, ns string, opts ...metav1.UpdateOptions) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.write(gvr, obj, ns); err != nil {
		return err
	}
	defer a.wrote()
	return a.ObjectTracker.Update(gvr, obj, ns, opts...)
}

func (a *apiServer) Patch(gvr schema.GroupVersionResource, obj runtime.Object, ns string, opts ...metav1.PatchOptions) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.write(gvr, obj, ns); err != nil {
		return err
	}
	defer a.wrote()
	return a.ObjectTracker.Patch(gvr, obj, ns, opts...)
}

func (a *apiServer) Delete(gvr schema.GroupVersionResource, ns, name string, opts ...metav1.DeleteOptions) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	defer a.wrote()
	return a.ObjectTracker.Delete(gvr, ns, name, opts...)
}

// write checks an update of obj against the stored object and stamps it: Conflict when obj
// names another resourceVersion, a new resourceVersion, and the next generation when a
// Deployment's spec changed.
func (a *apiServer) write(gvr schema.GroupVersionResource, obj runtime.Object, ns string) error {
	m, err := meta.Accessor(obj)
	if err != nil {
		return err
	}
	old, err := a.ObjectTracker.Get(gvr, ns, m.GetName())
	if err != nil {
		return err
	}
	om, _ := meta.Accessor(old)
	if rv := m.GetResourceVersion(); rv != "" && rv != om.GetResourceVersion() {
		return apierrors.NewConflict(gvr.GroupResource(), m.GetName(),
			fmt.Errorf("the object has been modified; please apply your changes to the latest version and try again"))
	}
	m.SetUID(om.GetUID())
	m.SetCreationTimestamp(om.GetCreationTimestamp())
	m.SetGeneration(om.GetGeneration())
	if d, ok := obj.(*appsv1.Deployment); ok {
		if od, ok := old.(*appsv1.Deployment); ok && !apiequality.Semantic.DeepEqual(d.Spec, od.Spec) {
			d.Generation = od.Generation + 1
		}
	}
	m.SetResourceVersion(a.nextRV())
	return nil
}
