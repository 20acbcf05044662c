package backend

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/internal/domain"
)

type stepClock struct{ t time.Time }

func (c *stepClock) Now() time.Time { return c.t }

// A frame reads the services in focus and rolling out every time, and the others a batch at a
// time, handing out their last values in between.
func TestScopeReadsFocusRolloutsAndABatchOfTheRest(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	var services []domain.Service
	for i := range 103 {
		services = append(services, domain.Service{Namespace: "shop", Name: fmt.Sprintf("svc-%03d", i), Phase: domain.PhaseComplete,
			RolloutStarted: now.Add(-time.Hour)})
	}
	services[50].Phase = domain.PhaseProgressing
	services[60].RolloutStarted = now.Add(-time.Minute) // in its guard window
	services[60].ReplicaSets = []domain.ReplicaSet{{Name: "svc-060-new"}, {Name: "svc-060-old"}}
	clock := &stepClock{now}
	s := newScope(15*time.Minute, clock)
	s.setFocus([]string{"shop/svc-102"})

	var asked [][]string
	read := func(_ context.Context, svcs []domain.Service) domain.MetricsFrame {
		f := domain.MetricsFrame{At: now, Services: map[string]domain.Values{}}
		var keys []string
		for _, svc := range svcs {
			keys = append(keys, svc.Name)
			f.Services[svc.Key()] = domain.Values{domain.MetricRequestRate: float64(len(asked))}
		}
		asked = append(asked, keys)
		return f
	}
	var f domain.MetricsFrame
	for range 10 {
		f = s.frame(context.Background(), services, read)
		clock.t = clock.t.Add(coldEvery)
	}
	for i, keys := range asked {
		if len(keys) != 3+ColdBatch {
			t.Errorf("frame %d read %d services, want %d", i, len(keys), 3+ColdBatch)
		}
		for _, want := range []string{"svc-050", "svc-060", "svc-102"} {
			if !contains(keys, want) {
				t.Errorf("frame %d did not read %s", i, want)
			}
		}
	}
	if f.Rotation != 10 || len(f.Services) != 103 {
		t.Errorf("after 10 frames: rotation %d, %d services with values; want 10, 103", f.Rotation, len(f.Services))
	}
	// A frame sooner than coldEvery after the last batch reads only focus and rollouts.
	s.frame(context.Background(), services, read)
	clock.t = clock.t.Add(time.Second)
	s.frame(context.Background(), services, read)
	if got := asked[len(asked)-1]; len(got) != 3 {
		t.Errorf("a frame 1s after a batch read %d services, want the 3 in focus or rolling out", len(got))
	}
	asked = asked[:10]
	if v := f.Services["shop/svc-000"][domain.MetricRequestRate]; v != 0 {
		t.Errorf("svc-000 read in frame %v, want 0 (the first batch)", v)
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
