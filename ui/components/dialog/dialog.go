// Package dialog is the console's modal box: a validated text input (deploy image, scale
// replicas), a choice (container, revision) or a confirmation that only the confirm key
// accepts. The root model opens one at a time and reads its outcome.
package dialog

import (
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/opsdeck/opsdeck/ui/format"
	"github.com/opsdeck/opsdeck/ui/keys"
	"github.com/opsdeck/opsdeck/ui/theme"
)

// Kind is the kind of dialog.
type Kind int

// Dialog kinds.
const (
	Input Kind = iota
	Choice
	Confirm
)

// Outcome is what a key did to the dialog.
type Outcome int

// Outcomes.
const (
	Pending   Outcome = iota // still open
	Submitted                // enter on a valid input or a choice, or the confirm key
	Cancelled                // the cancel key
)

// Model is one dialog.
type Model struct {
	kind     Kind
	theme    theme.Theme
	keys     keys.KeyMap
	title    string
	lines    []string
	input    textinput.Model
	validate func(string) error
	err      string
	items    []string
	cursor   int
}

func base(t theme.Theme, km keys.KeyMap, kind Kind, title string) Model {
	return Model{kind: kind, theme: t, keys: km, title: title}
}

// NewInput opens a text input prefilled with value; validate runs on enter and, once it has
// failed, on every change, and its error is shown in place.
func NewInput(t theme.Theme, km keys.KeyMap, title string, lines []string, value string, validate func(string) error) Model {
	m := base(t, km, Input, title)
	m.lines = lines
	in := textinput.New()
	in.Prompt = "> "
	st := in.Styles()
	st.Cursor.Blink = false
	in.SetStyles(st)
	in.SetValue(value)
	in.CursorEnd()
	in.Focus()
	m.input = in
	m.validate = validate
	return m
}

// NewChoice opens a list of items with the cursor on selected.
func NewChoice(t theme.Theme, km keys.KeyMap, title string, lines, items []string, selected int) Model {
	m := base(t, km, Choice, title)
	m.lines, m.items = lines, items
	m.cursor = max(0, min(selected, len(items)-1))
	return m
}

// NewConfirm opens a confirmation showing lines.
func NewConfirm(t theme.Theme, km keys.KeyMap, title string, lines []string) Model {
	m := base(t, km, Confirm, title)
	m.lines = lines
	return m
}

// Kind is the dialog's kind.
func (m Model) Kind() Kind { return m.kind }

// Title is the dialog's title.
func (m Model) Title() string { return m.title }

// Value is the input's text.
func (m Model) Value() string { return strings.TrimSpace(m.input.Value()) }

// Index is the chosen item.
func (m Model) Index() int { return m.cursor }

// Err is the validation error shown, if any.
func (m Model) Err() string { return m.err }

// Refuse shows reason in an input's error line: the executor refused what was entered, and
// the person may change it and press enter again. Typing clears it.
func (m *Model) Refuse(reason string) { m.err = reason }

// wrap breaks s into lines at most w cells wide, so that a plan's sentence or a refusal is read
// whole: at its clauses (after ": " and "; ") where it can, so that "from -> to" stays on one
// line, else at spaces; a word longer than w is cut.
func wrap(s string, w int) []string {
	if lipgloss.Width(s) <= w {
		return []string{s}
	}
	var clauses []string
	rest := s
	for {
		i := strings.IndexAny(rest, ":;")
		for i >= 0 && (i+1 >= len(rest) || rest[i+1] != ' ') {
			j := strings.IndexAny(rest[i+1:], ":;")
			if j < 0 {
				i = -1
				break
			}
			i += 1 + j
		}
		if i < 0 {
			clauses = append(clauses, rest)
			break
		}
		clauses = append(clauses, rest[:i+1])
		rest = strings.TrimLeft(rest[i+1:], " ")
	}
	var out []string
	line := ""
	add := func(part string) {
		switch {
		case line == "":
			line = part
		case lipgloss.Width(line)+1+lipgloss.Width(part) <= w:
			line += " " + part
		default:
			out = append(out, format.Fit(line, w))
			line = part
		}
	}
	for _, c := range clauses {
		if lipgloss.Width(c) <= w {
			add(c)
			continue
		}
		for _, word := range strings.Fields(c) {
			add(word)
		}
	}
	return append(out, format.Fit(line, w))
}

var (
	enter = key.NewBinding(key.WithKeys("enter"))
	no    = key.NewBinding(key.WithKeys("n"))
)

// Update handles a message and tells whether the dialog was submitted or cancelled.
func (m Model) Update(msg tea.Msg) (Model, Outcome, tea.Cmd) {
	k, isKey := msg.(tea.KeyPressMsg)
	if isKey && key.Matches(k, m.keys.Cancel) {
		return m, Cancelled, nil
	}
	switch m.kind {
	case Input:
		if isKey && key.Matches(k, enter) {
			if err := m.check(); err != nil {
				return m, Pending, nil
			}
			return m, Submitted, nil
		}
		var cmd tea.Cmd
		m.input, cmd = m.input.Update(msg)
		if m.err != "" {
			_ = m.check()
		}
		return m, Pending, cmd
	case Choice:
		if !isKey {
			return m, Pending, nil
		}
		switch {
		case key.Matches(k, enter):
			if len(m.items) == 0 {
				return m, Pending, nil
			}
			return m, Submitted, nil
		case key.Matches(k, m.keys.Up):
			m.cursor = max(0, m.cursor-1)
		case key.Matches(k, m.keys.Down):
			m.cursor = min(len(m.items)-1, m.cursor+1)
		}
	case Confirm:
		if isKey && key.Matches(k, m.keys.Confirm) {
			return m, Submitted, nil
		}
		if isKey && key.Matches(k, no) {
			return m, Cancelled, nil
		}
	}
	return m, Pending, nil
}

func (m *Model) check() error {
	m.err = ""
	if m.validate == nil {
		return nil
	}
	err := m.validate(m.Value())
	if err != nil {
		m.err = err.Error()
	}
	return err
}

// View renders the dialog as a box at most width cells wide.
func (m Model) View(width int) string {
	t := m.theme
	inner := max(20, min(width-4, 72))
	var b []string
	b = append(b, t.DialogHdr.Render(format.Fit(m.title, inner)))
	for _, l := range m.lines {
		b = append(b, wrap(l, inner)...)
	}
	keyHelp := func(k key.Binding, desc string) string {
		return t.Key.Render(k.Help().Key) + " " + desc
	}
	switch m.kind {
	case Input:
		m.input.SetWidth(inner - 3)
		b = append(b, m.input.View())
		if m.err != "" {
			for _, l := range wrap("✗ "+m.err, inner) {
				b = append(b, t.Bad.Render(l))
			}
		} else {
			b = append(b, "")
		}
		b = append(b, t.Muted.Render(format.Fit(t.Key.Render("enter")+" next  "+keyHelp(m.keys.Cancel, "cancel"), inner)))
	case Choice:
		for i, it := range m.items {
			line := "  " + it
			if i == m.cursor {
				line = t.Selected.Render(format.Fit("▶ "+it, inner))
			}
			b = append(b, format.Fit(line, inner))
		}
		b = append(b, "", t.Muted.Render(format.Fit(t.Key.Render("↑/↓")+" choose  "+t.Key.Render("enter")+" select  "+keyHelp(m.keys.Cancel, "cancel"), inner)))
	case Confirm:
		b = append(b, "", format.Fit(keyHelp(m.keys.Confirm, "confirm")+"   "+keyHelp(m.keys.Cancel, "cancel"), inner))
	}
	return t.Dialog.Render(lipgloss.JoinVertical(lipgloss.Left, b...))
}
