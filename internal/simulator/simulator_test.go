package simulator

import (
	"fmt"
	"math"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func TestBehaviourFor(t *testing.T) {
	tests := []struct {
		image string
		check func(Behaviour) bool
	}{
		{"order-service:v1", func(b Behaviour) bool { return b == Healthy }},
		{"registry.local:5000/order-service:v2-bad", func(b Behaviour) bool { return b.ErrorRatio == 0.3 && b.P99 == Healthy.P99 }},
		{"order-service:v3-slow", func(b Behaviour) bool { return b.P99 > 1.5 && b.ErrorRatio == Healthy.ErrorRatio }},
		{"order-service:hog", func(b Behaviour) bool { return b.CPU == 0.95 }},
		{"order-service:v4-leak", func(b Behaviour) bool { return b.MemoryGrowth == 10*MiB }},
		{"order-service:v5-crash", func(b Behaviour) bool { return !b.Serving && b.RPS == 0 }},
		{"order-service:v6-slow-leak", func(b Behaviour) bool { return b.P99 > 1.5 && b.MemoryGrowth > 0 }},
		{"badger/order-service:v1", func(b Behaviour) bool { return b == Healthy }}, // the tag counts, not the repository
	}
	for _, tt := range tests {
		if b := BehaviourFor(tt.image); !tt.check(b) {
			t.Errorf("BehaviourFor(%q) = %+v", tt.image, b)
		}
	}
}

// The latency distribution is tuned so that histogram_quantile over Buckets reads the P99.
func TestLatencyP99(t *testing.T) {
	for _, p99 := range []float64{0.12, 2.0} {
		cdf := make([]float64, len(Buckets))
		latencyFor(p99).cdf(1, cdf)
		if got := bucketQuantile(0.99, Buckets, cdf, 1); math.Abs(got-p99) > 0.001 {
			t.Errorf("p99 %v: buckets read %v", p99, got)
		}
	}
}

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

// series is one scrape, keyed by metric name and label values.
type series map[string]float64

func scrape(t testing.TB, reg *prometheus.Registry) (series, map[string]*dto.Histogram) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := series{}
	hists := map[string]*dto.Histogram{}
	for _, mf := range mfs {
		for _, m := range mf.Metric {
			key := mf.GetName()
			for _, l := range m.Label {
				key += fmt.Sprintf(",%s=%s", l.GetName(), l.GetValue())
			}
			switch {
			case m.Counter != nil:
				out[key] = m.Counter.GetValue()
			case m.Gauge != nil:
				out[key] = m.Gauge.GetValue()
			case m.Histogram != nil:
				hists[key] = m.Histogram
				out[key+",count"] = float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return out, hists
}

func TestSimulator(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	sim := New(WithClock(clock.now), WithSeed(1))
	images := map[string]string{
		"healthy-7d9f8b6c4d-aaaaa": "shop/healthy:v1",
		"bad-6c8f7d9b5c-aaaaa":     "shop/bad:v2-bad",
		"slow-5b7c8d9f6d-aaaaa":    "shop/slow:v2-slow",
		"hog-4c6d7e8f9a-aaaaa":     "shop/hog:v2-hog",
		"leak-3b5c6d7e8f-aaaaa":    "shop/leak:v2-leak",
		"crash-2a4b5c6d7e-aaaaa":   "shop/crash:v2-crash",
	}
	for name, image := range images {
		sim.Upsert(Pod{Namespace: "shop", Name: name, Container: "app", Image: image, Started: clock.t})
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(sim)

	first, _ := scrape(t, reg)
	prev := first
	const steps = 60
	var hists map[string]*dto.Histogram
	var last series
	for range steps {
		clock.t = clock.t.Add(time.Second)
		last, hists = scrape(t, reg)
		for k, v := range last {
			if p, ok := prev[k]; ok && v < p && !strings.HasPrefix(k, "container_memory") {
				t.Fatalf("%s went down: %v -> %v", k, p, v)
			}
		}
		for k, h := range hists {
			checkHistogram(t, k, h)
		}
		prev = last
	}

	rate := func(key string) float64 { return (last[key] - first[key]) / steps }
	lbl := func(pod string) string { return ",container=app,namespace=shop,pod=" + pod }
	reqs := func(pod string) (total, failed float64) {
		for _, code := range []string{"200", "404", "500"} {
			r := rate("http_requests_total,code=" + code + lbl(pod))
			total += r
			if code == "500" {
				failed = r
			}
		}
		return total, failed
	}
	for pod := range images {
		total, failed := reqs(pod)
		cpu := rate("container_cpu_usage_seconds_total" + lbl(pod))
		mem := last["container_memory_working_set_bytes"+lbl(pod)] / MiB
		var p99 float64
		if h := hists["http_request_duration_seconds"+lbl(pod)]; h != nil {
			p99 = histQuantile(0.99, h)
		}
		t.Logf("%-25s %6.1f req/s  5xx %5.3f  p99 %.3fs  cpu %.3f  mem %6.1f MiB", pod, total, failed/math.Max(total, 1), p99, cpu, mem)

		name := pod[:len(pod)-17]
		want := BehaviourFor(images[pod])
		if !want.Serving {
			if total != 0 {
				t.Errorf("%s: a pod that never becomes ready served %v req/s", pod, total)
			}
			continue
		}
		within(t, name+" req/s", total, 50, 0.1)
		within(t, name+" 5xx ratio", failed/total, want.ErrorRatio, 0.5)
		within(t, name+" p99", p99, want.P99, 0.1)
		within(t, name+" cpu", cpu, want.CPU, 0.1)
		wantMem := 120 + 10*float64(steps)*want.MemoryGrowth/(10*MiB)
		within(t, name+" memory MiB", mem, wantMem, 0.05)
	}

	sim.Delete("shop", "bad-6c8f7d9b5c-aaaaa")
	after, _ := scrape(t, reg)
	for k := range after {
		if strings.Contains(k, "bad-6c8f7d9b5c-aaaaa") {
			t.Errorf("deleted pod still served: %s", k)
		}
	}
	if sim.Len() != len(images)-1 || after["opsdeck_simulator_pods"] != float64(len(images)-1) {
		t.Errorf("Len %d, opsdeck_simulator_pods %v after a delete", sim.Len(), after["opsdeck_simulator_pods"])
	}
}

// Upserting a known pod keeps its counters and its start (a leak does not reset).
func TestUpsertKeepsCounters(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	sim := New(WithClock(clock.now), WithSeed(2))
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(sim)
	p := Pod{Namespace: "shop", Name: "cart-5d8c9b7f6d-abcde", Image: "cart:v1-leak"}
	sim.Upsert(p)
	clock.t = clock.t.Add(10 * time.Second)
	before, _ := scrape(t, reg)
	sim.Upsert(p)
	clock.t = clock.t.Add(time.Second)
	after, _ := scrape(t, reg)
	key := "http_requests_total,code=200,container=app,namespace=shop,pod=cart-5d8c9b7f6d-abcde"
	if after[key] < before[key] || before[key] < 400 {
		t.Errorf("requests %v then %v", before[key], after[key])
	}
	mem := "container_memory_working_set_bytes,container=app,namespace=shop,pod=cart-5d8c9b7f6d-abcde"
	if after[mem] < 225*MiB {
		t.Errorf("leak restarted: %v MiB after 11 s", after[mem]/MiB)
	}
}

func checkHistogram(t *testing.T, key string, h *dto.Histogram) {
	t.Helper()
	prev := uint64(0)
	for _, b := range h.Bucket {
		if b.GetCumulativeCount() < prev {
			t.Fatalf("%s: bucket le=%v count %d below the previous %d", key, b.GetUpperBound(), b.GetCumulativeCount(), prev)
		}
		prev = b.GetCumulativeCount()
	}
	if prev > h.GetSampleCount() {
		t.Fatalf("%s: last bucket %d above count %d", key, prev, h.GetSampleCount())
	}
}

func histQuantile(q float64, h *dto.Histogram) float64 {
	les := make([]float64, len(h.Bucket))
	cum := make([]float64, len(h.Bucket))
	for i, b := range h.Bucket {
		les[i], cum[i] = b.GetUpperBound(), float64(b.GetCumulativeCount())
	}
	return bucketQuantile(q, les, cum, float64(h.GetSampleCount()))
}

func within(t *testing.T, what string, got, want, rel float64) {
	t.Helper()
	if math.IsNaN(got) || math.Abs(got-want) > rel*want {
		t.Errorf("%s = %.4g, want %.4g ± %.0f %%", what, got, want, rel*100)
	}
}

// BenchmarkScrape1500 measures one scrape of 1500 pods as Prometheus makes it: the collector,
// the registry and the text encoding.
func BenchmarkScrape1500(b *testing.B) {
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	sim := New(WithClock(clock.now), WithSeed(3))
	for i := range 1500 {
		tag := []string{"v1", "v2-bad", "v3-slow", "v4-hog", "v5-leak"}[i%5]
		sim.Upsert(Pod{
			Namespace: fmt.Sprintf("ns-%d", i%10),
			Name:      fmt.Sprintf("svc-%03d-7d9f8b6c4d-%05d", i/3, i),
			Container: "app",
			Image:     "svc:" + tag,
		})
	}
	h := Handler(sim)
	req := httptest.NewRequest("GET", "/metrics", nil)
	// What Prometheus 2.42 sends.
	req.Header.Set("Accept", "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
	req.Header.Set("Accept-Encoding", "gzip")
	var size int
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		clock.t = clock.t.Add(time.Second)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		size = rec.Body.Len()
	}
	// CPU time (GC included) says more than wall time on a shared machine.
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N)/1e6, "cpu-ms/scrape")
	b.ReportMetric(float64(size)/1024, "KiB/scrape")
}

// cpuTime is the CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
