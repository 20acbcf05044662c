package app

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/internal/demo"
	"github.com/opsdeck/opsdeck/internal/domain"
)

// Golden screens of the blue-green service checkout on the demo backend (manual clock): both
// colours side by side, the preview of a deploy, the switch and the scale-down countdown.

// blueGreenHarness is the console on the demo with checkout (5 m scale-down delay), checkout
// selected and settled.
func blueGreenHarness(t *testing.T, w, h int) *harness {
	t.Helper()
	hs := newHarness(t, w, h, Options{HistoryWindow: 2 * time.Minute}, demo.WithBlueGreen(0, 5*time.Minute))
	hs.settle()
	hs.press("j") // cart-service, checkout
	hs.settle()
	if s, _ := hs.m.selected(); s.Name != "checkout" || s.BlueGreen == nil {
		t.Fatalf("selected %q", s.Name)
	}
	return hs
}

// deployGreen deploys checkout:v2 from the keyboard (d, the image, enter, y).
func (h *harness) deployGreen() {
	h.t.Helper()
	h.press("d", "backspace", "backspace")
	h.typeText("v2")
	h.press("enter")
	if !strings.Contains(h.screen(), "green (idle) gets checkout:v2 at 3 replicas") {
		h.t.Fatalf("the confirmation does not say where the image goes:\n%s", h.screen())
	}
	h.press("y")
	h.until("deployed", func(m Model) bool { return m.pending == 0 })
}

func bgService(h *harness) domain.Service {
	s, _ := h.m.selected()
	return s
}

func TestGoldenBlueGreen120x40(t *testing.T) {
	h := blueGreenHarness(t, 120, 40)
	h.revsLoaded()
	s := checkScreen(t, h, 120, 40)
	for _, want := range []string{"services 6/6", "▶checkout", " blue ", "traffic → blue", "BLUE ● live", "GREEN ○ idle",
		"checkout:v1", "3/3 ready", "0/0 ready", "BLUE r1 3/3 ready", "blue-green · traffic → blue"} {
		if !strings.Contains(s, want) {
			t.Errorf("screen lacks %q", want)
		}
	}
}

func TestGoldenBlueGreenDeployConfirm80x24(t *testing.T) {
	h := blueGreenHarness(t, 80, 24)
	h.press("d", "backspace", "backspace")
	h.typeText("v2")
	h.press("enter")
	s := checkScreen(t, h, 80, 24)
	if !strings.Contains(s, "checkout:v1 -> checkout:v2") || !strings.Contains(s, "from blue once all are Ready; blue stays up 5m0s") {
		t.Error("the confirmation lacks from -> to or the switch")
	}
}

// During the preview the Service still selects blue; the screen says green is coming up.
func TestGoldenBlueGreenPreview120x40(t *testing.T) {
	h := blueGreenHarness(t, 120, 40)
	h.deployGreen()
	h.step(time.Second, time.Second)
	h.revsLoaded()
	svc := bgService(h)
	if svc.BlueGreen.Active != domain.ColorBlue || svc.BlueGreen.Pending != domain.ColorGreen {
		t.Fatalf("not in preview: %+v", svc.BlueGreen)
	}
	s := checkScreen(t, h, 120, 40)
	for _, want := range []string{"→green ", "traffic → blue", "GREEN ◐ preview", "checkout:v2", "switch → green once all Ready: "} {
		if !strings.Contains(s, want) {
			t.Errorf("screen lacks %q", want)
		}
	}
}

// After the switch: green serves, blue stays up with a countdown in the table and the rollout
// pane, the events pane has the switch; the countdown moves with the clock.
func TestGoldenBlueGreenSwitched120x40(t *testing.T) {
	h := blueGreenHarness(t, 120, 40)
	h.deployGreen()
	h.step(6*time.Second, time.Second)
	h.step(20*time.Second, 2*time.Second)
	h.revsLoaded()
	svc := bgService(h)
	if svc.BlueGreen.Active != domain.ColorGreen || svc.BlueGreen.ScaleDownAt.IsZero() {
		t.Fatalf("not switched: %+v", svc.BlueGreen)
	}
	s := checkScreen(t, h, 120, 40)
	for _, want := range []string{"traffic → green", "GREEN ● live", "BLUE ○ standby", "blue scales down in 4:", "switched checkout from blue"} {
		if !strings.Contains(s, want) {
			t.Errorf("screen lacks %q", want)
		}
	}
	row := regexp.MustCompile(`▶checkout +3/3 v2 +2 green ↓(\d:\d\d)`)
	m := row.FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("the table row lacks the countdown:\n%s", s)
	}
	h.step(time.Minute, 10*time.Second)
	m2 := row.FindStringSubmatch(h.screen())
	if m2 == nil || m2[1] == m[1] {
		t.Errorf("the countdown did not move: %v -> %v", m, m2)
	}
}

func TestGoldenBlueGreenSwitched80x24(t *testing.T) {
	h := blueGreenHarness(t, 80, 24)
	h.deployGreen()
	h.step(6*time.Second, time.Second)
	h.step(20*time.Second, 2*time.Second)
	h.revsLoaded()
	s := checkScreen(t, h, 80, 24)
	if !strings.Contains(s, "green ↓4:") {
		t.Errorf("no countdown at 80x24:\n%s", s)
	}
}

// After the delay blue is scaled to zero; r brings it back and switches once it is Ready.
func TestBlueGreenScaleDownAndRollbackFromKeys(t *testing.T) {
	h := blueGreenHarness(t, 120, 40)
	h.deployGreen()
	h.step(6*time.Second, time.Second)
	h.step(5*time.Minute, 30*time.Second)
	svc := bgService(h)
	if blue := svc.BlueGreen.Of(domain.ColorBlue); blue.Desired != 0 || blue.Current != 0 || strings.Contains(h.screen(), "scales down in") {
		t.Fatalf("blue after the delay: %+v\n%s", blue, h.screen())
	}
	h.press("r")
	h.until("the picker", func(m Model) bool { return m.dialog != nil })
	if !strings.Contains(h.screen(), "bring back blue (checkout:v1), switch once Ready") {
		t.Fatalf("picker:\n%s", h.screen())
	}
	h.press("enter", "y")
	h.until("rolled back", func(m Model) bool { return m.pending == 0 })
	h.step(6*time.Second, time.Second)
	if svc := bgService(h); svc.BlueGreen.Active != domain.ColorBlue || svc.Image != "checkout:v1" {
		t.Fatalf("after the rollback: %+v", svc.BlueGreen)
	}
}

// The rollback picker lists saved snapshots after the revisions (time, action, image,
// replicas), and picking one asks to restore it: the action names the snapshot.
func TestPickerListsSnapshots(t *testing.T) {
	h := newHarness(t, 120, 40, Options{})
	h.settle()
	svc, _ := h.m.selected()
	at := t0.Add(-time.Hour)
	snaps := []domain.Snapshot{{ID: "20260314T082653.000000000Z_shop_cart-service_scale", Time: at, Action: "scale", Image: "cart-service:v1", Replicas: 5}}
	revs := []domain.Revision{{Number: 1, Image: "cart-service:v1", Current: true}}
	items, choices, def := h.m.pickerChoices(svc, revs, snaps)
	if len(items) != 2 || def != 1 || choices[1].snap == nil || !strings.Contains(items[1], "before scale") ||
		!strings.Contains(items[1], "cart-service:v1") || !strings.Contains(items[1], "×5") {
		t.Fatalf("items %q, default %d", items, def)
	}
	// The demo keeps no snapshots: a backend that does plans the restore.
	h.m.backend = restorePlanner{h.b}
	h.m.flow = flow{action: h.m.newAction(domain.ActionRollback, svc), svc: svc, stage: stageLoadingRevisions}
	h.m.openRevisionPicker(revs, snaps)
	if h.m.dialog == nil || !strings.Contains(h.screen(), "snap ") {
		t.Fatalf("no picker with the snapshot:\n%s", h.screen())
	}
	h.press("enter")
	if h.m.flow.action.Snapshot != snaps[0].ID || h.m.flow.stage != stageConfirm || !strings.Contains(h.screen(), "restore cart-service from snapshot") {
		t.Fatalf("after picking the snapshot: %+v\n%s", h.m.flow.action, h.screen())
	}
}

// restorePlanner plans a restore from a snapshot as the executor words it.
type restorePlanner struct{ *demo.Backend }

func (r restorePlanner) Plan(ctx context.Context, a domain.Action) (domain.Plan, error) {
	if a.Snapshot == "" {
		return r.Backend.Plan(ctx, a)
	}
	return domain.Plan{Action: a, Sentence: "restore " + a.Service + " from snapshot " + a.Snapshot + ": cart-service:v1 -> cart-service:v1, 5 replicas"}, nil
}
