package guard

import (
	"strings"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/internal/domain"
)

// bgService is the blue-green service checkout serving from active since switched, each colour
// with 3 Ready pods of its image (green's pods counted only when greenUp).
func bgService(active domain.Color, switched time.Time, blueImg, greenImg string, greenUp bool) domain.Service {
	blue := domain.ReplicaSet{Name: "checkout-blue-6d4cf56db6", Revision: 1, Image: blueImg, Replicas: 3, Ready: 3, Available: 3, Color: domain.ColorBlue}
	green := domain.ReplicaSet{Name: "checkout-green-7b9f8c5d4f", Revision: 2, Image: greenImg, Replicas: 3, Ready: 3, Available: 3, Color: domain.ColorGreen}
	if !greenUp {
		green.Replicas, green.Ready, green.Available = 0, 0, 0
	}
	bg := &domain.BlueGreen{Active: active, SwitchedAt: switched, Colors: map[domain.Color]domain.ColorState{
		domain.ColorBlue:  {Color: domain.ColorBlue, Deployment: "checkout-blue", Exists: true, Image: blueImg, Desired: 3, Ready: 3, ReplicaSet: blue.Name, Phase: domain.PhaseComplete},
		domain.ColorGreen: {Color: domain.ColorGreen, Deployment: "checkout-green", Exists: true, Image: greenImg, Desired: green.Replicas, Ready: green.Ready, ReplicaSet: green.Name, Phase: domain.PhaseComplete},
	}}
	img, rss := blueImg, []domain.ReplicaSet{blue, green}
	if active == domain.ColorGreen {
		img, rss = greenImg, []domain.ReplicaSet{green, blue}
	}
	return domain.Service{Namespace: "shop", Name: "checkout", Kind: domain.KindBlueGreen, Image: img, Revision: 4,
		Phase: domain.PhaseComplete, RolloutStarted: switched, ReplicaSets: rss, BlueGreen: bg}
}

// A breach by the colour traffic was just switched to decides a switch back to the other
// colour: the action is a rollback to that colour, expecting the Service's revision.
func TestEngineBlueGreenSwitchesBack(t *testing.T) {
	e := New(testConfig())
	// Blue has served for an hour: known good.
	before := bgService(domain.ColorBlue, t0.Add(-time.Hour), "checkout:v1", "checkout:v2-bad", true)
	if _, ds := e.Evaluate(t0, state(before), frame(map[string]float64{"checkout-blue-6d4cf56db6": 0.002})); len(ds) != 0 {
		t.Fatalf("decided on a stable service: %+v", ds)
	}
	// The switch to green: its pods breach for the rule's 20 s.
	svc := bgService(domain.ColorGreen, t0.Add(time.Minute), "checkout:v1", "checkout:v2-bad", true)
	f := frame(map[string]float64{"checkout-green-7b9f8c5d4f": 0.3, "checkout-blue-6d4cf56db6": 0.002})
	var ds []Decision
	var st Status
	for _, at := range []time.Duration{time.Minute, time.Minute + 10*time.Second, time.Minute + 20*time.Second} {
		var statuses map[string]Status
		statuses, ds = e.Evaluate(t0.Add(at), state(svc), f)
		st = statuses[svc.Key()]
		if at < time.Minute+20*time.Second && (len(ds) != 0 || st.Verdict != VerdictBreaching) {
			t.Fatalf("at +%s: %d decisions, verdict %s (%s)", at, len(ds), st.Verdict, st.Detail)
		}
	}
	if len(ds) != 1 {
		t.Fatalf("no switch back after the breach lasted 20s: %s (%s)", st.Verdict, st.Detail)
	}
	d := ds[0]
	if d.ToColor != domain.ColorBlue || d.FromRS != "checkout-green-7b9f8c5d4f" || d.ToRS != "checkout-blue-6d4cf56db6" ||
		d.FromImage != "checkout:v2-bad" || d.ToImage != "checkout:v1" {
		t.Errorf("decision %+v", d)
	}
	for _, want := range []string{"errors > 5.0% for 20s", "at 30.0%", "old revision at 0.2%", "switching back from green (checkout:v2-bad) to blue (checkout:v1)"} {
		if !strings.Contains(d.Reason, want) {
			t.Errorf("reason %q lacks %q", d.Reason, want)
		}
	}
	a := d.Action()
	if a.Kind != domain.ActionRollback || a.Color != domain.ColorBlue || a.ToRevision != 0 || a.ExpectRevision != 4 ||
		a.Trigger != domain.TriggerGuard || a.Service != "checkout" {
		t.Errorf("action %+v", a)
	}
	// Exactly once: after the switch back the service is held on blue.
	e.Done(d, nil, false)
	back := bgService(domain.ColorBlue, t0.Add(2*time.Minute), "checkout:v1", "checkout:v2-bad", true)
	statuses, again := e.Evaluate(t0.Add(2*time.Minute), state(back), f)
	if len(again) != 0 || statuses[back.Key()].Verdict != VerdictHeld {
		t.Errorf("after the switch back: %d decisions, %+v", len(again), statuses[back.Key()])
	}
}

func TestEngineBlueGreenLeavesAlone(t *testing.T) {
	f := frame(map[string]float64{"checkout-green-7b9f8c5d4f": 0.3, "checkout-blue-6d4cf56db6": 0.3})
	cases := []struct {
		name        string
		svc         func() domain.Service
		wantVerdict Verdict
		wantDetail  string
		oldOK       bool // the idle colour does not breach
	}{
		{name: "both colours breach: not the switch",
			svc:         func() domain.Service { return bgService(domain.ColorGreen, t0, "checkout:v1", "checkout:v2", true) },
			wantVerdict: VerdictNotRollout, wantDetail: "both revisions breach"},
		{name: "a pending switch: the active colour is the old one",
			svc: func() domain.Service {
				s := bgService(domain.ColorBlue, t0, "checkout:v1", "checkout:v2", true)
				s.BlueGreen.Pending, s.BlueGreen.PendingImage = domain.ColorGreen, "checkout:v2"
				return s
			},
			wantVerdict: VerdictWatching, wantDetail: "a switch to green (checkout:v2) is pending"},
		{name: "an inconsistent pair",
			svc: func() domain.Service {
				s := bgService(domain.ColorBlue, t0, "checkout:v1", "checkout:v2", true)
				s.BlueGreen.Problem = "blue-green service shop/checkout is inconsistent: both colours are selected"
				return s
			},
			wantVerdict: VerdictInconclusive, wantDetail: "both colours are selected; not acting"},
		{name: "outside the window after the switch",
			svc: func() domain.Service {
				return bgService(domain.ColorGreen, t0.Add(-time.Hour), "checkout:v1", "checkout:v2", true)
			},
			wantVerdict: VerdictStable, wantDetail: "alerting only", oldOK: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := New(testConfig())
			svc := tc.svc()
			f := f
			if tc.oldOK {
				f = frame(map[string]float64{"checkout-green-7b9f8c5d4f": 0.3, "checkout-blue-6d4cf56db6": 0.002})
			}
			var st Status
			for _, at := range []time.Duration{0, 30 * time.Second, time.Minute} {
				statuses, ds := e.Evaluate(t0.Add(at), state(svc), f)
				if len(ds) != 0 {
					t.Fatalf("decided %+v", ds)
				}
				st = statuses[svc.Key()]
			}
			if st.Verdict != tc.wantVerdict || !strings.Contains(st.Detail, tc.wantDetail) {
				t.Errorf("verdict %q (%s), want %q with %q", st.Verdict, st.Detail, tc.wantVerdict, tc.wantDetail)
			}
		})
	}
}
