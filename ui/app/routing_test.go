package app

import (
	"regexp"
	"strings"
	"testing"
)

// TestKeysGoToTheFocusedPane: the moving keys move the selection in the services table (and
// in the metrics pane, which draws the table's selection), scroll the rollout and events
// panes without moving the selection, and do nothing to the hidden table in details; the
// filter key reaches the table from any pane.
func TestKeysGoToTheFocusedPane(t *testing.T) {
	h := newHarness(t, 80, 24, Options{})
	h.settle()
	steps := []struct {
		keys  []string
		focus pane
		want  string
	}{
		{[]string{"j"}, paneServices, "gateway"},
		{[]string{"tab", "j"}, paneMetrics, "inventory-service"},
		{[]string{"tab", "j", "j"}, paneRollout, "inventory-service"},
		{[]string{"tab", "k", "G"}, paneEvents, "inventory-service"},
		{[]string{"tab", "k"}, paneServices, "gateway"},
		{[]string{"enter", "tab", "j"}, paneMetrics, "gateway"}, // details: the table is hidden
	}
	for _, s := range steps {
		h.press(s.keys...)
		if h.m.focus.pane != s.focus || selectedName(h.m) != s.want {
			t.Fatalf("after %v: focus %s, selected %q; want %s, %q", s.keys, h.m.focus.pane, selectedName(h.m), s.focus, s.want)
		}
	}
	h.press("esc", "tab", "tab", "tab", "/", "g", "a", "t")
	if h.m.focus.pane != paneEvents || !h.m.table.Filtering() || h.m.table.Len() != 1 {
		t.Fatalf("filter from the events pane: focus %s, filtering %v, %d rows", h.m.focus.pane, h.m.table.Filtering(), h.m.table.Len())
	}
	h.press("esc")
	if h.m.table.Filtering() || h.m.table.Len() != 5 {
		t.Fatalf("esc: filtering %v, %d rows", h.m.table.Filtering(), h.m.table.Len())
	}
}

// TestHelpListsEachPanesKeys: the help screen has a block per component, read from its key
// map, so rebound keys show there.
func TestHelpListsEachPanesKeys(t *testing.T) {
	h := newHarness(t, 80, 24, Options{KeyOverrides: map[string][]string{"sort": {"O"}, "next-pod": {"n"}, "deploy": {"D"}}})
	h.settle()
	h.press("?")
	s := h.screen()
	for _, want := range []string{"console", "actions", "services", "rollout · events", "logs (l)", "? or esc closes"} {
		if !strings.Contains(s, want) {
			t.Errorf("help has no %q block:\n%s", want, s)
		}
	}
	for _, re := range []string{`\bO +sort\b`, `\bn +next pod\b`, `\bD +deploy\b`, `\besc +clear filter\b`, `\bg/home +top\b`} {
		if !regexp.MustCompile(re).MatchString(s) {
			t.Errorf("help does not show %s:\n%s", re, s)
		}
	}
	if len(strings.Split(s, "\n")) != 24 {
		t.Errorf("help screen has %d lines", len(strings.Split(s, "\n")))
	}
	h.press("?")
	h.press("O")
	if h.m.table.Sort().String() != "errors" || !strings.Contains(h.screen(), "sorted by errors") {
		t.Fatalf("O should sort after the override: %s", h.m.table.Sort())
	}
}
