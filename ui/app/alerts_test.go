package app

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/internal/guard"
)

// The console's alerts come from guard.Alerter (auto-guard's, in the stream's rounds): the memory growth rule and the CPU rule
// relative to the request raise once (no repeats) and resolve.
func TestAlertsMemoryGrowthAndCPUOfRequest(t *testing.T) {
	th := domain.Thresholds{Default: map[domain.Metric]domain.Threshold{
		domain.MetricCPU:          {Metric: domain.MetricCPU, Value: 0.9, For: time.Minute, OfRequest: true},
		domain.MetricMemoryGrowth: {Metric: domain.MetricMemoryGrowth, Value: 1 << 20, For: time.Minute},
	}}
	svcs := []domain.Service{{Namespace: "shop", Name: "order-service", CPURequest: 0.25}}
	a, al := newAlerts(), &guard.Alerter{Thresholds: th}
	var got []string
	mem := 100.0 * (1 << 20)
	for i := 0; i <= 300; i++ { // 10 minutes, a frame every 2 s
		at := time.Duration(i) * 2 * time.Second
		cpu := 0.95
		if at < 8*time.Minute {
			mem += 20 << 20 // 10 MiB/s
		} else {
			cpu = 0.1
		}
		f := domain.MetricsFrame{At: t0.Add(at), Services: map[string]domain.Values{
			"shop/order-service": {domain.MetricCPU: cpu, domain.MetricMemory: mem},
		}}
		for _, e := range a.observe(th, svcs, f.At, al.Evaluate(f.At, svcs, f)) {
			got = append(got, e.Reason+": "+e.Message)
		}
		if at == 7*time.Minute && a.active() != 2 {
			t.Errorf("%d alerts firing at 7m, want 2", a.active())
		}
	}
	want := []string{
		"ThresholdBreached: CPU 0.95 cores breached (limit > 0.23 cores, for 60s)",
		"ThresholdBreached: memory growth 10.0 MiB/s breached (limit > 1.00 MiB/s, for 60s)",
		"Resolved: CPU back to 0.10 cores (limit > 0.23 cores)",
		"Resolved: memory growth back to",
	}
	if len(got) != len(want) {
		t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("event %d: %q, want %q", i, got[i], want[i])
		}
	}
	if a.active() != 0 {
		t.Errorf("%d alerts still firing", a.active())
	}
}

// alertJudge raises the thresholds' alerts on the rounds the console polls itself, as
// auto-guard does on the stream's rounds (tests only: the console imports no guard package).
func alertJudge(th domain.Thresholds) func(r *domain.Round) {
	al := &guard.Alerter{Thresholds: th}
	var mu sync.Mutex
	return func(r *domain.Round) {
		mu.Lock()
		defer mu.Unlock()
		r.Alerts = append(r.Alerts, al.Evaluate(r.Frame.At, r.State.Services, r.Frame)...)
	}
}
