package domain

import "time"

// Threshold is a limit on one metric. Values are in raw units: ratio (0.05 = 5 %), seconds,
// CPU cores, bytes, requests per second.
type Threshold struct {
	Metric Metric
	// Below inverts the comparison: breached when the value falls under Value.
	Below bool
	Value float64
	// For is how long a breach must last before it raises an alert or the guard acts.
	For time.Duration
	// Rollback is set when the guard may roll back on this rule; otherwise it only alerts.
	Rollback bool
	// OfRequest (CPU only) makes Value a fraction of the service's per-pod CPU request
	// (0.9 = 90 % of the request); a service without a request is held to Value cores.
	OfRequest bool
}

// LimitFor is the effective bound of t for svc, in raw units: Value times the per-pod CPU
// request when t is OfRequest and the service has a request, else Value.
func (t Threshold) LimitFor(svc Service) float64 {
	if t.OfRequest && svc.CPURequest > 0 {
		return t.Value * svc.CPURequest
	}
	return t.Value
}

// Breached tells whether v crosses the threshold.
func (t Threshold) Breached(v float64) bool {
	if t.Below {
		return v < t.Value
	}
	return v > t.Value
}

// Thresholds are the defaults per metric and the overrides per service name.
type Thresholds struct {
	Default    map[Metric]Threshold
	PerService map[string]map[Metric]Threshold
}

// For returns the threshold that applies to metric m of service name.
func (t Thresholds) For(service string, m Metric) (Threshold, bool) {
	if o, ok := t.PerService[service][m]; ok {
		return o, true
	}
	th, ok := t.Default[m]
	return th, ok
}

// ForService returns the threshold that applies to metric m of svc with Value resolved to
// its effective bound (see LimitFor) and OfRequest cleared, so Breached compares raw values.
func (t Thresholds) ForService(svc Service, m Metric) (Threshold, bool) {
	th, ok := t.For(svc.Name, m)
	if !ok {
		return th, false
	}
	th.Value, th.OfRequest = th.LimitFor(svc), false
	return th, true
}
