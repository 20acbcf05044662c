package domain

import (
	"context"
	"math"
	"time"
)

// Bucket is one cumulative bucket of a latency histogram: Count requests took at most LE
// seconds (LE is +Inf for the bucket of all requests).
type Bucket struct {
	LE    float64
	Count float64
}

// PodCounters are one pod's request counters as Prometheus last scraped them: since the pod
// (or its last restart) began.
type PodCounters struct {
	Namespace  string
	Pod        string
	ReplicaSet string
	// Requests counts every response, Errors those with a 5xx code.
	Requests, Errors float64
	// Latency is the request duration histogram, ascending by LE; empty when none is served.
	Latency []Bucket
}

// ReplicaSetRef names one ReplicaSet and the pods of it to read.
type ReplicaSetRef struct {
	Namespace, Name string
	// Pods are its pods as the watch knows them. Only they are read: a deleted pod's series
	// end at its next scrape, and Prometheus looks exact names up in its index where a
	// pattern must be matched against every pod name it holds.
	Pods []string
}

// CounterReader is implemented by backends that can read per-pod request counters: the guard's
// early verdict counts requests with it. One call is a fixed number of queries (one),
// whatever the number of ReplicaSets.
type CounterReader interface {
	Counters(ctx context.Context, replicaSets []ReplicaSetRef) ([]PodCounters, error)
}

// RevisionCounts are the requests one revision (ReplicaSet) served since Since: its pods'
// counters summed, adjusted for counter resets.
type RevisionCounts struct {
	Since            time.Time
	Requests, Errors float64
	Latency          []Bucket
}

// SlowerThan counts the requests slower than bound seconds from the histogram: the bucket whose
// LE is bound, or else the first bucket above it (then edge is that LE, and fewer requests are
// counted slow than truly are). ok is false when no finite bucket reaches bound.
func (c RevisionCounts) SlowerThan(bound float64) (slow, total, edge float64, ok bool) {
	n := len(c.Latency)
	if n == 0 || !math.IsInf(c.Latency[n-1].LE, 1) {
		return 0, 0, 0, false
	}
	total = c.Latency[n-1].Count
	for _, b := range c.Latency[:n-1] {
		// A bound written in the config (1, 0.25) equals its bucket's LE up to rounding.
		if b.LE >= bound*(1-1e-9) {
			return max(total-b.Count, 0), total, b.LE, true
		}
	}
	return 0, 0, 0, false
}
