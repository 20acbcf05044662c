package domain

import (
	"math"
	"time"
)

// Metric names one of the signals opsdeck draws and guards.
type Metric string

// The metrics, in the order the metrics pane draws them.
const (
	MetricRequestRate Metric = "rps"
	MetricErrorRatio  Metric = "errors"
	MetricLatencyP99  Metric = "p99"
	MetricCPU         Metric = "cpu"
	MetricMemory      Metric = "memory"
)

// Metrics lists every metric in display order.
var Metrics = []Metric{MetricRequestRate, MetricErrorRatio, MetricLatencyP99, MetricCPU, MetricMemory}

// MetricMemoryGrowth is not read from Prometheus: it is a rule on the growth of a service's
// per-pod working set in bytes per second, computed by the alerter from consecutive frames'
// memory values. Alert only.
const MetricMemoryGrowth Metric = "memory_growth"

// RuleMetrics lists every metric a threshold may be set on: Metrics and MetricMemoryGrowth.
var RuleMetrics = append(append([]Metric(nil), Metrics...), MetricMemoryGrowth)

// Unit is how a metric's value is written.
func (m Metric) Unit() string {
	switch m {
	case MetricRequestRate:
		return "req/s"
	case MetricErrorRatio:
		return "%"
	case MetricLatencyP99:
		return "ms"
	case MetricCPU:
		return "cores"
	case MetricMemory:
		return "MiB"
	case MetricMemoryGrowth:
		return "MiB/s"
	}
	return ""
}

// Title is the metric's human name.
func (m Metric) Title() string {
	switch m {
	case MetricRequestRate:
		return "request rate"
	case MetricErrorRatio:
		return "5xx ratio"
	case MetricLatencyP99:
		return "p99 latency"
	case MetricCPU:
		return "CPU"
	case MetricMemory:
		return "memory"
	case MetricMemoryGrowth:
		return "memory growth"
	}
	return string(m)
}

// Display converts a raw value (ratio, seconds, cores, bytes) into the unit of Unit.
func (m Metric) Display(v float64) float64 {
	switch m {
	case MetricErrorRatio:
		return v * 100
	case MetricLatencyP99:
		return v * 1000
	case MetricMemory, MetricMemoryGrowth:
		return v / (1 << 20)
	}
	return v
}

// Sample is one point of a series.
type Sample struct {
	T time.Time
	V float64
}

// Values holds the latest value of each metric; a missing metric has no entry.
type Values map[Metric]float64

// Get returns the value and whether it is present and a number.
func (v Values) Get(m Metric) (float64, bool) {
	x, ok := v[m]
	if !ok || math.IsNaN(x) || math.IsInf(x, 0) {
		return 0, false
	}
	return x, true
}

// MetricsFrame is the result of one refresh: the latest value of every metric per service and
// per ReplicaSet (revision), read with a fixed number of queries.
type MetricsFrame struct {
	At time.Time
	// Services is keyed by Service.Key().
	Services map[string]Values
	// ReplicaSets is keyed by namespace/replicaset-name.
	ReplicaSets map[string]Values
	// Queries is how many Prometheus queries this frame cost.
	Queries int
	// Rotation, above 1, is how many frames it takes to read every service: those neither on
	// screen nor rolling out are read a batch at a time and keep their last values between.
	Rotation int
	// Err is set when Prometheus did not answer every query of the frame: it is then
	// "Prometheus unavailable" for every service, whatever values the frame holds (a partial
	// answer is not an answer). Only a service absent from a frame without Err has no data.
	Err error
	// Counts are the request counts of the ReplicaSets the guard watches (keyed
	// namespace/replicaset-name), for its early verdict; nil when not read. CountsErr says
	// why they could not be read.
	Counts    map[string]RevisionCounts
	CountsErr error
}

// Series is a metric's history for a service or one of its ReplicaSets.
type Series struct {
	Metric     Metric
	ReplicaSet string // empty for the whole service
	Points     []Sample
}
