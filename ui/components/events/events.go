// Package events is the events pane: Kubernetes Warning events from the watches, threshold
// alerts and their resolution raised by the console, and every action with its result,
// newest first.
package events

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/ui/format"
	"github.com/opsdeck/opsdeck/ui/keys"
	"github.com/opsdeck/opsdeck/ui/theme"
)

// maxLocal bounds the console's own entries (alerts and actions).
const maxLocal = 200

// Model is the events pane.
type Model struct {
	theme         theme.Theme
	width, height int
	kube          []domain.Event
	local         []domain.Event // newest first
	merged        []domain.Event
	offset        int
	version       uint64
	cache         *cache
	keys          keys.Scroll
}

type cache struct {
	key  [4]uint64
	view string
}

// New returns an empty pane.
func New(t theme.Theme) Model {
	return Model{theme: t, cache: &cache{}, keys: keys.Default().Scrolling()}
}

// SetSize sets the content size.
func (m *Model) SetSize(w, h int) { m.width, m.height = w, h }

// SetClusterEvents replaces the events from the cluster state.
func (m *Model) SetClusterEvents(ev []domain.Event) {
	m.kube = ev
	m.merge()
}

// Add records a console event (an alert, a resolution, an action result).
func (m *Model) Add(e domain.Event) {
	e = e.Printable() // an action's error may quote cluster text
	m.local = append([]domain.Event{e}, m.local...)
	if len(m.local) > maxLocal {
		m.local = m.local[:maxLocal]
	}
	m.merge()
}

// Entries are all entries, newest first.
func (m Model) Entries() []domain.Event { return m.merged }

// Scroll moves the view by delta lines.
func (m *Model) Scroll(delta int) {
	m.offset = max(0, min(m.offset+delta, len(m.merged)-1))
}

func (m *Model) merge() {
	m.version++
	all := make([]domain.Event, 0, len(m.kube)+len(m.local))
	for _, e := range m.kube {
		if e.Source == "" {
			e.Source = domain.SourceKube
		}
		all = append(all, e)
	}
	all = append(all, m.local...)
	slices.SortStableFunc(all, func(a, b domain.Event) int { return b.Time.Compare(a.Time) })
	m.merged = all
}

// View renders exactly height lines of width cells.
func (m Model) View() string {
	k := [4]uint64{m.version, uint64(m.width), uint64(m.height), uint64(m.offset)}
	if m.cache != nil && m.cache.view != "" && m.cache.key == k {
		return m.cache.view
	}
	out := m.render()
	if m.cache != nil {
		m.cache.key, m.cache.view = k, out
	}
	return out
}

func (m *Model) render() string {
	t := m.theme
	var b strings.Builder
	for i := range m.height {
		if i > 0 {
			b.WriteByte('\n')
		}
		k := m.offset + i
		if k >= len(m.merged) {
			if i == 0 && len(m.merged) == 0 {
				b.WriteString(format.Fit(t.Muted.Render("no warnings, alerts or actions yet"), m.width))
				continue
			}
			b.WriteString(strings.Repeat(" ", max(0, m.width)))
			continue
		}
		e := m.merged[k]
		kind := string(e.Source)
		style := t.Muted
		switch {
		case e.Source == domain.SourceAlert && e.Type == "Warning":
			kind, style = "ALERT", t.Bad
		case e.Source == domain.SourceAlert:
			kind, style = "resolved", t.OK
		case e.Type == "Warning" && e.Source == domain.SourceAction:
			kind, style = "FAILED", t.Bad
		case e.Source == domain.SourceAction:
			kind, style = "action", t.OK
		case e.Type == "Warning":
			kind, style = "warning", t.Warn
		}
		line := e.Time.Format(time.TimeOnly) + " " + style.Render(format.Fit(kind, 8)) + " "
		if e.Source != domain.SourceAction { // an action's message names it and its service
			if e.Reason != "" {
				line += t.Value.Render(e.Reason) + " "
			}
			if e.Object != "" {
				line += e.Object + " "
			}
		}
		line += e.Message
		if e.Count > 1 {
			line += t.Muted.Render(" (x" + strconv.Itoa(int(e.Count)) + ")")
		}
		b.WriteString(format.Fit(line, m.width))
	}
	return b.String()
}
