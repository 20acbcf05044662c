package bluegreen

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/internal/domain"
)

type manualClock struct{ t time.Time }

func (c *manualClock) Now() time.Time { return c.t }

type recordingExec struct{ actions []domain.Action }

func (e *recordingExec) Execute(_ context.Context, a domain.Action) (domain.Result, error) {
	e.actions = append(e.actions, a)
	return domain.Result{Action: a}, nil
}

var t0 = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

// pending is checkout serving from blue with a switch to green (checkout:v2) pending, green
// having ready of 3 pods Ready.
func pending(ready int32, preview time.Duration) domain.Service {
	green := domain.ColorState{Color: domain.ColorGreen, Deployment: "checkout-green", Exists: true, Image: "checkout:v2",
		Desired: 3, Current: 3, Updated: 3, Ready: ready, Available: ready, Phase: domain.PhaseProgressing, ReplicaSet: "checkout-green-5f6d7c8b9a"}
	if ready == 3 {
		green.Phase = domain.PhaseComplete
	}
	return domain.Service{Namespace: "shop", Name: "checkout", Kind: domain.KindBlueGreen, Revision: 2, BlueGreen: &domain.BlueGreen{
		Active: domain.ColorBlue, Pending: domain.ColorGreen, PendingImage: "checkout:v2", Preview: preview,
		ScaleDownDelay: 5 * time.Minute, Trigger: domain.TriggerKey,
		Colors: map[domain.Color]domain.ColorState{
			domain.ColorBlue:  {Color: domain.ColorBlue, Deployment: "checkout-blue", Exists: true, Image: "checkout:v1", Desired: 3, Current: 3, Updated: 3, Ready: 3, Available: 3, Phase: domain.PhaseComplete},
			domain.ColorGreen: green,
		}}}
}

func st(svcs ...domain.Service) domain.ClusterState {
	return domain.ClusterState{Services: svcs, Synced: true}
}

var errRule = domain.Thresholds{Default: map[domain.Metric]domain.Threshold{
	domain.MetricErrorRatio: {Metric: domain.MetricErrorRatio, Value: 0.05, For: 10 * time.Second, Rollback: true},
}}

// The switch waits for every pod of the new colour, then goes through the executor with the
// trigger of the deploy and the Service's revision as the expectation.
func TestReconcileSwitchesWhenAllReady(t *testing.T) {
	clock := &manualClock{t0}
	ex := &recordingExec{}
	r := &Reconciler{Exec: ex, Clock: clock}
	for _, n := range []int32{0, 1, 2} {
		if steps := r.Reconcile(context.Background(), st(pending(n, 0))); len(steps) != 0 {
			t.Fatalf("%d/3 Ready: %+v", n, steps)
		}
	}
	if s := r.PreviewStatus("shop/checkout"); s != "waiting for checkout-green: 2/3 Ready" {
		t.Errorf("status %q", s)
	}
	r.Reconcile(context.Background(), st(pending(3, 0)))
	if len(ex.actions) != 1 {
		t.Fatalf("actions %+v", ex.actions)
	}
	a := ex.actions[0]
	if a.Kind != domain.ActionSwitch || a.Color != domain.ColorGreen || a.ExpectRevision != 2 || a.Trigger != domain.TriggerKey ||
		!strings.Contains(a.Reason, "checkout-green (checkout:v2) has all 3 pods Ready") {
		t.Errorf("switch %+v", a)
	}
}

// Another image on the pending colour (someone changed it) never switches.
func TestReconcileRefusesAChangedPreview(t *testing.T) {
	ex := &recordingExec{}
	r := &Reconciler{Exec: ex, Clock: &manualClock{t0}}
	svc := pending(3, 0)
	c := svc.BlueGreen.Colors[domain.ColorGreen]
	c.Image = "checkout:v3"
	svc.BlueGreen.Colors[domain.ColorGreen] = c
	r.Reconcile(context.Background(), st(svc))
	if len(ex.actions) != 0 || !strings.Contains(r.PreviewStatus("shop/checkout"), "runs checkout:v3, not checkout:v2") {
		t.Errorf("actions %+v, status %q", ex.actions, r.PreviewStatus("shop/checkout"))
	}
}

// A preview holds the Ready colour for its duration with the guard's rules passing; a rule
// breached for its for duration cancels the deploy instead.
func TestReconcilePreview(t *testing.T) {
	frame := func(errRatio float64) func(context.Context, []domain.Service) domain.MetricsFrame {
		return func(context.Context, []domain.Service) domain.MetricsFrame {
			return domain.MetricsFrame{ReplicaSets: map[string]domain.Values{
				"shop/checkout-green-5f6d7c8b9a": {domain.MetricErrorRatio: errRatio}}}
		}
	}
	t.Run("passes", func(t *testing.T) {
		clock := &manualClock{t0}
		ex := &recordingExec{}
		r := &Reconciler{Exec: ex, Clock: clock, Thresholds: errRule, Metrics: frame(0.002)}
		for _, at := range []time.Duration{0, 10 * time.Second, 29 * time.Second} {
			clock.t = t0.Add(at)
			r.Reconcile(context.Background(), st(pending(3, 30*time.Second)))
		}
		if len(ex.actions) != 0 || r.PreviewStatus("shop/checkout") != "preview: 1s left" {
			t.Fatalf("before the end of the preview: %+v, %q", ex.actions, r.PreviewStatus("shop/checkout"))
		}
		clock.t = t0.Add(30 * time.Second)
		r.Reconcile(context.Background(), st(pending(3, 30*time.Second)))
		if len(ex.actions) != 1 || ex.actions[0].Kind != domain.ActionSwitch || !strings.Contains(ex.actions[0].Reason, "30s preview") {
			t.Fatalf("after the preview: %+v", ex.actions)
		}
	})
	t.Run("fails", func(t *testing.T) {
		clock := &manualClock{t0}
		ex := &recordingExec{}
		r := &Reconciler{Exec: ex, Clock: clock, Thresholds: errRule, Metrics: frame(0.3)}
		for _, at := range []time.Duration{0, 5 * time.Second, 10 * time.Second} {
			clock.t = t0.Add(at)
			r.Reconcile(context.Background(), st(pending(3, 30*time.Second)))
		}
		if len(ex.actions) != 1 {
			t.Fatalf("actions %+v, status %q", ex.actions, r.PreviewStatus("shop/checkout"))
		}
		a := ex.actions[0]
		if a.Kind != domain.ActionRollback || a.Trigger != domain.TriggerGuard ||
			a.Reason != "preview of green (checkout:v2) failed: errors > 5.00% for 10s: 30.00%" {
			t.Errorf("cancel %+v", a)
		}
	})
	t.Run("no data holds", func(t *testing.T) {
		clock := &manualClock{t0}
		ex := &recordingExec{}
		none := func(context.Context, []domain.Service) domain.MetricsFrame { return domain.MetricsFrame{} }
		r := &Reconciler{Exec: ex, Clock: clock, Thresholds: errRule, Metrics: none}
		for _, at := range []time.Duration{0, time.Minute} {
			clock.t = t0.Add(at)
			r.Reconcile(context.Background(), st(pending(3, 30*time.Second)))
		}
		if len(ex.actions) != 0 || !strings.Contains(r.PreviewStatus("shop/checkout"), "waiting for metrics (errors)") {
			t.Errorf("actions %+v, status %q", ex.actions, r.PreviewStatus("shop/checkout"))
		}
	})
}

// The previous colour is scaled down once its deadline has passed, not before.
func TestReconcileScaleDown(t *testing.T) {
	clock := &manualClock{t0}
	ex := &recordingExec{}
	r := &Reconciler{Exec: ex, Clock: clock}
	svc := pending(3, 0)
	bg := svc.BlueGreen
	bg.Active, bg.Pending, bg.PendingImage = domain.ColorGreen, "", ""
	bg.ScaleDownAt = t0.Add(5 * time.Minute)
	clock.t = t0.Add(5*time.Minute - time.Millisecond)
	r.Reconcile(context.Background(), st(svc))
	if len(ex.actions) != 0 {
		t.Fatalf("scaled down early: %+v", ex.actions)
	}
	clock.t = t0.Add(5 * time.Minute)
	r.Reconcile(context.Background(), st(svc))
	if len(ex.actions) != 1 || ex.actions[0].Kind != domain.ActionScaleDown || ex.actions[0].Color != domain.ColorBlue {
		t.Fatalf("actions %+v", ex.actions)
	}
}
