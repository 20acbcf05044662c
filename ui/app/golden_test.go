package app

import (
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/golden"
	"github.com/opsdeck/opsdeck/internal/domain"
)

// Golden screens: the demo backend on a manual clock, the plain theme, ANSI stripped.
// Run `go test ./ui/app -run Golden -update` to rewrite them after a deliberate change.

// revsLoaded waits until the selected service's revisions at its revision are shown.
func (h *harness) revsLoaded() {
	h.t.Helper()
	h.until("revisions of the selected service", func(m Model) bool {
		svc, ok := m.selected()
		if !ok {
			return false
		}
		r, have := m.revisions[svc.Key()]
		_, asking := m.revAsked[svc.Key()]
		return have && r.stamp == historyStamp(svc) && !asking
	})
}

func checkScreen(t *testing.T, h *harness, w, ht int) string {
	t.Helper()
	s := h.screen()
	lines := strings.Split(s, "\n")
	if len(lines) != ht {
		t.Errorf("screen has %d lines, want %d", len(lines), ht)
	}
	golden.RequireEqual(t, []byte(s))
	return s
}

func TestGoldenStart80x24(t *testing.T) {
	h := newHarness(t, 80, 24, Options{})
	h.settle()
	s := checkScreen(t, h, 80, 24)
	for _, want := range []string{"DEMO", "ctx demo", "ns shop", "API ok", "metrics ok", "auto-guard: off", "order-service", "5XX%", "GUARD"} {
		if !strings.Contains(s, want) {
			t.Errorf("screen lacks %q", want)
		}
	}
}

func TestGoldenStart120x40(t *testing.T) {
	h := newHarness(t, 120, 40, Options{})
	h.settle()
	s := checkScreen(t, h, 120, 40)
	if !strings.Contains(s, "limit > 5.00 %") || !strings.Contains(s, "╌╌╌") {
		t.Error("the 5xx graph lacks its threshold line")
	}
}

func TestGoldenTooSmall40x10(t *testing.T) {
	h := newHarness(t, 40, 10, Options{})
	h.synced()
	s := checkScreen(t, h, 40, 1)
	if s != "terminal too small (40x10): need at least 80x24" {
		t.Errorf("notice %q", s)
	}
	// It keeps running: growing the terminal shows the console.
	h.press("j")
	h.send(resize(80, 24))
	if !strings.Contains(h.screen(), "services 5/5") {
		t.Errorf("after resize:\n%s", h.screen())
	}
}

func TestGoldenDeployDialog80x24(t *testing.T) {
	h := newHarness(t, 80, 24, Options{})
	h.settle()
	h.press("j", "j", "j") // order-service
	h.settle()
	h.press("d", "backspace", "backspace")
	h.typeText("v2-bad")
	checkScreen(t, h, 80, 24)
}

func TestGoldenDeployConfirm80x24(t *testing.T) {
	h := newHarness(t, 80, 24, Options{})
	h.settle()
	h.press("j", "j", "j")
	h.settle()
	h.press("d", "backspace", "backspace")
	h.typeText("v2-bad")
	h.press("enter")
	s := checkScreen(t, h, 80, 24)
	if !strings.Contains(s, "order-service:v1 -> order-service:v2-bad") {
		t.Error("confirmation lacks from -> to")
	}
}

// badRollout scales order-service to 10 (so the rollout takes a while), deploys
// order-service:v2-bad and lets it run 12 s with a refresh every 2 s.
func badRollout(t *testing.T, w, ht int) *harness {
	h := newHarness(t, w, ht, Options{HistoryWindow: 2 * time.Minute})
	h.settle()
	h.press("j", "j", "j")
	h.settle()
	h.press("s", "backspace")
	h.typeText("10")
	h.press("enter", "y")
	h.until("scaled", func(m Model) bool { return m.pending == 0 })
	h.step(40*time.Second, 2*time.Second)
	h.press("d", "backspace", "backspace")
	h.typeText("v2-bad")
	h.press("enter", "y")
	h.until("deployed", func(m Model) bool { return m.pending == 0 })
	h.step(12*time.Second, 2*time.Second)
	h.revsLoaded()
	return h
}

func TestGoldenBadRollout120x40(t *testing.T) {
	h := badRollout(t, 120, 40)
	svc, _ := h.m.selected()
	if svc.Phase != domain.PhaseProgressing || len(svc.OldReplicaSets()) != 1 {
		t.Fatalf("not mid-rollout: %s, %d old", svc.Phase, len(svc.OldReplicaSets()))
	}
	s := checkScreen(t, h, 120, 40)
	for _, want := range []string{"━ r2 new", "· r1 old", "ALERT", "progressing", "NEW r2", "OLD r1"} {
		if !strings.Contains(s, want) {
			t.Errorf("screen lacks %q", want)
		}
	}
	// The error ratio of the service is marked as breached, in the table and the graph title.
	if !strings.Contains(s, "5xx ratio ") || !strings.Contains(s[strings.Index(s, "5xx ratio "):], "!") {
		t.Error("5xx ratio not marked breached")
	}
}

func TestGoldenBadRollout80x24(t *testing.T) {
	h := badRollout(t, 80, 24)
	s := checkScreen(t, h, 80, 24)
	if !strings.Contains(s, "r2 ") || !strings.Contains(s, "r1 ") {
		t.Error("compact metrics do not show the two revisions apart")
	}
}
