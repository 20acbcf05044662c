// Package timeline assembles the postmortem timeline of one service: the audit log (who did
// what, why, with what result), Kubernetes Events (warnings, AutoRollback, ThresholdBreached and
// ThresholdResolved), the rollout history (revisions, images, change causes) and the metrics
// around each deploy from Prometheus range queries, merged into one UTC sequence with the
// figures an incident review asks for first: deploy to first breach, breach duration, time to
// rollback, peaks, and the requests that failed, counted from the counters.
//
// Build is deterministic for a given Input (its clock included), so the Markdown is tested
// against a golden file; Collect (collect.go) fills an Input from a cluster.
package timeline

import (
	"context"
	"time"

	"github.com/opsdeck/opsdeck/internal/audit"
	"github.com/opsdeck/opsdeck/internal/domain"
)

// Kinds of timeline entries.
const (
	KindDeploy   = "deploy"
	KindRollback = "rollback"
	KindSwitch   = "switch"   // a blue-green service's selector moved to the other colour
	KindAction   = "action"   // pause, resume, restart, scale, scale-down
	KindBreach   = "breach"   // a rollout's new pods crossed a threshold (read from Prometheus)
	KindAlert    = "alert"    // a threshold alert fired (ThresholdBreached)
	KindResolved = "resolved" // it was resolved (ThresholdResolved)
	KindWarning  = "warning"  // any other Warning Event of the service's objects
)

// Sources of entries.
const (
	SourceAudit      = "audit"
	SourceEvent      = "event"
	SourceRevisions  = "rollout history"
	SourcePrometheus = "prometheus"
)

// Entry is one line of the timeline.
type Entry struct {
	Time time.Time `json:"time"`
	// Done is when the action's outcome was recorded, for an action whose intent line
	// (result "pending") came first.
	Done    *time.Time `json:"done,omitempty"`
	Kind    string     `json:"kind"`
	Summary string     `json:"summary"`
	Reason  string     `json:"reason,omitempty"`
	// By is who or what acted: the kube user, and the trigger (key, cli, guard, ...).
	By       string `json:"by,omitempty"`
	Trigger  string `json:"trigger,omitempty"`
	Revision int64  `json:"revision,omitempty"`
	Image    string `json:"image,omitempty"`
	// Result is the audit log's result: "ok", "pending" (no outcome recorded) or the error.
	Result   string `json:"result,omitempty"`
	Snapshot string `json:"snapshot,omitempty"`
	// EventTime is the time of the Kubernetes Event merged into an audit entry.
	EventTime *time.Time `json:"event_time,omitempty"`
	// Count is how many times an Event was seen (Kubernetes aggregates repeats).
	Count   int32    `json:"count,omitempty"`
	Sources []string `json:"sources"`
}

// At is when the entry's action took effect: its outcome's time when it had an intent line.
func (e Entry) At() time.Time {
	if e.Done != nil {
		return *e.Done
	}
	return e.Time
}

// Revision is one revision of the rollout history.
type Revision struct {
	Number      int64        `json:"number"`
	Image       string       `json:"image"`
	ChangeCause string       `json:"change_cause,omitempty"`
	Created     time.Time    `json:"created"`
	ReplicaSet  string       `json:"replicaset"`
	Current     bool         `json:"current"`
	Color       domain.Color `json:"color,omitempty"`
}

// Peak is the highest value of a metric and when it was reached.
type Peak struct {
	Value float64   `json:"value"`
	At    time.Time `json:"at"`
}

// Figures are the numbers at the top of the timeline, for one deploy: the last one that went
// bad in the window, else the last one.
type Figures struct {
	DeployAt       *time.Time `json:"deploy_at,omitempty"`
	DeployRevision int64      `json:"deploy_revision,omitempty"`
	DeployImage    string     `json:"deploy_image,omitempty"`
	FromImage      string     `json:"from_image,omitempty"`
	DeployBy       string     `json:"deploy_by,omitempty"`

	FirstBreachAt *time.Time `json:"first_breach_at,omitempty"`
	// FirstBreach says what crossed which threshold, and where it was read.
	FirstBreach           string   `json:"first_breach,omitempty"`
	DeployToBreachSeconds *float64 `json:"deploy_to_breach_seconds,omitempty"`

	BreachEndAt           *time.Time `json:"breach_end_at,omitempty"`
	BreachEnd             string     `json:"breach_end,omitempty"`
	BreachDurationSeconds *float64   `json:"breach_duration_seconds,omitempty"`

	RollbackAt            *time.Time `json:"rollback_at,omitempty"`
	RollbackBy            string     `json:"rollback_by,omitempty"`
	TimeToRollbackSeconds *float64   `json:"time_to_rollback_seconds,omitempty"`
	BreachToRollbackSecs  *float64   `json:"breach_to_rollback_seconds,omitempty"`

	// Peaks of the whole service (what its clients saw) from the deploy to the end of the
	// incident.
	Peak5xx *Peak `json:"peak_5xx_ratio,omitempty"`
	PeakP99 *Peak `json:"peak_p99_seconds,omitempty"`

	// FailedRequests is the number of 5xx responses from FailedFrom to FailedTo: the growth
	// of the counter behind the errors query, summed from its raw samples (FailedQuery).
	FailedRequests *float64  `json:"failed_requests,omitempty"`
	FailedFrom     time.Time `json:"failed_from,omitzero"`
	FailedTo       time.Time `json:"failed_to,omitzero"`
	FailedQuery    string    `json:"failed_query,omitempty"`
	// Missing says which figures could not be had, and why.
	Missing []string `json:"missing,omitempty"`
}

// Row is the service's values at one step of a metrics window.
type Row struct {
	Time time.Time `json:"time"`
	// Values of the whole service by metric (raw units); a metric without data is absent.
	Values map[domain.Metric]float64 `json:"values"`
	// New5xx is the 5xx ratio of the deployed revision's own pods, when they served.
	New5xx *float64 `json:"new_revision_5xx,omitempty"`
	// Marks name the timeline entries that fall within this step.
	Marks []string `json:"marks,omitempty"`
}

// Window is the metrics around one deploy.
type Window struct {
	Deploy      time.Time     `json:"deploy"`
	Revision    int64         `json:"revision,omitempty"`
	Image       string        `json:"image,omitempty"`
	ReplicaSet  string        `json:"replicaset,omitempty"`
	Start       time.Time     `json:"start"`
	End         time.Time     `json:"end"`
	Step        time.Duration `json:"step_ns"`
	StepSeconds float64       `json:"step_seconds"`
	Rows        []Row         `json:"rows,omitempty"`
	// Err says why the window has no rows.
	Err string `json:"error,omitempty"`

	newRev map[domain.Metric][]domain.Sample // the deployed revision's own series
	breach *breach                           // its first breach, if any
}

// Timeline is the whole document.
type Timeline struct {
	Namespace string      `json:"namespace"`
	Service   string      `json:"service"`
	Kind      domain.Kind `json:"kind"`
	Context   string      `json:"context,omitempty"`
	Generated time.Time   `json:"generated"`
	From      time.Time   `json:"from"`
	To        time.Time   `json:"to"`
	Figures   Figures     `json:"figures"`
	Entries   []Entry     `json:"entries"`
	Revisions []Revision  `json:"revisions"`
	Metrics   []Window    `json:"metrics"`
	// Notes say what the timeline could not see, and why.
	Notes []string `json:"notes,omitempty"`
}

// Event is a Kubernetes Event of one of the service's objects, reduced to what the timeline
// uses (core/v1 and events.k8s.io Events both convert to it).
type Event struct {
	Time    time.Time // first seen
	Last    time.Time // last seen (equal to Time when seen once)
	Count   int32
	Type    string // Normal or Warning
	Reason  string
	Object  string // kind/name
	Message string
	// Source is the reporting component ("opsdeck", "deployment-controller", ...).
	Source string
}

// MetricsReader reads the metrics of a service over a past interval; metrics.Source is one.
type MetricsReader interface {
	Between(ctx context.Context, svc domain.Service, start, end time.Time, step time.Duration) ([]domain.Series, error)
	FailedRequests(ctx context.Context, svc domain.Service, start, end time.Time) (float64, string, error)
}

// Input is everything a timeline is built from.
type Input struct {
	Service domain.Service
	Context string
	// Now is the time of the report; From and To bound the entries (To is Now when zero).
	Now, From, To time.Time
	Audit         []audit.Entry
	// AuditNote says why audit entries may be missing (no log file, unreadable), if so.
	AuditNote string
	Events    []Event
	EventsErr string
	Revisions []domain.Revision
	// Thresholds judge the metrics (the first breach).
	Thresholds domain.Thresholds
	// Metrics is nil when there is no Prometheus; MetricsErr then says why.
	Metrics    MetricsReader
	MetricsErr string
	// EventTTL is how long the API server keeps Events (1 h unless --event-ttl says otherwise).
	EventTTL time.Duration
}
