package guard

import (
	"fmt"
	"time"

	"github.com/opsdeck/opsdeck/internal/domain"
)

// Alerter turns threshold breaches of whole services into alerts: raised when a breach has
// lasted its rule's For, repeated at most every Repeat while it lasts (so receivers that expire
// silent alerts keep it open, and nobody is paged twice a minute), and resolved once the value
// is back within the threshold. Missing data changes nothing: no data is not a recovery.
type Alerter struct {
	Thresholds domain.Thresholds
	Repeat     time.Duration
	state      map[string]*alertState
}

type alertState struct {
	since    time.Time // breach start
	firing   bool
	started  time.Time
	lastSent time.Time
}

// Evaluate returns the alerts to raise, repeat or resolve at time now.
func (a *Alerter) Evaluate(now time.Time, services []domain.Service, f domain.MetricsFrame) []domain.Alert {
	if a.state == nil {
		a.state = map[string]*alertState{}
	}
	repeat := a.Repeat
	if repeat <= 0 {
		repeat = 5 * time.Minute
	}
	var out []domain.Alert
	for _, svc := range services {
		vals := f.Services[svc.Key()]
		for _, m := range domain.Metrics {
			th, ok := a.Thresholds.For(svc.Name, m)
			if !ok {
				continue
			}
			v, ok := vals.Get(m)
			if !ok || f.Err != nil {
				continue
			}
			al := domain.Alert{Name: domain.AlertThreshold, Namespace: svc.Namespace, Service: svc.Name, Metric: m, Rule: describeRule(th), Value: v, Threshold: th.Value}
			s := a.state[al.Key()]
			if s == nil {
				s = &alertState{}
				a.state[al.Key()] = s
			}
			if !th.Breached(v) {
				if s.firing {
					al.StartsAt, al.EndsAt, al.Resolved = s.started, now, true
					al.Message = fmt.Sprintf("resolved: %s %s is %s again (%s)", svc.Name, m.Title(), formatValue(m, v), al.Rule)
					out = append(out, al)
				}
				*s = alertState{}
				continue
			}
			if s.since.IsZero() {
				s.since = now
			}
			if now.Sub(s.since) < th.For {
				continue
			}
			if !s.firing {
				s.firing, s.started = true, now
			} else if now.Sub(s.lastSent) < repeat {
				continue
			}
			s.lastSent = now
			al.StartsAt = s.started
			al.Message = fmt.Sprintf("%s %s at %s, threshold %s (%s)", svc.Name, m.Title(), formatValue(m, v), formatValue(m, th.Value), al.Rule)
			out = append(out, al)
		}
	}
	return out
}
