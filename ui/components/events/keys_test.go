package events

import (
	"strings"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/ui/keys"
	"github.com/opsdeck/opsdeck/ui/keys/keytest"
	"github.com/opsdeck/opsdeck/ui/theme"
)

// TestScrollKeys: the pane scrolls on its own keys, newest first, and stops at either end.
func TestScrollKeys(t *testing.T) {
	m := New(theme.Plain())
	at := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	for i := range 5 {
		m.Add(domain.Event{Time: at.Add(time.Duration(i) * time.Second), Source: domain.SourceAction, Message: "action " + string(rune('a'+i))})
	}
	m.SetSize(60, 2)
	top := func() string { return strings.SplitN(m.View(), "\n", 2)[0] }
	for _, step := range []struct{ key, want string }{
		{"j", "action d"}, {"j", "action c"}, {"k", "action d"},
		{"G", "action a"}, {"j", "action a"}, {"g", "action e"}, {"k", "action e"},
	} {
		if !m.Handles(keytest.Press(step.key)) {
			t.Fatalf("%q is not a key of the pane", step.key)
		}
		m, _ = m.Update(keytest.Press(step.key))
		if !strings.Contains(top(), step.want) {
			t.Fatalf("after %q the top line is %q, want %q", step.key, top(), step.want)
		}
	}
	if m.Handles(keytest.Press("d")) || m.Handles(keytest.Press("/")) {
		t.Fatal("the pane claims keys that are not its own")
	}
}

func TestScrollKeysFollowOverrides(t *testing.T) {
	km := keys.Default()
	if err := km.Apply(map[string][]string{"down": {"n"}}); err != nil {
		t.Fatal(err)
	}
	m := New(theme.Plain())
	m.SetKeyMap(km.Scrolling())
	if m.Handles(keytest.Press("j")) || !m.Handles(keytest.Press("n")) {
		t.Fatalf("keys %v", m.KeyMap().Down.Keys())
	}
}
