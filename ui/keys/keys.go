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
	// NextPod, PrevPod and PreviousLog move the logs view between pods and containers.
	NextPod     key.Binding
	PrevPod     key.Binding
	PreviousLog key.Binding
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

		NextPod:     b("tab/→", "next pod", "tab", "right", "]"),
		PrevPod:     b("shift+tab/←", "previous pod", "shift+tab", "left", "["),
		PreviousLog: b("p", "previous container", "p"),
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
		"next-pod": &k.NextPod, "prev-pod": &k.PrevPod, "previous-log": &k.PreviousLog,
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

// Scroll is the key map of a pane that scrolls (rollout, events): the moving keys of KeyMap.
// It implements help.KeyMap.
type Scroll struct {
	Up, Down, Top, Bottom key.Binding
}

// Scrolling is the scroll key map drawn from k, so overrides of up, down, top and bottom
// apply to every pane.
func (k KeyMap) Scrolling() Scroll {
	return Scroll{Up: k.Up, Down: k.Down, Top: k.Top, Bottom: k.Bottom}
}

// Matches reports whether msg is one of the scroll keys.
func (s Scroll) Matches(msg fmt.Stringer) bool {
	return key.Matches(msg, s.Up, s.Down, s.Top, s.Bottom)
}

// Delta is how far a scroll key moves: one line, or to either end.
func (s Scroll) Delta(msg fmt.Stringer) int {
	switch {
	case key.Matches(msg, s.Up):
		return -1
	case key.Matches(msg, s.Down):
		return 1
	case key.Matches(msg, s.Top):
		return -1 << 20
	case key.Matches(msg, s.Bottom):
		return 1 << 20
	}
	return 0
}

// ShortHelp lists the scroll keys.
func (s Scroll) ShortHelp() []key.Binding { return []key.Binding{s.Up, s.Down, s.Top, s.Bottom} }

// FullHelp lists the scroll keys in one column.
func (s Scroll) FullHelp() [][]key.Binding { return [][]key.Binding{s.ShortHelp()} }

// Console is the root's own keys, the same in every pane: help, quit, focus, details and the
// keys that show or switch something.
func (k KeyMap) Console() []key.Binding {
	return []key.Binding{k.NextPane, k.Details, k.Cancel, k.Guard, k.Release, k.Timeline, k.Logs, k.Help, k.Quit}
}

// Actions is the keys that open an action's dialogs, and the key that confirms one.
func (k KeyMap) Actions() []key.Binding {
	return []key.Binding{k.Deploy, k.Rollback, k.Pause, k.Restart, k.Scale, k.Approve, k.CancelPending, k.RunNow, k.Confirm}
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
