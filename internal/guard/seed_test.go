package guard

import (
	"strings"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/internal/domain"
)

// A guard that starts (a standby that became leader, a restart) reads what auto-guard did from
// the Deployment's last-action annotation: it holds the revision it rolled back to, and a
// revision it rolled back, current again, with the original reason; it never rolls back twice.
func TestEngineSeedsHoldFromLastAction(t *testing.T) {
	rolledAt := t0.Add(3 * time.Minute)
	byGuard := &domain.LastAction{Action: domain.ActionRollback, Trigger: domain.TriggerGuard, User: "system:serviceaccount:ops:opsdeck",
		Host: "opsdeck-guard-7c9f-x2", Time: rolledAt, FromRevision: 2, ToRevision: 3,
		FromImage: bad2.Image, ToImage: good1.Image, Reason: "errors > 5.0% for 20s: revision 2 at 30.0%"}
	old := &domain.LastAction{Action: domain.ActionRollback, Trigger: domain.TriggerGuard, User: "u", Time: rolledAt,
		FromRevision: 2, ToRevision: 3} // written before the annotation carried images and a reason
	byHuman := &domain.LastAction{Action: domain.ActionRollback, Trigger: domain.TriggerCLI, User: "alice", Time: rolledAt,
		FromRevision: 2, ToRevision: 3, FromImage: bad2.Image, ToImage: good1.Image}

	// After auto-guard's rollback good1 is revision 3 and bad2 keeps revision 2; redeployed,
	// bad2 becomes revision 4 (same ReplicaSet, same template hash).
	rolledBack := good1
	rolledBack.Revision = 3
	redeployed := bad2
	redeployed.Revision = 4
	later := rs(5, "5f7c9d8b6a", "order-service:v3")
	later.Created = rolledAt.Add(time.Minute)

	cases := []struct {
		name        string
		last        *domain.LastAction
		svc         domain.Service
		wantVerdict Verdict
		wantDetail  []string
	}{
		{name: "the revision rolled back to is held with who, when and why",
			last: byGuard, svc: service(domain.PhaseComplete, rolledAt, rolledBack, bad2),
			wantVerdict: VerdictHeld, wantDetail: []string{"rolled back by auto-guard (pod opsdeck-guard-7c9f-x2) at 03:03:00 UTC", "revision 2 at 30.0%"}},
		{name: "the bad revision deployed again is held, not rolled back again",
			last: byGuard, svc: service(domain.PhaseProgressing, rolledAt.Add(time.Minute), redeployed, rolledBack),
			wantVerdict: VerdictHeld, wantDetail: []string{"rolled back by auto-guard", "revision 2 at 30.0%"}},
		{name: "an annotation without images or reason still holds",
			last: old, svc: service(domain.PhaseComplete, rolledAt, rolledBack, bad2),
			wantVerdict: VerdictHeld, wantDetail: []string{"rolled back by auto-guard at 03:03:00 UTC"}},
		{name: "a human's rollback holds nothing",
			last: byHuman, svc: service(domain.PhaseProgressing, rolledAt.Add(time.Minute), redeployed, rolledBack),
			wantVerdict: VerdictRollingBack},
		{name: "a deploy after the rollback is judged",
			last: byGuard, svc: service(domain.PhaseProgressing, later.Created, later, rolledBack, bad2),
			wantVerdict: VerdictRollingBack},
		{name: "no annotation: judged",
			svc: service(domain.PhaseProgressing, rolledAt.Add(time.Minute), redeployed, rolledBack), wantVerdict: VerdictRollingBack},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := New(testConfig())
			svc := tc.svc
			svc.LastAction = tc.last
			newRS, _ := svc.NewReplicaSet()
			// The current revision breaches from the first look, for longer than the rule's for.
			vals := map[string]float64{rolledBack.Name: 0.002, bad2.Name: 0.002}
			vals[newRS.Name] = 0.3
			bad := frame(vals)
			var st map[string]Status
			var ds []Decision
			for i := 0; i <= 3; i++ {
				st, ds = e.Evaluate(svc.RolloutStarted.Add(time.Duration(i)*10*time.Second), state(svc), bad)
				if len(ds) > 0 {
					break
				}
			}
			got := st[svc.Key()]
			if got.Verdict != tc.wantVerdict {
				t.Fatalf("verdict %q (%s), want %q", got.Verdict, got.Detail, tc.wantVerdict)
			}
			if (tc.wantVerdict == VerdictRollingBack) != (len(ds) == 1) {
				t.Fatalf("decisions %+v with verdict %q", ds, got.Verdict)
			}
			if len(ds) == 1 && ds[0].ToRS == bad2.Name {
				t.Errorf("rolls back to the revision auto-guard rolled back: %+v", ds[0])
			}
			for _, w := range tc.wantDetail {
				if !strings.Contains(got.Detail, w) {
					t.Errorf("detail %q, want it to name %q", got.Detail, w)
				}
			}
		})
	}
}

// The guard that acted holds a revision it rolled back, deployed again, the same way.
func TestEngineHoldsRedeployOfRolledBack(t *testing.T) {
	e := New(testConfig())
	svc := service(domain.PhaseProgressing, t0, bad2, good1)
	var ds []Decision
	for i := 0; i <= 3 && len(ds) == 0; i++ {
		_, ds = e.Evaluate(t0.Add(time.Duration(i)*10*time.Second), state(svc), frame(map[string]float64{bad2.Name: 0.3, good1.Name: 0.002}))
	}
	if len(ds) != 1 {
		t.Fatalf("no rollback of the bad revision")
	}
	e.Done(ds[0], nil, false)
	redeployed := bad2
	redeployed.Revision = 4
	g := good1
	g.Revision = 3
	if st, _ := e.Evaluate(t0.Add(time.Minute), state(service(domain.PhaseComplete, t0.Add(time.Minute), g, bad2)), frame(nil)); st[svc.Key()].Verdict != VerdictHeld {
		t.Fatalf("after the rollback: %+v, want held", st[svc.Key()])
	}
	again := service(domain.PhaseProgressing, t0.Add(5*time.Minute), redeployed, g)
	for i := 0; i <= 3; i++ {
		st, ds := e.Evaluate(t0.Add(5*time.Minute+time.Duration(i)*10*time.Second), state(again), frame(map[string]float64{bad2.Name: 0.3, good1.Name: 0.002}))
		if len(ds) != 0 || st[again.Key()].Verdict != VerdictHeld || !strings.Contains(st[again.Key()].Detail, "rolled back by auto-guard") {
			t.Fatalf("redeployed bad revision: %+v, %v; want held, no second rollback", st[again.Key()], ds)
		}
	}
}
