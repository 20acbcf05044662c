package actions

import (
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/opsdeck/opsdeck/internal/bluegreen"
	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/internal/sandbox"
)

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

// pairOf is checkout with blue active at checkout:v1 (3 Ready) and green with greenReplicas
// Ready pods of greenImage.
func pairOf(greenImage string, greenReplicas int32, ann map[string]string) (bluegreen.Pair, bluegreen.State) {
	ready := func(d *appsv1.Deployment) *appsv1.Deployment {
		n := *d.Spec.Replicas
		d.Generation, d.ResourceVersion = 1, "10"
		d.Status = appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: n, UpdatedReplicas: n, ReadyReplicas: n, AvailableReplicas: n}
		return d
	}
	svc := sandbox.BlueGreenService("shop", "checkout", domain.ColorBlue)
	svc.ResourceVersion, svc.Annotations = "7", ann
	p := bluegreen.Pair{Service: svc,
		Blue:  ready(sandbox.BlueGreenDeployment("shop", "checkout", domain.ColorBlue, "checkout:v1", 3)),
		Green: ready(sandbox.BlueGreenDeployment("shop", "checkout", domain.ColorGreen, greenImage, greenReplicas))}
	return p, bluegreen.ReadState(svc)
}

func TestPlanBlueGreen(t *testing.T) {
	now := time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)
	e := &Executor{Clock: fixedClock{now}, BlueGreen: BlueGreenSettings{ScaleDownDelay: time.Minute}}
	pending := map[string]string{bluegreen.AnnSwitchTo: "green", bluegreen.AnnSwitchImage: "checkout:v2"}
	cases := []struct {
		name      string
		a         domain.Action
		green     string
		replicas  int32
		ann       map[string]string
		check     func(*plan) bool
		wantErr   string
		wantSkip  string
		describes string
	}{
		{name: "deploy goes to the idle colour", a: domain.Action{Kind: domain.ActionDeploy, Image: "checkout:v2"}, green: "checkout:v1",
			check: func(p *plan) bool {
				return p.res.PendingSwitch == domain.ColorGreen && p.res.ToRevision == 2 && p.res.ToImage == "checkout:v2"
			},
			describes: "green (idle) gets checkout:v2 at 3 replicas; traffic switches from blue once all are Ready"},
		{name: "deploy of the running image", a: domain.Action{Kind: domain.ActionDeploy, Image: "checkout:v1"}, green: "checkout:v1",
			wantSkip: "checkout already runs checkout:v1 on blue"},
		{name: "deploy while a switch is pending", a: domain.Action{Kind: domain.ActionDeploy, Image: "checkout:v3"}, green: "checkout:v2", replicas: 3,
			ann: pending, wantErr: "a switch to green (checkout:v2) is pending; roll back (r) to cancel it first"},
		{name: "rollback with the old colour up is a switch", a: domain.Action{Kind: domain.ActionRollback}, green: "checkout:v0", replicas: 3,
			check: func(p *plan) bool {
				return p.res.Switched == domain.ColorGreen && p.res.PendingSwitch == "" && p.res.ToImage == "checkout:v0"
			},
			describes: "switch back from blue to green (checkout:v0) at once: its 3 pods are Ready"},
		{name: "rollback after the scale-down brings it back", a: domain.Action{Kind: domain.ActionRollback}, green: "checkout:v0",
			check:     func(p *plan) bool { return p.res.PendingSwitch == domain.ColorGreen && p.res.Switched == "" },
			describes: "green was scaled down: scale it to 3 (checkout:v0), then switch back from blue once all are Ready"},
		{name: "rollback during a preview cancels it", a: domain.Action{Kind: domain.ActionRollback}, green: "checkout:v2", replicas: 3, ann: pending,
			check: func(p *plan) bool {
				return p.res.FromImage == "checkout:v2" && p.res.ToImage == "checkout:v1" && p.res.ToRevision == 1
			},
			describes: "cancel the pending switch to green (checkout:v2): traffic stays on blue"},
		{name: "the guard's rollback to the colour already serving", a: domain.Action{Kind: domain.ActionRollback, Color: domain.ColorBlue},
			green: "checkout:v0", replicas: 3, wantSkip: "checkout already serves from blue"},
		{name: "rollback to a revision", a: domain.Action{Kind: domain.ActionRollback, ToRevision: 2}, green: "checkout:v0",
			wantErr: "checkout is blue-green: a rollback switches back to the other colour; --to-revision does not apply"},
		{name: "switch to a colour running another image", a: domain.Action{Kind: domain.ActionSwitch, Color: domain.ColorGreen},
			green: "checkout:v3", replicas: 3, ann: pending, wantErr: "checkout-green runs checkout:v3, not checkout:v2 as deployed"},
		{name: "switch before all pods are Ready", a: domain.Action{Kind: domain.ActionSwitch}, green: "checkout:v2", ann: pending,
			wantErr: "refusing to switch checkout to green: checkout-green is scaled to 0"},
		{name: "switch with nothing pending", a: domain.Action{Kind: domain.ActionSwitch, Color: domain.ColorGreen}, green: "checkout:v2", replicas: 3,
			wantSkip: "checkout: no switch to green is pending"},
		{name: "a scale-down not due yet", a: domain.Action{Kind: domain.ActionScaleDown}, green: "checkout:v0", replicas: 3,
			ann: map[string]string{bluegreen.AnnScaleDownAt: bluegreen.FormatTime(now.Add(time.Second))}, wantSkip: "no scale-down of green is due"},
		{name: "a due scale-down", a: domain.Action{Kind: domain.ActionScaleDown}, green: "checkout:v0", replicas: 3,
			ann:   map[string]string{bluegreen.AnnScaleDownAt: bluegreen.FormatTime(now)},
			check: func(p *plan) bool { return p.apply != nil && p.res.FromImage == "checkout:v0" }},
		{name: "pause", a: domain.Action{Kind: domain.ActionPause}, green: "checkout:v0",
			wantErr: "checkout is blue-green: its switch is atomic, there is no rollout to pause"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pair, _ := pairOf(tc.green, tc.replicas, tc.ann)
			tc.a.Namespace, tc.a.Service, tc.a.Trigger = "shop", "checkout", domain.TriggerKey
			p, err := e.planPairOf(tc.a, pair, &plan{res: domain.Result{Action: tc.a, At: now, Kind: domain.KindBlueGreen}, verb: "patch", resource: "services"})
			switch {
			case tc.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			case err != nil:
				t.Fatal(err)
			case tc.wantSkip != "":
				if !strings.Contains(p.skip, tc.wantSkip) {
					t.Fatalf("skip %q, want %q", p.skip, tc.wantSkip)
				}
				return
			}
			if p.skip != "" || p.apply == nil || (tc.check != nil && !tc.check(p)) {
				t.Fatalf("plan %+v (skip %q)", p.res, p.skip)
			}
			if tc.describes != "" && !strings.Contains(p.sentence, tc.describes) {
				t.Errorf("sentence %q, want it to say %q", p.sentence, tc.describes)
			}
		})
	}
}

// The switch annotations replace the pending ones and set the deadline after the delay.
func TestSwitchAnnotations(t *testing.T) {
	now := time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)
	ann := switchAnnotations(3, now, now.Add(5*time.Minute), domain.TriggerGuard)
	svc := &corev1.Service{}
	svc.Annotations = map[string]string{}
	for k, v := range ann {
		if s, ok := v.(string); ok {
			svc.Annotations[k] = s
		} else if v != nil {
			t.Fatalf("%s = %v", k, v)
		}
	}
	for _, k := range bluegreen.PendingAnnotations {
		if v, ok := ann[k]; !ok || v != nil {
			t.Errorf("%s not removed: %v", k, v)
		}
	}
	st := bluegreen.ReadState(svc)
	if st.Revision != 3 || !st.SwitchedAt.Equal(now) || st.ScaleDownDelay != 5*time.Minute || st.Trigger != domain.TriggerGuard {
		t.Errorf("state %+v", st)
	}
}
