package app

import (
	"fmt"
	"time"

	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/ui/format"
)

// alerts raises an alert when a service's value breaches its threshold for the threshold's
// For duration, and a resolution when it recovers.
type alerts struct {
	since  map[string]time.Time // first breached sample of an ongoing breach
	firing map[string]bool
}

func newAlerts() *alerts {
	return &alerts{since: map[string]time.Time{}, firing: map[string]bool{}}
}

// observe checks a frame and returns the events it raises, oldest first.
func (a *alerts) observe(th domain.Thresholds, svcs []domain.Service, f domain.MetricsFrame) []domain.Event {
	var out []domain.Event
	for _, s := range svcs {
		vals, ok := f.Services[s.Key()]
		if !ok {
			continue
		}
		for _, m := range domain.Metrics {
			t, ok := th.For(s.Name, m)
			if !ok {
				continue
			}
			v, ok := vals.Get(m)
			if !ok {
				continue
			}
			k := s.Key() + "|" + string(m)
			if t.Breached(v) {
				start, seen := a.since[k]
				if !seen {
					start = f.At
					a.since[k] = start
				}
				if !a.firing[k] && f.At.Sub(start) >= t.For {
					a.firing[k] = true
					out = append(out, domain.Event{
						Time: f.At, Source: domain.SourceAlert, Type: "Warning", Reason: "ThresholdBreached",
						Object: "deployment/" + s.Name,
						Message: fmt.Sprintf("%s %s %s (limit %s, for %s)", m.Title(), format.WithUnit(m, v),
							"breached", format.Limit(t), format.Age(f.At.Sub(start))),
					})
				}
				continue
			}
			delete(a.since, k)
			if a.firing[k] {
				delete(a.firing, k)
				out = append(out, domain.Event{
					Time: f.At, Source: domain.SourceAlert, Type: "Normal", Reason: "Resolved",
					Object:  "deployment/" + s.Name,
					Message: fmt.Sprintf("%s back to %s (limit %s)", m.Title(), format.WithUnit(m, v), format.Limit(t)),
				})
			}
		}
	}
	return out
}

// active is the number of alerts firing.
func (a *alerts) active() int { return len(a.firing) }
