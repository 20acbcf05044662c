package rollout

import (
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/opsdeck/opsdeck/ui/theme"
)

func TestScrollKeys(t *testing.T) {
	m := New(theme.Plain())
	for _, step := range []struct {
		key  string
		want int
	}{{"j", 1}, {"j", 2}, {"k", 1}, {"g", 0}, {"k", 0}, {"x", 0}} {
		m, _ = m.Update(tea.KeyPressMsg{Code: []rune(step.key)[0], Text: step.key})
		if m.offset != step.want {
			t.Fatalf("after %q offset %d, want %d", step.key, m.offset, step.want)
		}
	}
}
