package config

import "github.com/opsdeck/opsdeck/internal/domain"

// ThresholdSet converts the rules of a valid config into the domain's thresholds: the global
// rules, and per service name the rules it overrides.
func (c Config) ThresholdSet() domain.Thresholds {
	t := domain.Thresholds{
		Default:    map[domain.Metric]domain.Threshold{},
		PerService: map[string]map[domain.Metric]domain.Threshold{},
	}
	for k, r := range c.Thresholds {
		if th, ok := r.threshold(domain.Metric(k)); ok {
			t.Default[th.Metric] = th
		}
	}
	for name, sc := range c.Services {
		for k, r := range sc.Thresholds {
			th, ok := r.threshold(domain.Metric(k))
			if !ok {
				continue
			}
			if t.PerService[name] == nil {
				t.PerService[name] = map[domain.Metric]domain.Threshold{}
			}
			t.PerService[name][th.Metric] = th
		}
	}
	return t
}

// threshold converts r; false when r has no bound.
func (r Rule) threshold(m domain.Metric) (domain.Threshold, bool) {
	th := domain.Threshold{Metric: m, For: r.For.Duration, Rollback: r.Action == ActionRollback, OfRequest: r.OfRequest}
	switch {
	case r.Above != nil:
		th.Value = *r.Above
	case r.Below != nil:
		th.Value, th.Below = *r.Below, true
	default:
		return th, false
	}
	return th, true
}
