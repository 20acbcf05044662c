package timeline

import (
	"context"
	"errors"
	"fmt"
	"github.com/opsdeck/opsdeck/internal/safe"
	"os"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/opsdeck/opsdeck/internal/audit"
	"github.com/opsdeck/opsdeck/internal/domain"
)

// Sources are where Collect reads a timeline's pieces from.
type Sources struct {
	// Client lists the namespace's Events.
	Client kubernetes.Interface
	// Revisions is the service's rollout history (the watcher's, or the backend's).
	Revisions func(ctx context.Context, svc domain.Service) ([]domain.Revision, error)
	// AuditPath is the audit log file.
	AuditPath string
	// Metrics is nil when there is no Prometheus; MetricsErr says why.
	Metrics    MetricsReader
	MetricsErr string
	Thresholds domain.Thresholds
	Context    string
}

// Span is the part of the past a timeline covers: the last Since, or the hour after the
// deploy of revision Around (from 15 minutes before it).
type Span struct {
	Since  time.Duration
	Around int64
}

// Around's margins: the minutes before a deploy, and how long after it the timeline goes on.
const (
	aroundBefore = 15 * time.Minute
	aroundAfter  = time.Hour
)

// Collect reads the audit log, the Events of the service's objects and its rollout history,
// and returns the Input of its timeline at now. Only an unknown revision for Around is an
// error: a source that cannot be read becomes a note in the timeline.
func Collect(ctx context.Context, src Sources, svc domain.Service, span Span, now time.Time) (Input, error) {
	in := Input{Service: svc, Context: src.Context, Now: now, To: now, Thresholds: src.Thresholds,
		Metrics: src.Metrics, MetricsErr: src.MetricsErr}
	if src.Revisions != nil {
		revs, err := src.Revisions(ctx, svc)
		if err != nil {
			return in, fmt.Errorf("rollout history of %s: %s", svc.Key(), safe.OneLine(err.Error()))
		}
		in.Revisions = revs
	}
	entries, err := audit.Read(src.AuditPath)
	switch {
	case errors.Is(err, os.ErrNotExist):
		in.AuditNote = fmt.Sprintf("no audit log at %s (another opsdeck, e.g. an in-cluster guard, keeps its own; its actions show through their Events)", src.AuditPath)
	case err != nil:
		in.AuditNote = "audit log: " + safe.OneLine(err.Error())
	}
	in.Audit = entries

	in.From = now.Add(-span.Since)
	if span.Around != 0 {
		at, ok := deployTime(in, span.Around)
		if !ok {
			var nums []string
			for _, r := range in.Revisions {
				nums = append(nums, fmt.Sprint(r.Number))
			}
			return in, fmt.Errorf("revision %d is not in the rollout history of %s (revisions: %s); use --since instead",
				span.Around, svc.Key(), orNone(strings.Join(nums, ", ")))
		}
		in.From, in.To = at.Add(-aroundBefore), at.Add(aroundAfter)
		if in.To.After(now) {
			in.To = now
		}
	}

	if src.Client != nil {
		evs, err := src.Client.CoreV1().Events(svc.Namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			in.EventsErr = safe.OneLine(err.Error())
		} else {
			in.Events = eventsOf(evs.Items, svc, in.Revisions)
		}
	}
	return in, nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// deployTime is when revision n was deployed: its audited deploy, else its ReplicaSet's
// creation.
func deployTime(in Input, n int64) (time.Time, bool) {
	for _, r := range in.Revisions {
		if r.Number != n {
			continue
		}
		for _, a := range in.Audit {
			if a.Namespace == in.Service.Namespace && a.Service == in.Service.Name && a.Action == string(domain.ActionDeploy) &&
				a.ToImage == r.Image && a.Time.Sub(r.Created).Abs() <= mergeWithin {
				return a.Time, true
			}
		}
		return r.Created, true
	}
	return time.Time{}, false
}

// eventsOf keeps the Events of the service's objects: its Deployments (one, or a blue-green
// pair), its Service, its ReplicaSets and their pods.
func eventsOf(items []corev1.Event, svc domain.Service, revs []domain.Revision) []Event {
	deps := []string{svc.Name}
	if svc.BlueGreen != nil {
		for _, c := range domain.Colors {
			if d := svc.BlueGreen.Of(c).Deployment; d != "" {
				deps = append(deps, d)
			}
		}
	}
	var rss []string
	for _, r := range svc.ReplicaSets {
		rss = append(rss, r.Name)
	}
	for _, r := range revs {
		rss = append(rss, r.ReplicaSet)
	}
	var out []Event
	for _, e := range items {
		o := e.InvolvedObject
		keep := false
		switch o.Kind {
		case "Deployment":
			keep = slices.Contains(deps, o.Name)
		case "Service":
			keep = o.Name == svc.Name && svc.BlueGreen != nil
		case "ReplicaSet":
			keep = slices.Contains(rss, o.Name)
		case "Pod":
			for _, rs := range rss {
				if rs != "" && strings.HasPrefix(o.Name, rs+"-") {
					keep = true
					break
				}
			}
		}
		if keep {
			out = append(out, convertEvent(e))
		}
	}
	slices.SortStableFunc(out, func(a, b Event) int { return a.Time.Compare(b.Time) })
	return out
}

func convertEvent(e corev1.Event) Event {
	first := e.FirstTimestamp.Time
	if first.IsZero() {
		first = e.EventTime.Time
	}
	if first.IsZero() {
		first = e.CreationTimestamp.Time
	}
	last := e.LastTimestamp.Time
	count := e.Count
	if e.Series != nil {
		last, count = e.Series.LastObservedTime.Time, e.Series.Count
	}
	if last.IsZero() {
		last = first
	}
	src := e.ReportingController
	if src == "" {
		src = e.Source.Component
	}
	return Event{Time: first, Last: last, Count: count, Type: e.Type, Reason: e.Reason,
		Object: strings.ToLower(e.InvolvedObject.Kind) + "/" + e.InvolvedObject.Name, Message: e.Message, Source: src}
}
