package format

import (
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/internal/domain"
)

func TestValue(t *testing.T) {
	tests := []struct {
		m    domain.Metric
		raw  float64
		want string
	}{
		{domain.MetricRequestRate, 150.26, "150"},
		{domain.MetricRequestRate, 49.71, "49.7"},
		{domain.MetricRequestRate, 0, "0.00"},
		{domain.MetricRequestRate, 250000, "250k"},
		{domain.MetricErrorRatio, 0.00213, "0.21"},
		{domain.MetricErrorRatio, 0.301, "30.1"},
		{domain.MetricErrorRatio, 1, "100"},
		{domain.MetricLatencyP99, 0.1207, "121"},
		{domain.MetricLatencyP99, 1.834, "1834"},
		{domain.MetricCPU, 0.951, "0.95"},
		{domain.MetricCPU, 12.5, "12.5"},
		{domain.MetricMemory, 120 << 20, "120"},
		{domain.MetricMemory, 5.5 * (1 << 20), "5.50"},
	}
	for _, tc := range tests {
		if got := Value(tc.m, tc.raw); got != tc.want {
			t.Errorf("Value(%s, %v) = %q, want %q", tc.m, tc.raw, got, tc.want)
		}
	}
	if got := WithUnit(domain.MetricLatencyP99, 0.12); got != "120 ms" {
		t.Errorf("WithUnit = %q", got)
	}
}

func TestAge(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-time.Second: "0s", 45 * time.Second: "45s", 119 * time.Second: "119s", 3 * time.Minute: "3m",
		150 * time.Minute: "2h", 47 * time.Hour: "47h", 100 * time.Hour: "4d",
	} {
		if got := Age(d); got != want {
			t.Errorf("Age(%s) = %q, want %q", d, got, want)
		}
	}
}

func TestBreachAndLimit(t *testing.T) {
	th := domain.Thresholds{
		Default: map[domain.Metric]domain.Threshold{
			domain.MetricErrorRatio:  {Metric: domain.MetricErrorRatio, Value: 0.05},
			domain.MetricRequestRate: {Metric: domain.MetricRequestRate, Value: 10, Below: true},
		},
		PerService: map[string]map[domain.Metric]domain.Threshold{
			"gateway": {domain.MetricErrorRatio: {Metric: domain.MetricErrorRatio, Value: 0.20}},
		},
	}
	tests := []struct {
		svc       string
		m         domain.Metric
		v         float64
		breach    bool
		has       bool
		limitText string
	}{
		{"order-service", domain.MetricErrorRatio, 0.30, true, true, "> 5.00 %"},
		{"order-service", domain.MetricErrorRatio, 0.002, false, true, "> 5.00 %"},
		{"gateway", domain.MetricErrorRatio, 0.10, false, true, "> 20.0 %"},
		{"order-service", domain.MetricRequestRate, 3, true, true, "< 10.0 req/s"},
		{"order-service", domain.MetricCPU, 9, false, false, ""},
	}
	for _, tc := range tests {
		b, h := Breach(th, domain.Service{Name: tc.svc}, tc.m, tc.v)
		if b != tc.breach || h != tc.has {
			t.Errorf("Breach(%s, %s, %v) = %v, %v", tc.svc, tc.m, tc.v, b, h)
		}
		if tr, ok := th.For(tc.svc, tc.m); ok && Limit(tr) != tc.limitText {
			t.Errorf("Limit = %q, want %q", Limit(tr), tc.limitText)
		}
	}
}

func TestFitBarSpark(t *testing.T) {
	if got := Fit("inventory-service", 10); got != "inventory…" {
		t.Errorf("Fit = %q", got)
	}
	if got := Fit("abc", 5); got != "abc  " {
		t.Errorf("Fit pad = %q", got)
	}
	if got := FitLeft("42", 4); got != "  42" {
		t.Errorf("FitLeft = %q", got)
	}
	if got := Bar(2.0/3, 6); got != "████░░" {
		t.Errorf("Bar = %q", got)
	}
	if got := Spark([]float64{0, 5, 10}, 0, 10); got != "▁▄█" {
		t.Errorf("Spark = %q", got)
	}
}

func TestBreachAndLimitOfRequest(t *testing.T) {
	th := domain.Thresholds{Default: map[domain.Metric]domain.Threshold{
		domain.MetricCPU: {Metric: domain.MetricCPU, Value: 0.9, OfRequest: true},
	}}
	for _, tc := range []struct {
		req    float64
		v      float64
		breach bool
		limit  string
	}{
		{0.25, 0.1, false, "> 0.23 cores (90 % of request)"},
		{0.25, 0.95, true, "> 0.23 cores (90 % of request)"},
		{0, 0.95, true, "> 0.90 cores"},
		{2, 0.95, false, "> 1.80 cores (90 % of request)"},
	} {
		svc := domain.Service{Name: "web", CPURequest: tc.req}
		if b, h := Breach(th, svc, domain.MetricCPU, tc.v); b != tc.breach || !h {
			t.Errorf("request %g: Breach(%g) = %v, %v", tc.req, tc.v, b, h)
		}
		if l, _ := ServiceLimit(th, svc, domain.MetricCPU); l != tc.limit {
			t.Errorf("request %g: ServiceLimit = %q, want %q", tc.req, l, tc.limit)
		}
	}
	if l := Limit(th.Default[domain.MetricCPU]); l != "> 90 % of request" {
		t.Errorf("Limit of the rule = %q", l)
	}
}
