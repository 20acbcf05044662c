package metrics

import (
	"sort"
	"strings"
	"time"

	"github.com/opsdeck/opsdeck/internal/domain"
)

// Store keeps a bounded series per metric for the services and ReplicaSets whose history is
// shown, fed by metrics frames (latest wins for a repeated time) and by one History backfill
// per service. It is owned by the root model and changed only from Update.
type Store struct {
	capacity int
	series   map[string]*[numMetrics]buffer
	version  uint64
}

const numMetrics = 5

func metricIndex(m domain.Metric) int {
	switch m {
	case domain.MetricRequestRate:
		return 0
	case domain.MetricErrorRatio:
		return 1
	case domain.MetricLatencyP99:
		return 2
	case domain.MetricCPU:
		return 3
	case domain.MetricMemory:
		return 4
	}
	return -1
}

// NewStore keeps at most capacity points per series.
func NewStore(capacity int) *Store {
	return &Store{capacity: max(capacity, 8), series: map[string]*[numMetrics]buffer{}}
}

// ServiceKey is the store key of a service (its domain key).
func ServiceKey(svc domain.Service) string { return svc.Key() }

// ReplicaSetKey is the store key of a ReplicaSet, as frames key them: namespace/name.
func ReplicaSetKey(ns, rs string) string { return "rs:" + ns + "/" + rs }

// Version changes whenever the store does.
func (s *Store) Version() uint64 { return s.version }

// Add records values of one key at time t.
func (s *Store) Add(key string, t time.Time, v domain.Values) {
	set := s.set(key)
	for _, m := range domain.Metrics {
		if y, ok := v.Get(m); ok {
			set[metricIndex(m)].add(domain.Sample{T: t, V: y}, s.capacity)
		}
	}
	s.version++
}

// AddFrame records the services and ReplicaSets of a metrics frame whose store keys keep
// holds. A frame carries every service's values; keeping a series of each, at 2,000 services,
// grew by a megabyte every few seconds for a history no one was shown.
func (s *Store) AddFrame(f domain.MetricsFrame, keep map[string]bool) {
	for k := range keep {
		if v, ok := f.Services[k]; ok {
			s.Add(k, f.At, v)
		} else if rs, ok := strings.CutPrefix(k, "rs:"); ok {
			if v, ok := f.ReplicaSets[rs]; ok {
				s.Add(k, f.At, v)
			}
		}
	}
}

// Keys are the keys the store holds series of, in no order.
func (s *Store) Keys() []string {
	out := make([]string, 0, len(s.series))
	for k := range s.series {
		out = append(out, k)
	}
	return out
}

// Backfill merges a History result of a service in namespace ns: points older than those
// already recorded are put before them.
func (s *Store) Backfill(svcKey, ns string, series []domain.Series) {
	for _, sr := range series {
		i := metricIndex(sr.Metric)
		if i < 0 || len(sr.Points) == 0 {
			continue
		}
		key := svcKey
		if sr.ReplicaSet != "" {
			key = ReplicaSetKey(ns, sr.ReplicaSet)
		}
		s.set(key)[i].prepend(sr.Points, s.capacity)
	}
	s.version++
}

// Points returns the recorded points of key's metric, oldest first. The slice is shared:
// do not change it.
func (s *Store) Points(key string, m domain.Metric) []domain.Sample {
	set, ok := s.series[key]
	i := metricIndex(m)
	if !ok || i < 0 {
		return nil
	}
	return set[i].pts
}

// Latest is the newest value of key's metric.
func (s *Store) Latest(key string, m domain.Metric) (float64, bool) {
	p := s.Points(key, m)
	if len(p) == 0 {
		return 0, false
	}
	return p[len(p)-1].V, true
}

// Has tells whether anything was recorded for key.
func (s *Store) Has(key string) bool {
	_, ok := s.series[key]
	return ok
}

// Prune forgets every key for which keep returns false.
func (s *Store) Prune(keep func(key string) bool) {
	for k := range s.series {
		if !keep(k) {
			delete(s.series, k)
		}
	}
	s.version++
}

func (s *Store) set(key string) *[numMetrics]buffer {
	set := s.series[key]
	if set == nil {
		set = &[numMetrics]buffer{}
		s.series[key] = set
	}
	return set
}

// buffer is a bounded, time-ordered series.
type buffer struct{ pts []domain.Sample }

func (b *buffer) add(p domain.Sample, capacity int) {
	n := len(b.pts)
	switch {
	case n > 0 && p.T.Equal(b.pts[n-1].T):
		b.pts[n-1] = p // latest wins
		return
	case n > 0 && p.T.Before(b.pts[n-1].T):
		return // a stale frame
	}
	if n >= 2*capacity {
		b.pts = append(b.pts[:0:0], b.pts[n-capacity+1:]...)
	}
	b.pts = append(b.pts, p)
}

func (b *buffer) prepend(pts []domain.Sample, capacity int) {
	first := time.Time{}
	if len(b.pts) > 0 {
		first = b.pts[0].T
	}
	cut := len(pts)
	if !first.IsZero() {
		cut = sort.Search(len(pts), func(i int) bool { return !pts[i].T.Before(first) })
	}
	merged := make([]domain.Sample, 0, cut+len(b.pts))
	merged = append(merged, pts[:cut]...)
	merged = append(merged, b.pts...)
	if len(merged) > capacity {
		merged = merged[len(merged)-capacity:]
	}
	b.pts = merged
}
