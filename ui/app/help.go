package app

import (
	"charm.land/bubbles/v2/key"
	"github.com/opsdeck/opsdeck/ui/components/keyhelp"
	"github.com/opsdeck/opsdeck/ui/components/logs"
)

// bindings is a help.KeyMap of one column.
type bindings []key.Binding

func (b bindings) ShortHelp() []key.Binding  { return b }
func (b bindings) FullHelp() [][]key.Binding { return [][]key.Binding{b} }

// helpSections are the blocks of the help screen: the console's own keys, then each
// component's from its key map.
func (m *Model) helpSections() []keyhelp.Section {
	return []keyhelp.Section{
		{Title: "console", Keys: bindings(m.keys.Console())},
		{Title: "actions", Keys: bindings(m.keys.Actions())},
		{Title: "services", Keys: m.table.KeyMap()},
		{Title: "rollout · events", Keys: m.rollout.KeyMap()},
		{Title: "logs (l)", Keys: logs.NewKeyMap(m.keys)},
	}
}
