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
//
// The memory_growth rule (domain.MetricMemoryGrowth) is evaluated on the slope of each
// service's per-pod memory over the last GrowthWindow, from the memory values of the frames
// the Alerter has seen.
type Alerter struct {
	Thresholds domain.Thresholds
	Repeat     time.Duration
	// GrowthWindow is the span of memory samples the growth is computed over (default 1m).
	GrowthWindow time.Duration
	state        map[string]*alertState
	memory       map[string][]domain.Sample // per service key, oldest first, within GrowthWindow
}

// minGrowthSpan is the least span of memory samples a growth is computed from: shorter spans
// measure noise.
const minGrowthSpan = 10 * time.Second

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
		growth, growthOK := a.memoryGrowth(now, svc.Key(), vals, f.Err)
		for _, m := range domain.RuleMetrics {
			th, ok := a.Thresholds.ForService(svc, m)
			if !ok {
				continue
			}
			v, ok := vals.Get(m)
			if m == domain.MetricMemoryGrowth {
				v, ok = growth, growthOK
			}
			if !ok || f.Err != nil {
				continue
			}
			al := domain.Alert{Name: domain.AlertThreshold, Namespace: svc.Namespace, Service: svc.Name, Deployment: svc.Deployment(), Metric: m, Rule: describeRule(th), Value: v, Threshold: th.Value}
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
			if m == domain.MetricMemoryGrowth {
				al.Message = fmt.Sprintf("%s memory growing %s, threshold %s (%s)", svc.Name, formatValue(m, v), formatValue(m, th.Value), al.Rule)
			}
			out = append(out, al)
		}
	}
	return out
}

// memoryGrowth records the service's memory value at now and returns the growth of its
// memory in bytes per second: the least-squares slope of the samples of the last
// GrowthWindow; false while they span less than minGrowthSpan. A frame without a memory
// value adds nothing.
func (a *Alerter) memoryGrowth(now time.Time, key string, vals domain.Values, err error) (float64, bool) {
	if a.memory == nil {
		a.memory = map[string][]domain.Sample{}
	}
	window := a.GrowthWindow
	if window <= 0 {
		window = time.Minute
	}
	ring := a.memory[key]
	if v, ok := vals.Get(domain.MetricMemory); ok && err == nil {
		if n := len(ring); n > 0 && !now.After(ring[n-1].T) {
			ring = ring[:n-1] // same (or an earlier) time: the newer value wins
		}
		ring = append(ring, domain.Sample{T: now, V: v})
	}
	cut := 0
	for cut < len(ring) && now.Sub(ring[cut].T) > window {
		cut++
	}
	ring = append(ring[:0], ring[cut:]...)
	a.memory[key] = ring
	if len(ring) < 2 || ring[len(ring)-1].T.Sub(ring[0].T) < minGrowthSpan {
		return 0, false
	}
	return slope(ring), true
}

// slope is the least-squares slope of samples, per second.
func slope(samples []domain.Sample) float64 {
	t0 := samples[0].T
	var n, sx, sy, sxx, sxy float64
	for _, s := range samples {
		x := s.T.Sub(t0).Seconds()
		n++
		sx += x
		sy += s.V
		sxx += x * x
		sxy += x * s.V
	}
	d := n*sxx - sx*sx
	if d == 0 {
		return 0
	}
	return (n*sxy - sx*sy) / d
}
