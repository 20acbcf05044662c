package metrics

import (
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/internal/domain"
)

var t0 = time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)

func at(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

func TestStoreBoundedLatestWinsAndBackfill(t *testing.T) {
	s := NewStore(10)
	keep := map[string]bool{"shop/a": true, ReplicaSetKey("shop", "a-1"): true}
	for i := range 50 {
		s.AddFrame(domain.MetricsFrame{At: at(100 + 2*i),
			Services:    map[string]domain.Values{"shop/a": {domain.MetricCPU: float64(i)}, "shop/b": {domain.MetricCPU: 1}},
			ReplicaSets: map[string]domain.Values{"shop/a-1": {domain.MetricCPU: float64(i)}, "shop/b-1": {domain.MetricCPU: 1}}}, keep)
	}
	if s.Has("shop/b") || s.Has(ReplicaSetKey("shop", "b-1")) {
		t.Fatalf("series kept of a service not asked for: %v", s.Keys())
	}
	pts := s.Points("shop/a", domain.MetricCPU)
	if len(pts) > 20 || pts[len(pts)-1].V != 49 {
		t.Fatalf("%d points, last %v", len(pts), pts[len(pts)-1])
	}
	// A repeated time replaces, an older one is dropped.
	s.Add("shop/a", at(198), domain.Values{domain.MetricCPU: 7})
	s.Add("shop/a", at(150), domain.Values{domain.MetricCPU: 8})
	if v, _ := s.Latest("shop/a", domain.MetricCPU); v != 7 {
		t.Fatalf("latest %v", v)
	}
	if got := s.Points(ReplicaSetKey("shop", "a-1"), domain.MetricCPU); len(got) == 0 {
		t.Fatal("ReplicaSet series not kept")
	}
	// Backfill goes before the recorded points and is bounded too.
	b := NewStore(100)
	b.Add("shop/a", at(100), domain.Values{domain.MetricRequestRate: 5})
	var hist []domain.Sample
	for i := range 60 {
		hist = append(hist, domain.Sample{T: at(i * 2), V: 1})
	}
	b.Backfill("shop/a", "shop", []domain.Series{{Metric: domain.MetricRequestRate, Points: hist}})
	pts = b.Points("shop/a", domain.MetricRequestRate)
	if len(pts) != 51 || pts[len(pts)-1].V != 5 || !pts[49].T.Before(pts[50].T) {
		t.Fatalf("merged %d points, last %v", len(pts), pts[len(pts)-1])
	}
	b.Prune(func(k string) bool { return k != "shop/a" })
	if b.Has("shop/a") {
		t.Fatal("prune kept a gone service")
	}
}
