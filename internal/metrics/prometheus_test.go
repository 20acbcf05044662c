package metrics

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/config"
	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/internal/metrics/promtest"
	"github.com/opsdeck/opsdeck/internal/sandbox"
	"github.com/opsdeck/opsdeck/internal/simulator"
)

const (
	healthyRS = "order-service-7d9f8b6c4d"
	badRS     = "order-service-6c8f7d9b5c"
)

// orderService is a Deployment in the middle of a bad rollout: three healthy pods of v1 and
// three of v2-bad.
var orderService = domain.Service{
	Namespace: "shop",
	Name:      "order-service",
	Kind:      domain.KindDeployment,
	Image:     "order-service:v2-bad",
	ReplicaSets: []domain.ReplicaSet{
		{Name: badRS, Revision: 2, Image: "order-service:v2-bad", Replicas: 3},
		{Name: healthyRS, Revision: 1, Image: "order-service:v1", Replicas: 3},
	},
}

// shopSuffixes end the names of orderService's pods, three in each ReplicaSet.
var shopSuffixes = []string{"abcde", "fghij", "klmno"}

// startShop serves a simulator with orderService's six pods and a Prometheus scraping it.
func startShop(t *testing.T) *Source {
	t.Helper()
	src, _, _ := startShopSim(t)
	return src
}

// startShopSim is startShop that also gives the simulator and Prometheus's URL.
func startShopSim(t *testing.T) (*Source, *simulator.Simulator, string) {
	t.Helper()
	sim := simulator.New()
	for i, suffix := range shopSuffixes {
		started := time.Now().Add(-time.Duration(i) * time.Minute)
		sim.Upsert(simulator.Pod{Namespace: "shop", Name: healthyRS + "-" + suffix, Container: "app", Image: "order-service:v1", Started: started})
		sim.Upsert(simulator.Pod{Namespace: "shop", Name: badRS + "-" + suffix, Container: "app", Image: "order-service:v2-bad", Started: started})
	}
	srv := httptest.NewServer(simulator.Handler(sim))
	t.Cleanup(srv.Close)
	url := promtest.Start(t, srv.Listener.Addr().String())

	// A rate over 1m of a series younger than a minute reads low (Prometheus extrapolates at
	// most half a scrape interval past the first sample): a 10s window converges in 10s.
	q := config.DefaultQueries()
	q.Window = config.D(10 * time.Second)
	src, err := New(config.Prometheus{URL: url, Timeout: config.D(10 * time.Second)}, q, nil)
	if err != nil {
		t.Fatal(err)
	}
	return src, sim, url
}

// waitFrame reads frames until ok accepts one, failing with the last one at the deadline.
func waitFrame(t *testing.T, src *Source, services []domain.Service, ok func(domain.MetricsFrame) error) domain.MetricsFrame {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		f := src.Frame(context.Background(), services)
		err := f.Err
		if err == nil {
			err = ok(f)
		}
		if err == nil {
			return f
		}
		if time.Now().After(deadline) {
			t.Fatalf("no good frame within 90s: %v\nlast frame: %s", err, dumpFrame(f))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func dumpFrame(f domain.MetricsFrame) string {
	var b strings.Builder
	fmt.Fprintf(&b, "queries %d, err %v\n", f.Queries, f.Err)
	for k, v := range f.Services {
		fmt.Fprintf(&b, "  service %s: %v\n", k, v)
	}
	for k, v := range f.ReplicaSets {
		fmt.Fprintf(&b, "  replicaset %s: %v\n", k, v)
	}
	return b.String()
}

// between checks that metric m of values is in [lo, hi].
func between(what string, v domain.Values, m domain.Metric, lo, hi float64) error {
	x, ok := v.Get(m)
	if !ok {
		return fmt.Errorf("%s: no %s", what, m)
	}
	if x < lo || x > hi {
		return fmt.Errorf("%s: %s = %.4g, want %.4g..%.4g", what, m, x, lo, hi)
	}
	return nil
}

func TestFrameAgainstPrometheus(t *testing.T) {
	src := startShop(t)
	services := []domain.Service{orderService}
	begin := time.Now()

	f := waitFrame(t, src, services, func(f domain.MetricsFrame) error {
		bad, healthy, svc := f.ReplicaSets["shop/"+badRS], f.ReplicaSets["shop/"+healthyRS], f.Services["shop/order-service"]
		for _, err := range []error{
			between("bad rs", bad, domain.MetricErrorRatio, 0.2, 0.4),
			between("healthy rs", healthy, domain.MetricErrorRatio, 0, 0.01),
			between("bad rs", bad, domain.MetricRequestRate, 140, 160),
			between("healthy rs", healthy, domain.MetricRequestRate, 140, 160),
			between("healthy rs", healthy, domain.MetricLatencyP99, 0.08, 0.2),
			between("bad rs", bad, domain.MetricLatencyP99, 0.08, 0.2),
			between("healthy rs", healthy, domain.MetricCPU, 0.09, 0.11),
			between("healthy rs", healthy, domain.MetricMemory, 110*simulator.MiB, 130*simulator.MiB),
			between("service", svc, domain.MetricRequestRate, 280, 320),
			// Summed 5xx over summed requests: (0.3·150 + 0.002·150) / 300.
			between("service", svc, domain.MetricErrorRatio, 0.1, 0.2),
			between("service", svc, domain.MetricLatencyP99, 0.08, 0.2),
			between("service", svc, domain.MetricCPU, 0.09, 0.11),
			between("service", svc, domain.MetricMemory, 110*simulator.MiB, 130*simulator.MiB),
		} {
			if err != nil {
				return err
			}
		}
		return nil
	})
	t.Logf("frame after %s:\n%s", time.Since(begin).Round(time.Second), dumpFrame(f))

	// The number of queries does not grow with the number of services.
	for _, n := range []int{5, 500} {
		many := manyServices(n)
		many[0] = orderService
		start := time.Now()
		f := src.Frame(context.Background(), many)
		took := time.Since(start)
		if f.Err != nil {
			t.Fatalf("%d services: %v", n, f.Err)
		}
		if f.Queries != numFrameQueries {
			t.Errorf("%d services: %d queries, want %d", n, f.Queries, numFrameQueries)
		}
		if _, ok := f.Services["shop/order-service"].Get(domain.MetricErrorRatio); !ok {
			t.Errorf("%d services: order-service has no error ratio", n)
		}
		t.Logf("%d services: %d queries, %s", n, f.Queries, took.Round(time.Millisecond))
	}

	if err := src.Ping(context.Background()); err != nil {
		t.Errorf("Ping: %v", err)
	}

	series, err := src.History(context.Background(), orderService, 2*time.Minute, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]domain.Series{}
	for _, s := range series {
		got[string(s.Metric)+"/"+s.ReplicaSet] = s
	}
	for _, m := range domain.Metrics {
		for _, rs := range []string{"", badRS, healthyRS} {
			if s, ok := got[string(m)+"/"+rs]; !ok || len(s.Points) == 0 {
				t.Errorf("history: no %s series for %q", m, rs)
			}
		}
	}
	if len(series) != 3*len(domain.Metrics) {
		t.Errorf("history: %d series, want %d", len(series), 3*len(domain.Metrics))
	}
	if len(series) > 0 && (series[0].Metric != domain.MetricRequestRate || series[0].ReplicaSet != "" || series[1].ReplicaSet != badRS) {
		t.Errorf("history order: %s/%q, %s/%q first", series[0].Metric, series[0].ReplicaSet, series[1].Metric, series[1].ReplicaSet)
	}
	last := func(key string) float64 {
		p := got[key].Points
		if len(p) == 0 {
			return math.NaN()
		}
		return p[len(p)-1].V
	}
	if v := last("errors/" + badRS); !(v > 0.2 && v < 0.4) {
		t.Errorf("history: bad ReplicaSet's error ratio ends at %v", v)
	}
	if v := last("errors/"); !(v > 0.1 && v < 0.2) {
		t.Errorf("history: service error ratio ends at %v", v)
	}
	if v := last("p99/" + healthyRS); !(v > 0.08 && v < 0.2) {
		t.Errorf("history: healthy p99 ends at %v", v)
	}
}

// manyServices are n services in 10 namespaces, each with two ReplicaSets.
func manyServices(n int) []domain.Service {
	out := make([]domain.Service, n)
	for i := range out {
		name := fmt.Sprintf("svc-%03d", i)
		out[i] = domain.Service{
			Namespace: fmt.Sprintf("team-%d", i%10),
			Name:      name,
			ReplicaSets: []domain.ReplicaSet{
				{Name: fmt.Sprintf("%s-%x", name, 0x5f6d7c8b00+i)},
				{Name: fmt.Sprintf("%s-%x", name, 0x7b8c9d6f00+i)},
			},
		}
	}
	return out
}

// With config/examples/prometheus-rules.yaml loaded, the source finds the recorded series and
// reads them: the same values as the raw queries, from far fewer samples (Prometheus's own
// count).
func TestFrameWithRecordingRules(t *testing.T) {
	sim := simulator.New()
	for _, suffix := range []string{"abcde", "fghij", "klmno"} {
		sim.Upsert(simulator.Pod{Namespace: "shop", Name: healthyRS + "-" + suffix, Container: "app", Image: "order-service:v1", Started: time.Now()})
		sim.Upsert(simulator.Pod{Namespace: "shop", Name: badRS + "-" + suffix, Container: "app", Image: "order-service:v2-bad", Started: time.Now()})
	}
	srv := httptest.NewServer(simulator.Handler(sim))
	t.Cleanup(srv.Close)
	url := promtest.StartWithRules(t, "../../config/examples/prometheus-rules.yaml", srv.Listener.Addr().String())
	p := config.Prometheus{URL: url, Timeout: config.D(10 * time.Second)}
	raw, err := New(p, config.DefaultQueries(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var src *Source
	deadline := time.Now().Add(90 * time.Second)
	for {
		// A new source looks the rules up at once (a running one every few minutes).
		if src, err = New(p, config.DefaultQueries(), nil); err != nil {
			t.Fatal(err)
		}
		if src.useRules(context.Background()) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the recorded series never appeared")
		}
		time.Sleep(500 * time.Millisecond)
	}
	raw.rulesApply = false // the raw queries, for comparison
	services := []domain.Service{orderService}
	for _, q := range src.FrameQueries(context.Background(), services) {
		if q != "" && !strings.Contains(q, "namespace_") {
			t.Errorf("with the rules loaded, a query reads raw series: %s", q)
		}
	}
	f := waitFrame(t, src, services, func(f domain.MetricsFrame) error {
		bad, healthy := f.ReplicaSets["shop/"+badRS], f.ReplicaSets["shop/"+healthyRS]
		for _, err := range []error{
			between("bad rs", bad, domain.MetricErrorRatio, 0.2, 0.4),
			between("healthy rs", healthy, domain.MetricErrorRatio, 0, 0.01),
			between("healthy rs", healthy, domain.MetricLatencyP99, 0.08, 0.2),
			between("service", f.Services["shop/order-service"], domain.MetricLatencyP99, 0.08, 0.2),
			between("healthy rs", healthy, domain.MetricCPU, 0.01, 0.2),
			between("healthy rs", healthy, domain.MetricMemory, 110*simulator.MiB, 130*simulator.MiB),
		} {
			if err != nil {
				return err
			}
		}
		return nil
	})
	t.Logf("frame from the recorded series:\n%s", dumpFrame(f))
	if rf := raw.Frame(context.Background(), services); rf.Err != nil || rf.Queries != f.Queries {
		t.Errorf("raw frame: %d queries, %v; recorded frame %d", rf.Queries, rf.Err, f.Queries)
	}
	// Prometheus's own count of the samples each frame reads.
	touched := func(qs []string) (n int64) {
		for _, q := range qs {
			if q == "" {
				continue
			}
			resp, err := http.PostForm(url+"/api/v1/query", neturl.Values{"query": {q}, "stats": {"all"}})
			if err != nil {
				t.Fatal(err)
			}
			var body struct {
				Data struct {
					Stats struct {
						Samples struct {
							Total int64 `json:"totalQueryableSamples"`
						} `json:"samples"`
					} `json:"stats"`
				} `json:"data"`
			}
			err = json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			n += body.Data.Stats.Samples.Total
		}
		return n
	}
	rec, rawN := touched(src.FrameQueries(context.Background(), services)), touched(raw.FrameQueries(context.Background(), services))
	t.Logf("samples read by a frame: %d from the recorded series, %d from the per-pod series", rec, rawN)
	if rec == 0 || rec*5 > rawN {
		t.Errorf("the recorded frame read %d samples, the raw one %d: want at most a fifth", rec, rawN)
	}
	if !src.UsesRules() || raw.UsesRules() {
		t.Errorf("UsesRules: recorded %v, raw %v", src.UsesRules(), raw.UsesRules())
	}
}

// A pod deleted within the rate window still has samples in it. A frame that matches pods by
// name (the watch has seen them all) reads the deleted ones through the service's GonePods,
// as matching by Deployment does: a rollback that deletes the bad pods must not hide, for a
// window, the errors they served. Matching only the pods still running would.
func TestFrameReadsGonePodsWithinTheWindow(t *testing.T) {
	src, sim, url := startShopSim(t)
	svc := orderService
	svc.PodsKnownSince = time.Now().Add(-time.Hour)
	svc.ReplicaSets = slices.Clone(orderService.ReplicaSets)
	var badPods []string
	for i := range svc.ReplicaSets {
		rs := &svc.ReplicaSets[i]
		rs.Pods = nil
		for _, suffix := range shopSuffixes {
			rs.Pods = append(rs.Pods, domain.Pod{Name: rs.Name + "-" + suffix})
			if rs.Name == badRS {
				badPods = append(badPods, rs.Name+"-"+suffix)
			}
		}
	}
	b := src.b
	b.now = time.Now()
	if q := b.frameQueries([]domain.Service{svc}, nil); !strings.Contains(q[qErrors], `pod=~"`+badRS+"-abcde|") {
		t.Fatalf("the frame does not match the pods by name: %s", q[qErrors])
	}
	waitFrame(t, src, []domain.Service{svc}, func(f domain.MetricsFrame) error {
		return between("bad rs", f.ReplicaSets["shop/"+badRS], domain.MetricErrorRatio, 0.2, 0.4)
	})

	// The rollback: the bad pods go, and their series end at the next scrape.
	for _, p := range badPods {
		sim.Delete("shop", p)
	}
	sandbox.WaitFor(t, 10*time.Second, "the deleted pods' series to end", func() (bool, string) {
		got, err := sandbox.Query(context.Background(), url, `http_requests_total{pod=~"`+badRS+`-.*"}`)
		return err == nil && len(got) == 0, fmt.Sprintf("%d series, err %v", len(got), err)
	})
	rolledBack := svc
	rolledBack.ReplicaSets = slices.Clone(svc.ReplicaSets)
	rolledBack.ReplicaSets[0].Pods, rolledBack.ReplicaSets[0].Replicas = nil, 0
	rolledBack.GonePods = badPods
	forgot := rolledBack
	forgot.GonePods = nil
	// A console started after the rollback: its watch never saw the bad pods go, so it asks
	// Prometheus which pods it held.
	young := forgot
	young.PodsKnownSince = time.Now()
	f, without := src.Frame(context.Background(), []domain.Service{rolledBack}), src.Frame(context.Background(), []domain.Service{forgot})
	fy := src.Frame(context.Background(), []domain.Service{young})
	if err := between("bad rs, its pods gone before the watch began", fy.ReplicaSets["shop/"+badRS], domain.MetricErrorRatio, 0.2, 0.4); err != nil {
		t.Errorf("%v\n%s", err, dumpFrame(fy))
	}
	if q := src.FrameQueries(context.Background(), []domain.Service{young})[qErrors]; !strings.Contains(q, badPods[0]) || strings.Contains(q, `pod=~"^`) {
		t.Errorf("a young watch's frame does not match the pods Prometheus held by name: %s", q)
	}
	if err := between("bad rs, its pods gone within the window", f.ReplicaSets["shop/"+badRS], domain.MetricErrorRatio, 0.2, 0.4); err != nil {
		t.Errorf("%v\n%s", err, dumpFrame(f))
	}
	// What the test guards against: without the gone pods, the errors vanish with them.
	if _, ok := without.ReplicaSets["shop/"+badRS].Get(domain.MetricErrorRatio); ok {
		t.Errorf("a frame without the gone pods read the bad ReplicaSet's errors: the check above proves nothing\n%s", dumpFrame(without))
	}
}
