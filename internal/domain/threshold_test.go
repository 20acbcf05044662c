package domain

import "testing"

func TestThresholdLimitFor(t *testing.T) {
	cpuRel := Threshold{Metric: MetricCPU, Value: 0.9, OfRequest: true}
	cpuAbs := Threshold{Metric: MetricCPU, Value: 0.9}
	for _, tc := range []struct {
		name string
		th   Threshold
		req  float64
		want float64
	}{
		{"fraction of a 250m request", cpuRel, 0.25, 0.225},
		{"fraction of a 2-core request", cpuRel, 2, 1.8},
		{"no request: absolute cores", cpuRel, 0, 0.9},
		{"absolute ignores the request", cpuAbs, 0.25, 0.9},
	} {
		got := tc.th.LimitFor(Service{Name: "s", CPURequest: tc.req})
		if diff := got - tc.want; diff > 1e-12 || diff < -1e-12 {
			t.Errorf("%s: LimitFor = %g, want %g", tc.name, got, tc.want)
		}
	}
}

func TestThresholdsForService(t *testing.T) {
	ths := Thresholds{
		Default: map[Metric]Threshold{
			MetricCPU:    {Metric: MetricCPU, Value: 0.9, OfRequest: true},
			MetricMemory: {Metric: MetricMemory, Value: 1 << 30},
		},
		PerService: map[string]map[Metric]Threshold{
			"batch": {MetricCPU: {Metric: MetricCPU, Value: 3}},
		},
	}
	for _, tc := range []struct {
		name     string
		svc      Service
		m        Metric
		want     float64
		has      bool
		v        float64
		breached bool
	}{
		{"healthy pod at 40 % of its request", Service{Name: "web", CPURequest: 0.25}, MetricCPU, 0.225, true, 0.1, false},
		{"hog at 0.95 cores breaches", Service{Name: "web", CPURequest: 0.25}, MetricCPU, 0.225, true, 0.95, true},
		{"no request: 0.9 cores", Service{Name: "web"}, MetricCPU, 0.9, true, 0.95, true},
		{"override in cores", Service{Name: "batch", CPURequest: 0.25}, MetricCPU, 3, true, 0.95, false},
		{"memory unchanged", Service{Name: "web", CPURequest: 0.25}, MetricMemory, 1 << 30, true, 1 << 29, false},
		{"no rule", Service{Name: "web"}, MetricErrorRatio, 0, false, 1, false},
	} {
		th, ok := ths.ForService(tc.svc, tc.m)
		if ok != tc.has {
			t.Errorf("%s: ok = %v, want %v", tc.name, ok, tc.has)
			continue
		}
		if !ok {
			continue
		}
		if d := th.Value - tc.want; d > 1e-12 || d < -1e-12 || th.OfRequest {
			t.Errorf("%s: %+v, want Value %g and OfRequest cleared", tc.name, th, tc.want)
		}
		if got := th.Breached(tc.v); got != tc.breached {
			t.Errorf("%s: Breached(%g) = %v, want %v", tc.name, tc.v, got, tc.breached)
		}
	}
}
