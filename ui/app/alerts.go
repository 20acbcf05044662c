package app

import (
	"fmt"
	"time"

	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/ui/format"
)

// alerts turns the threshold alerts of the stream's rounds (raised by auto-guard's Alerter,
// the one behind notifications and Kubernetes Events) into the console's alert events: one
// when a breach has lasted its rule's For (the memory growth rule included), one when it is
// over. The Alerter's periodic repeats of a firing alert are not shown again.
type alerts struct {
	firing map[string]bool // by domain.Alert.Key
}

func newAlerts() *alerts {
	return &alerts{firing: map[string]bool{}}
}

// observe returns the events of a round's alerts, oldest first, at time at (the frame's).
func (a *alerts) observe(th domain.Thresholds, svcs []domain.Service, at time.Time, raised []domain.Alert) []domain.Event {
	var out []domain.Event
	for _, al := range raised {
		if al.Name != domain.AlertThreshold {
			continue // an auto-rollback: the guard's own event says it
		}
		if !al.Resolved && a.firing[al.Key()] {
			continue // a repeat of an alert already shown
		}
		if al.Resolved && !a.firing[al.Key()] {
			continue // the end of an alert this console never showed
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
		e := domain.Event{Time: at, Source: domain.SourceAlert, Object: "deployment/" + al.Service}
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
