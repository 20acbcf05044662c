// Package theme holds the Lip Gloss styles of the console, with a plain set for terminals
// without colour (NO_COLOR). Every state the styles colour is also written in words or marks,
// so the plain set loses nothing but colour.
package theme

import (
	"image/color"
	"os"
	"strings"

	"charm.land/lipgloss/v2"
	"github.com/guptarohit/asciigraph"
)

// Theme is every style the console uses.
type Theme struct {
	// Plain is set for the colourless theme.
	Plain bool

	Brand     lipgloss.Style // "opsdeck" in the header
	Demo      lipgloss.Style // the DEMO badge
	Label     lipgloss.Style // header labels
	Value     lipgloss.Style // header values
	Muted     lipgloss.Style // secondary text
	OK        lipgloss.Style // healthy values and states
	Warn      lipgloss.Style // progressing, reconnecting, stale
	Bad       lipgloss.Style // breached thresholds, errors, stalled
	Title     lipgloss.Style // pane titles
	Focused   lipgloss.Style // the focused pane's title
	Rule      lipgloss.Style // the rule after a pane title
	Header    lipgloss.Style // table column headers
	Selected  lipgloss.Style // the selected table row
	Dialog    lipgloss.Style // dialog box
	DialogHdr lipgloss.Style // dialog title
	Key       lipgloss.Style // key names in help and dialogs
	Status    lipgloss.Style // the status line
	New       lipgloss.Style // the new revision in the rollout pane and graphs
	Old       lipgloss.Style // old revisions

	// Graph colours (asciigraph writes its own ANSI colours; the renderer downsamples them).
	GraphService   asciigraph.AnsiColor
	GraphNew       asciigraph.AnsiColor
	GraphOld       asciigraph.AnsiColor
	GraphThreshold asciigraph.AnsiColor
	GraphAxis      asciigraph.AnsiColor
}

func fg(c string) lipgloss.Style { return lipgloss.NewStyle().Foreground(lipgloss.Color(c)) }

// Default is the colour theme, readable on dark and light backgrounds.
func Default() Theme {
	blue, green, yellow, red, grey := lipgloss.Color("#5fafff"), lipgloss.Color("#5fd75f"), lipgloss.Color("#d7af00"), lipgloss.Color("#ff5f5f"), lipgloss.Color("#8a8a8a")
	var accent color.Color = lipgloss.Color("#af87ff")
	return Theme{
		Brand:     lipgloss.NewStyle().Bold(true).Foreground(accent),
		Demo:      lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("#000000")).Background(yellow),
		Label:     lipgloss.NewStyle().Foreground(grey),
		Value:     lipgloss.NewStyle().Bold(true),
		Muted:     lipgloss.NewStyle().Foreground(grey),
		OK:        lipgloss.NewStyle().Foreground(green),
		Warn:      lipgloss.NewStyle().Foreground(yellow),
		Bad:       lipgloss.NewStyle().Bold(true).Foreground(red),
		Title:     lipgloss.NewStyle().Bold(true).Foreground(blue),
		Focused:   lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("#000000")).Background(blue),
		Rule:      lipgloss.NewStyle().Foreground(lipgloss.Color("#4e4e4e")),
		Header:    lipgloss.NewStyle().Bold(true).Foreground(grey),
		Selected:  lipgloss.NewStyle().Reverse(true),
		Dialog:    lipgloss.NewStyle().Border(lipgloss.RoundedBorder()).BorderForeground(accent).Padding(0, 1),
		DialogHdr: lipgloss.NewStyle().Bold(true).Foreground(accent),
		Key:       lipgloss.NewStyle().Bold(true).Foreground(blue),
		Status:    lipgloss.NewStyle().Foreground(grey),
		New:       fg("#ff87d7"),
		Old:       fg("#5fafff"),

		GraphService:   asciigraph.Default,
		GraphNew:       asciigraph.HotPink,
		GraphOld:       asciigraph.DodgerBlue,
		GraphThreshold: asciigraph.Red,
		GraphAxis:      asciigraph.DarkGray,
	}
}

// Plain is the theme without colour: bold, reverse and marks only.
func Plain() Theme {
	n := lipgloss.NewStyle()
	return Theme{
		Plain:     true,
		Brand:     n.Bold(true),
		Demo:      n.Bold(true),
		Label:     n,
		Value:     n.Bold(true),
		Muted:     n,
		OK:        n,
		Warn:      n,
		Bad:       n.Bold(true),
		Title:     n.Bold(true),
		Focused:   n.Bold(true).Reverse(true),
		Rule:      n,
		Header:    n.Bold(true),
		Selected:  n.Reverse(true),
		Dialog:    n.Border(lipgloss.NormalBorder()).Padding(0, 1),
		DialogHdr: n.Bold(true),
		Key:       n.Bold(true),
		Status:    n,
		New:       n,
		Old:       n,

		GraphService:   asciigraph.Default,
		GraphNew:       asciigraph.Default,
		GraphOld:       asciigraph.Default,
		GraphThreshold: asciigraph.Default,
		GraphAxis:      asciigraph.Default,
	}
}

// FromEnv is Plain when NO_COLOR is set (https://no-color.org), Default otherwise.
func FromEnv() Theme {
	if os.Getenv("NO_COLOR") != "" {
		return Plain()
	}
	return Default()
}

// Paint is a style reduced to the escape sequences around its text, for hot paths that
// colour many short single-line cells: Render is a concatenation.
type Paint struct{ open, close string }

const placeholder = "\uE000"

// Fast reduces a style without padding, margins, borders or widths to a Paint.
func Fast(s lipgloss.Style) Paint {
	r := s.Render(placeholder)
	i := strings.Index(r, placeholder)
	if i < 0 {
		return Paint{}
	}
	return Paint{open: r[:i], close: r[i+len(placeholder):]}
}

// Render wraps s in the style's sequences.
func (p Paint) Render(s string) string {
	if p.open == "" && p.close == "" {
		return s
	}
	return p.open + s + p.close
}
