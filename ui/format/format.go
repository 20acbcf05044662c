// Package format writes metric values, ages and table cells for the console's panes. It is
// pure and allocation-light: the services table calls it for every visible cell.
package format

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/opsdeck/opsdeck/internal/domain"
)

// Value writes a raw metric value in the metric's display unit, without the unit, in at most
// 6 characters for the table: "150", "12.3", "0.21", "1834", "0.95".
func Value(m domain.Metric, raw float64) string {
	v := m.Display(raw)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "?"
	}
	switch m {
	case domain.MetricCPU:
		if v < 10 {
			return strconv.FormatFloat(v, 'f', 2, 64)
		}
	case domain.MetricErrorRatio:
		switch {
		case v < 10:
			return strconv.FormatFloat(v, 'f', 2, 64)
		case v < 100:
			return strconv.FormatFloat(v, 'f', 1, 64)
		}
	}
	switch a := math.Abs(v); {
	case a >= 100000:
		return strconv.FormatFloat(v/1000, 'f', 0, 64) + "k"
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// WithUnit writes a raw value with its unit: "150 req/s", "0.21 %", "120 ms".
func WithUnit(m domain.Metric, raw float64) string {
	return Value(m, raw) + " " + m.Unit()
}

// Age writes a duration as kubectl does in its AGE column: 45s, 3m, 2h, 4d.
func Age(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < 2*time.Minute:
		return strconv.Itoa(int(d/time.Second)) + "s"
	case d < 2*time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + "m"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d/time.Hour)) + "h"
	}
	return strconv.Itoa(int(d/(24*time.Hour))) + "d"
}

// Breach tells whether a value crosses the threshold of service svc for metric m (resolved
// for svc, e.g. against its CPU request), and whether there is a threshold at all.
func Breach(th domain.Thresholds, svc domain.Service, m domain.Metric, raw float64) (breached, has bool) {
	t, ok := th.ForService(svc, m)
	if !ok {
		return false, false
	}
	return t.Breached(raw), true
}

// Limit writes a threshold as "> 5 %" or "< 10 req/s" in display units; a threshold still
// relative to the CPU request as "> 90 % of request".
func Limit(t domain.Threshold) string {
	op := "> "
	if t.Below {
		op = "< "
	}
	if t.OfRequest {
		return op + strconv.FormatFloat(t.Value*100, 'f', -1, 64) + " % of request"
	}
	return op + Value(t.Metric, t.Value) + " " + t.Metric.Unit()
}

// ServiceLimit writes the threshold of svc for metric m resolved for svc, followed by the
// rule when it is relative to the CPU request: "> 0.23 cores (90 % of request)".
func ServiceLimit(th domain.Thresholds, svc domain.Service, m domain.Metric) (string, bool) {
	t, ok := th.ForService(svc, m)
	if !ok {
		return "", false
	}
	out := Limit(t)
	if raw, _ := th.For(svc.Name, m); raw.OfRequest && svc.CPURequest > 0 {
		out += " (" + strings.TrimPrefix(strings.TrimPrefix(Limit(raw), "> "), "< ") + ")"
	}
	return out, true
}

// Fit truncates s (which may hold ANSI styles) to w cells with an ellipsis, or pads it with
// spaces to exactly w cells.
func Fit(s string, w int) string {
	if w <= 0 {
		return ""
	}
	n := ansi.StringWidth(s)
	if n > w {
		return ansi.Truncate(s, w, "…")
	}
	return s + strings.Repeat(" ", w-n)
}

// FitLeft is Fit with the text aligned right.
func FitLeft(s string, w int) string {
	if w <= 0 {
		return ""
	}
	n := ansi.StringWidth(s)
	if n > w {
		return ansi.Truncate(s, w, "…")
	}
	return strings.Repeat(" ", w-n) + s
}

// Bar draws a text progress bar of width cells for frac in [0, 1].
func Bar(frac float64, width int) string {
	if width <= 0 {
		return ""
	}
	frac = math.Max(0, math.Min(1, frac))
	full := int(math.Round(frac * float64(width)))
	return strings.Repeat("█", full) + strings.Repeat("░", width-full)
}

// Spark draws values as a one-line sparkline of block characters over [lo, hi].
func Spark(vals []float64, lo, hi float64) string {
	const blocks = "▁▂▃▄▅▆▇█"
	runes := []rune(blocks)
	var b strings.Builder
	for _, v := range vals {
		if math.IsNaN(v) {
			b.WriteByte(' ')
			continue
		}
		i := 0
		if hi > lo {
			i = int((v - lo) / (hi - lo) * float64(len(runes)-1))
		}
		b.WriteRune(runes[max(0, min(len(runes)-1, i))])
	}
	return b.String()
}
