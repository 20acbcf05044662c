package rollout

import (
	"strconv"
	"strings"
	"time"

	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/ui/format"
)

// SetReplicaSetValues sets the latest metrics of every ReplicaSet (keyed namespace/name) and
// the time they were read: a blue-green service shows each colour's side by side.
func (m *Model) SetReplicaSetValues(v map[string]domain.Values, at time.Time) {
	m.rsValues, m.valuesAt = v, at
}

// colorMetrics are the metrics shown per colour, with their short labels.
var colorMetrics = []struct {
	m     domain.Metric
	label string
}{
	{domain.MetricRequestRate, "rps"}, {domain.MetricErrorRatio, "5xx%"}, {domain.MetricLatencyP99, "p99ms"},
	{domain.MetricCPU, "cpu"}, {domain.MetricMemory, "MiB"},
}

// blueGreenLines renders a blue-green service: where traffic goes, both colours side by side
// (state, image, pods, metrics), the pending switch or the scale-down countdown, the pods of
// each colour, and both colours' history.
func (m *Model) blueGreenLines() []string {
	t, s, bg := m.theme, m.svc, m.svc.BlueGreen
	var out []string
	if bg.Problem != "" {
		out = append(out, t.Bad.Render("! blue-green pair inconsistent; opsdeck will not act on it:"))
		for _, l := range wrap(bg.Problem, max(20, m.width-2)) {
			out = append(out, "  "+l)
		}
		return out
	}
	active := bg.Of(bg.Active)
	out = append(out, m.headline(s, active.Image))
	traffic := t.Muted.Render("blue-green · ") + "traffic → " + t.Value.Render(string(bg.Active))
	if !bg.SwitchedAt.IsZero() && !m.now.IsZero() {
		traffic += t.Muted.Render(" · switched " + format.Age(m.now.Sub(bg.SwitchedAt)) + " ago")
	}
	out = append(out, traffic)
	// What happens next.
	switch {
	case bg.Pending != "":
		c := bg.Of(bg.Pending)
		ready := min(c.Ready, c.Updated)
		if c.AllReady() && c.Image == bg.PendingImage {
			msg := "switch → " + string(bg.Pending) + ": all " + strconv.Itoa(int(c.Desired)) + " Ready"
			if bg.Preview > 0 {
				msg += ", in preview (" + bg.Preview.String() + ")"
			}
			out = append(out, t.Warn.Render(msg))
		} else {
			out = append(out, t.Warn.Render("switch → "+string(bg.Pending)+" once all Ready: "+
				strconv.Itoa(int(ready))+"/"+strconv.Itoa(int(c.Desired))))
		}
	case !bg.ScaleDownAt.IsZero():
		left := bg.ScaleDownAt.Sub(m.now)
		out = append(out, t.Warn.Render(string(bg.Idle())+" scales down in "+format.Countdown(left))+
			t.Muted.Render(" ("+bg.ScaleDownAt.Local().Format(time.TimeOnly)+"; r switches back at once)"))
	}

	// Both colours side by side.
	colW := max(8, (m.width-8)/2)
	row := func(label string, cells [2]string) string {
		return format.Fit(label, 7) + " " + format.Fit(cells[0], colW-1) + " " + format.Fit(cells[1], colW-1)
	}
	var heads, states, images, pods [2]string
	for i, c := range domain.Colors {
		cs := bg.Of(c)
		heads[i] = strings.ToUpper(string(c))
		switch {
		case c == bg.Active:
			states[i] = t.OK.Render("● live")
		case bg.Pending == c:
			states[i] = t.Warn.Render("◐ preview")
		case cs.Up():
			states[i] = t.Muted.Render("○ standby")
		default:
			states[i] = t.Muted.Render("○ idle")
		}
		images[i] = domain.ImageTag(cs.Image)
		if m.width >= 44 {
			images[i] = cs.Image
		}
		p := strconv.Itoa(int(cs.Ready)) + "/" + strconv.Itoa(int(cs.Desired)) + " ready"
		if cs.Desired > 0 && cs.Ready < cs.Desired {
			p = t.Warn.Render(p)
		}
		pods[i] = p
	}
	out = append(out, row("", [2]string{t.Title.Render(heads[0]) + " " + states[0], t.Title.Render(heads[1]) + " " + states[1]}))
	out = append(out, row("image", images), row("pods", pods))
	for _, cm := range colorMetrics {
		var cells [2]string
		any := false
		for i, c := range domain.Colors {
			cells[i] = t.Muted.Render("-")
			rs := bg.Of(c).ReplicaSet
			if rs == "" || m.rsValues == nil {
				continue
			}
			if v, ok := m.rsValues[s.Namespace+"/"+rs].Get(cm.m); ok {
				cells[i], any = format.Value(cm.m, v), true
			}
		}
		if any {
			out = append(out, row(cm.label, cells))
		}
	}

	// Pods of each colour.
	for _, c := range []domain.Color{bg.Active, bg.Idle()} {
		for _, rs := range s.ReplicaSets {
			if rs.Color != c || (len(rs.Pods) == 0 && rs.Replicas == 0) {
				continue
			}
			style := t.Old
			if c == bg.Active {
				style = t.New
			}
			name := rs.Name + " "
			if m.width < 60 {
				name = ""
			}
			out = append(out, style.Render(strings.ToUpper(string(c))+" r"+strconv.FormatInt(rs.Revision, 10))+" "+name+
				strconv.Itoa(int(rs.Ready))+"/"+strconv.Itoa(int(rs.Replicas))+" ready  "+t.Muted.Render(domain.ImageTag(rs.Image)))
			out = append(out, m.podLines(rs)...)
		}
	}
	out = append(out, m.historyLines(true)...)
	return out
}

// wrap breaks s into lines of at most w cells at spaces.
func wrap(s string, w int) []string {
	var out []string
	line := ""
	for _, word := range strings.Fields(s) {
		switch {
		case line == "":
			line = word
		case len(line)+1+len(word) <= w:
			line += " " + word
		default:
			out = append(out, line)
			line = word
		}
	}
	if line != "" {
		out = append(out, line)
	}
	return out
}
