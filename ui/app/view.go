package app

import (
	"fmt"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/internal/safe"
	"github.com/opsdeck/opsdeck/ui/components/header"
	"github.com/opsdeck/opsdeck/ui/format"
)

// viewCache keeps rendered pieces that rarely change between frames. It is shared by copies
// of the model; every entry is keyed by everything it depends on.
type viewCache struct {
	headerKey headerKey
	header    string
	titles    map[titleKey]string
}

type headerKey struct {
	width      int
	now        time.Time
	haveState  bool
	api        domain.Health
	haveFrame  bool
	err        string
	lastGood   time.Time
	guard      bool
	leader     string
	guardText  string
	readOnly   bool
	themePlain bool
	offScreen  time.Duration
	freeze     string
}

type titleKey struct {
	text    string
	width   int
	focused bool
}

func newViewCache() *viewCache { return &viewCache{titles: map[titleKey]string{}} }

// sizes is the screen's layout at the current size.
type sizes struct {
	tableH, midH, eventsH int
	metricsW, rolloutW    int
}

func (m *Model) sizes() sizes {
	var s sizes
	s.metricsW = m.width * 3 / 5
	if m.width < 100 {
		s.metricsW = m.width / 2
	}
	s.rolloutW = m.width - s.metricsW - 1
	if m.focus.details {
		s.midH = max(1, m.height-header.Height-2)
		return s
	}
	// header, three pane titles and the status line.
	avail := m.height - header.Height - 4
	s.tableH = min(m.table.Total()+1, max(6, avail*35/100))
	s.tableH = max(s.tableH, 2)
	rest := avail - s.tableH
	s.eventsH = max(2, rest/4)
	s.midH = max(1, rest-s.eventsH)
	return s
}

// layout hands sizes and the selected service to the panes. Update calls it after every
// message, so View only assembles.
func (m *Model) layout() {
	if m.width <= 0 || m.height <= 0 {
		return
	}
	s := m.sizes()
	m.table.SetSize(m.width, s.tableH)
	m.table.SetFocused(m.focus.is(paneServices) && !m.focus.details)
	m.metrics.SetSize(s.metricsW, s.midH)
	m.rollout.SetSize(s.rolloutW, s.midH)
	m.events.SetSize(m.width, s.eventsH)
	if m.logs != nil {
		m.logs.SetSize(m.width, m.height)
	}
	svc, ok := m.selected()
	m.metrics.SetService(svc, ok)
	end := m.lastGood
	if end.IsZero() {
		end = m.now
	}
	m.metrics.SetNow(end)
	m.rollout.SetService(svc, ok)
	if r, have := m.revisions[svc.Key()]; have && ok {
		m.rollout.SetRevisions(r.revs, r.err)
	}
	m.rollout.SetNow(m.now)
	m.table.SetNow(m.now)
	if m.frame.Err == nil {
		m.rollout.SetReplicaSetValues(m.frame.ReplicaSets, m.frame.At)
	}
}

// View renders the screen. It only assembles what the panes cached.
func (m Model) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.WindowTitle = "opsdeck"
	if m.identity.Demo {
		v.WindowTitle = "opsdeck (demo)"
	}
	return v
}

func (m *Model) render() string {
	if m.width <= 0 || m.height <= 0 {
		return "opsdeck: starting…"
	}
	if m.width < MinWidth || m.height < MinHeight {
		// One line, whole: the terminal clips what does not fit, tests and logs see it all.
		return fmt.Sprintf("terminal too small (%dx%d): need at least %dx%d", m.width, m.height, MinWidth, MinHeight)
	}
	if m.logs != nil {
		return m.logs.View()
	}
	s := m.sizes()
	var b strings.Builder
	b.Grow(m.width * m.height * 4)
	b.WriteString(m.headerView())
	svc, hasSvc := m.selected()
	name := ""
	if hasSvc {
		name = svc.Name
	}
	if m.focus.details {
		b.WriteByte('\n')
		b.WriteString(m.title("details: "+name+"  (esc back)", m.width, false))
		m.writeMiddle(&b, s, name)
	} else {
		b.WriteByte('\n')
		tt := fmt.Sprintf("services %d/%d · sort %s", m.table.Len(), m.table.Total(), m.table.Sort())
		if f := m.table.Filter(); f != "" {
			tt += fmt.Sprintf(" · filter %q", f)
		}
		b.WriteString(m.title(tt, m.width, m.focus.is(paneServices)))
		b.WriteByte('\n')
		b.WriteString(m.table.View())
		m.writeMiddle(&b, s, name)
		b.WriteByte('\n')
		et := "events"
		if n := m.alerts.active(); n > 0 {
			et += fmt.Sprintf(" · %d alert(s) firing", n)
		}
		b.WriteString(m.title(et, m.width, m.focus.is(paneEvents)))
		b.WriteByte('\n')
		b.WriteString(m.events.View())
	}
	b.WriteByte('\n')
	b.WriteString(m.statusLine())
	screen := b.String()
	switch {
	case m.dialog != nil:
		screen = overlay(screen, m.dialog.View(m.width-4), m.width)
	case m.help.IsOpen():
		screen = overlay(screen, m.help.View(m.width, m.helpSections()), m.width)
	}
	return screen
}

// writeMiddle writes the metrics and rollout panes side by side, with their titles.
func (m *Model) writeMiddle(b *strings.Builder, s sizes, name string) {
	b.WriteByte('\n')
	mt := "metrics"
	if name != "" {
		mt += ": " + name
	}
	b.WriteString(m.title(mt, s.metricsW, m.focus.is(paneMetrics)))
	b.WriteString(m.theme.Rule.Render("┬"))
	b.WriteString(m.title("rollout", s.rolloutW, m.focus.is(paneRollout)))
	left := strings.Split(m.metrics.View(), "\n")
	right := strings.Split(m.rollout.View(), "\n")
	sep := m.theme.Rule.Render("│")
	for i := range s.midH {
		b.WriteByte('\n')
		if i < len(left) {
			b.WriteString(left[i])
		}
		b.WriteString(sep)
		if i < len(right) {
			b.WriteString(right[i])
		}
	}
}

// title is a pane title followed by a rule; the focused pane's title is marked with "▶" and
// highlighted.
func (m *Model) title(text string, width int, focused bool) string {
	k := titleKey{text, width, focused}
	if s, ok := m.cache.titles[k]; ok {
		return s
	}
	if len(m.cache.titles) > 64 {
		clear(m.cache.titles)
	}
	s := m.renderTitle(text, width, focused)
	m.cache.titles[k] = s
	return s
}

func (m *Model) renderTitle(text string, width int, focused bool) string {
	var t string
	if focused {
		t = m.theme.Focused.Render("▶ " + text + " ")
	} else {
		t = m.theme.Title.Render("  " + text + " ")
	}
	w := ansi.StringWidth(t)
	if w >= width {
		return format.Fit(t, width)
	}
	return t + m.theme.Rule.Render(strings.Repeat("─", width-w))
}

func (m *Model) headerView() string {
	errText := ""
	if m.frame.Err != nil {
		errText = safe.Redact(safe.Text(m.frame.Err.Error()))
	}
	k := headerKey{m.width, m.now.Truncate(time.Second), m.haveState, m.state.API, m.haveFrame, errText, m.lastGood,
		m.guardOn, m.guardLeader, m.guardText, m.opts.ReadOnly, m.theme.Plain, m.offScreenEvery(), m.freezeText()}
	if m.cache.header == "" || m.cache.headerKey != k {
		m.cache.headerKey, m.cache.header = k, header.View(m.theme, m.width, m.headerInfo())
	}
	return m.cache.header
}

func (m *Model) headerInfo() header.Info {
	return header.Info{
		Identity:    m.identity,
		API:         m.state.API,
		HaveState:   m.haveState,
		HaveMetrics: m.haveFrame,
		MetricsErr:  m.frame.Err,
		MetricsOK:   m.lastGood,
		Guard:       m.guardOn,
		GuardLeader: m.guardLeader,
		GuardText:   m.guardText,
		ReadOnly:    m.opts.ReadOnly,
		Now:         m.now,

		OffScreenEvery: m.offScreenEvery(),
		Freeze:         m.freezeText(),
	}
}

// freezeText names the active freezes for the header: the namespace's (Options.Freeze), then
// the services' own, "frozen until 09:00 by alice: black friday; payments until 12:00 by bob".
func (m *Model) freezeText() string {
	var parts []string
	if m.opts.Freeze != nil {
		if f := m.opts.Freeze(); f != nil && m.now.Before(f.Until) {
			parts = append(parts, fmt.Sprintf("namespace until %s by %s: %s", f.Until.Local().Format("Jan 2 15:04"), f.By, f.Reason))
		}
	}
	for _, s := range m.state.Services {
		if f := s.Freeze; f != nil && m.now.Before(f.Until) {
			parts = append(parts, fmt.Sprintf("%s until %s by %s: %s", s.Name, f.Until.Local().Format("Jan 2 15:04"), f.By, f.Reason))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "FROZEN " + strings.Join(parts, "; ")
}

// statusLine is the filter input while filtering, else a recent status message, else the
// short key help.
func (m *Model) statusLine() string {
	if m.table.Filtering() {
		return format.Fit(m.table.FilterView()+m.theme.Muted.Render("   enter keep · esc clear"), m.width)
	}
	return m.status.View(m.width, m.now, func() string { return m.help.Short(m.keys) })
}

// overlay draws box centred over screen.
func overlay(screen, box string, width int) string {
	lines := strings.Split(screen, "\n")
	bl := strings.Split(box, "\n")
	bw := 0
	for _, l := range bl {
		bw = max(bw, ansi.StringWidth(l))
	}
	bw = min(bw, width)
	x := max(0, (width-bw)/2)
	y := max(0, (len(lines)-len(bl))/2)
	for i, l := range bl {
		if y+i >= len(lines) {
			break
		}
		base := lines[y+i]
		lines[y+i] = ansi.Truncate(base, x, "") + format.Fit(l, bw) + ansi.TruncateLeft(base, x+bw, "")
	}
	return strings.Join(lines, "\n")
}
