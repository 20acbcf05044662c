package app

import (
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/opsdeck/opsdeck/ui/components/logs"
)

// helpSection is one block of the help screen: a component's keys under its name.
type helpSection struct {
	title string
	keys  []key.Binding
}

// helpView is the help screen (?): the console's keys, then each pane's, read from their key
// maps so the config's overrides show.
func (m *Model) helpView() string {
	var sections []helpSection
	add := func(title string, columns [][]key.Binding) {
		var all []key.Binding
		for _, c := range columns {
			all = append(all, c...)
		}
		sections = append(sections, helpSection{title, all})
	}
	add("console", [][]key.Binding{m.keys.Console()})
	add("actions", [][]key.Binding{m.keys.Actions()})
	add("services", m.table.KeyMap().FullHelp())
	add("rollout · events", m.rollout.KeyMap().FullHelp())
	add("logs (l)", logs.NewKeyMap(m.keys).FullHelp())

	// Blocks side by side, in as many rows as the width needs.
	maxW := max(20, m.width-6) // the box's border and padding
	var rows []string
	var row []string
	rowW := 0
	for _, s := range sections {
		block := m.theme.Title.Render(s.title) + "\n" + m.help.FullHelpView([][]key.Binding{s.keys})
		w := lipgloss.Width(block)
		if len(row) > 0 && rowW+3+w > maxW {
			rows = append(rows, lipgloss.JoinHorizontal(lipgloss.Top, row...))
			row, rowW = nil, 0
		}
		if len(row) > 0 {
			row = append(row, "   ")
			rowW += 3
		}
		row = append(row, block)
		rowW += w
	}
	if len(row) > 0 {
		rows = append(rows, lipgloss.JoinHorizontal(lipgloss.Top, row...))
	}
	body := strings.Join(rows, "\n\n")
	var b strings.Builder
	b.WriteString(m.theme.DialogHdr.Render("keys"))
	b.WriteString("   ")
	b.WriteString(m.theme.Muted.Render("? or esc closes"))
	b.WriteString("\n\n")
	for i, l := range strings.Split(body, "\n") {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(ansi.Truncate(l, maxW, ""))
	}
	return m.theme.Dialog.Render(b.String())
}
