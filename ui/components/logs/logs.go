// Package logs is the console's logs view: the lines of one pod of the selected service, the
// new revision's pods first, with a pod picker, the previous container of a crash-looping pod,
// and a search. It draws what a podlogs.Ring holds; the app runs the streams that fill it.
package logs

import (
	"context"
	"fmt"
	"strings"

	"charm.land/bubbles/v2/textinput"
	"github.com/opsdeck/opsdeck/internal/podlogs"
	"github.com/opsdeck/opsdeck/ui/format"
	"github.com/opsdeck/opsdeck/ui/theme"
)

// Model is the logs view of one service.
type Model struct {
	theme    theme.Theme
	Service  string
	targets  []podlogs.Target
	sel      int
	previous bool
	Ring     *podlogs.Ring
	status   string
	bad      bool
	// Query filters the lines (case-insensitive substring); empty shows all.
	Query         string
	width, height int

	keys      KeyMap
	searching bool
	search    textinput.Model

	// The stream: its source, the context that bounds it, and the generation of the one
	// running (a message of an earlier one is dropped).
	ctx    context.Context
	src    Source
	cancel context.CancelFunc
	gen    int
}

// New opens the view on the first pod of targets (the new revision's come first). A pod that
// crash-loops opens on its previous container, where the crash is.
func New(th theme.Theme, km KeyMap, service string, targets []podlogs.Target) Model {
	m := Model{theme: th, Service: service, targets: targets, Ring: podlogs.NewRing(podlogs.DefaultRingLines, podlogs.DefaultRingBytes),
		keys: km, search: newSearchInput()}
	m.previous = m.crashLooping()
	return m
}

func (m Model) crashLooping() bool {
	t, ok := m.Target()
	return ok && t.Restarts > 0 && t.Reason == "CrashLoopBackOff"
}

// SetSize sets the view's size, the search line under it included.
func (m *Model) SetSize(w, h int) { m.width, m.height = w, h }

// Target is the pod shown.
func (m Model) Target() (podlogs.Target, bool) {
	if len(m.targets) == 0 {
		return podlogs.Target{}, false
	}
	return m.targets[m.sel], true
}

// Previous tells whether the previous container is shown.
func (m Model) Previous() bool { return m.previous }

// NextPod moves the picker by delta (wrapping) and reports whether the pod changed.
func (m *Model) NextPod(delta int) bool {
	if len(m.targets) < 2 {
		return false
	}
	m.sel = ((m.sel+delta)%len(m.targets) + len(m.targets)) % len(m.targets)
	m.previous = m.crashLooping()
	return true
}

// TogglePrevious switches between the current and the previous container.
func (m *Model) TogglePrevious() { m.previous = !m.previous }

// SetStatus sets the line under the title: following, the end of the log, or an error.
func (m *Model) SetStatus(s string, bad bool) { m.status, m.bad = s, bad }

// View draws the title, the status, the newest lines that fit (and match the query), the
// keys, and the search while it is typed.
func (m Model) View() string {
	var b strings.Builder
	m.height-- // the search line
	t, ok := m.Target()
	title := "logs: " + m.Service
	if ok {
		which := "current container"
		if m.previous {
			which = "previous container"
		}
		title += fmt.Sprintf(" · pod %s (%d/%d, revision %d, %d restarts) · %s", t.Pod, m.sel+1, len(m.targets), t.Revision, t.Restarts, which)
	}
	b.WriteString(format.Fit(m.theme.Title.Render(title), m.width))
	b.WriteByte('\n')
	status := m.status
	if m.Query != "" {
		status += fmt.Sprintf(" · search %q", m.Query)
	}
	if m.bad {
		b.WriteString(format.Fit(m.theme.Bad.Render(status), m.width))
	} else {
		b.WriteString(format.Fit(m.theme.Muted.Render(status), m.width))
	}
	b.WriteByte('\n')
	rows := max(m.height-3, 1)
	var keep func(podlogs.Line) bool
	if q := strings.ToLower(m.Query); q != "" {
		keep = func(l podlogs.Line) bool { return strings.Contains(strings.ToLower(l.Text), q) }
	}
	lines := m.Ring.Tail(rows, keep)
	for i := 0; i < rows-len(lines); i++ {
		b.WriteByte('\n')
	}
	for _, l := range lines {
		ts := "        "
		if !l.Time.IsZero() {
			ts = l.Time.UTC().Format("15:04:05")
		}
		b.WriteString(format.Fit(m.theme.Muted.Render(ts)+" "+strings.ReplaceAll(l.Text, "\t", "    "), m.width))
		b.WriteByte('\n')
	}
	b.WriteString(format.Fit(m.theme.Muted.Render(m.footer()), m.width))
	b.WriteByte('\n')
	if m.searching {
		b.WriteString(m.search.View())
	}
	return b.String()
}
