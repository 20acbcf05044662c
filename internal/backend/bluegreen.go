package backend

import (
	"context"
	"sort"
	"sync"

	"github.com/opsdeck/opsdeck/internal/backend/stream"
	"github.com/opsdeck/opsdeck/internal/bluegreen"
	"github.com/opsdeck/opsdeck/internal/domain"
)

// startReconciler readies the blue-green reconciler that performs due switches and
// scale-downs through the executor, so that a deploy started by any opsdeck process (or by one
// that has exited) completes while this one runs. It acts in the rounds of the process's state
// stream (BlueGreenActor), judging previews on the round's frame. A read-only backend acts on
// nothing.
func (b *Backend) startReconciler() {
	if b.opts.NoReconcile || b.opts.Executor.ReadOnly {
		return
	}
	r := &bluegreen.Reconciler{
		Exec:       b.opts.Executor,
		Clock:      b.opts.Clock,
		Thresholds: b.opts.Thresholds,
		Log:        b.opts.Log,
		OnStep: func(st bluegreen.Step) {
			b.steps.add(stepEvent(st, b.opts.Clock))
			if b.opts.OnBlueGreenStep != nil {
				b.opts.OnBlueGreenStep(st)
			}
		},
	}
	if while := b.opts.ReconcileWhile; while != nil {
		r.Only = func(domain.Service) bool { return while() }
	}
	r.NoMetrics = b.opts.Metrics == nil
	b.reconciler = r
}

// RecordStep shows a blue-green step taken by a reconciler of the caller's own (the demo's,
// which runs in step with its simulated cluster) in the events of the states Watch streams,
// as the backend's own reconciler's steps are.
func (b *Backend) RecordStep(st bluegreen.Step) { b.steps.add(stepEvent(st, b.opts.Clock)) }

// BlueGreenActor is the blue-green reconciler as an actor of the process's state stream; nil
// when this backend reconciles nothing (read-only, or Options.NoReconcile).
func (b *Backend) BlueGreenActor() stream.Actor {
	if b.reconciler == nil {
		return nil
	}
	return b.reconciler
}

// PreviewStatus says where the pending blue-green switch of a service (by key) stands.
func (b *Backend) PreviewStatus(key string) string {
	if b.reconciler == nil {
		return ""
	}
	return b.reconciler.PreviewStatus(key)
}

// Snapshots lists the snapshots the executor saved for svc, newest first.
func (b *Backend) Snapshots(_ context.Context, svc domain.Service) ([]domain.Snapshot, error) {
	return b.opts.Executor.Snapshots(svc.Namespace, svc.Name)
}

var _ domain.SnapshotLister = (*Backend)(nil)

// maxStepEvents bounds the reconciler's steps the states carry.
const maxStepEvents = 20

// stepLog keeps the reconciler's latest steps as events and wakes the watches when one is
// added, so the console's events pane shows a switch or a scale-down this process performed
// (the watches carry only Warning events of the cluster).
type stepLog struct {
	mu     sync.Mutex
	events []domain.Event // newest first
	kicks  map[chan struct{}]struct{}
}

func newStepLog() *stepLog { return &stepLog{kicks: map[chan struct{}]struct{}{}} }

func (l *stepLog) add(e domain.Event) {
	l.mu.Lock()
	l.events = append([]domain.Event{e}, l.events...)
	if len(l.events) > maxStepEvents {
		l.events = l.events[:maxStepEvents]
	}
	for k := range l.kicks {
		select {
		case k <- struct{}{}:
		default:
		}
	}
	l.mu.Unlock()
}

func (l *stepLog) snapshot() []domain.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]domain.Event(nil), l.events...)
}

func stepEvent(st bluegreen.Step, clock domain.Clock) domain.Event {
	e := domain.Event{Time: st.Result.At, Source: domain.SourceAction, Type: "Normal", Reason: string(st.Action.Kind),
		Object: "service/" + st.Action.Service, Message: st.Result.Message, Count: 1}
	if e.Time.IsZero() {
		e.Time = clock.Now()
	}
	if st.Err != nil {
		e.Type, e.Message = "Warning", st.Err.Error()
	}
	return e
}

// withSteps forwards the states of in, latest wins, each with the reconciler's steps among its
// events, and the latest state again when a step is added.
func (b *Backend) withSteps(ctx context.Context, in <-chan domain.ClusterState) <-chan domain.ClusterState {
	kick := make(chan struct{}, 1)
	b.steps.mu.Lock()
	b.steps.kicks[kick] = struct{}{}
	b.steps.mu.Unlock()
	out := make(chan domain.ClusterState, 1)
	go func() {
		defer close(out)
		defer func() {
			b.steps.mu.Lock()
			delete(b.steps.kicks, kick)
			b.steps.mu.Unlock()
		}()
		var last domain.ClusterState
		have := false
		for {
			select {
			case <-ctx.Done():
				return
			case st, ok := <-in:
				if !ok {
					return
				}
				last, have = st, true
			case <-kick:
				if !have {
					continue
				}
			}
			st := last
			if steps := b.steps.snapshot(); len(steps) > 0 {
				st.Events = append(append([]domain.Event(nil), st.Events...), steps...)
				sort.SliceStable(st.Events, func(i, j int) bool { return st.Events[i].Time.After(st.Events[j].Time) })
			}
			select { // latest wins: replace a state not read yet
			case <-out:
			default:
			}
			select {
			case out <- st:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}
