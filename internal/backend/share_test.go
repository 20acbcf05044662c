package backend

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/internal/domain"
)

type shareClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *shareClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *shareClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// countingFrames is a frame reader that counts its calls and can be held.
type countingFrames struct {
	calls atomic.Int32
	hold  chan struct{} // when set, reads wait for it to close
	clock domain.Clock
}

func (c *countingFrames) read(ctx context.Context, services []domain.Service) domain.MetricsFrame {
	c.calls.Add(1)
	if c.hold != nil {
		select {
		case <-c.hold:
		case <-ctx.Done():
			return domain.MetricsFrame{At: c.clock.Now(), Err: ctx.Err()}
		}
	}
	return domain.MetricsFrame{At: c.clock.Now(), Queries: 7}
}

func shareServices(revision string) []domain.Service {
	return []domain.Service{
		{Namespace: "shop", Name: "web", ReplicaSets: []domain.ReplicaSet{{Name: "web-" + revision}}},
		{Namespace: "shop", Name: "api", ReplicaSets: []domain.ReplicaSet{{Name: "api-1"}}},
	}
}

// The console's refresh (every 2 s) and its guard (every second) cost one frame per refresh.
func TestShareFramesOnePerRefresh(t *testing.T) {
	clock := &shareClock{now: time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)}
	src := &countingFrames{clock: clock}
	s := &frameShare{maxAge: 1750 * time.Millisecond, clock: clock}
	svcs := shareServices("1")
	for sec := range 60 {
		s.get(context.Background(), svcs, src.read) // the guard's round
		if sec%2 == 0 {
			s.get(context.Background(), svcs, src.read) // the console's refresh
		}
		clock.advance(time.Second)
	}
	if n := src.calls.Load(); n != 30 {
		t.Errorf("%d frames read in 60 s, want 30 (one per 2 s refresh)", n)
	}
}

func TestShareFramesNewServicesReadAgain(t *testing.T) {
	clock := &shareClock{now: time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)}
	src := &countingFrames{clock: clock}
	s := &frameShare{maxAge: time.Second, clock: clock}
	s.get(context.Background(), shareServices("1"), src.read)
	s.get(context.Background(), shareServices("1"), src.read)
	s.get(context.Background(), shareServices("2"), src.read) // a new ReplicaSet
	if n := src.calls.Load(); n != 2 {
		t.Errorf("%d frames read, want 2", n)
	}
	clock.advance(time.Second)
	s.get(context.Background(), shareServices("2"), src.read)
	if n := src.calls.Load(); n != 3 {
		t.Errorf("%d frames read after maxAge, want 3", n)
	}
}

// Callers that come while a frame is read wait for it; one whose reader gives up reads again.
func TestShareFramesWaitForTheFrameInFlight(t *testing.T) {
	clock := &shareClock{now: time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)}
	src := &countingFrames{clock: clock, hold: make(chan struct{})}
	s := &frameShare{maxAge: time.Second, clock: clock}
	svcs := shareServices("1")

	first, cancelFirst := context.WithCancel(context.Background())
	got := make(chan domain.MetricsFrame, 3)
	go func() { got <- s.get(first, svcs, src.read) }()
	for src.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	for range 2 {
		go func() { got <- s.get(context.Background(), svcs, src.read) }()
	}
	time.Sleep(20 * time.Millisecond)
	if n := src.calls.Load(); n != 1 {
		t.Fatalf("%d reads while one is in flight, want 1", n)
	}
	cancelFirst()
	if f := <-got; f.Err == nil {
		t.Fatalf("the cancelled reader got %+v", f)
	}
	// The waiters do not take the cancelled frame: one of them reads, the other waits for it.
	for src.calls.Load() < 2 {
		time.Sleep(time.Millisecond)
	}
	close(src.hold)
	for range 2 {
		if f := <-got; f.Err != nil || f.Queries != 7 {
			t.Errorf("waiter got %+v", f)
		}
	}
	if n := src.calls.Load(); n != 2 {
		t.Errorf("%d reads, want 2", n)
	}
}
