// Package rollout is the rollout pane of the selected service: progress of updated, ready and
// available replicas against desired, a stalled rollout (ProgressDeadlineExceeded) shown
// first, the new and old ReplicaSets with their pods, and the revision history.
package rollout

import (
	"strconv"
	"strings"
	"time"

	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/ui/format"
	"github.com/opsdeck/opsdeck/ui/keys"
	"github.com/opsdeck/opsdeck/ui/theme"
)

// Model is the rollout pane.
type Model struct {
	theme         theme.Theme
	width, height int
	svc           domain.Service
	has           bool
	revisions     []domain.Revision
	revErr        string
	now           time.Time
	offset        int
	cache         *cache
	rsValues      map[string]domain.Values // latest metrics per ReplicaSet, for blue-green
	valuesAt      time.Time
	keys          keys.Scroll
}

type cache struct {
	key  cacheKey
	view string
}

type cacheKey struct {
	svc, rv      string
	has          bool
	revs         int
	revFirst     int64
	revErr       string
	now          time.Time
	w, h, offset int
	valuesAt     time.Time
}

// New returns an empty pane.
func New(t theme.Theme) Model {
	return Model{theme: t, cache: &cache{}, keys: keys.Default().Scrolling()}
}

// SetSize sets the content size.
func (m *Model) SetSize(w, h int) { m.width, m.height = w, h }

// SetService sets the service to show; a different service resets the scroll position.
func (m *Model) SetService(svc domain.Service, ok bool) {
	if svc.Key() != m.svc.Key() {
		m.offset = 0
		m.revisions, m.revErr = nil, ""
	}
	m.svc, m.has = svc, ok
}

// SetRevisions sets the revision history (newest first) or the error reading it.
func (m *Model) SetRevisions(revs []domain.Revision, err error) {
	m.revisions, m.revErr = revs, ""
	if err != nil {
		m.revErr = err.Error()
	}
}

// SetNow sets the time ages are measured from.
func (m *Model) SetNow(t time.Time) { m.now = t }

// Scroll moves the view by delta lines.
func (m *Model) Scroll(delta int) { m.offset = max(0, m.offset+delta) }

// Lines renders every line of the pane, before fitting it to the height.
func (m *Model) Lines() []string {
	t := m.theme
	if !m.has {
		return []string{t.Muted.Render("select a service")}
	}
	if m.svc.BlueGreen != nil {
		return m.blueGreenLines()
	}
	s := m.svc
	var out []string
	out = append(out, m.headline(s, s.Image))
	for _, c := range s.Conditions {
		if c.Reason == "ProgressDeadlineExceeded" {
			out = append(out, t.Bad.Render("! ProgressDeadlineExceeded")+" "+c.Message)
		}
	}
	barW := max(4, min(30, m.width-20))
	bar := func(label string, n int32) string {
		frac := 0.0
		if s.Desired > 0 {
			frac = float64(n) / float64(s.Desired)
		}
		b := format.Bar(frac, barW)
		if n >= s.Desired {
			b = t.OK.Render(b)
		} else {
			b = t.Warn.Render(b)
		}
		return format.Fit(label, 10) + b + " " + strconv.Itoa(int(n)) + "/" + strconv.Itoa(int(s.Desired))
	}
	out = append(out, bar("updated", s.Updated), bar("ready", s.Ready), bar("available", s.Available))
	if s.Message != "" && s.Phase != domain.PhaseStalled {
		out = append(out, t.Muted.Render(s.Message))
	}
	for _, rs := range s.ReplicaSets {
		if len(rs.Pods) == 0 && rs.Replicas == 0 {
			continue
		}
		tag, style := "OLD", t.Old
		if rs.Revision == s.Revision {
			tag, style = "NEW", t.New
		}
		name := rs.Name + " "
		if m.width < 60 {
			name = ""
		}
		out = append(out, style.Render(tag+" r"+strconv.FormatInt(rs.Revision, 10))+" "+name+
			strconv.Itoa(int(rs.Ready))+"/"+strconv.Itoa(int(rs.Replicas))+" ready  "+t.Muted.Render(domain.ImageTag(rs.Image)))
		out = append(out, m.podLines(rs)...)
	}
	for _, c := range s.Conditions {
		if c.Reason == "ProgressDeadlineExceeded" {
			continue
		}
		out = append(out, t.Muted.Render(c.Type+"="+c.Status+" "+c.Reason))
	}
	out = append(out, m.historyLines(false)...)
	return out
}

// podLines are a ReplicaSet's pods, one line each.
func (m *Model) podLines(rs domain.ReplicaSet) []string {
	t := m.theme
	var out []string
	for _, p := range rs.Pods {
		state := t.OK.Render("ready")
		if !p.Ready {
			state = t.Warn.Render("not ready")
		}
		pn := p.Name
		if m.width < 60 && len(pn) > 6 {
			pn = "…" + pn[len(pn)-5:] // the ReplicaSet's name is on the line above
		}
		line := "  " + pn + " " + state + " restarts " + strconv.Itoa(int(p.Restarts))
		if p.Reason != "" {
			reason := p.Reason
			if strings.Contains(reason, "BackOff") || strings.Contains(reason, "Err") {
				reason = t.Bad.Render(reason)
			}
			line += " " + reason
		}
		out = append(out, line)
	}
	return out
}

// View renders exactly height lines of width cells, scrolled by the offset.
func (m Model) View() string {
	k := cacheKey{m.svc.Key(), m.svc.ResourceVersion, m.has, len(m.revisions), 0, m.revErr, m.now.Truncate(time.Second), m.width, m.height, m.offset, time.Time{}}
	if m.svc.BlueGreen != nil {
		k.valuesAt = m.valuesAt // only a blue-green service shows values
	}
	if len(m.revisions) > 0 {
		k.revFirst = m.revisions[0].Number
	}
	if m.cache != nil && m.cache.view != "" && m.cache.key == k {
		return m.cache.view
	}
	lines := m.Lines()
	off := max(0, min(m.offset, len(lines)-m.height))
	var b strings.Builder
	for i := range m.height {
		if i > 0 {
			b.WriteByte('\n')
		}
		l := ""
		if off+i < len(lines) {
			l = lines[off+i]
		}
		b.WriteString(format.Fit(l, m.width))
	}
	out := b.String()
	if m.cache != nil {
		m.cache.key, m.cache.view = k, out
	}
	return out
}

// historyLines is the revision history: revision, image, age and change-cause, with the
// colour of each revision for a blue-green service.
func (m *Model) historyLines(colored bool) []string {
	t := m.theme
	out := []string{t.Title.Render("history")}
	switch {
	case m.revErr != "":
		out = append(out, t.Bad.Render("revisions: "+m.revErr))
	case m.revisions == nil:
		out = append(out, t.Muted.Render("loading…"))
	}
	for _, r := range m.revisions {
		mark := " "
		if r.Current {
			mark = "*"
		}
		age := ""
		if !r.Created.IsZero() && !m.now.IsZero() {
			age = format.Age(m.now.Sub(r.Created))
		}
		rev, tag := format.FitLeft("r"+strconv.FormatInt(r.Number, 10), 4), format.Fit(domain.ImageTag(r.Image), 10)
		if colored {
			// The colour column takes its room from the revision and the tag.
			mark += format.Fit(string(r.Color), 5) + " "
			rev, tag = format.FitLeft("r"+strconv.FormatInt(r.Number, 10), 3), format.Fit(domain.ImageTag(r.Image), 8)
		}
		out = append(out, mark+rev+" "+tag+" "+format.FitLeft(age, 4)+" "+t.Muted.Render(r.ChangeCause))
	}
	return out
}

// headline is the pane's first line: revision, image and rollout phase, the phase coloured
// (and STALLED in capitals, readable without colour).
func (m *Model) headline(s domain.Service, image string) string {
	t := m.theme
	phase := string(s.Phase)
	switch s.Phase {
	case domain.PhaseComplete:
		phase = t.OK.Render(phase)
	case domain.PhaseStalled:
		phase = t.Bad.Render("STALLED")
	default:
		phase = t.Warn.Render(phase)
	}
	return t.Value.Render("r"+strconv.FormatInt(s.Revision, 10)) + " " + image + "  " + phase
}
