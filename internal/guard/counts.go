package guard

import (
	"math"
	"sort"
	"time"

	"github.com/opsdeck/opsdeck/internal/domain"
)

// countScope is one ReplicaSet whose requests the guard counts this round.
type countScope struct {
	// Since is when its counting began: the new revision's creation (its pods' counters
	// started at 0 then); zero means at its first reading.
	Since time.Time
	// Old is set for a revision that served before the guard read it: it is counted from its
	// first reading (what its pods had counted then is subtracted), so that it is compared
	// with the new one over the same time.
	Old bool
	// Pods are its pods' names, the ones read.
	Pods []string
}

// counterBook turns per-pod counter readings, round after round, into per-revision counts
// since each revision's first sample. A pod's counters restart at 0 when its container
// restarts: a reading below the last one adds the last one to the pod's offset, so no request
// counted is lost. A pod that disappears (scaled down, evicted) keeps what it counted.
type counterBook struct {
	pods  map[string]*podCount // namespace/pod
	first map[string]time.Time // namespace/replicaset: its first reading
}

type podCount struct {
	rs   string // namespace/replicaset
	last counterValues
	// offset is what earlier lives of the pod counted; base what it had counted when an old
	// revision's pod was first read (subtracted).
	offset, base counterValues
}

type counterValues struct {
	requests, errors float64
	latency          map[float64]float64 // cumulative count by LE
}

func newCounterBook() *counterBook {
	return &counterBook{pods: map[string]*podCount{}, first: map[string]time.Time{}}
}

// observe records this round's readings for the ReplicaSets of scope (keyed
// namespace/replicaset) and returns each one's counts. ReplicaSets out of scope are forgotten.
// A ReplicaSet with no pod ever read has no entry (no data).
func (b *counterBook) observe(now time.Time, scope map[string]countScope, readings []domain.PodCounters) map[string]domain.RevisionCounts {
	for _, r := range readings {
		key := r.Namespace + "/" + r.ReplicaSet
		if _, ok := scope[key]; !ok {
			continue
		}
		if _, ok := b.first[key]; !ok {
			b.first[key] = now
		}
		v := valuesOf(r)
		p := b.pods[r.Namespace+"/"+r.Pod]
		if p == nil {
			p = &podCount{rs: key}
			if scope[key].Old {
				p.base = v
			}
			b.pods[r.Namespace+"/"+r.Pod] = p
		} else if v.below(p.last) {
			p.offset = p.offset.plus(p.last)
		}
		p.last = v
	}
	for key, p := range b.pods {
		if _, ok := scope[p.rs]; !ok {
			delete(b.pods, key)
		}
	}
	for key := range b.first {
		if _, ok := scope[key]; !ok {
			delete(b.first, key)
		}
	}

	sums := map[string]counterValues{}
	for _, p := range b.pods {
		sums[p.rs] = sums[p.rs].plus(p.offset.plus(p.last).minus(p.base))
	}
	out := make(map[string]domain.RevisionCounts, len(sums))
	for key, v := range sums {
		c := domain.RevisionCounts{Since: scope[key].Since, Requests: v.requests, Errors: v.errors}
		if c.Since.IsZero() {
			c.Since = b.first[key]
		}
		for le, n := range v.latency {
			c.Latency = append(c.Latency, domain.Bucket{LE: le, Count: n})
		}
		sort.Slice(c.Latency, func(i, j int) bool { return c.Latency[i].LE < c.Latency[j].LE })
		out[key] = c
	}
	return out
}

func valuesOf(r domain.PodCounters) counterValues {
	v := counterValues{requests: r.Requests, errors: r.Errors, latency: make(map[float64]float64, len(r.Latency))}
	for _, bk := range r.Latency {
		v.latency[bk.LE] = bk.Count
	}
	return v
}

// below tells whether any counter went down since last: the pod's counters were reset.
func (v counterValues) below(last counterValues) bool {
	if v.requests < last.requests || v.errors < last.errors {
		return true
	}
	for le, n := range last.latency {
		if m, ok := v.latency[le]; ok && m < n {
			return true
		}
	}
	return false
}

func (v counterValues) plus(w counterValues) counterValues {
	out := counterValues{requests: v.requests + w.requests, errors: v.errors + w.errors, latency: map[float64]float64{}}
	for le, n := range v.latency {
		out.latency[le] += n
	}
	for le, n := range w.latency {
		out.latency[le] += n
	}
	return out
}

func (v counterValues) minus(w counterValues) counterValues {
	out := counterValues{requests: math.Max(v.requests-w.requests, 0), errors: math.Max(v.errors-w.errors, 0), latency: map[float64]float64{}}
	for le, n := range v.latency {
		out.latency[le] = math.Max(n-w.latency[le], 0)
	}
	return out
}
