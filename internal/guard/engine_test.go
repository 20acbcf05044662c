package guard

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/internal/domain"
)

var t0 = time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC)

func testConfig() Config {
	return Config{
		Window:      15 * time.Minute,
		StableAfter: 5 * time.Minute,
		Thresholds: domain.Thresholds{Default: map[domain.Metric]domain.Threshold{
			domain.MetricErrorRatio: {Metric: domain.MetricErrorRatio, Value: 0.05, For: 20 * time.Second, Rollback: true},
			domain.MetricLatencyP99: {Metric: domain.MetricLatencyP99, Value: 1, For: 30 * time.Second, Rollback: true},
			domain.MetricCPU:        {Metric: domain.MetricCPU, Value: 0.9, For: time.Minute},
		}},
	}
}

// rs is a ReplicaSet of order-service with 3 ready pods.
func rs(rev int64, hash, image string) domain.ReplicaSet {
	r := domain.ReplicaSet{Name: "order-service-" + hash, Revision: rev, Image: image, Replicas: 3, Ready: 3, Available: 3,
		Created: t0.Add(time.Duration(rev) * time.Minute)}
	for i := 0; i < 3; i++ {
		r.Pods = append(r.Pods, domain.Pod{Name: r.Name + "-abcd" + string(rune('a'+i)), Phase: "Running", Ready: true})
	}
	return r
}

// service is order-service at the newest of rss (rss newest first), rolling out since started.
func service(phase domain.Phase, started time.Time, rss ...domain.ReplicaSet) domain.Service {
	return domain.Service{Namespace: "shop", Name: "order-service", Kind: domain.KindDeployment,
		Image: rss[0].Image, Revision: rss[0].Revision, Phase: phase, RolloutStarted: started, ReplicaSets: rss}
}

func frame(vals map[string]float64) domain.MetricsFrame {
	f := domain.MetricsFrame{ReplicaSets: map[string]domain.Values{}}
	for name, errRatio := range vals {
		f.ReplicaSets["shop/"+name] = domain.Values{domain.MetricErrorRatio: errRatio, domain.MetricLatencyP99: 0.12}
	}
	return f
}

func state(svc domain.Service) domain.ClusterState {
	return domain.ClusterState{Services: []domain.Service{svc}, Synced: true}
}

var (
	good1 = rs(1, "6d4cf56db6", "order-service:v1")
	bad2  = rs(2, "7b9f8c5d4f", "order-service:v2-bad")
)

type step struct {
	at     time.Duration // since t0
	errNew float64       // error ratio of the new revision; < 0: no sample
	errOld float64       // of the old one; < 0: no sample
}

func TestEngineRollout(t *testing.T) {
	cases := []struct {
		name         string
		steps        []step
		promDown     bool
		wantDecision bool
		wantVerdict  Verdict
		wantDetail   string
	}{
		{name: "a single spike does not act",
			steps:       []step{{0, 0.3, 0.002}, {5 * time.Second, 0.002, 0.002}, {25 * time.Second, 0.3, 0.002}, {30 * time.Second, 0.002, 0.002}},
			wantVerdict: VerdictWatching},
		{name: "a breach that lasts its for duration acts",
			steps:        []step{{0, 0.3, 0.002}, {10 * time.Second, 0.31, 0.002}, {20 * time.Second, 0.29, 0.002}},
			wantDecision: true, wantVerdict: VerdictRollingBack, wantDetail: "errors > 5.0% for 20s: revision 2 at 29.0%, old revision at 0.2%"},
		{name: "a breach shorter than for only counts down",
			steps:       []step{{0, 0.3, 0.002}, {12 * time.Second, 0.3, 0.002}},
			wantVerdict: VerdictBreaching, wantDetail: "revision 2 at 30.0%"},
		{name: "both revisions breaching is not the rollout",
			steps:       []step{{0, 0.3, 0.25}, {10 * time.Second, 0.3, 0.25}, {40 * time.Second, 0.3, 0.25}},
			wantVerdict: VerdictNotRollout, wantDetail: "both revisions breach"},
		{name: "no data is not a breach",
			steps:       []step{{0, -1, 0.002}, {30 * time.Second, -1, 0.002}, {90 * time.Second, -1, 0.002}},
			wantVerdict: VerdictInconclusive, wantDetail: "not a breach"},
		{name: "prometheus down is inconclusive",
			steps:    []step{{0, 0.3, 0.002}, {60 * time.Second, 0.3, 0.002}},
			promDown: true, wantVerdict: VerdictInconclusive, wantDetail: "connection refused"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := New(testConfig())
			svc := service(domain.PhaseProgressing, t0, bad2, good1)
			var decisions []Decision
			var st Status
			for _, s := range tc.steps {
				vals := map[string]float64{}
				if s.errNew >= 0 {
					vals[bad2.Name] = s.errNew
				}
				if s.errOld >= 0 {
					vals[good1.Name] = s.errOld
				}
				f := frame(vals)
				if tc.promDown {
					f = domain.MetricsFrame{Err: errors.New("prometheus http://127.0.0.1:9090: connection refused")}
				}
				statuses, ds := e.Evaluate(t0.Add(s.at), state(svc), f)
				decisions = append(decisions, ds...)
				st = statuses[svc.Key()]
			}
			if got := len(decisions) > 0; got != tc.wantDecision {
				t.Fatalf("decided %v (%+v), want %v", got, decisions, tc.wantDecision)
			}
			if st.Verdict != tc.wantVerdict {
				t.Errorf("verdict %q (%s), want %q", st.Verdict, st.Detail, tc.wantVerdict)
			}
			if !strings.Contains(st.Detail, tc.wantDetail) {
				t.Errorf("detail %q, want it to contain %q", st.Detail, tc.wantDetail)
			}
			if tc.wantDecision {
				d := decisions[0]
				if d.ToRevision != 1 || d.ToImage != "order-service:v1" || d.FromRevision != 2 {
					t.Errorf("decision %+v, want revision 2 -> 1 (order-service:v1)", d)
				}
				a := d.Action()
				if a.Trigger != domain.TriggerGuard || a.ExpectRevision != 2 || a.Kind != domain.ActionRollback {
					t.Errorf("action %+v", a)
				}
			}
		})
	}
}

func TestBreachingCountdown(t *testing.T) {
	e := New(testConfig())
	svc := service(domain.PhaseProgressing, t0, bad2, good1)
	e.Evaluate(t0, state(svc), frame(map[string]float64{bad2.Name: 0.3, good1.Name: 0.002}))
	st, _ := e.Evaluate(t0.Add(12*time.Second), state(svc), frame(map[string]float64{bad2.Name: 0.3, good1.Name: 0.002}))
	got := st[svc.Key()]
	if got.Left != 8*time.Second || got.Short() != "breach 8s" {
		t.Errorf("left %s (%q), want 8s", got.Left, got.Short())
	}
}

// After a rollback the service is held: no second rollback while the breach goes on, until a
// new deploy.
func TestExactlyOnceThenHeldUntilNewDeploy(t *testing.T) {
	e := New(testConfig())
	svc := service(domain.PhaseProgressing, t0, bad2, good1)
	bad := frame(map[string]float64{bad2.Name: 0.3, good1.Name: 0.002})
	e.Evaluate(t0, state(svc), bad)
	_, ds := e.Evaluate(t0.Add(20*time.Second), state(svc), bad)
	if len(ds) != 1 {
		t.Fatalf("%d decisions, want 1", len(ds))
	}
	// While the rollback runs, nothing more is decided.
	if _, again := e.Evaluate(t0.Add(21*time.Second), state(svc), bad); len(again) != 0 {
		t.Fatalf("decided again while the first rollback was pending")
	}
	e.Done(ds[0], nil, false)
	// Kubernetes renumbers the old template as revision 3; the bad ReplicaSet scales down.
	rolledBack := good1
	rolledBack.Revision = 3
	badDown := bad2
	badDown.Ready, badDown.Replicas = 0, 0
	after := service(domain.PhaseComplete, good1.Created, rolledBack, badDown)
	for i := 0; i < 5; i++ {
		st, again := e.Evaluate(t0.Add(time.Duration(30+i*10)*time.Second), state(after), bad)
		if len(again) != 0 {
			t.Fatalf("a second rollback was decided after the first")
		}
		if v := st[after.Key()].Verdict; v != VerdictHeld {
			t.Fatalf("verdict %q after the rollback, want held", v)
		}
	}
	// A new deploy releases the hold.
	v3 := rs(4, "5f7c9d8b6a", "order-service:v3")
	next := service(domain.PhaseProgressing, t0.Add(2*time.Minute), v3, rolledBack)
	st, _ := e.Evaluate(t0.Add(2*time.Minute), state(next), frame(map[string]float64{v3.Name: 0.002, good1.Name: 0.002}))
	if v := st[next.Key()].Verdict; v != VerdictWatching {
		t.Errorf("verdict %q after a new deploy, want watching", v)
	}
}

func TestHumanClearsHold(t *testing.T) {
	e := New(testConfig())
	svc := service(domain.PhaseStalled, t0, bad2, good1)
	_, ds := e.Evaluate(t0, state(svc), frame(nil))
	if len(ds) != 1 || !strings.Contains(ds[0].Reason, "stalled") {
		t.Fatalf("stalled rollout: decisions %+v, want one naming the stall", ds)
	}
	e.Done(ds[0], errors.New(`forbidden: user "viewer" may not patch deployments`), false)
	st, ds := e.Evaluate(t0.Add(time.Second), state(svc), frame(nil))
	if got := st[svc.Key()]; got.Verdict != VerdictHeld || !strings.Contains(got.Detail, "forbidden") || len(ds) != 0 {
		t.Fatalf("after a failed rollback: %+v %v, want held with the error and no retry", got, ds)
	}
	e.Clear(svc.Key())
	if _, ds := e.Evaluate(t0.Add(2*time.Second), state(svc), frame(nil)); len(ds) != 1 {
		t.Errorf("after a human cleared the hold the stall should be acted on again")
	}
}

func TestCrashLoopActsWithoutMetrics(t *testing.T) {
	e := New(testConfig())
	crash := rs(2, "7b9f8c5d4f", "order-service:v2-crash")
	crash.Ready = 0
	crash.Pods = []domain.Pod{{Name: crash.Name + "-xk2p9", Phase: "Running", Reason: "CrashLoopBackOff", Restarts: 3}}
	svc := service(domain.PhaseProgressing, t0, crash, good1)
	_, ds := e.Evaluate(t0, state(svc), frame(map[string]float64{good1.Name: 0.002}))
	if len(ds) != 1 || !strings.Contains(ds[0].Reason, "CrashLoopBackOff, 3 restarts") {
		t.Fatalf("decisions %+v, want one naming the crash loop", ds)
	}
}

func TestOutsideWindowOnlyAlerts(t *testing.T) {
	e := New(testConfig())
	svc := service(domain.PhaseComplete, t0.Add(-time.Hour), bad2, good1)
	bad := frame(map[string]float64{bad2.Name: 0.3})
	for _, at := range []time.Duration{0, 30 * time.Second, time.Minute} {
		st, ds := e.Evaluate(t0.Add(at), state(svc), bad)
		if len(ds) != 0 {
			t.Fatalf("rolled back a service stable for an hour")
		}
		if got := st[svc.Key()]; got.Verdict != VerdictStable || !strings.Contains(got.Detail, "alerting only") {
			t.Errorf("verdict %+v, want stable, alerting only", got)
		}
	}
}

func TestTargetIsKnownGoodNeverRejected(t *testing.T) {
	rs1 := rs(1, "aaaaaaaaaa", "order-service:v1")
	rs2 := rs(2, "bbbbbbbbbb", "order-service:v2")
	rs3 := rs(3, "cccccccccc", "order-service:v3-bad")
	bad := frame(map[string]float64{rs3.Name: 0.3, rs2.Name: 0.002})

	t.Run("prefers the known-good revision over the one before the rollout", func(t *testing.T) {
		e := New(testConfig())
		// rs1 has been stable for an hour when the guard starts: known-good.
		e.Evaluate(t0, state(service(domain.PhaseComplete, t0.Add(-time.Hour), rs1)), frame(nil))
		// rs2 ran for a minute only, then rs3 came.
		e.Evaluate(t0.Add(time.Minute), state(service(domain.PhaseComplete, t0.Add(time.Minute), rs2, rs1)), frame(map[string]float64{rs2.Name: 0.002}))
		svc := service(domain.PhaseProgressing, t0.Add(2*time.Minute), rs3, rs2, rs1)
		e.Evaluate(t0.Add(2*time.Minute), state(svc), bad)
		_, ds := e.Evaluate(t0.Add(2*time.Minute+20*time.Second), state(svc), bad)
		if len(ds) != 1 || ds[0].ToRS != rs1.Name {
			t.Fatalf("decisions %+v, want a rollback to the known-good %s", ds, rs1.Name)
		}
	})
	t.Run("never a revision the guard rejected", func(t *testing.T) {
		e := New(testConfig())
		tr := e.track(service(domain.PhaseProgressing, t0, rs3, rs2, rs1), t0)
		tr.rejected[rs2.Name] = true
		svc := service(domain.PhaseProgressing, t0, rs3, rs2, rs1)
		e.Evaluate(t0, state(svc), bad)
		_, ds := e.Evaluate(t0.Add(20*time.Second), state(svc), bad)
		if len(ds) != 1 || ds[0].ToRS != rs1.Name {
			t.Fatalf("decisions %+v, want %s (revision 2 was rejected)", ds, rs1.Name)
		}
	})
	t.Run("the revision before the rollout when none is known-good", func(t *testing.T) {
		e := New(testConfig())
		svc := service(domain.PhaseProgressing, t0, rs3, rs2, rs1)
		e.Evaluate(t0, state(svc), bad)
		_, ds := e.Evaluate(t0.Add(20*time.Second), state(svc), bad)
		if len(ds) != 1 || ds[0].ToRS != rs2.Name || ds[0].ToRevision != 2 {
			t.Fatalf("decisions %+v, want revision 2", ds)
		}
	})
}
