// Package services is the services table: one row per service with its rollout state and
// latest metrics, coloured against thresholds and marked with "!" where breached, sortable and
// filterable. It renders only the visible rows and caches them until something changes, so a
// screen of hundreds of services stays cheap to draw.
package services

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/textinput"
	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/ui/format"
	"github.com/opsdeck/opsdeck/ui/keys"
	"github.com/opsdeck/opsdeck/ui/theme"
)

// SortKey is the column the table is sorted by.
type SortKey int

// Sort orders, in the order the sort key cycles through them.
const (
	SortName SortKey = iota
	SortErrors
	SortP99
	SortCPU
	numSorts
)

// String names the sort order for the header.
func (s SortKey) String() string {
	switch s {
	case SortErrors:
		return "errors"
	case SortP99:
		return "p99"
	case SortCPU:
		return "cpu"
	}
	return "name"
}

// Model is the services table. The zero value is not usable; call New.
type Model struct {
	theme      theme.Theme
	paint      paints
	thresholds domain.Thresholds

	width, height int
	focused       bool

	all    []domain.Service
	values map[string]domain.Values
	guard  map[string]string
	sortBy SortKey
	filter string

	rows   []int // indices into all: filtered and sorted
	cursor int   // index into rows
	offset int   // first visible row
	selKey string
	// settled: the watches have synced once (Settle) or a key moved the cursor. Before, the
	// first row in sort order is selected whatever was selected in a partial list, so the
	// first full screen starts at the top.
	settled bool

	keys      KeyMap
	input     textinput.Model // the filter while it is typed
	filtering bool

	cols    []column
	version uint64
	cache   *cache
	now     time.Time // for countdowns in the PHASE column
}

type cache struct {
	key  cacheKey
	view string
}

type cacheKey struct {
	version              uint64
	cursor, offset, w, h int
	focused              bool
}

// New returns an empty table.
func New(t theme.Theme, th domain.Thresholds) Model {
	return Model{theme: t, paint: newPaints(t), thresholds: th, values: map[string]domain.Values{}, cache: &cache{},
		keys: NewKeyMap(keys.Default()), input: newFilterInput()}
}

// paints are the theme's cell styles reduced to escape sequences.
type paints struct{ ok, warn, bad, muted theme.Paint }

func newPaints(t theme.Theme) paints {
	return paints{theme.Fast(t.OK), theme.Fast(t.Warn), theme.Fast(t.Bad), theme.Fast(t.Muted)}
}

// SetSize sets the table's size; height counts the column header line.
func (m *Model) SetSize(w, h int) {
	m.width, m.height = w, h
	m.layout()
	m.clamp()
	m.version++
}

// SetFocused marks the table as the focused pane.
func (m *Model) SetFocused(f bool) { m.focused = f }

// SetServices replaces the services (from a new cluster state), keeping the selection.
func (m *Model) SetServices(svcs []domain.Service) {
	m.all = svcs
	m.layout()
	m.rebuild()
}

// Settle ends the start: from now on the selection is kept by name (call it once the
// watches have synced, after SetServices).
func (m *Model) Settle() { m.settled = true }

// VisibleRange is the index of the first row on screen and how many rows fit.
func (m Model) VisibleRange() (first, n int) {
	return m.offset, min(m.bodyHeight(), len(m.rows)-m.offset)
}

// SetValues replaces the latest metric values, keyed by service key.
func (m *Model) SetValues(v map[string]domain.Values) {
	if v == nil {
		v = map[string]domain.Values{}
	}
	m.values = v
	if m.sortBy != SortName {
		m.rebuild()
		return
	}
	m.version++
}

// SetGuardStates sets the GUARD column, keyed by service key (or name).
func (m *Model) SetGuardStates(g map[string]string) {
	m.guard = g
	m.version++
}

// SetFilter shows only services whose name contains f (case-insensitive).
func (m *Model) SetFilter(f string) {
	m.filter = strings.ToLower(f)
	m.rebuild()
}

// Filter is the current filter.
func (m Model) Filter() string { return m.filter }

// CycleSort moves to the next sort order and returns it.
func (m *Model) CycleSort() SortKey {
	m.sortBy = (m.sortBy + 1) % numSorts
	m.rebuild()
	return m.sortBy
}

// SetSort sets the sort order.
func (m *Model) SetSort(s SortKey) {
	m.sortBy = s % numSorts
	m.rebuild()
}

// Sort is the current sort order.
func (m Model) Sort() SortKey { return m.sortBy }

// Len is the number of rows shown after filtering.
func (m Model) Len() int { return len(m.rows) }

// Total is the number of services before filtering.
func (m Model) Total() int { return len(m.all) }

// Selected is the selected service.
func (m Model) Selected() (domain.Service, bool) {
	if m.cursor < 0 || m.cursor >= len(m.rows) {
		return domain.Service{}, false
	}
	return m.all[m.rows[m.cursor]], true
}

// Row is the service in display row i (filtered and sorted), false past the last row.
func (m Model) Row(i int) (domain.Service, bool) {
	if i < 0 || i >= len(m.rows) {
		return domain.Service{}, false
	}
	return m.all[m.rows[i]], true
}

// Visible returns the services in display order (filtered and sorted).
func (m Model) Visible() []domain.Service {
	out := make([]domain.Service, len(m.rows))
	for i, r := range m.rows {
		out[i] = m.all[r]
	}
	return out
}

// Move moves the selection by delta rows.
func (m *Model) Move(delta int) {
	m.SetCursor(m.cursor + delta)
}

// SetCursor selects row i (clamped).
func (m *Model) SetCursor(i int) {
	m.settled = true
	m.cursor = i
	m.clamp()
	if m.cursor >= 0 && m.cursor < len(m.rows) {
		m.selKey = m.all[m.rows[m.cursor]].Key()
	}
}

// Select selects the service with the given key, if shown.
func (m *Model) Select(key string) bool {
	for i, r := range m.rows {
		if m.all[r].Key() == key {
			m.SetCursor(i)
			return true
		}
	}
	return false
}

func (m *Model) bodyHeight() int { return max(0, m.height-1) }

func (m *Model) clamp() {
	m.cursor = max(0, min(m.cursor, len(m.rows)-1))
	h := m.bodyHeight()
	if h <= 0 {
		m.offset = 0
		return
	}
	if m.cursor < m.offset {
		m.offset = m.cursor
	}
	if m.cursor >= m.offset+h {
		m.offset = m.cursor - h + 1
	}
	m.offset = max(0, min(m.offset, len(m.rows)-h))
}

// rebuild filters and sorts, keeping the selected service selected.
func (m *Model) rebuild() {
	m.version++
	m.rows = make([]int, 0, len(m.all))
	for i, s := range m.all {
		if m.filter == "" || strings.Contains(strings.ToLower(s.Name), m.filter) {
			m.rows = append(m.rows, i)
		}
	}
	if m.sortBy != SortName {
		metric := map[SortKey]domain.Metric{SortErrors: domain.MetricErrorRatio, SortP99: domain.MetricLatencyP99, SortCPU: domain.MetricCPU}[m.sortBy]
		slices.SortStableFunc(m.rows, func(a, b int) int {
			va, oka := m.values[m.all[a].Key()].Get(metric)
			vb, okb := m.values[m.all[b].Key()].Get(metric)
			switch {
			case oka && !okb:
				return -1
			case !oka && okb:
				return 1
			case oka && okb && va != vb:
				return cmp.Compare(vb, va) // highest first
			}
			return cmp.Compare(m.all[a].Key(), m.all[b].Key())
		})
	} else {
		slices.SortStableFunc(m.rows, func(a, b int) int {
			return cmp.Or(cmp.Compare(m.all[a].Name, m.all[b].Name), cmp.Compare(m.all[a].Namespace, m.all[b].Namespace))
		})
	}
	if !m.settled {
		m.cursor, m.offset, m.selKey = 0, 0, ""
	}
	if m.selKey == "" || !m.reselect() {
		m.clamp()
		if s, ok := m.Selected(); ok {
			m.selKey = s.Key()
		}
	}
}

func (m *Model) reselect() bool {
	for i, r := range m.rows {
		if m.all[r].Key() == m.selKey {
			m.cursor = i
			m.clamp()
			return true
		}
	}
	return false
}

// column is one table column.
type column struct {
	title string
	width int
	right bool
	id    colID
}

type colID int

const (
	colName colID = iota
	colReady
	colTag
	colRev
	colPhase
	colRPS
	colErrors
	colP99
	colCPU
	colMem
	colGuard
)

var metricOf = map[colID]domain.Metric{
	colRPS: domain.MetricRequestRate, colErrors: domain.MetricErrorRatio, colP99: domain.MetricLatencyP99,
	colCPU: domain.MetricCPU, colMem: domain.MetricMemory,
}

// layout picks the columns that fit the width: the name grows to the longest name, the
// phase and tag widen when there is room, and the revision shows on wider screens.
func (m *Model) layout() {
	base := []column{
		{"NAME", 12, false, colName}, {"READY", 5, true, colReady}, {"TAG", 7, false, colTag},
		{"REV", 3, true, colRev}, {"PHASE", 9, false, colPhase}, {"RPS", 5, true, colRPS},
		{"5XX%", 5, true, colErrors}, {"P99ms", 5, true, colP99}, {"CPU", 5, true, colCPU},
		{"MiB", 5, true, colMem}, {"GUARD", 5, false, colGuard},
	}
	need := func(cs []column) int {
		n := len(cs) - 1
		for _, c := range cs {
			n += c.width
		}
		return n
	}
	longest := 4
	phaseWant := 11
	for _, s := range m.all {
		longest = max(longest, len(s.Name))
		if s.Pending != nil {
			phaseWant = max(phaseWant, min(len(s.Pending.Phase(time.Local)), 20))
		}
	}
	// Drop columns the width cannot hold, least useful first; the revision goes before a
	// name is cut.
	nameWant := min(longest+1, 24) - base[0].width
	for i, drop := range []colID{colRev, colMem, colRPS, colTag, colCPU} {
		slack := 0
		if i == 0 {
			slack = nameWant
		}
		if need(base)+slack <= m.width {
			continue
		}
		base = slices.DeleteFunc(base, func(c column) bool { return c.id == drop })
	}
	grow := func(id colID, to int) {
		for i := range base {
			if base[i].id == id {
				if extra := m.width - need(base); extra > 0 {
					base[i].width += min(extra, max(0, to-base[i].width))
				}
			}
		}
	}
	grow(colName, longest+1)  // +1 for the selection mark
	grow(colPhase, phaseWant) // "scheduled v2 09:00" when a deploy waits
	grow(colGuard, 10)        // "breach 12s": the countdown must stay readable
	grow(colTag, 12)
	grow(colRev, 4)
	grow(colName, 48)
	grow(colTag, 24)
	m.cols = base
}

// View renders the column header and the visible rows, exactly height lines of width cells.
func (m Model) View() string {
	key := cacheKey{m.version, m.cursor, m.offset, m.width, m.height, m.focused}
	if m.cache != nil && m.cache.key == key && m.cache.view != "" {
		return m.cache.view
	}
	var b strings.Builder
	b.Grow((m.width + 16) * max(1, m.height) * 2)
	var hdr strings.Builder
	for i, c := range m.cols {
		if i > 0 {
			hdr.WriteByte(' ')
		}
		if c.right {
			hdr.WriteString(format.FitLeft(c.title, c.width))
		} else {
			hdr.WriteString(format.Fit(c.title, c.width))
		}
	}
	b.WriteString(m.theme.Header.Render(format.Fit(hdr.String(), m.width)))
	body := m.bodyHeight()
	for i := range body {
		b.WriteByte('\n')
		r := m.offset + i
		switch {
		case r < len(m.rows):
			b.WriteString(m.row(m.all[m.rows[r]], r == m.cursor))
		case i == 0 && len(m.all) == 0:
			b.WriteString(format.Fit(m.theme.Muted.Render(" no services yet"), m.width))
		case i == 0:
			b.WriteString(format.Fit(m.theme.Muted.Render(" no service name contains \""+m.filter+"\""), m.width))
		default:
			b.WriteString(strings.Repeat(" ", m.width))
		}
	}
	out := b.String()
	if m.cache != nil {
		m.cache.key, m.cache.view = key, out
	}
	return out
}

// row renders one service. The selected row is drawn plain in reverse video with a "▶" mark,
// so it reads without colour; other rows colour their state and breached values.
func (m *Model) row(s domain.Service, selected bool) string {
	var b strings.Builder
	used := 0
	for i, c := range m.cols {
		if i > 0 {
			b.WriteByte(' ')
			used++
		}
		text, style := m.cell(s, c.id)
		if c.id == colName {
			mark := " "
			if selected {
				mark = "▶"
			}
			text = mark + text
		}
		if c.right {
			text = format.FitLeft(text, c.width)
		} else {
			text = format.Fit(text, c.width)
		}
		used += c.width
		if style != nil && !selected {
			text = style.Render(text)
		}
		b.WriteString(text)
	}
	if used < m.width {
		b.WriteString(strings.Repeat(" ", m.width-used))
	}
	if selected {
		return m.theme.Selected.Render(b.String())
	}
	return b.String()
}

func (m *Model) cell(s domain.Service, id colID) (string, *theme.Paint) {
	t := &m.paint
	switch id {
	case colName:
		return s.Name, nil
	case colReady:
		txt := strconv.Itoa(int(s.Ready)) + "/" + strconv.Itoa(int(s.Desired))
		switch {
		case s.Desired > 0 && s.Ready == 0:
			return txt, &t.bad
		case s.Ready < s.Desired:
			return txt, &t.warn
		}
		return txt, nil
	case colTag:
		return s.Tag(), nil
	case colRev:
		return strconv.FormatInt(s.Revision, 10), nil
	case colPhase:
		if s.BlueGreen != nil {
			return m.blueGreenCell(s)
		}
		if s.Pending != nil && s.Phase != domain.PhaseProgressing {
			// A waiting deploy says more than "complete": what, and until when.
			return s.Pending.Phase(time.Local), &m.paint.warn
		}
		return string(s.Phase), m.phaseStyle(s.Phase)
	case colGuard:
		if g, ok := m.guard[s.Key()]; ok && g != "" {
			return g, nil
		}
		if g, ok := m.guard[s.Name]; ok && g != "" {
			return g, nil
		}
		return "-", &t.muted
	}
	metric := metricOf[id]
	v, ok := m.values[s.Key()].Get(metric)
	if !ok {
		return "-", &t.muted
	}
	txt := format.Value(metric, v)
	if br, _ := format.Breach(m.thresholds, s, metric, v); br {
		return txt + "!", &t.bad
	}
	return txt, nil
}

func (m *Model) phaseStyle(p domain.Phase) *theme.Paint {
	switch p {
	case domain.PhaseComplete:
		return &m.paint.ok
	case domain.PhaseStalled:
		return &m.paint.bad
	case domain.PhaseProgressing, domain.PhasePaused:
		return &m.paint.warn
	}
	return &m.paint.muted
}
