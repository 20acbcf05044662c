package guard

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/internal/domain"
)

// Issue 9, defect 4: one restart is an alert, not a rollback; a crash loop is CrashLoopBackOff
// or CrashRestarts restarts of the new revision's pods.
func TestCrashRestarts(t *testing.T) {
	cases := []struct {
		name         string
		restarts     []int32 // per pod of the new revision
		reason       string  // waiting reason of the first pod
		wantDecision bool
		wantDetail   string
	}{
		{name: "one restart alerts only", restarts: []int32{1, 0, 0}, wantDetail: "1 restart of 3 that mean a crash loop"},
		{name: "two restarts on two pods alert only", restarts: []int32{1, 1, 0}, wantDetail: "2 restarts of 3"},
		{name: "three restarts across the revision roll back", restarts: []int32{1, 1, 1}, wantDecision: true, wantDetail: "3 restarts"},
		{name: "three restarts of one pod roll back", restarts: []int32{3, 0, 0}, wantDecision: true, wantDetail: "3 restarts"},
		{name: "CrashLoopBackOff rolls back at once", restarts: []int32{1, 0, 0}, reason: "CrashLoopBackOff", wantDecision: true, wantDetail: "CrashLoopBackOff"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.CrashRestarts = 3
			e := New(cfg)
			r := rs(2, "7b9f8c5d4f", "order-service:v2")
			for i, n := range tc.restarts {
				r.Pods[i].Restarts = n
			}
			r.Pods[0].Reason = tc.reason
			svc := service(domain.PhaseProgressing, t0, r, good1)
			st, ds := e.Evaluate(t0, state(svc), frame(map[string]float64{r.Name: 0.002, good1.Name: 0.002}))
			if got := len(ds) > 0; got != tc.wantDecision {
				t.Fatalf("decided %v (%+v), want %v", got, ds, tc.wantDecision)
			}
			detail := st[svc.Key()].Detail
			if tc.wantDecision {
				detail = ds[0].Reason
			}
			if !strings.Contains(detail, tc.wantDetail) {
				t.Errorf("detail %q, want it to contain %q", detail, tc.wantDetail)
			}
		})
	}
}

// Issue 9, defect 6: a conflict does not hold the service for good. The guard reads again and
// judges again on the next round; the revision it judged bad stays rejected.
func TestConflictJudgesAgain(t *testing.T) {
	conflict := fmt.Errorf("rollback order-service: %w: the Service changed (status only)", domain.ErrConflict)
	bad := frame(map[string]float64{bad2.Name: 0.3, good1.Name: 0.002})

	t.Run("a status-only conflict: the same revision is judged again and rolled back", func(t *testing.T) {
		e := New(testConfig())
		svc := service(domain.PhaseProgressing, t0, bad2, good1)
		e.Evaluate(t0, state(svc), bad)
		_, ds := e.Evaluate(t0.Add(20*time.Second), state(svc), bad)
		if len(ds) != 1 {
			t.Fatalf("%d decisions, want 1", len(ds))
		}
		e.Done(ds[0], conflict, true)
		st, again := e.Evaluate(t0.Add(21*time.Second), state(svc), bad)
		if len(again) != 1 || again[0].FromRS != bad2.Name || again[0].ToRS != good1.Name {
			t.Fatalf("after a conflict: %+v, decisions %+v; want a second decision on the fresh state", st[svc.Key()], again)
		}
	})
	t.Run("someone else rolled back: the new current revision is watched, not held", func(t *testing.T) {
		e := New(testConfig())
		svc := service(domain.PhaseProgressing, t0, bad2, good1)
		e.Evaluate(t0, state(svc), bad)
		_, ds := e.Evaluate(t0.Add(20*time.Second), state(svc), bad)
		e.Done(ds[0], conflict, true)
		back := good1
		back.Revision = 3
		down := bad2
		down.Ready, down.Replicas = 0, 0
		after := service(domain.PhaseComplete, t0.Add(21*time.Second), back, down)
		st, again := e.Evaluate(t0.Add(22*time.Second), state(after), frame(map[string]float64{good1.Name: 0.002}))
		if got := st[after.Key()]; got.Verdict != VerdictWatching || len(again) != 0 {
			t.Fatalf("after someone else's rollback: %+v %+v, want watching", got, again)
		}
		// A human redeploys the bad revision's template: it stays rejected as a target.
		if !e.tracks[after.Key()].rejected[bad2.Name] {
			t.Errorf("the revision judged bad is no longer rejected")
		}
	})
	t.Run("conflicts that repeat hold the service", func(t *testing.T) {
		e := New(testConfig())
		svc := service(domain.PhaseProgressing, t0, bad2, good1)
		e.Evaluate(t0, state(svc), bad)
		at := 20 * time.Second
		decided := 0
		for range 10 {
			_, ds := e.Evaluate(t0.Add(at), state(svc), bad)
			for _, d := range ds {
				decided++
				e.Done(d, conflict, true)
			}
			at += time.Second
		}
		st, _ := e.Evaluate(t0.Add(at), state(svc), bad)
		if decided != maxConflicts || st[svc.Key()].Verdict != VerdictHeld || !strings.Contains(st[svc.Key()].Detail, "conflict") {
			t.Fatalf("%d decisions and %+v after repeated conflicts, want %d then held", decided, st[svc.Key()], maxConflicts)
		}
	})
}

// Issue 9, defect 7: a failed or partial Prometheus answer is "unavailable" for every service,
// never a breach, even with no_data: rollback. No data is a service absent from an answer that
// succeeded.
func TestPrometheusUnavailableIsNeverNoData(t *testing.T) {
	cfg := testConfig()
	cfg.NoDataRollback = true
	other := domain.Service{Namespace: "shop", Name: "payment-service", Kind: domain.KindDeployment, Image: "payment-service:v2",
		Revision: 2, Phase: domain.PhaseProgressing, RolloutStarted: t0}
	prs := domain.ReplicaSet{Name: "payment-service-5c6d7e8f9a", Revision: 2, Image: "payment-service:v2", Replicas: 3, Ready: 3, Created: t0}
	prs1 := domain.ReplicaSet{Name: "payment-service-4b5c6d7e8f", Revision: 1, Image: "payment-service:v1", Replicas: 0, Created: t0.Add(-time.Hour)}
	other.ReplicaSets = []domain.ReplicaSet{prs, prs1}
	svc := service(domain.PhaseProgressing, t0, bad2, good1)
	both := domain.ClusterState{Services: []domain.Service{svc, other}, Synced: true}

	failed := domain.MetricsFrame{Err: errors.New("prometheus http://127.0.0.1:9090: connection refused")}
	// A partial answer: one query answered (order-service's values are there), another failed.
	partial := frame(map[string]float64{bad2.Name: 0.002, good1.Name: 0.002})
	partial.Err = errors.New("prometheus http://127.0.0.1:9090: errors query: timeout")

	for name, f := range map[string]domain.MetricsFrame{"failed": failed, "partial": partial} {
		t.Run(name, func(t *testing.T) {
			e := New(cfg)
			for _, at := range []time.Duration{0, 30 * time.Second, 2 * time.Minute} {
				st, ds := e.Evaluate(t0.Add(at), both, f)
				if len(ds) != 0 {
					t.Fatalf("rolled back %s with Prometheus unavailable", ds[0].Service.Name)
				}
				for _, key := range []string{svc.Key(), other.Key()} {
					if got := st[key]; got.Verdict != VerdictInconclusive || !strings.Contains(got.Detail, "Prometheus unavailable") {
						t.Errorf("%s: %+v, want inconclusive, Prometheus unavailable", key, got)
					}
				}
			}
		})
	}
	t.Run("a service absent from an answer that succeeded is no data", func(t *testing.T) {
		e := New(cfg)
		ok := frame(map[string]float64{bad2.Name: 0.002, good1.Name: 0.002})
		e.Evaluate(t0, both, ok)
		_, ds := e.Evaluate(t0.Add(30*time.Second), both, ok)
		if len(ds) != 1 || ds[0].Service.Name != "payment-service" {
			t.Fatalf("decisions %+v, want payment-service rolled back for no data (no_data: rollback)", ds)
		}
	})
}

// A rollback the API server never answered (it was down) changed nothing: the guard must not
// hold the service as after a refusal, but judge again, on fresh evidence, once it answers.
func TestUnreachableRollbackIsJudgedAgain(t *testing.T) {
	down := fmt.Errorf("%w: dial tcp 127.0.0.1:6443: connect: connection refused", domain.ErrUnreachable)
	bad := frame(map[string]float64{bad2.Name: 0.3, good1.Name: 0.002})
	e := New(testConfig())
	svc := service(domain.PhaseProgressing, t0, bad2, good1)
	e.Evaluate(t0, state(svc), bad)
	_, ds := e.Evaluate(t0.Add(20*time.Second), state(svc), bad)
	if len(ds) != 1 {
		t.Fatalf("%d decisions, want 1", len(ds))
	}
	e.Done(ds[0], down, false)
	st, again := e.Evaluate(t0.Add(21*time.Second), state(svc), bad)
	if got := st[svc.Key()]; got.Verdict == VerdictHeld || len(again) != 0 {
		t.Fatalf("right after an unanswered rollback: %+v %+v, want the rule's for to run again, not held", got, again)
	}
	_, again = e.Evaluate(t0.Add(41*time.Second), state(svc), bad)
	if len(again) != 1 || again[0].FromRS != bad2.Name || again[0].ToRS != good1.Name {
		t.Fatalf("after the rule held again for its for: %+v, want the rollback decided again", again)
	}
}
