package guard

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/internal/domain"
)

func earlyConfig() Config {
	cfg := testConfig()
	cfg.Early = EarlyConfig{Enabled: true, Confidence: 1 - 1e-9, MinRequests: 50}
	return cfg
}

// counted is a frame whose rates are below every rule (4 % 5xx) and whose counts
// are given: new and old revision, failures of requests, for both the 5xx and latency rules.
func counted(newFail, newReq, oldFail, oldReq float64) domain.MetricsFrame {
	f := frame(map[string]float64{bad2.Name: 0.04, good1.Name: 0.002})
	f.Counts = map[string]domain.RevisionCounts{
		"shop/" + bad2.Name: {Since: t0, Requests: newReq, Errors: newFail,
			Latency: []domain.Bucket{{LE: 1, Count: newReq}, {LE: math.Inf(1), Count: newReq}}},
	}
	if oldReq >= 0 {
		f.Counts["shop/"+good1.Name] = domain.RevisionCounts{Since: t0, Requests: oldReq, Errors: oldFail,
			Latency: []domain.Bucket{{LE: 1, Count: oldReq}, {LE: math.Inf(1), Count: oldReq}}}
	}
	return f
}

func TestEarlyVerdict(t *testing.T) {
	cases := []struct {
		name         string
		cfg          func(*Config)
		f            domain.MetricsFrame
		at           time.Duration
		wantDecision bool
		wantVerdict  Verdict
		wantDetail   string
	}{
		{name: "the counts prove it: roll back now, saying what was counted",
			f: counted(61, 212, 0, 300), at: 4 * time.Second, wantDecision: true, wantVerdict: VerdictRollingBack,
			wantDetail: "errors: 61 of 212 requests in 4 s (29 %), above 5 % with confidence 1-1e-9; rolling back from revision 2"},
		{name: "healthy counts wait", f: counted(1, 500, 0, 800), at: 4 * time.Second, wantVerdict: VerdictWatching},
		{name: "tiny counts wait: 9 of 9 under min_requests", f: counted(9, 9, 0, 300), at: time.Second, wantVerdict: VerdictWatching},
		{name: "zero requests wait", f: counted(0, 0, 0, 300), at: time.Second, wantVerdict: VerdictWatching},
		{name: "twice the bound, not yet proven: for decides", f: counted(10, 100, 0, 300), at: 2 * time.Second, wantVerdict: VerdictWatching},
		{name: "the old revision's counts say the same: alert only",
			f: counted(61, 212, 40, 400), at: 4 * time.Second, wantVerdict: VerdictNotRollout,
			wantDetail: "the old revision's counts say the same (40 of 400, 10 %)"},
		{name: "the old revision serves but has no counts yet: for decides",
			f: counted(61, 212, 0, -1), at: 4 * time.Second, wantVerdict: VerdictWatching},
		{name: "the old revision has too few counts to compare: for decides",
			f: counted(61, 212, 0, 20), at: 4 * time.Second, wantVerdict: VerdictWatching},
		{name: "off: for decides", cfg: func(c *Config) { c.Early.Enabled = false },
			f: counted(61, 212, 0, 300), at: 4 * time.Second, wantVerdict: VerdictWatching},
		{name: "Prometheus unavailable: no verdict from counts either",
			f: func() domain.MetricsFrame {
				f := counted(61, 212, 0, 300)
				f.Err = errors.New("errors query: timeout")
				return f
			}(),
			at: 4 * time.Second, wantVerdict: VerdictInconclusive, wantDetail: "Prometheus unavailable"},
		{name: "counts unreadable: for decides",
			f: func() domain.MetricsFrame {
				f := counted(61, 212, 0, 300)
				f.CountsErr = errors.New("timeout")
				return f
			}(),
			at: 4 * time.Second, wantVerdict: VerdictWatching},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := earlyConfig()
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			e := New(cfg)
			svc := service(domain.PhaseProgressing, t0, bad2, good1)
			st, ds := e.Evaluate(t0.Add(tc.at), state(svc), tc.f)
			if got := len(ds) > 0; got != tc.wantDecision {
				t.Fatalf("decided %v (%+v), want %v", got, ds, tc.wantDecision)
			}
			got := st[svc.Key()]
			if got.Verdict != tc.wantVerdict || !strings.Contains(got.Detail, tc.wantDetail) {
				t.Errorf("status %s: %q, want %s containing %q", got.Verdict, got.Detail, tc.wantVerdict, tc.wantDetail)
			}
		})
	}
}

// The p99 rule counts requests slower than its bound from the bucket at the bound, or the
// next one above, and says so.
func TestEarlyVerdictLatency(t *testing.T) {
	slow := func(bound float64, want string) {
		t.Helper()
		cfg := earlyConfig()
		th := cfg.Thresholds.Default[domain.MetricLatencyP99]
		th.Value = bound
		cfg.Thresholds.Default[domain.MetricLatencyP99] = th
		e := New(cfg)
		svc := service(domain.PhaseProgressing, t0, bad2, good1)
		f := frame(map[string]float64{good1.Name: 0.002})
		lat := []domain.Bucket{{LE: 0.5, Count: 1500}, {LE: 1, Count: 1850}, {LE: 2.5, Count: 1900}, {LE: math.Inf(1), Count: 2000}}
		f.Counts = map[string]domain.RevisionCounts{
			"shop/" + bad2.Name:  {Since: t0, Requests: 2000, Errors: 4, Latency: lat},
			"shop/" + good1.Name: {Since: t0, Requests: 3000, Errors: 6, Latency: []domain.Bucket{{LE: 1, Count: 3000}, {LE: 2.5, Count: 3000}, {LE: math.Inf(1), Count: 3000}}},
		}
		_, ds := e.Evaluate(t0.Add(10*time.Second), state(svc), f)
		if len(ds) != 1 || !strings.Contains(ds[0].Reason, want) {
			t.Errorf("bound %v s: decisions %+v, want one saying %q", bound, ds, want)
		}
	}
	slow(1, "p99: 150 of 2000 requests slower than 1 s in 10 s (7.5 %), above 1 % with confidence 1-1e-9")
	slow(1.2, "p99: 100 of 2000 requests slower than 2.5 s (the first bucket edge above the 1.2 s bound) in 10 s (5 %)")
}

// CPU and memory rules are not statements about counts: they keep their for only.
func TestEarlyVerdictOnlyCountsRequests(t *testing.T) {
	c := domain.RevisionCounts{Requests: 1000, Errors: 1000, Latency: []domain.Bucket{{LE: 1, Count: 0}, {LE: math.Inf(1), Count: 1000}}}
	for _, m := range []domain.Metric{domain.MetricCPU, domain.MetricMemory, domain.MetricRequestRate, domain.MetricMemoryGrowth} {
		if _, _, _, _, ok := countFailures(c, domain.Threshold{Metric: m, Value: 0.5, Rollback: true}); ok {
			t.Errorf("%s counted failures", m)
		}
	}
	e := New(earlyConfig())
	cpu := domain.Threshold{Metric: domain.MetricCPU, Value: 0.5, Rollback: true}
	svc := service(domain.PhaseProgressing, t0, bad2, good1)
	f := counted(1000, 1000, 0, 1000)
	if _, ok := e.early(svc, bad2, cpu, f, t0.Add(time.Second)); ok {
		t.Error("a CPU rule was decided by counts")
	}
}

// The early verdict counts the requests of a rollout that can be rolled back: a Deployment's
// first revision (a fleet just deployed, a sandbox just seeded) is not counted, however many
// there are, so the one counters query does not read every pod of the fleet.
func TestCountScopeOnlyRollbackableRollouts(t *testing.T) {
	e := New(earlyConfig())
	fresh := service(domain.PhaseProgressing, t0, rs(1, "5c8d7f9b6a", "fresh-service:v1"))
	fresh.Name = "fresh-service"
	rollout := service(domain.PhaseProgressing, t0, bad2, good1)
	scope := e.countScope(t0.Add(time.Minute), domain.ClusterState{Services: []domain.Service{fresh, rollout}, Synced: true})
	if _, ok := scope["shop/"+bad2.Name]; !ok {
		t.Errorf("the new revision of a rollout with an earlier one is not counted: %v", scope)
	}
	for key := range scope {
		if key != "shop/"+bad2.Name && key != "shop/"+good1.Name {
			t.Errorf("counted %s: only order-service's revisions can lead to a rollback", key)
		}
	}
	if n := len(e.countScope(t0.Add(time.Minute), state(fresh))); n != 0 {
		t.Errorf("a first revision is counted (%d ReplicaSets), though there is nothing to roll back to", n)
	}
}
