package keyhelp

import (
	"strings"
	"testing"

	"charm.land/bubbles/v2/key"
	"github.com/charmbracelet/x/ansi"
	"github.com/opsdeck/opsdeck/ui/keys"
	"github.com/opsdeck/opsdeck/ui/keys/keytest"
	"github.com/opsdeck/opsdeck/ui/theme"
)

func TestClosingKeysFollowOverrides(t *testing.T) {
	km := keys.Default()
	if err := km.Apply(map[string][]string{"help": {"h"}}); err != nil {
		t.Fatal(err)
	}
	m := New(theme.Plain(), km)
	for _, step := range []struct {
		key  string
		open bool
	}{{"j", true}, {"?", true}, {"h", false}, {"esc", false}} {
		m.Open()
		if m, _ = m.Update(keytest.Press(step.key)); m.IsOpen() != step.open {
			t.Fatalf("%q: open %v, want %v", step.key, m.IsOpen(), step.open)
		}
	}
}

type col []key.Binding

func (c col) ShortHelp() []key.Binding  { return c }
func (c col) FullHelp() [][]key.Binding { return [][]key.Binding{c} }

// TestSectionsWrapToTheWidth: blocks sit side by side while they fit, and no line is wider
// than the screen.
func TestSectionsWrapToTheWidth(t *testing.T) {
	km := keys.Default()
	m := New(theme.Plain(), km)
	secs := []Section{
		{"console", col(km.Console())}, {"actions", col(km.Actions())},
		{"scroll", km.Scrolling()}, {"more", col{km.Logs, km.Timeline}},
	}
	wide := ansi.Strip(m.View(200, secs))
	if !strings.Contains(wide, "console") || !strings.Contains(wide, "more") || len(strings.Split(wide, "\n")) != 14 {
		t.Fatalf("at 200 columns, one row of blocks:\n%s", wide)
	}
	narrow := ansi.Strip(m.View(50, secs))
	for _, l := range strings.Split(narrow, "\n") {
		if ansi.StringWidth(l) > 50 {
			t.Fatalf("line wider than 50: %q", l)
		}
	}
	if len(strings.Split(narrow, "\n")) <= 14 || !strings.Contains(narrow, "timeline") {
		t.Fatalf("at 50 columns the blocks should wrap:\n%s", narrow)
	}
}
