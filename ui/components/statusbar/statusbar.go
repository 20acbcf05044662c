// Package statusbar is the console's bottom line: the last action's status for a while, in
// green or red, and otherwise the short key help.
package statusbar

import (
	"time"

	"github.com/opsdeck/opsdeck/ui/format"
	"github.com/opsdeck/opsdeck/ui/theme"
)

// TTL is how long a status stays before the key help returns.
const TTL = 15 * time.Second

// Model is the status line. Create it with New.
type Model struct {
	theme theme.Theme
	text  string
	bad   bool
	at    time.Time
	cache *cache // shared by copies: every entry is keyed by what it depends on
}

type cache struct {
	key  cacheKey
	view string
}

type cacheKey struct {
	width    int
	text     string
	bad      bool
	showHelp bool
}

// New returns an empty status line.
func New(t theme.Theme) Model { return Model{theme: t, cache: &cache{}} }

// Set shows text from now on, as a failure when bad. The caller makes text printable.
func (m *Model) Set(text string, bad bool, now time.Time) { m.text, m.bad, m.at = text, bad, now }

// SetTheme redraws with t.
func (m *Model) SetTheme(t theme.Theme) { m.theme, m.cache = t, &cache{} }

// Text is the last status set.
func (m Model) Text() string { return m.text }

// View is the line at width: the status while it is recent, else help (drawn only when
// the line changes: the keys are fixed once the console runs).
func (m Model) View(width int, now time.Time, help func() string) string {
	show := m.text != "" && now.Sub(m.at) < TTL
	k := cacheKey{width, m.text, m.bad, !show}
	if m.cache.view != "" && m.cache.key == k {
		return m.cache.view
	}
	var s string
	switch {
	case show && m.bad:
		s = format.Fit(m.theme.Bad.Render("✗ "+m.text), width)
	case show:
		s = format.Fit(m.theme.OK.Render("• ")+m.text, width)
	default:
		s = format.Fit(help(), width)
	}
	m.cache.key, m.cache.view = k, s
	return s
}
