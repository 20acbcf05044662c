package app

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/internal/backend/stream"
	"github.com/opsdeck/opsdeck/internal/demo"
	"github.com/opsdeck/opsdeck/internal/domain"
)

// countingBackend counts the metrics frames read from a demo backend.
type countingBackend struct {
	*demo.Backend
	reads atomic.Int32
}

func (c *countingBackend) Metrics(ctx context.Context, s []domain.Service) domain.MetricsFrame {
	c.reads.Add(1)
	return c.Backend.Metrics(ctx, s)
}

// guardActor stands for auto-guard: a verdict for every service and a threshold alert on the
// first, as the stream's actor in cmd/opsdeck adds them.
type guardActor struct{}

func (guardActor) Act(_ context.Context, r *domain.Round) {
	r.Guard = domain.GuardView{Judged: true, States: map[string]string{}, Status: "1 breaching"}
	for _, s := range r.State.Services {
		r.Guard.States[s.Key()] = "watching"
	}
	if len(r.State.Services) > 0 && r.Seq == 1 {
		s := r.State.Services[0]
		r.Alerts = append(r.Alerts, domain.Alert{Name: domain.AlertThreshold, Namespace: s.Namespace, Service: s.Name,
			Metric: domain.MetricErrorRatio, Value: 0.126, Threshold: 0.05, StartsAt: r.Frame.At})
	}
}

// Given the state stream, the console reads no metrics of its own: every frame it shows is a
// round's (the stream's reads are all there are), and the GUARD column and the alerts come
// from the round, in the console's wording.
func TestConsoleShowsTheStreamAndReadsNoMetrics(t *testing.T) {
	s := &stream.Stream{Interval: func() time.Duration { return 20 * time.Millisecond }, Actors: []stream.Actor{guardActor{}}}
	rounds := s.Subscribe()
	h := newHarness(t, 120, 40, Options{GuardOn: true, Rounds: rounds})
	src := &countingBackend{Backend: h.b}
	s.Source, s.Clock = src, h.clock
	go func() { _ = s.Run(h.ctx) }()

	h.until("five rounds read", func(m Model) bool {
		return m.haveFrame && len(m.guardStates) > 0 && src.reads.Load() >= 5
	})
	// Let every round published so far reach the model.
	time.Sleep(100 * time.Millisecond)
	for len(h.msgs) > 0 {
		h.send(<-h.msgs)
	}
	screen := h.screen()
	for _, want := range []string{"auto-guard: on 1 breaching", "watching", "ThresholdBreached", "5xx ratio 12.6 % breached (limit > 5.00 %"} {
		if !strings.Contains(screen, want) {
			t.Errorf("screen lacks %q:\n%s", want, screen)
		}
	}
	if h.m.polling || h.m.pollGen != 0 {
		t.Errorf("the console polled metrics itself (%d polls)", h.m.pollGen)
	}
}
