package backend

import (
	"context"
	"sync"
	"time"

	"github.com/opsdeck/opsdeck/internal/domain"
)

// ColdBatch is how many of the services that are neither on screen nor rolling out a frame
// reads, in turn: Prometheus' work per refresh then depends on the screen and the rollouts,
// not on the fleet, and such a service's values are refreshed every len(cold)/ColdBatch frames.
const ColdBatch = 10

// coldEvery is how often at most a cold batch is read: the guard's rounds (every second) and
// the console's refreshes then share one batch per two seconds.
const coldEvery = 2 * time.Second

// scope reads frames for what needs them: services in focus (the console's visible rows and
// selection), services rolling out or within hot of their rollout's start (the guard judges
// them every round), and a rotating batch of the others, whose last values it keeps and hands
// out again. Each frame carries every service it has values for.
type scope struct {
	hot   time.Duration
	clock domain.Clock

	mu       sync.Mutex
	focus    map[string]bool
	next     int                      // where the next cold batch starts
	lastCold time.Time                // when the last cold batch was read
	last     map[string]domain.Values // the latest values of every service read
	lastRS   map[string]domain.Values
	seen     map[string]time.Time // when each service was last read
}

func newScope(hot time.Duration, clock domain.Clock) *scope {
	return &scope{hot: hot, clock: clock, last: map[string]domain.Values{}, lastRS: map[string]domain.Values{}, seen: map[string]time.Time{}}
}

// setFocus names the services (keys) that every frame reads.
func (s *scope) setFocus(keys []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.focus = make(map[string]bool, len(keys))
	for _, k := range keys {
		s.focus[k] = true
	}
}

// isHot tells whether svc's rollout needs its values every round.
func (s *scope) isHot(svc domain.Service, now time.Time) bool {
	if svc.Phase != domain.PhaseComplete || len(svc.OldReplicaSets()) > 0 {
		return true
	}
	if svc.BlueGreen != nil && svc.BlueGreen.Pending != "" {
		return true
	}
	// A first revision is no rollout: there is nothing to compare it with or go back to.
	return len(svc.ReplicaSets) > 1 && !svc.RolloutStarted.IsZero() && now.Sub(svc.RolloutStarted) < s.hot
}

// frame reads the frame of services with read, as described on scope.
func (s *scope) frame(ctx context.Context, services []domain.Service, read func(context.Context, []domain.Service) domain.MetricsFrame) domain.MetricsFrame {
	now := s.clock.Now()
	s.mu.Lock()
	// Indexes, not copies: a Service is a few hundred bytes, and copying the fleet's cold
	// ones every round was most of what an idle console allocated at 2,000 services.
	var ask []domain.Service
	var cold []int32
	for i := range services {
		if s.focus[services[i].Key()] || s.isHot(services[i], now) {
			ask = append(ask, services[i])
		} else {
			cold = append(cold, int32(i))
		}
	}
	take := func(idx []int32) {
		for _, i := range idx {
			ask = append(ask, services[i])
		}
	}
	switch {
	case len(cold) <= ColdBatch:
		take(cold)
		cold = nil
	case now.Sub(s.lastCold) < coldEvery:
		// Not yet: the cold services keep their values.
	default:
		s.lastCold = now
		if s.next >= len(cold) {
			s.next = 0
		}
		end := min(s.next+ColdBatch, len(cold))
		take(cold[s.next:end])
		s.next = end
	}
	s.mu.Unlock()

	f := read(ctx, ask)
	if f.Err != nil {
		return f
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, svc := range ask {
		k := svc.Key()
		s.seen[k] = f.At
		if v, ok := f.Services[k]; ok {
			s.last[k] = v
		} else {
			delete(s.last, k)
		}
		for _, rs := range svc.ReplicaSets {
			rk := svc.Namespace + "/" + rs.Name
			if v, ok := f.ReplicaSets[rk]; ok {
				s.lastRS[rk] = v
			} else {
				delete(s.lastRS, rk)
			}
		}
	}
	if len(cold) == 0 {
		return f
	}
	// The cold services not read this time keep their last values.
	out := f
	out.Services = make(map[string]domain.Values, len(services))
	out.ReplicaSets = make(map[string]domain.Values, len(f.ReplicaSets)+len(cold))
	live := make(map[string]bool, len(services))
	for _, svc := range services {
		k := svc.Key()
		live[k] = true
		if v, ok := s.last[k]; ok {
			out.Services[k] = v
		}
		for _, rs := range svc.ReplicaSets {
			if v, ok := s.lastRS[svc.Namespace+"/"+rs.Name]; ok {
				out.ReplicaSets[svc.Namespace+"/"+rs.Name] = v
			}
		}
	}
	for k := range s.seen {
		if !live[k] {
			delete(s.seen, k)
			delete(s.last, k)
		}
	}
	for k := range s.lastRS {
		if _, ok := out.ReplicaSets[k]; !ok {
			delete(s.lastRS, k)
		}
	}
	// How long a cold service waits for its next read: one batch per frame.
	batches := (len(cold) + ColdBatch - 1) / ColdBatch
	out.Rotation = batches
	return out
}
