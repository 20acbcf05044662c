package domain

import "time"

// Alert is a threshold breach of one service that lasted its rule's For duration, or the news
// that such a breach is over (Resolved).
type Alert struct {
	// Name is the alert's name for receivers: AlertThreshold or AlertAutoRollback.
	Name      string
	Namespace string
	Service   string
	// Deployment is the Deployment the alert is about: the service's own, or for a blue-green
	// service the active colour's. Events about the alert are recorded on it.
	Deployment string
	Metric     Metric
	// Rule is the threshold as written for people, e.g. "errors > 5.0% for 20s".
	Rule      string
	Value     float64 // the measured value, raw units
	Threshold float64
	StartsAt  time.Time
	// EndsAt is set when the alert is resolved.
	EndsAt   time.Time
	Resolved bool
	// Message is one line with the measured values, for the events pane and notifications.
	Message string
}

// Key identifies the alert: one per service and metric.
func (a Alert) Key() string { return a.Namespace + "/" + a.Service + "/" + string(a.Metric) }

// Alert names.
const (
	AlertThreshold    = "OpsdeckThreshold"
	AlertAutoRollback = "OpsdeckAutoRollback"
)
