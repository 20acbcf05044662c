package services

import (
	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"github.com/opsdeck/opsdeck/ui/keys"
)

// KeyMap is the table's own keys: moving the selection, sorting and filtering. It implements
// help.KeyMap.
type KeyMap struct {
	Up, Down, Top, Bottom key.Binding
	Sort                  key.Binding
	Filter                key.Binding
	// Clear empties a kept filter; while typing one, esc clears and enter keeps it.
	Clear key.Binding
}

// NewKeyMap draws the table's keys from the console's key map, so config overrides apply.
func NewKeyMap(k keys.KeyMap) KeyMap {
	clearFilter := k.Cancel
	clearFilter.SetHelp(k.Cancel.Help().Key, "clear filter")
	return KeyMap{Up: k.Up, Down: k.Down, Top: k.Top, Bottom: k.Bottom, Sort: k.Sort, Filter: k.Filter, Clear: clearFilter}
}

// ShortHelp lists the table's keys.
func (k KeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Up, k.Down, k.Top, k.Bottom, k.Sort, k.Filter, k.Clear}
}

// FullHelp lists the table's keys in one column.
func (k KeyMap) FullHelp() [][]key.Binding { return [][]key.Binding{k.ShortHelp()} }

// SetKeyMap replaces the table's keys (after the config's overrides).
func (m *Model) SetKeyMap(k KeyMap) { m.keys = k }

// KeyMap is the table's keys, for the help screen.
func (m Model) KeyMap() KeyMap { return m.keys }

func newFilterInput() textinput.Model {
	in := textinput.New()
	in.Prompt = "/"
	in.Placeholder = "filter by name"
	st := in.Styles()
	st.Cursor.Blink = false
	in.SetStyles(st)
	return in
}

// Filtering reports whether the filter is being typed: then every key goes to the table.
func (m Model) Filtering() bool { return m.filtering }

// FilterView is the filter being typed, for the status line.
func (m Model) FilterView() string { return m.input.View() }

// Update handles a key sent to the table (and, while a filter is typed, the input's other
// messages). Keys outside its key map are ignored.
func (m Model) Update(msg tea.Msg) (Model, tea.Cmd) {
	k, isKey := msg.(tea.KeyPressMsg)
	if m.filtering {
		return m.typeFilter(msg)
	}
	if !isKey {
		return m, nil
	}
	km := m.keys
	switch {
	case key.Matches(k, km.Up):
		m.Move(-1)
	case key.Matches(k, km.Down):
		m.Move(1)
	case key.Matches(k, km.Top):
		m.Move(-1 << 20)
	case key.Matches(k, km.Bottom):
		m.Move(1 << 20)
	case key.Matches(k, km.Sort):
		m.CycleSort()
	case key.Matches(k, km.Filter):
		m.filtering = true
		m.input.SetValue(m.filter)
		m.input.CursorEnd()
		return m, m.input.Focus()
	case key.Matches(k, km.Clear) && m.filter != "":
		m.input.SetValue("")
		m.SetFilter("")
	}
	return m, nil
}

// typeFilter edits the filter as it is typed: the rows follow every key; enter keeps the
// filter, esc clears it.
func (m Model) typeFilter(msg tea.Msg) (Model, tea.Cmd) {
	if k, ok := msg.(tea.KeyPressMsg); ok {
		switch k.String() {
		case "esc":
			m.filtering = false
			m.input.Blur()
			m.input.SetValue("")
			m.SetFilter("")
			return m, nil
		case "enter":
			m.filtering = false
			m.input.Blur()
			return m, nil
		}
	}
	var cmd tea.Cmd
	m.input, cmd = m.input.Update(msg)
	if m.input.Value() != m.filter {
		m.SetFilter(m.input.Value())
	}
	return m, cmd
}
