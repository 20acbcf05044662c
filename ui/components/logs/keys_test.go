package logs

import (
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/opsdeck/opsdeck/internal/podlogs"
	"github.com/opsdeck/opsdeck/ui/keys"
	"github.com/opsdeck/opsdeck/ui/theme"
)

func press(k string) tea.KeyPressMsg {
	switch k {
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "left":
		return tea.KeyPressMsg{Code: tea.KeyLeft}
	}
	return tea.KeyPressMsg{Code: []rune(k)[0], Text: k}
}

func view(km keys.KeyMap) Model {
	return New(theme.Plain(), NewKeyMap(km), "orders", []podlogs.Target{
		{Pod: "orders-a", Container: "app", Revision: 2},
		{Pod: "orders-b", Container: "app", Revision: 2, Restarts: 3, Reason: "CrashLoopBackOff"},
	})
}

func pod(m Model) string { t, _ := m.Target(); return t.Pod }

func TestPodKeysAskForANewStream(t *testing.T) {
	m := view(keys.Default())
	for _, step := range []struct {
		key      string
		pod      string
		previous bool
	}{
		{"tab", "orders-b", true}, // a crash-looping pod opens on the crashed container
		{"p", "orders-b", false},
		{"]", "orders-a", false},
		{"left", "orders-b", true},
	} {
		var out Outcome
		m, out, _ = m.Update(press(step.key))
		if out != Restart || pod(m) != step.pod || m.Previous() != step.previous {
			t.Fatalf("after %q: outcome %d, pod %s, previous %v", step.key, out, pod(m), m.Previous())
		}
	}
}

func TestSearchThenClose(t *testing.T) {
	m := view(keys.Default())
	m.Ring.Add(podlogs.Line{Text: "GET /orders 200"})
	m.Ring.Add(podlogs.Line{Text: "payment failed: timeout"})
	m.SetSize(80, 10)
	var out Outcome
	for _, k := range []string{"/", "f", "a", "i", "l", "enter"} {
		m, out, _ = m.Update(press(k))
		if out != Stay {
			t.Fatalf("%q while searching: outcome %d", k, out)
		}
	}
	if m.Searching() || m.Query != "fail" || strings.Contains(m.View(), "GET /orders") || !strings.Contains(m.View(), "payment failed") {
		t.Fatalf("search: searching %v, query %q:\n%s", m.Searching(), m.Query, m.View())
	}
	if m, out, _ = m.Update(press("esc")); out != Stay || m.Query != "" {
		t.Fatalf("esc should clear the search first: outcome %d, query %q", out, m.Query)
	}
	if _, out, _ = m.Update(press("esc")); out != Close {
		t.Fatalf("esc without a search: outcome %d", out)
	}
	if _, out, _ = m.Update(press("q")); out != Close {
		t.Fatalf("q: outcome %d", out)
	}
}

func TestLogsKeysFollowOverrides(t *testing.T) {
	km := keys.Default()
	if err := km.Apply(map[string][]string{"next-pod": {"n"}, "quit": {"Q"}, "filter": {"f"}}); err != nil {
		t.Fatal(err)
	}
	m := view(km)
	if _, out, _ := m.Update(press("n")); out != Restart {
		t.Fatalf("n: outcome %d", out)
	}
	if _, out, _ := m.Update(press("q")); out != Stay {
		t.Fatalf("q still closes after quit was rebound: outcome %d", out)
	}
	if _, out, _ := m.Update(press("Q")); out != Close {
		t.Fatalf("Q: outcome %d", out)
	}
	m.SetSize(120, 6)
	if v := m.View(); !strings.Contains(v, "n next pod") || !strings.Contains(v, "f search") || !strings.Contains(v, "Q/esc back") {
		t.Fatalf("the bottom line does not show the rebound keys:\n%s", v)
	}
}
