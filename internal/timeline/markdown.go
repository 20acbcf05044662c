package timeline

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/guptarohit/asciigraph"

	"github.com/opsdeck/opsdeck/internal/domain"
)

// clock writes a time of the timeline: the time of day when the whole timeline is within one
// UTC day (the heading names the day), else the date too.
func clock(t, from, to time.Time) string {
	t = t.UTC()
	if from.UTC().Format(time.DateOnly) == to.UTC().Format(time.DateOnly) {
		return t.Format("15:04:05")
	}
	return t.Format("2006-01-02 15:04:05")
}

// WriteJSON writes the timeline as one indented JSON document.
func WriteJSON(w io.Writer, t Timeline) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(t)
}

// WriteMarkdown writes the timeline as Markdown that reads well in a terminal pager and pasted
// into an issue tracker: plain headings, short tables, lists, and graphs in code blocks.
func WriteMarkdown(w io.Writer, t Timeline) error {
	var b strings.Builder
	at := func(x time.Time) string { return clock(x, t.From, t.To) }
	fmt.Fprintf(&b, "# Timeline of %s/%s\n\n", t.Namespace, t.Service)
	kind := "Deployment"
	if t.Kind == domain.KindBlueGreen {
		kind = "blue-green service"
	}
	day := ""
	if t.From.Format(time.DateOnly) == t.To.Format(time.DateOnly) {
		day = t.From.Format(time.DateOnly) + ", "
	}
	fmt.Fprintf(&b, "%s%s to %s UTC · %s", day, at(t.From), at(t.To), kind)
	if t.Context != "" {
		fmt.Fprintf(&b, " · context %s", t.Context)
	}
	fmt.Fprintf(&b, " · generated %s UTC by opsdeck\n\n", t.Generated.Format("2006-01-02 15:04:05"))

	writeFigures(&b, t, at)
	writeEntries(&b, t, at)
	writeRevisions(&b, t, at)
	for _, win := range t.Metrics {
		writeWindow(&b, t, win, at)
	}
	if len(t.Notes) > 0 {
		b.WriteString("## What this timeline could not see\n\n")
		for _, n := range t.Notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeFigures(b *strings.Builder, t Timeline, at func(time.Time) string) {
	f := t.Figures
	b.WriteString("## Summary\n\n")
	if f.DeployAt == nil {
		b.WriteString("No deploy in this window.\n\n")
		return
	}
	b.WriteString("| | |\n|---|---|\n")
	row := func(k, v string) { fmt.Fprintf(b, "| %s | %s |\n", k, cell(v)) }
	dep := at(*f.DeployAt) + " UTC"
	if f.DeployImage != "" {
		dep += ", " + f.DeployImage
	}
	if f.DeployRevision != 0 {
		dep += fmt.Sprintf(" (revision %d)", f.DeployRevision)
	}
	if f.DeployBy != "" {
		dep += ", by " + f.DeployBy
	}
	row("Deploy", dep)
	if f.FirstBreachAt != nil {
		row("Deploy to first breach", fmt.Sprintf("%s, at %s: %s", fmtDuration(time.Duration(*f.DeployToBreachSeconds*float64(time.Second))), at(*f.FirstBreachAt), f.FirstBreach))
	} else {
		row("Deploy to first breach", "no breach")
	}
	if f.BreachDurationSeconds != nil {
		row("Breach duration", fmt.Sprintf("%s, until %s (%s)", fmtDuration(dur(*f.BreachDurationSeconds)), at(*f.BreachEndAt), f.BreachEnd))
	}
	if f.RollbackAt != nil {
		v := fmt.Sprintf("%s after the deploy", fmtDuration(dur(*f.TimeToRollbackSeconds)))
		if f.BreachToRollbackSecs != nil {
			v += fmt.Sprintf(", %s after the first breach", fmtDuration(dur(*f.BreachToRollbackSecs)))
		}
		v += fmt.Sprintf(", at %s by %s", at(*f.RollbackAt), f.RollbackBy)
		row("Time to rollback", v)
	} else {
		row("Time to rollback", "not rolled back")
	}
	if f.Peak5xx != nil {
		row("Peak 5xx ratio", fmt.Sprintf("%s at %s (whole service)", fmtValue(domain.MetricErrorRatio, f.Peak5xx.Value), at(f.Peak5xx.At)))
	}
	if f.PeakP99 != nil {
		row("Peak p99 latency", fmt.Sprintf("%s at %s (whole service)", fmtValue(domain.MetricLatencyP99, f.PeakP99.Value), at(f.PeakP99.At)))
	}
	if f.FailedRequests != nil {
		row("Requests that failed", fmt.Sprintf("%.0f 5xx responses from %s to %s, counted with `%s`",
			*f.FailedRequests, at(f.FailedFrom), at(f.FailedTo), f.FailedQuery))
	}
	b.WriteString("\n")
	for _, m := range f.Missing {
		fmt.Fprintf(b, "- Not known: %s\n", m)
	}
	if len(f.Missing) > 0 {
		b.WriteString("\n")
	}
}

func dur(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

var kindLabel = map[string]string{
	KindDeploy: "DEPLOY", KindRollback: "ROLLBACK", KindSwitch: "SWITCH", KindAction: "ACTION",
	KindBreach: "BREACH", KindAlert: "ALERT", KindResolved: "RESOLVED", KindWarning: "WARNING",
}

func writeEntries(b *strings.Builder, t Timeline, at func(time.Time) string) {
	b.WriteString("## Timeline (UTC)\n\n")
	if len(t.Entries) == 0 {
		b.WriteString("Nothing happened to this service in this window.\n\n")
		return
	}
	for _, e := range t.Entries {
		fmt.Fprintf(b, "- **%s** %s %s", at(e.Time), kindLabel[e.Kind], e.Summary)
		if e.By != "" {
			fmt.Fprintf(b, " — %s", e.By)
		}
		if e.Result != "" && e.Result != "ok" {
			if e.Result == "pending" {
				b.WriteString(" — no outcome recorded")
			} else {
				fmt.Fprintf(b, " — failed: %s", e.Result)
			}
		}
		if e.Done != nil {
			if d := e.Done.Sub(e.Time); d < time.Minute {
				fmt.Fprintf(b, " — done in %.1fs", d.Seconds())
			} else {
				fmt.Fprintf(b, " — done %s", at(*e.Done))
			}
		}
		fmt.Fprintf(b, " _[%s]_\n", strings.Join(e.Sources, ", "))
		if e.Reason != "" && e.Reason != e.Summary {
			fmt.Fprintf(b, "  - why: %s\n", e.Reason)
		}
		if e.Snapshot != "" {
			fmt.Fprintf(b, "  - saved before: `%s`\n", e.Snapshot)
		}
	}
	b.WriteString("\n")
}

func writeRevisions(b *strings.Builder, t Timeline, at func(time.Time) string) {
	if len(t.Revisions) == 0 {
		return
	}
	b.WriteString("## Revisions\n\n")
	bg := t.Kind == domain.KindBlueGreen
	if bg {
		b.WriteString("| Revision | Colour | Image | Created (UTC) | Change cause | |\n|---|---|---|---|---|---|\n")
	} else {
		b.WriteString("| Revision | Image | Created (UTC) | Change cause | |\n|---|---|---|---|---|\n")
	}
	for _, r := range t.Revisions {
		cur := ""
		if r.Current {
			cur = "current"
		}
		created := r.Created.Format("2006-01-02 15:04:05")
		if bg {
			fmt.Fprintf(b, "| %d | %s | %s | %s | %s | %s |\n", r.Number, r.Color, cell(r.Image), created, cell(r.ChangeCause), cur)
		} else {
			fmt.Fprintf(b, "| %d | %s | %s | %s | %s |\n", r.Number, cell(r.Image), created, cell(r.ChangeCause), cur)
		}
	}
	b.WriteString("\n")
}

// graphed are the metrics drawn around a deploy, with their display scale.
var graphed = []domain.Metric{domain.MetricErrorRatio, domain.MetricLatencyP99, domain.MetricRequestRate}

func writeWindow(b *strings.Builder, t Timeline, w Window, at func(time.Time) string) {
	title := "the deploy at " + at(w.Deploy)
	if w.Revision != 0 {
		title = fmt.Sprintf("the deploy of revision %d (%s) at %s", w.Revision, w.Image, at(w.Deploy))
	}
	fmt.Fprintf(b, "## Metrics around %s\n\n", title)
	if w.Err != "" {
		fmt.Fprintf(b, "No metrics: %s\n\n", w.Err)
		return
	}
	fmt.Fprintf(b, "Whole service, %s to %s UTC, one point every %s.\n\n", at(w.Start), at(w.End), fmtDuration(w.Step))
	deployCol := -1
	for i, r := range w.Rows {
		if !r.Time.After(w.Deploy) {
			deployCol = i
		}
	}
	for _, m := range graphed {
		vals := make([]float64, len(w.Rows))
		have := 0
		for i, r := range w.Rows {
			vals[i] = math.NaN()
			if v, ok := r.Values[m]; ok {
				vals[i] = m.Display(v)
				have++
			}
		}
		if have < 2 {
			continue
		}
		fmt.Fprintf(b, "```text\n%s (%s)\n", m.Title(), m.Unit())
		p := precision(vals)
		b.WriteString(asciigraph.Plot(vals, asciigraph.Height(5), asciigraph.Precision(p)))
		b.WriteString("\n" + axis(len(w.Rows), deployCol, graphLeft(vals, p)) + "\n```\n\n")
	}
	b.WriteString("| Time | req/s | 5xx % | p99 ms | CPU cores | memory MiB | ")
	if w.ReplicaSet != "" {
		b.WriteString("new pods' 5xx % | ")
	}
	b.WriteString("|\n|---|---:|---:|---:|---:|---:|")
	if w.ReplicaSet != "" {
		b.WriteString("---:|")
	}
	b.WriteString("---|\n")
	for _, r := range w.Rows {
		fmt.Fprintf(b, "| %s |", at(r.Time))
		for _, m := range []domain.Metric{domain.MetricRequestRate, domain.MetricErrorRatio, domain.MetricLatencyP99, domain.MetricCPU, domain.MetricMemory} {
			if v, ok := r.Values[m]; ok {
				fmt.Fprintf(b, " %s |", number(m, v))
			} else {
				b.WriteString(" – |")
			}
		}
		if w.ReplicaSet != "" {
			if r.New5xx != nil {
				fmt.Fprintf(b, " %s |", number(domain.MetricErrorRatio, *r.New5xx))
			} else {
				b.WriteString(" – |")
			}
		}
		marks := make([]string, len(r.Marks))
		for i, k := range r.Marks {
			marks[i] = kindLabel[k]
		}
		fmt.Fprintf(b, " %s |\n", strings.Join(marks, ", "))
	}
	b.WriteString("\n")
}

// number writes a value in its display unit, without the unit (the column header has it).
func number(m domain.Metric, v float64) string {
	d := m.Display(v)
	switch m {
	case domain.MetricErrorRatio, domain.MetricRequestRate:
		return fmt.Sprintf("%.1f", d)
	case domain.MetricCPU:
		return fmt.Sprintf("%.2f", d)
	}
	return fmt.Sprintf("%.0f", d)
}

// precision is the decimals the graph's labels need to tell its rows apart.
func precision(vals []float64) uint {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range vals {
		if !math.IsNaN(v) {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	switch r := hi - lo; {
	case r >= 20:
		return 0
	case r >= 2:
		return 1
	case r >= 0.2:
		return 2
	}
	return 3
}

// graphLeft is the width of asciigraph's label column for vals, so the deploy marker lines up.
func graphLeft(vals []float64, p uint) int {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range vals {
		if !math.IsNaN(v) {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	w := 0
	for _, v := range []float64{lo, hi} {
		if n := len(fmt.Sprintf("%.*f", p, v)); n > w {
			w = n
		}
	}
	return w + 2 // the label, a space and the axis character
}

// axis marks the deploy's column under a graph.
func axis(n, deployCol, left int) string {
	if deployCol < 0 {
		return ""
	}
	return strings.Repeat(" ", left+deployCol) + "^ deploy"
}

// cell makes text safe inside a Markdown table cell.
func cell(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ")
}
