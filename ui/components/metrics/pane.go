// Package metrics is the metrics pane of the selected service and the series store behind
// it. With room it draws each metric as an asciigraph plot with its threshold as a dashed
// constant line; during a rollout it draws the new and the old revisions apart, so a bad
// version shows before the rollout ends. On small screens each metric is one line with a
// block sparkline.
package metrics

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/guptarohit/asciigraph"
	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/ui/format"
	"github.com/opsdeck/opsdeck/ui/theme"
)

// Pane is the metrics pane. It reads a Store that the root model feeds.
type Pane struct {
	theme      theme.Theme
	paint      paints
	thresholds domain.Thresholds
	store      *Store
	window     time.Duration

	width, height int
	svc           domain.Service
	has           bool
	now           time.Time
	cache         *paneCache
}

type paneCache struct {
	key  paneKey
	view string
}

type paneKey struct {
	version   uint64
	svc, rv   string
	w, h      int
	now       time.Time
	has       bool
	revisions string
}

// NewPane returns a pane drawing window's worth of history from store.
func NewPane(t theme.Theme, th domain.Thresholds, store *Store, window time.Duration) Pane {
	if window <= 0 {
		window = 10 * time.Minute
	}
	return Pane{theme: t, paint: newPaints(t), thresholds: th, store: store, window: window, cache: &paneCache{}}
}

// paints are the theme's styles reduced to escape sequences, for the per-frame titles.
type paints struct{ title, value, muted, bad, new, old theme.Paint }

func newPaints(t theme.Theme) paints {
	return paints{theme.Fast(t.Title), theme.Fast(t.Value), theme.Fast(t.Muted), theme.Fast(t.Bad), theme.Fast(t.New), theme.Fast(t.Old)}
}

// SetSize sets the pane's content size.
func (p *Pane) SetSize(w, h int) { p.width, p.height = w, h }

// SetService sets the service to draw; ok false draws a hint.
func (p *Pane) SetService(svc domain.Service, ok bool) { p.svc, p.has = svc, ok }

// SetNow sets the time the graphs end at (the latest frame's time).
func (p *Pane) SetNow(t time.Time) { p.now = t }

// revision is one ReplicaSet drawn apart during a rollout.
type revision struct {
	label string // "r2 new"
	key   string
	isNew bool
}

// rolloutRevisions are the ReplicaSets with pods when there is more than one, new first.
func (p *Pane) rolloutRevisions() []revision {
	var out []revision
	for _, rs := range p.svc.ReplicaSets {
		if len(rs.Pods) == 0 && rs.Replicas == 0 {
			continue
		}
		isNew := rs.Revision == p.svc.Revision
		label := "r" + strconv.FormatInt(rs.Revision, 10)
		if isNew {
			label += " new"
		} else {
			label += " old"
		}
		if bg := p.svc.BlueGreen; bg != nil {
			// Blue-green: each colour apart, the one serving drawn as the new one.
			isNew = rs.Color == bg.Active
			label = string(rs.Color) + " r" + strconv.FormatInt(rs.Revision, 10)
		}
		out = append(out, revision{label: label, key: ReplicaSetKey(p.svc.Namespace, rs.Name), isNew: isNew})
	}
	if len(out) < 2 {
		return nil
	}
	return out
}

// View renders exactly height lines of width cells.
func (p Pane) View() string {
	revs := p.rolloutRevisions()
	var rk strings.Builder
	for _, r := range revs {
		rk.WriteString(r.key + ";")
	}
	key := paneKey{p.store.Version(), p.svc.Key(), p.svc.ResourceVersion, p.width, p.height, p.now, p.has, rk.String()}
	if p.cache != nil && p.cache.key == key && p.cache.view != "" {
		return p.cache.view
	}
	var lines []string
	switch {
	case !p.has:
		lines = []string{p.paint.muted.Render("select a service")}
	case !p.store.Has(p.svc.Key()):
		lines = []string{p.paint.muted.Render("waiting for metrics of " + p.svc.Name + " …")}
	case p.height/len(domain.Metrics) >= 4 && p.width >= 40:
		lines = p.graphs(revs)
	default:
		lines = p.compact(revs)
	}
	out := block(lines, p.width, p.height)
	if p.cache != nil {
		p.cache.key, p.cache.view = key, out
	}
	return out
}

// block fits lines into exactly h lines of w cells.
func block(lines []string, w, h int) string {
	var b strings.Builder
	for i := range h {
		if i > 0 {
			b.WriteByte('\n')
		}
		l := ""
		if i < len(lines) {
			l = lines[i]
		}
		b.WriteString(format.Fit(l, w))
	}
	return b.String()
}

// current is the latest value of metric m for key and whether it breaches.
func (p *Pane) current(key string, m domain.Metric) (txt string, breached, ok bool) {
	v, ok := p.store.Latest(key, m)
	if !ok {
		return "-", false, false
	}
	br, _ := format.Breach(p.thresholds, p.svc, m, v)
	txt = format.Value(m, v)
	if br {
		txt += "!"
	}
	return txt, br, true
}

func (p *Pane) styled(txt string, breached bool) string {
	if breached {
		return p.paint.bad.Render(txt)
	}
	return p.paint.value.Render(txt)
}

var shortName = map[domain.Metric]string{
	domain.MetricRequestRate: "rps", domain.MetricErrorRatio: "5xx%", domain.MetricLatencyP99: "p99ms",
	domain.MetricCPU: "cpu", domain.MetricMemory: "MiB",
}

// compact draws one line per metric: name, current value, a block sparkline, and during a
// rollout the value of each revision.
func (p *Pane) compact(revs []revision) []string {
	var lines []string
	for _, m := range domain.Metrics {
		txt, br, _ := p.current(p.svc.Key(), m)
		var b strings.Builder
		b.WriteString(format.Fit(shortName[m], 6))
		b.WriteString(p.styled(format.FitLeft(txt, 6), br))
		b.WriteByte(' ')
		used := 13
		for _, r := range revs {
			rt, rbr, _ := p.current(r.key, m)
			label := strings.Fields(r.label)[0]
			seg := label + " " + rt + " "
			if r.isNew {
				b.WriteString(p.paint.new.Render(label))
			} else {
				b.WriteString(p.paint.old.Render(label))
			}
			b.WriteString(" " + p.styled(rt, rbr) + " ")
			used += len(seg)
		}
		if w := p.width - used; w >= 4 {
			vals := p.grid(p.svc.Key(), m, w)
			lo, hi := minMax(vals)
			if th, ok := p.thresholds.ForService(p.svc, m); ok && !math.IsNaN(hi) && th.Value > hi && th.Value < hi*3 {
				hi = th.Value
			}
			spark := format.Spark(vals, lo, hi)
			if br {
				spark = p.paint.bad.Render(spark)
			} else {
				spark = p.paint.muted.Render(spark)
			}
			b.WriteString(spark)
		}
		lines = append(lines, b.String())
	}
	return lines
}

// graphs draws one asciigraph plot per metric, with a title line that carries the current
// value, the threshold and the legend.
func (p *Pane) graphs(revs []revision) []string {
	per := p.height / len(domain.Metrics)
	var lines []string
	const labelW = 7 // y-axis labels are formatted to this width
	plotW := max(8, p.width-labelW-3)
	for _, m := range domain.Metrics {
		th, hasTh := p.thresholds.ForService(p.svc, m)
		txt, br, _ := p.current(p.svc.Key(), m)
		title := p.paint.title.Render(m.Title()) + " " + p.styled(txt, br) + " " + p.paint.muted.Render(m.Unit())
		if hasTh {
			lim, _ := format.ServiceLimit(p.thresholds, p.svc, m)
			title += p.paint.muted.Render("  limit " + lim)
		}
		var data [][]float64
		var colors []asciigraph.AnsiColor
		var chars []asciigraph.CharSet
		if len(revs) > 0 {
			for _, r := range revs {
				data = append(data, p.grid(r.key, m, plotW))
				rt, rbr, _ := p.current(r.key, m)
				if r.isNew {
					colors = append(colors, p.theme.GraphNew)
					chars = append(chars, asciigraph.DefaultCharSet)
					title += "  " + p.paint.new.Render("━ "+r.label) + " " + p.styled(rt, rbr)
				} else {
					colors = append(colors, p.theme.GraphOld)
					chars = append(chars, asciigraph.CreateCharSet("·"))
					title += "  " + p.paint.old.Render("· "+r.label) + " " + p.styled(rt, rbr)
				}
			}
		} else {
			data = append(data, p.grid(p.svc.Key(), m, plotW))
			colors = append(colors, p.theme.GraphService)
			chars = append(chars, asciigraph.DefaultCharSet)
		}
		lines = append(lines, title)
		if allNaN(data) {
			lines = append(lines, p.paint.muted.Render("no data in the window"))
			for range per - 2 {
				lines = append(lines, "")
			}
			continue
		}
		if hasTh {
			tv := make([]float64, plotW)
			for i := range tv {
				tv[i] = m.Display(th.Value)
			}
			// Draw the limit first so the revisions' lines stay on top of it.
			data = append([][]float64{tv}, data...)
			colors = append([]asciigraph.AnsiColor{p.theme.GraphThreshold}, colors...)
			chars = append([]asciigraph.CharSet{{Horizontal: "╌", StartCap: "╌", EndCap: "╌"}}, chars...)
		}
		plot := asciigraph.PlotMany(data,
			asciigraph.Height(per-2),
			asciigraph.SeriesColors(colors...),
			asciigraph.SeriesChars(chars...),
			asciigraph.AxisColor(p.theme.GraphAxis),
			asciigraph.LabelColor(p.theme.GraphAxis),
			asciigraph.YAxisValueFormatter(func(v float64) string { return format.FitLeft(axisValue(v), labelW) }),
		)
		pl := strings.Split(plot, "\n")
		for i := range per - 1 {
			if i < len(pl) {
				lines = append(lines, pl[i])
			} else {
				lines = append(lines, "")
			}
		}
	}
	return lines
}

func axisValue(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 10000:
		return strconv.FormatFloat(v/1000, 'f', 0, 64) + "k"
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// grid resamples key's series of metric m onto w columns spanning the window that ends at
// now, in display units; columns without a recent point are NaN.
func (p *Pane) grid(key string, m domain.Metric, w int) []float64 {
	out := make([]float64, w)
	pts := p.store.Points(key, m)
	end := p.now
	if end.IsZero() && len(pts) > 0 {
		end = pts[len(pts)-1].T
	}
	dt := p.window / time.Duration(w)
	gap := max(2*dt, 15*time.Second)
	j := 0
	for c := range out {
		t := end.Add(-p.window + time.Duration(c+1)*dt)
		for j < len(pts) && !pts[j].T.After(t) {
			j++
		}
		if j > 0 && t.Sub(pts[j-1].T) <= gap {
			out[c] = m.Display(pts[j-1].V)
		} else {
			out[c] = math.NaN()
		}
	}
	return out
}

func minMax(v []float64) (lo, hi float64) {
	lo, hi = math.NaN(), math.NaN()
	for _, x := range v {
		if math.IsNaN(x) {
			continue
		}
		if math.IsNaN(lo) || x < lo {
			lo = x
		}
		if math.IsNaN(hi) || x > hi {
			hi = x
		}
	}
	return lo, hi
}

func allNaN(data [][]float64) bool {
	for _, d := range data {
		for _, x := range d {
			if !math.IsNaN(x) {
				return false
			}
		}
	}
	return true
}
