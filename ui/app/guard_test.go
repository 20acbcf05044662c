package app

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/opsdeck/opsdeck/internal/domain"
)

// Auto-guard's view in the stream's rounds fills the GUARD column and the events pane; a
// Warning among them rings the terminal bell.
func TestGuardUpdatesFromTheRunner(t *testing.T) {
	h := newHarness(t, 120, 40, Options{GuardOn: true})
	h.settle()
	h.send(roundMsg{r: domain.Round{
		Guard: domain.GuardView{Judged: true, States: map[string]string{"shop/order-service": "breach 12s", "shop/gateway": "watching"},
			Status: "1 breaching"},
		Events: []domain.Event{{Time: t0, Source: domain.SourceGuard, Type: "Warning", Reason: "GuardBreaching",
			Object: "deployment/order-service", Message: "errors > 5.0% for 20s: revision 2 at 30.1%, old revision at 0.2%"}},
	}})
	h.until("the guard update", func(m Model) bool { return m.guardStates["shop/order-service"] == "breach 12s" })
	s := h.screen()
	for _, want := range []string{"breach 12s", "auto-guard: on 1 breaching", "GuardBreaching", "revision 2 at 30.1%"} {
		if !strings.Contains(s, want) {
			t.Errorf("screen lacks %q:\n%s", want, s)
		}
	}
	// The model asked for the next update and for the bell.
	_, cmd := h.m.Update(roundMsg{r: domain.Round{Events: []domain.Event{{Type: "Warning", Reason: "AutoRollback"}}}})
	if !rings(cmd) {
		t.Errorf("no terminal bell for a Warning from the guard")
	}
	_, cmd = h.m.Update(roundMsg{r: domain.Round{Guard: domain.GuardView{Judged: true, States: map[string]string{}}}})
	if rings(cmd) {
		t.Errorf("a bell without any Warning")
	}
}

// rings tells whether cmd (a batch, usually) asks for the terminal bell. Commands that block
// (the waits on channels) are given 200 ms and then left behind.
func rings(cmd tea.Cmd) bool {
	msg, ok := runFor(cmd, 200*time.Millisecond)
	if !ok {
		return false
	}
	if batch, isBatch := msg.(tea.BatchMsg); isBatch {
		for _, c := range batch {
			if rings(c) {
				return true
			}
		}
		return false
	}
	raw, isRaw := msg.(tea.RawMsg)
	return isRaw && raw.Msg == "\a"
}

// runFor runs cmd and returns its message if it comes within d.
func runFor(cmd tea.Cmd, d time.Duration) (tea.Msg, bool) {
	if cmd == nil {
		return nil, false
	}
	out := make(chan tea.Msg, 1)
	go func() { out <- cmd() }()
	select {
	case msg := <-out:
		return msg, true
	case <-time.After(d):
		return nil, false
	}
}

// c clears auto-guard's hold on the selected service through the hook; on a service that is
// not held it only says so.
func TestReleaseGuardHold(t *testing.T) {
	released := make(chan string, 1)
	h := newHarness(t, 120, 40, Options{GuardOn: true, OnGuardRelease: func(k string) { released <- k }})
	h.settle()
	sel, _ := h.m.selected()
	h.press("c")
	if !strings.Contains(h.screen(), "not held by auto-guard") {
		t.Fatalf("c on a service that is not held:\n%s", h.screen())
	}
	h.send(roundMsg{r: domain.Round{Guard: domain.GuardView{Judged: true, States: map[string]string{sel.Key(): "held"}}}})
	h.until("the hold", func(m Model) bool { return m.guardStates[sel.Key()] == "held" })
	h.press("c")
	select {
	case k := <-released:
		if k != sel.Key() {
			t.Errorf("released %q, want %q", k, sel.Key())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the release hook was not called")
	}
	if s := h.screen(); !strings.Contains(s, "hold on "+sel.Name+" cleared") {
		t.Errorf("no word of the release:\n%s", s)
	}
}
