// Package keys is the console's key map: one key.Binding per action, the help it shows, and
// overrides from the config file by action name.
package keys

import (
	"fmt"
	"sort"
	"strings"

	"charm.land/bubbles/v2/key"
)

// KeyMap holds every binding of the console. It implements help.KeyMap.
type KeyMap struct {
	Up       key.Binding
	Down     key.Binding
	Top      key.Binding
	Bottom   key.Binding
	Details  key.Binding
	NextPane key.Binding
	Deploy   key.Binding
	Rollback key.Binding
	Guard    key.Binding
	Release  key.Binding
	Pause    key.Binding
	Restart  key.Binding
	Scale    key.Binding
	Filter   key.Binding
	Sort     key.Binding
	Help     key.Binding
	Cancel   key.Binding
	Quit     key.Binding
	Confirm  key.Binding
	Timeline key.Binding
	Logs     key.Binding
	// Approve, CancelPending and RunNow act on the selected service's waiting deploy.
	Approve       key.Binding
	CancelPending key.Binding
	RunNow        key.Binding
}

// Default is the key map of the design: j/k or arrows, enter, tab, d r a p R s, / ? esc q y.
func Default() KeyMap {
	b := func(help, desc string, keys ...string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(help, desc))
	}
	return KeyMap{
		Up:       b("↑/k", "up", "up", "k"),
		Down:     b("↓/j", "down", "down", "j"),
		Top:      b("g/home", "top", "g", "home"),
		Bottom:   b("G/end", "bottom", "G", "end"),
		Details:  b("enter", "details", "enter"),
		NextPane: b("tab", "next pane", "tab"),
		Deploy:   b("d", "deploy", "d"),
		Rollback: b("r", "rollback", "r"),
		Guard:    b("a", "auto-guard", "a"),
		Release:  b("c", "clear guard hold", "c"),
		Pause:    b("p", "pause/resume", "p"),
		Restart:  b("R", "restart", "R"),
		Scale:    b("s", "scale", "s"),
		Filter:   b("/", "filter", "/"),
		Sort:     b("o", "sort", "o"),
		Help:     b("?", "help", "?"),
		Cancel:   b("esc", "back/cancel", "esc"),
		Quit:     b("q", "quit", "q", "ctrl+c"),
		Confirm:  b("y", "confirm", "y"),
		Timeline: b("t", "timeline", "t"),
		Logs:     b("l", "logs", "l"),

		Approve:       b("A", "approve waiting deploy", "A"),
		CancelPending: b("x", "cancel waiting deploy", "x"),
		RunNow:        b("N", "run waiting deploy now", "N"),
	}
}

// bindings maps the config's action names to the bindings.
func (k *KeyMap) bindings() map[string]*key.Binding {
	return map[string]*key.Binding{
		"up": &k.Up, "down": &k.Down, "top": &k.Top, "bottom": &k.Bottom,
		"details": &k.Details, "next-pane": &k.NextPane,
		"deploy": &k.Deploy, "rollback": &k.Rollback, "guard": &k.Guard, "release": &k.Release,
		"pause": &k.Pause, "restart": &k.Restart, "scale": &k.Scale,
		"filter": &k.Filter, "sort": &k.Sort, "help": &k.Help,
		"cancel": &k.Cancel, "quit": &k.Quit, "confirm": &k.Confirm,
		"timeline": &k.Timeline, "logs": &k.Logs,
		"approve": &k.Approve, "cancel-pending": &k.CancelPending, "run-now": &k.RunNow,
	}
}

// Names lists the action names that Apply accepts, sorted.
func Names() []string {
	var k KeyMap
	var out []string
	for n := range k.bindings() {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Apply rebinds actions by name ("deploy": ["D"]). The help text shows the new keys. It
// applies every valid entry and returns one error naming all unknown actions or empty lists.
func (k *KeyMap) Apply(overrides map[string][]string) error {
	all := k.bindings()
	var bad []string
	names := make([]string, 0, len(overrides))
	for n := range overrides {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		keys := overrides[name]
		b, ok := all[name]
		if !ok {
			bad = append(bad, fmt.Sprintf("unknown action %q", name))
			continue
		}
		if len(keys) == 0 {
			bad = append(bad, fmt.Sprintf("action %q has no keys", name))
			continue
		}
		b.SetKeys(keys...)
		b.SetHelp(strings.Join(keys, "/"), b.Help().Desc)
	}
	if len(bad) > 0 {
		return fmt.Errorf("keys: %s (known actions: %s)", strings.Join(bad, "; "), strings.Join(Names(), ", "))
	}
	return nil
}

// ShortHelp is the one-line help of the status bar.
func (k KeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Deploy, k.Rollback, k.Guard, k.Filter, k.Help, k.Quit} // quit must fit at 80 columns
}

// FullHelp is the help screen, by column: moving, acting, viewing.
func (k KeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.Up, k.Down, k.Top, k.Bottom, k.NextPane, k.Details, k.Cancel},
		{k.Deploy, k.Rollback, k.Pause, k.Restart, k.Scale, k.Approve, k.CancelPending, k.RunNow, k.Confirm},
		{k.Guard, k.Release, k.Timeline, k.Logs, k.Filter, k.Sort, k.Help, k.Quit},
	}
}
