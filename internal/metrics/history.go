package metrics

import (
	"slices"
	"strings"

	"github.com/prometheus/common/model"

	"github.com/opsdeck/opsdeck/internal/domain"
)

// seriesFrom converts a range query's matrix into series of metric m: the one without the
// ReplicaSet label is the whole service's. Points that are not numbers (no traffic) are left
// out.
func seriesFrom(m domain.Metric, v model.Value, label string, svc domain.Service) []domain.Series {
	matrix, _ := v.(model.Matrix)
	out := make([]domain.Series, 0, len(matrix))
	for _, stream := range matrix {
		s := domain.Series{Metric: m, ReplicaSet: string(stream.Metric[model.LabelName(label)])}
		s.Points = make([]domain.Sample, 0, len(stream.Values))
		for _, p := range stream.Values {
			if x := float64(p.Value); finite(x) {
				s.Points = append(s.Points, domain.Sample{T: p.Timestamp.Time(), V: x})
			}
		}
		out = append(out, s)
	}
	rank := func(rs string) int {
		if rs == "" {
			return -1
		}
		for i, r := range svc.ReplicaSets {
			if r.Name == rs {
				return i
			}
		}
		return len(svc.ReplicaSets)
	}
	slices.SortFunc(out, func(a, b domain.Series) int {
		if c := rank(a.ReplicaSet) - rank(b.ReplicaSet); c != 0 {
			return c
		}
		return strings.Compare(a.ReplicaSet, b.ReplicaSet)
	})
	return out
}
