package guard

import (
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/opsdeck/opsdeck/internal/domain"
)

// Verdict is a service's guard state as the services table shows it.
type Verdict string

// Verdicts.
const (
	VerdictOff          Verdict = "off"
	VerdictStable       Verdict = "stable"       // outside the window: alerts only
	VerdictWatching     Verdict = "watching"     // in the window, no breach
	VerdictBreaching    Verdict = "breaching"    // a rollback rule is breached, For not yet over
	VerdictInconclusive Verdict = "inconclusive" // no data for the new revision
	VerdictNotRollout   Verdict = "not rollout"  // old and new revisions both breach: alert only
	VerdictRollingBack  Verdict = "rolling back" // decided, being executed
	VerdictHeld         Verdict = "held"         // rolled back; waiting for a new deploy or a human
)

// Status is one service's guard state with the evidence behind it.
type Status struct {
	Service string // namespace/name
	Verdict Verdict
	// Rule describes the rule in question, e.g. "errors > 5.0% for 20s".
	Rule string
	// Value is the new revision's measured value, Old the old revision's (NaN when none).
	Value, Old float64
	Metric     domain.Metric
	// Left is the time until the guard acts, while breaching.
	Left time.Duration
	// Detail is one line saying why, with the measured values.
	Detail string
}

// Short is the guard column of the services table.
func (s Status) Short() string {
	switch s.Verdict {
	case VerdictBreaching:
		return fmt.Sprintf("breach %ds", int(math.Ceil(s.Left.Seconds())))
	case "":
		return "-"
	}
	return string(s.Verdict)
}

// Decision is a rollback the guard wants performed.
type Decision struct {
	Service      domain.Service
	FromRevision int64
	FromImage    string
	FromRS       string
	ToRevision   int64
	ToImage      string
	ToRS         string
	// ToColor, for a blue-green service, is the colour to switch back to.
	ToColor domain.Color
	// Reason says why, with the rule, the measured values, the threshold and the target.
	Reason string
	// Trigger is domain.TriggerAlert for a rollback on an outside signal; empty means the
	// guard's own rules (domain.TriggerGuard).
	Trigger domain.Trigger
}

// Action is the executor request for the decision. ExpectRevision makes a second guard (or a
// human) that acted first turn this into a conflict instead of a second rollback.
func (d Decision) Action() domain.Action {
	a := domain.Action{
		Kind: domain.ActionRollback, Namespace: d.Service.Namespace, Service: d.Service.Name,
		Trigger: domain.TriggerGuard, ToRevision: d.ToRevision, ExpectRevision: d.FromRevision,
		Reason: d.Reason,
	}
	if d.Trigger != "" {
		a.Trigger = d.Trigger
	}
	if d.ToColor != "" {
		// A blue-green rollback switches to that colour; revisions are the Service's.
		a.Color, a.ToRevision = d.ToColor, 0
	}
	return a
}

// ruleText caches describeRule: the guard describes each rule of each service every round,
// and formatting it anew was a quarter of an idle guard's CPU at 2,000 services. The
// configuration holds few distinct thresholds, so the cache stays small.
var ruleText sync.Map // domain.Threshold -> string

// describeRule writes a threshold the way an SRE reads it: "errors > 5.0% for 20s".
func describeRule(th domain.Threshold) string {
	if s, ok := ruleText.Load(th); ok {
		return s.(string)
	}
	s := formatRule(th)
	ruleText.Store(th, s)
	return s
}

func formatRule(th domain.Threshold) string {
	op := ">"
	if th.Below {
		op = "<"
	}
	return fmt.Sprintf("%s %s %s for %s", th.Metric, op, formatValue(th.Metric, th.Value), th.For)
}

// formatValue writes a raw value in the metric's display unit.
func formatValue(m domain.Metric, v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	d := m.Display(v)
	unit := m.Unit()
	switch m {
	case domain.MetricErrorRatio:
		return fmt.Sprintf("%.1f%%", d)
	case domain.MetricLatencyP99:
		return fmt.Sprintf("%.0fms", d)
	case domain.MetricCPU:
		return fmt.Sprintf("%.2f cores", d)
	}
	return strings.TrimSpace(fmt.Sprintf("%.1f %s", d, unit))
}
