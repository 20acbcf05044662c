package events

import (
	tea "charm.land/bubbletea/v2"
	"github.com/opsdeck/opsdeck/ui/keys"
)

// SetKeyMap replaces the pane's keys (after the config's overrides).
func (m *Model) SetKeyMap(k keys.Scroll) { m.keys = k }

// KeyMap is the pane's keys: it scrolls.
func (m Model) KeyMap() keys.Scroll { return m.keys }

// Handles reports whether k is one of the pane's keys; the root gives other keys elsewhere.
func (m Model) Handles(k tea.KeyPressMsg) bool { return m.keys.Matches(k) }

// Update scrolls on the pane's keys and ignores everything else.
func (m Model) Update(msg tea.Msg) (Model, tea.Cmd) {
	if k, ok := msg.(tea.KeyPressMsg); ok {
		if d := m.keys.Delta(k); d != 0 {
			m.Scroll(d)
		}
	}
	return m, nil
}
