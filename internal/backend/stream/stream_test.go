package stream

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/internal/domain"
)

// fakeSource is a backend of one synced state whose metrics are counted; block makes a read
// hang, ignoring its context, as a stuck Prometheus client would.
type fakeSource struct {
	domain.Backend
	reads atomic.Int32
	block chan struct{}
}

func (f *fakeSource) Watch(ctx context.Context) <-chan domain.ClusterState {
	ch := make(chan domain.ClusterState, 1)
	ch <- domain.ClusterState{Synced: true, Services: []domain.Service{{Namespace: "shop", Name: "web"}}}
	go func() { <-ctx.Done(); close(ch) }()
	return ch
}

func (f *fakeSource) Metrics(_ context.Context, svcs []domain.Service) domain.MetricsFrame {
	n := f.reads.Add(1)
	if f.block != nil {
		<-f.block
	}
	return domain.MetricsFrame{At: time.Now(), Queries: 6, Services: map[string]domain.Values{
		svcs[0].Key(): {domain.MetricRequestRate: float64(n)}}}
}

// recorder is an actor that notes the frames it was handed and adds an event per round.
type recorder struct {
	mu     sync.Mutex
	frames []float64
}

func (r *recorder) Act(_ context.Context, round *domain.Round) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.frames = append(r.frames, round.Frame.Services["shop/web"][domain.MetricRequestRate])
	round.Events = append(round.Events, domain.Event{Reason: "Judged", Message: fmt.Sprint(round.Seq)})
}

// One loop, one reader: every round reads exactly one frame, its actors get that frame, and
// its consumer gets the rounds in order, each with what the actors added.
func TestStreamOneFramePerRound(t *testing.T) {
	src, act := &fakeSource{}, &recorder{}
	s := &Stream{Source: src, Interval: func() time.Duration { return 5 * time.Millisecond }, Actors: []Actor{act}}
	rounds := s.Subscribe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = s.Run(ctx); close(done) }()
	var got []domain.Round
	for len(got) < 20 {
		select {
		case r := <-rounds:
			got = append(got, r)
		case <-time.After(5 * time.Second):
			t.Fatalf("%d rounds after 5 s", len(got))
		}
	}
	cancel()
	<-done
	reads := int(src.reads.Load())
	act.mu.Lock()
	defer act.mu.Unlock()
	if reads != len(act.frames) {
		t.Errorf("%d frames read for %d rounds judged, want one each", reads, len(act.frames))
	}
	seen := 0
	for _, r := range got {
		for _, e := range r.Events {
			seen++
			if e.Message != fmt.Sprint(seen) {
				t.Fatalf("event %q after %d: rounds out of order or lost", e.Message, seen-1)
			}
		}
		if v := r.Frame.Services["shop/web"][domain.MetricRequestRate]; v != float64(r.Seq) {
			t.Errorf("round %d carries frame %v, want its own (%d)", r.Seq, v, r.Seq)
		}
	}
	if _, open := <-rounds; open {
		t.Error("the consumer's channel is still open after Run returned")
	}
}

// Issue 9, defect 9: the stream never waits for a consumer. With nobody reading (a frozen
// console), a thousand rounds are handed over at once; the consumer then reads the latest
// verdicts and every event of the rounds it missed, in order.
func TestStreamNeverBlocksOnAConsumer(t *testing.T) {
	s := &Stream{}
	rounds := s.Subscribe()
	start := time.Now()
	for i := range 1000 {
		s.publish(domain.Round{Seq: i,
			Guard:  domain.GuardView{Judged: true, States: map[string]string{"shop/order-service": fmt.Sprint("round ", i)}},
			Events: []domain.Event{{Reason: "AutoRollback", Message: fmt.Sprint(i)}},
		})
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("1000 rounds with a blocked consumer took %s", took)
	}
	select {
	case r := <-rounds:
		if got := r.Guard.States["shop/order-service"]; got != "round 999" {
			t.Errorf("state %q, want the latest, round 999", got)
		}
		if len(r.Events) != 1000 || r.Events[0].Message != "0" || r.Events[999].Message != "999" {
			t.Errorf("%d events, want all 1000 in order", len(r.Events))
		}
	default:
		t.Fatal("no round for the consumer")
	}
}

// A metrics read that does not answer within ReadTimeout gives a round whose frame says so
// (auto-guard takes it as inconclusive); the stream goes on.
func TestStreamReadTimeout(t *testing.T) {
	src := &fakeSource{block: make(chan struct{})}
	defer close(src.block)
	s := &Stream{Source: src, ReadTimeout: 50 * time.Millisecond}
	start := time.Now()
	r := s.Round(context.Background(), domain.ClusterState{Synced: true, Services: []domain.Service{{Namespace: "shop", Name: "web"}}})
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("the round waited %s for a hung read", took)
	}
	if r.Frame.Err == nil || !strings.Contains(r.Frame.Err.Error(), "no answer within 50ms") {
		t.Errorf("frame error %v, want no answer within 50ms", r.Frame.Err)
	}
}
