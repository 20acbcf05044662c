// Package stream is the backend's one state stream: one loop per process reads a metrics
// frame for the latest synced cluster state at one cadence, hands it to the actors beside it
// (auto-guard, the blue-green reconciler), and publishes the round to its consumers (the
// console and `opsdeck guard`; `opsdeck status` is a one-shot that reads one frame). It works
// over any domain.Backend, the real one or the demo, and imports nothing but the domain, so
// the UI may consume it.
package stream

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/opsdeck/opsdeck/internal/domain"
)

// Actor acts on each round before it is published, in the stream's loop: it may read the
// round's state and frame, act through the executor, and add its verdicts, alerts and events.
type Actor interface {
	Act(ctx context.Context, r *domain.Round)
}

// StateObserver is an actor that also wants every cluster state between rounds (auto-guard
// answers outside signals on the newest one).
type StateObserver interface {
	Observe(st domain.ClusterState)
}

// maxKept bounds the events and alerts kept for a consumer that does not read.
const maxKept = 1000

// Stream publishes one Round per refresh.
type Stream struct {
	// Source is the backend whose watch and metrics the stream reads.
	Source domain.Backend
	Clock  domain.Clock
	// Interval is asked before each round for the time to the next (default 2 s): the
	// console's refresh, or the guard's round while auto-guard judges.
	Interval func() time.Duration
	// ReadTimeout bounds the frame's read (default 10 s): past it the round carries a frame
	// whose Err says so (auto-guard takes it as inconclusive), never a loop that waits.
	ReadTimeout time.Duration
	// Actors act on each round, in order, before it is published.
	Actors []Actor

	mu   sync.Mutex
	subs []chan domain.Round
	seq  int
}

// Subscribe returns a channel of rounds, latest wins: a round nobody read is folded into the
// next one (its events and alerts kept). It is closed when Run returns. Call before Run.
func (s *Stream) Subscribe() <-chan domain.Round {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := make(chan domain.Round, 1)
	s.subs = append(s.subs, ch)
	return ch
}

// Run reads and publishes rounds until ctx ends or the watch closes. The first round comes as
// soon as the first synced state lists services; the next ones every Interval.
func (s *Stream) Run(ctx context.Context) error {
	defer s.closeSubs()
	states := s.Source.Watch(ctx)
	var latest domain.ClusterState
	first := true
	timer := time.NewTimer(s.interval())
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case st, ok := <-states:
			if !ok {
				return nil
			}
			latest = st
			for _, a := range s.Actors {
				if o, ok := a.(StateObserver); ok && st.Synced {
					o.Observe(st)
				}
			}
			if !(first && st.Synced && len(st.Services) > 0) {
				continue
			}
		case <-timer.C:
		}
		if !latest.Synced {
			timer.Reset(s.interval())
			continue
		}
		first = false
		s.Round(ctx, latest)
		timer.Reset(s.interval())
	}
}

// Round reads one frame for st, lets the actors act on it and publishes it.
func (s *Stream) Round(ctx context.Context, st domain.ClusterState) domain.Round {
	frame := s.readFrame(ctx, st.Services)
	s.mu.Lock()
	s.seq++
	r := domain.Round{Seq: s.seq, At: s.now(), State: st, Frame: frame}
	s.mu.Unlock()
	for _, a := range s.Actors {
		a.Act(ctx, &r)
	}
	s.publish(r)
	return r
}

func (s *Stream) interval() time.Duration {
	if s.Interval != nil {
		if d := s.Interval(); d > 0 {
			return d
		}
	}
	return 2 * time.Second
}

func (s *Stream) now() time.Time {
	if s.Clock == nil {
		return time.Now()
	}
	return s.Clock.Now()
}

// readFrame reads the round's frame within ReadTimeout. A backend that ignores its context
// still cannot hold the stream: past the deadline the frame is "no answer" (inconclusive).
func (s *Stream) readFrame(ctx context.Context, services []domain.Service) domain.MetricsFrame {
	timeout := s.ReadTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	f, err := WithDeadline(ctx, timeout, func(ctx context.Context) (domain.MetricsFrame, error) {
		return s.Source.Metrics(ctx, services), nil
	})
	if err != nil {
		return domain.MetricsFrame{At: s.now(), Err: fmt.Errorf("metrics: no answer within %s: %w", timeout, err)}
	}
	return f
}

// publish hands r to every consumer without ever waiting: a consumer slow to read (a frozen
// terminal) must not hold the stream, nor auto-guard with it.
func (s *Stream) publish(r domain.Round) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ch := range s.subs {
		u := r
		for {
			select {
			case ch <- u:
			default:
				select {
				case old := <-ch:
					u = u.Merge(old, maxKept)
				default:
				}
				continue
			}
			break
		}
	}
}

func (s *Stream) closeSubs() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ch := range s.subs {
		close(ch)
	}
	s.subs = nil
}

// WithDeadline runs call with a context that ends after timeout, and returns when call does
// or when the deadline passes, whichever is first: a call that ignores its context is left
// behind (its result is dropped) rather than waited for.
func WithDeadline[T any](ctx context.Context, timeout time.Duration, call func(context.Context) (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := call(ctx)
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}
