// Package keyhelp is the help screen (?): a block of keys per component, each read from the
// component's own key map, so the config's overrides show; and the one-line help of the
// status bar.
package keyhelp

import (
	"strings"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/opsdeck/opsdeck/ui/keys"
	"github.com/opsdeck/opsdeck/ui/theme"
)

// Section is one block of the screen: a component's keys under its name.
type Section struct {
	Title string
	Keys  help.KeyMap
}

// Model is the help screen, open or closed. Create it with New.
type Model struct {
	theme theme.Theme
	help  help.Model
	close key.Binding
	open  bool
}

// New returns a closed help screen; the help and cancel keys of km close it.
func New(t theme.Theme, km keys.KeyMap) Model {
	closeKeys := append(append([]string{}, km.Help.Keys()...), km.Cancel.Keys()...)
	return Model{theme: t, help: help.New(), close: key.NewBinding(key.WithKeys(closeKeys...))}
}

// SetWidth sets the terminal's width.
func (m *Model) SetWidth(w int) { m.help.SetWidth(w) }

// Open shows the screen.
func (m *Model) Open() { m.open = true }

// IsOpen reports whether the screen shows.
func (m Model) IsOpen() bool { return m.open }

// Update closes the screen on its closing keys; it ignores every other message.
func (m Model) Update(msg tea.Msg) (Model, tea.Cmd) {
	if k, ok := msg.(tea.KeyPressMsg); ok && key.Matches(k, m.close) {
		m.open = false
	}
	return m, nil
}

// Short is the one-line help of km.
func (m Model) Short(km help.KeyMap) string { return m.help.ShortHelpView(km.ShortHelp()) }

// View draws the sections side by side, in as many rows as width needs, in a box.
func (m Model) View(width int, sections []Section) string {
	maxW := max(20, width-6) // the box's border and padding
	var rows, row []string
	rowW := 0
	flush := func() {
		if len(row) > 0 {
			rows = append(rows, lipgloss.JoinHorizontal(lipgloss.Top, row...))
		}
		row, rowW = nil, 0
	}
	for _, s := range sections {
		var all []key.Binding
		for _, c := range s.Keys.FullHelp() {
			all = append(all, c...)
		}
		block := m.theme.Title.Render(s.Title) + "\n" + m.help.FullHelpView([][]key.Binding{all})
		w := lipgloss.Width(block)
		if len(row) > 0 && rowW+3+w > maxW {
			flush()
		}
		if len(row) > 0 {
			row = append(row, "   ")
			rowW += 3
		}
		row = append(row, block)
		rowW += w
	}
	flush()
	var b strings.Builder
	b.WriteString(m.theme.DialogHdr.Render("keys"))
	b.WriteString("   ")
	b.WriteString(m.theme.Muted.Render("? or esc closes"))
	b.WriteString("\n")
	for _, l := range strings.Split(strings.Join(rows, "\n\n"), "\n") {
		b.WriteByte('\n')
		b.WriteString(ansi.Truncate(l, maxW, ""))
	}
	return m.theme.Dialog.Render(b.String())
}
