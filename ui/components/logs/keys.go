package logs

import (
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"github.com/opsdeck/opsdeck/ui/keys"
)

// KeyMap is the logs view's keys. It implements help.KeyMap.
type KeyMap struct {
	NextPod, PrevPod key.Binding
	Previous         key.Binding // the previous container's log, or back to the current one
	Search           key.Binding
	Close            key.Binding // an active search is cleared first by esc
}

// NewKeyMap draws the view's keys from the console's key map, so config overrides apply:
// search is the filter key, close is quit or cancel.
func NewKeyMap(k keys.KeyMap) KeyMap {
	rename := func(b key.Binding, desc string) key.Binding {
		b.SetHelp(b.Help().Key, desc)
		return b
	}
	closeKeys := append(append([]string{}, k.Quit.Keys()...), k.Cancel.Keys()...)
	return KeyMap{
		NextPod:  k.NextPod,
		PrevPod:  k.PrevPod,
		Previous: k.PreviousLog,
		Search:   rename(k.Filter, "search"),
		Close: key.NewBinding(key.WithKeys(closeKeys...),
			key.WithHelp(firstKey(k.Quit)+"/"+firstKey(k.Cancel), "back")),
	}
}

func firstKey(b key.Binding) string {
	h, _, _ := strings.Cut(b.Help().Key, "/")
	return h
}

// ShortHelp lists the view's keys, as its bottom line shows them.
func (k KeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.NextPod, k.PrevPod, k.Previous, k.Search, k.Close}
}

// FullHelp lists the view's keys in one column.
func (k KeyMap) FullHelp() [][]key.Binding { return [][]key.Binding{k.ShortHelp()} }

// Outcome is what the view asks of the app.
type Outcome int

// Outcomes.
const (
	Stay  Outcome = iota // the view stays open
	Close                // leave the view (its stream is stopped)
)

// Searching reports whether a search is being typed.
func (m Model) Searching() bool { return m.searching }

// Update handles a key or one of the view's own messages, and says whether to close it.
// Moving to another pod or container restarts the stream.
func (m Model) Update(msg tea.Msg) (Model, Outcome, tea.Cmd) {
	if sm, ok := msg.(Msg); ok {
		cmd := m.streamMsg(sm)
		return m, Stay, cmd
	}
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return m, Stay, nil
	}
	if m.searching {
		switch k.String() {
		case "esc":
			m.searching = false
			m.search.Blur()
			m.search.SetValue("")
			m.Query = ""
			return m, Stay, nil
		case "enter":
			m.searching = false
			m.search.Blur()
			return m, Stay, nil
		}
		var cmd tea.Cmd
		m.search, cmd = m.search.Update(k)
		m.Query = m.search.Value()
		return m, Stay, cmd
	}
	km := m.keys
	switch {
	case key.Matches(k, km.Close):
		if k.String() == "esc" && m.Query != "" {
			m.Query = ""
			m.search.SetValue("")
			return m, Stay, nil
		}
		m.Stop()
		return m, Close, nil
	case key.Matches(k, km.Search):
		m.searching = true
		m.search.SetValue(m.Query)
		m.search.CursorEnd()
		return m, Stay, m.search.Focus()
	case key.Matches(k, km.NextPod):
		if m.NextPod(1) {
			return m, Stay, m.restart()
		}
	case key.Matches(k, km.PrevPod):
		if m.NextPod(-1) {
			return m, Stay, m.restart()
		}
	case key.Matches(k, km.Previous):
		m.TogglePrevious()
		return m, Stay, m.restart()
	}
	return m, Stay, nil
}

func newSearchInput() textinput.Model {
	in := textinput.New()
	in.Prompt = "/"
	in.Placeholder = "search the lines"
	return in
}

// footer is the bottom line: the view's keys.
func (m Model) footer() string {
	var parts []string
	for _, b := range m.keys.ShortHelp() {
		if b.Enabled() {
			parts = append(parts, b.Help().Key+" "+b.Help().Desc)
		}
	}
	return strings.Join(parts, " · ")
}
