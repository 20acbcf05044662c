package demo

import (
	"strings"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/internal/domain"
)

func TestBlueGreenSeedDeploySwitchScaleDown(t *testing.T) {
	c := NewManualClock(t0)
	b := New(c, WithBlueGreen(0, time.Minute))
	st := b.State()
	if len(st.Services) != 6 || st.Services[1].Name != "checkout" {
		t.Fatalf("services %d, second %q", len(st.Services), st.Services[1].Name)
	}
	s := svc(t, b, "checkout")
	bg := s.BlueGreen
	if s.Kind != domain.KindBlueGreen || bg == nil || bg.Active != domain.ColorBlue || s.Image != "checkout:v1" || s.Ready != 3 ||
		bg.Of(domain.ColorGreen).Desired != 0 || len(s.ReplicaSets) != 2 || s.Phase != domain.PhaseComplete {
		t.Fatalf("seeded checkout %+v / %+v", s, bg)
	}
	f := b.sim.frame(c.Now(), nil)
	if v, ok := f.Services["shop/checkout"].Get(domain.MetricRequestRate); !ok || v < 100 {
		t.Fatalf("checkout rps %v", f.Services["shop/checkout"])
	}

	r := exec(t, b, domain.Action{Kind: domain.ActionDeploy, Service: "checkout", Image: "checkout:v2"})
	if r.PendingSwitch != domain.ColorGreen || r.ToRevision != 2 || r.Kind != domain.KindBlueGreen {
		t.Fatalf("deploy %+v", r)
	}
	// Traffic stays on blue until all green pods are Ready.
	var switched time.Duration
	for i := 1; i <= 10; i++ {
		c.Advance(time.Second)
		s = svc(t, b, "checkout")
		g := s.BlueGreen.Of(domain.ColorGreen)
		if s.BlueGreen.Active == domain.ColorGreen {
			switched = time.Duration(i) * time.Second
			break
		}
		if g.Ready == 3 && s.BlueGreen.Pending == "" {
			t.Fatalf("pending switch lost at %ds", i)
		}
	}
	if switched == 0 || s.Revision != 2 || s.Image != "checkout:v2" || s.BlueGreen.ScaleDownAt.IsZero() {
		t.Fatalf("no switch: %+v", s.BlueGreen)
	}
	if ev := b.State().Events; len(ev) == 0 || ev[0].Reason != "switch" || !strings.Contains(ev[0].Message, "switched checkout from blue") {
		t.Errorf("events %+v", ev)
	}
	c.Advance(time.Minute)
	s = svc(t, b, "checkout")
	if blue := s.BlueGreen.Of(domain.ColorBlue); blue.Desired != 0 || blue.Current != 0 || !s.BlueGreen.ScaleDownAt.IsZero() {
		t.Fatalf("blue after the delay: %+v", blue)
	}
	// Rollback after the scale-down: blue comes back, then traffic switches.
	r = exec(t, b, domain.Action{Kind: domain.ActionRollback, Service: "checkout"})
	if r.PendingSwitch != domain.ColorBlue || r.ToImage != "checkout:v1" {
		t.Fatalf("rollback %+v", r)
	}
	c.Advance(5 * time.Second)
	if s = svc(t, b, "checkout"); s.BlueGreen.Active != domain.ColorBlue || s.Revision != 3 {
		t.Fatalf("after the rollback %+v", s.BlueGreen)
	}
	// With green still up, a rollback is instant.
	r = exec(t, b, domain.Action{Kind: domain.ActionRollback, Service: "checkout"})
	if r.Switched != domain.ColorGreen || !strings.Contains(r.Message, "no pod started") {
		t.Fatalf("instant rollback %+v", r)
	}
}
