package metrics

import (
	"fmt"
	"math"
	"testing"

	"github.com/prometheus/common/model"

	"github.com/opsdeck/opsdeck/internal/domain"
)

// vec builds a query result: label values of namespace and lbl, then the value.
func vec(lbl string, extra model.LabelSet, samples ...any) model.Vector {
	var out model.Vector
	for i := 0; i < len(samples); i += 3 {
		m := model.Metric{"namespace": model.LabelValue(samples[i].(string)), model.LabelName(lbl): model.LabelValue(samples[i+1].(string))}
		for k, v := range extra {
			m[k] = v
		}
		out = append(out, &model.Sample{Metric: m, Value: model.SampleValue(samples[i+2].(float64))})
	}
	return out
}

func approx(t *testing.T, what string, v domain.Values, m domain.Metric, want float64) {
	t.Helper()
	got, ok := v.Get(m)
	if !ok || math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
		t.Errorf("%s %s = %v (present %v), want %v", what, m, got, ok, want)
	}
}

func TestAggregateSumsNumeratorsAndDenominators(t *testing.T) {
	const old, cur = "checkout-5f6d7c8b9a", "checkout-7b8c9d6f5e"
	var res [numFrameQueries]model.Value
	res[qRequests] = vec("replicaset", nil, "shop", old, 100.0, "shop", cur, 50.0, "shop", "", 999.0)
	res[qErrors] = vec("replicaset", nil, "shop", old, 1.0, "shop", cur, 25.0)
	res[qCPU] = vec("replicaset", nil, "shop", old, 0.3, "shop", cur, 1.9)
	res[qMemory] = vec("replicaset", nil, "shop", old, 3*100.0, "shop", cur, 2*400.0)
	res[qPods] = append(
		vec("replicaset", model.LabelSet{"metric": "cpu"}, "shop", old, 3.0, "shop", cur, 2.0),
		vec("replicaset", model.LabelSet{"metric": "memory"}, "shop", old, 3.0, "shop", cur, 2.0)...)
	res[qP99] = vec("replicaset", nil, "shop", old, 0.1, "shop", cur, 2.0)
	res[qP99Deployment] = vec("deployment", nil, "shop", "checkout", 1.8)

	svc := domain.Service{Namespace: "shop", Name: "checkout", ReplicaSets: []domain.ReplicaSet{{Name: cur}, {Name: old}}}
	services, replicaSets := aggregate(rawFrom(res, "replicaset"), []domain.Service{svc})

	s := services["shop/checkout"]
	approx(t, "service", s, domain.MetricRequestRate, 150)
	// (1 + 25) / (100 + 50), not the average of 1 % and 50 %.
	approx(t, "service", s, domain.MetricErrorRatio, 26.0/150)
	// (0.3 + 1.9) cores over 5 pods, not the average of 0.1 and 0.95.
	approx(t, "service", s, domain.MetricCPU, 2.2/5)
	approx(t, "service", s, domain.MetricMemory, (300.0+800)/5)
	approx(t, "service", s, domain.MetricLatencyP99, 1.8)

	o, c := replicaSets["shop/"+old], replicaSets["shop/"+cur]
	approx(t, "old", o, domain.MetricErrorRatio, 0.01)
	approx(t, "new", c, domain.MetricErrorRatio, 0.5)
	approx(t, "new", c, domain.MetricCPU, 0.95)
	approx(t, "new", c, domain.MetricMemory, 400)
	approx(t, "new", c, domain.MetricLatencyP99, 2.0)
	if len(replicaSets) != 2 || len(services) != 1 {
		t.Errorf("replicasets %v, services %v", replicaSets, services)
	}
}

func TestAggregateEdgeCases(t *testing.T) {
	var res [numFrameQueries]model.Value
	// idle: requests at 0 and no 5xx series, p99 NaN (no traffic); quiet: no 5xx series.
	res[qRequests] = vec("replicaset", nil, "a", "idle-5f6d7c8b9a", 0.0, "b", "quiet-6c7d8e9f5a", 10.0, "b", "blue-7c8d9e5f6a", 30.0, "b", "green-8d9e5f6a7b", 10.0)
	res[qErrors] = vec("replicaset", nil, "b", "blue-7c8d9e5f6a", 3.0)
	res[qP99] = vec("replicaset", nil, "a", "idle-5f6d7c8b9a", math.NaN())
	res[qP99Deployment] = vec("deployment", nil, "a", "idle", math.NaN(), "b", "blue", 0.2, "b", "green", 0.4)
	services := []domain.Service{
		{Namespace: "a", Name: "idle", ReplicaSets: []domain.ReplicaSet{{Name: "idle-5f6d7c8b9a"}}},
		{Namespace: "b", Name: "quiet"}, // no ReplicaSets known yet: matched by name
		{Namespace: "b", Name: "shop", Kind: domain.KindBlueGreen, ReplicaSets: []domain.ReplicaSet{{Name: "blue-7c8d9e5f6a"}, {Name: "green-8d9e5f6a7b"}}},
		{Namespace: "c", Name: "gone", ReplicaSets: []domain.ReplicaSet{{Name: "gone-5f6d7c8b9a"}}},
	}
	svc, _ := aggregate(rawFrom(res, "replicaset"), services)

	idle := svc["a/idle"]
	approx(t, "idle", idle, domain.MetricRequestRate, 0)
	for _, m := range []domain.Metric{domain.MetricErrorRatio, domain.MetricLatencyP99, domain.MetricCPU} {
		if _, ok := idle[m]; ok {
			t.Errorf("idle service has %s = %v, want none", m, idle[m])
		}
	}
	approx(t, "quiet", svc["b/quiet"], domain.MetricErrorRatio, 0)
	approx(t, "quiet", svc["b/quiet"], domain.MetricRequestRate, 10)
	bg := svc["b/shop"]
	approx(t, "blue-green", bg, domain.MetricErrorRatio, 3.0/40)
	approx(t, "blue-green", bg, domain.MetricLatencyP99, 0.4) // the larger of its Deployments'
	if _, ok := svc["c/gone"]; ok {
		t.Error("a service without data has values")
	}
}

func TestDeploymentOf(t *testing.T) {
	for rs, want := range map[string]string{
		"order-service-7d9f8b6c4d": "order-service",
		"a-b":                      "a",
		"nodash":                   "",
		"-abc":                     "",
		"trailing-":                "",
		"upper-ABC":                "",
	} {
		if got := deploymentOf(rs); got != want {
			t.Errorf("deploymentOf(%q) = %q, want %q", rs, got, want)
		}
	}
}

// BenchmarkAggregate500 measures the pure part of a frame for 500 services of two
// ReplicaSets each: reading the seven query results and computing every value.
func BenchmarkAggregate500(b *testing.B) {
	services := manyServices(500)
	var res [numFrameQueries]model.Value
	for i := range res {
		var v model.Vector
		for _, svc := range services {
			for _, rs := range svc.ReplicaSets {
				lbl, name := "replicaset", rs.Name
				if i == qP99Deployment {
					lbl, name = "deployment", svc.Name
				}
				m := model.Metric{"namespace": model.LabelValue(svc.Namespace), model.LabelName(lbl): model.LabelValue(name)}
				if i == qPods {
					m2 := m.Clone()
					m2["metric"] = "memory"
					v = append(v, &model.Sample{Metric: m2, Value: 3})
					m["metric"] = "cpu"
				}
				v = append(v, &model.Sample{Metric: m, Value: model.SampleValue(1 + i)})
			}
		}
		res[i] = v
	}
	b.ReportAllocs()
	for b.Loop() {
		svc, rs := aggregate(rawFrom(res, "replicaset"), services)
		if len(svc) != 500 || len(rs) != 1000 {
			b.Fatal(fmt.Sprint(len(svc), len(rs)))
		}
	}
}
