package app

import (
	"fmt"

	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/internal/guard"
	"github.com/opsdeck/opsdeck/ui/format"
)

// alerts turns frames into the console's alert events with guard.Alerter, the implementation
// behind notifications and Kubernetes Events: an event when a breach has lasted its rule's For
// (including the memory growth rule), and one when it is over. The Alerter's periodic repeats
// of a firing alert are not shown again.
type alerts struct {
	alerter *guard.Alerter
	firing  map[string]bool // by domain.Alert.Key
}

func newAlerts() *alerts {
	return &alerts{alerter: &guard.Alerter{}, firing: map[string]bool{}}
}

// observe checks a frame and returns the events it raises, oldest first.
func (a *alerts) observe(th domain.Thresholds, svcs []domain.Service, f domain.MetricsFrame) []domain.Event {
	a.alerter.Thresholds = th
	var out []domain.Event
	for _, al := range a.alerter.Evaluate(f.At, svcs, f) {
		if !al.Resolved && al.StartsAt.Before(f.At) {
			continue // a repeat of an alert already shown
		}
		// The screen's wording: the object names the service; the limit is the one the
		// Alerter checked, resolved for the service.
		m := al.Metric
		t := domain.Threshold{Metric: m, Value: al.Threshold}
		for _, s := range svcs {
			if s.Namespace == al.Namespace && s.Name == al.Service {
				t, _ = th.ForService(s, m)
				break
			}
		}
		e := domain.Event{Time: f.At, Source: domain.SourceAlert, Object: "deployment/" + al.Service}
		if al.Resolved {
			delete(a.firing, al.Key())
			e.Type, e.Reason = "Normal", "Resolved"
			e.Message = fmt.Sprintf("%s back to %s (limit %s)", m.Title(), format.WithUnit(m, al.Value), format.Limit(t))
		} else {
			a.firing[al.Key()] = true
			e.Type, e.Reason = "Warning", "ThresholdBreached"
			e.Message = fmt.Sprintf("%s %s breached (limit %s, for %s)", m.Title(), format.WithUnit(m, al.Value), format.Limit(t), format.Age(t.For))
		}
		out = append(out, e)
	}
	return out
}

// active is the number of alerts firing.
func (a *alerts) active() int { return len(a.firing) }
