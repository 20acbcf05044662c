package backend

import (
	"context"
	"hash/fnv"
	"sync"
	"time"

	"github.com/opsdeck/opsdeck/internal/domain"
)

// frameShare lets the backend's readers of metrics (the console's refresh, the guard's rounds,
// the blue-green reconciler) share frames: a frame for the same services started less than
// maxAge ago is handed out again, and a caller that comes while one is being read waits for
// it. Without it the console asks Prometheus for a frame on every refresh and the guard for
// another every second: three frames per 2 s refresh instead of one.
type frameShare struct {
	maxAge time.Duration
	clock  domain.Clock
	mu     sync.Mutex
	last   *flight
}

// flight is one frame read: in progress until done is closed.
type flight struct {
	key      uint64
	started  time.Time
	done     chan struct{}
	frame    domain.MetricsFrame
	canceled bool // the reader's context ended: the frame is no answer for the others
}

func (s *frameShare) get(ctx context.Context, services []domain.Service, read func(context.Context, []domain.Service) domain.MetricsFrame) domain.MetricsFrame {
	key := servicesKey(services)
	for {
		now := s.clock.Now()
		s.mu.Lock()
		f := s.last
		if f != nil && f.key == key && now.Sub(f.started) < s.maxAge && !f.canceled {
			s.mu.Unlock()
			select {
			case <-f.done:
			case <-ctx.Done():
				return domain.MetricsFrame{At: now, Err: ctx.Err()}
			}
			if f.canceled && ctx.Err() == nil {
				continue // its reader gave up; read one ourselves
			}
			return f.frame
		}
		f = &flight{key: key, started: now, done: make(chan struct{})}
		s.last = f
		s.mu.Unlock()

		fr := read(ctx, services)
		s.mu.Lock()
		f.frame, f.canceled = fr, ctx.Err() != nil
		s.mu.Unlock()
		close(f.done)
		return fr
	}
}

// servicesKey identifies what a frame is read for: the services and their ReplicaSets (a frame
// maps ReplicaSets to services, so a new revision asks for a new frame).
func servicesKey(services []domain.Service) uint64 {
	h := fnv.New64a()
	for _, s := range services {
		h.Write([]byte(s.Namespace))
		h.Write([]byte{'/'})
		h.Write([]byte(s.Name))
		for _, rs := range s.ReplicaSets {
			h.Write([]byte{' '})
			h.Write([]byte(rs.Name))
		}
		h.Write([]byte{'\n'})
	}
	return h.Sum64()
}
