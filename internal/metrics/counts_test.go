package metrics

import (
	"context"
	"math"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/config"
	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/internal/metrics/promtest"
	"github.com/opsdeck/opsdeck/internal/simulator"
)

// Counters reads, from a real Prometheus scraping the metrics simulator, the pods asked for by
// name and no other, with one query: requests, 5xx and latency buckets as raw counter values.
func TestCountersFromPrometheus(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Prometheus")
	}
	const otherRS = "payment-service-5d6e7f8a9b"
	sim := simulator.New()
	for _, suffix := range []string{"abcde", "fghij"} {
		sim.Upsert(simulator.Pod{Namespace: "shop", Name: healthyRS + "-" + suffix, Image: "order-service:v1"})
		sim.Upsert(simulator.Pod{Namespace: "shop", Name: badRS + "-" + suffix, Image: "order-service:v2-bad-slow"})
		sim.Upsert(simulator.Pod{Namespace: "shop", Name: otherRS + "-" + suffix, Image: "payment-service:v1"})
	}
	srv := httptest.NewServer(simulator.Handler(sim))
	t.Cleanup(srv.Close)
	url := promtest.Start(t, srv.Listener.Addr().String())
	src, err := New(config.Prometheus{URL: url, Timeout: config.D(10 * time.Second)}, config.DefaultQueries(), nil)
	if err != nil {
		t.Fatal(err)
	}
	scope := []domain.ReplicaSetRef{
		{Namespace: "shop", Name: badRS, Pods: []string{badRS + "-abcde", badRS + "-fghij"}},
		{Namespace: "shop", Name: healthyRS, Pods: []string{healthyRS + "-abcde", healthyRS + "-fghij"}},
		{Namespace: "shop", Name: otherRS}, // no pod known: nothing read
	}

	var pods []domain.PodCounters
	deadline := time.Now().Add(60 * time.Second)
	for {
		pods, err = src.Counters(context.Background(), scope)
		if err == nil && len(pods) == 4 && pods[0].Requests >= 200 && pods[3].Requests >= 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no counters of 4 pods with 200 requests each within 60s: %v %+v", err, pods)
		}
		time.Sleep(250 * time.Millisecond)
	}
	for _, p := range pods {
		if p.ReplicaSet != badRS && p.ReplicaSet != healthyRS {
			t.Fatalf("pod %s of %s is outside the scope", p.Pod, p.ReplicaSet)
		}
		c := domain.RevisionCounts{Requests: p.Requests, Errors: p.Errors, Latency: p.Latency}
		slow, total, edge, ok := c.SlowerThan(1)
		if !ok || edge != 1 || math.Abs(total-p.Requests) > 0.05*p.Requests+2 {
			t.Fatalf("pod %s: latency %+v: slower than 1s %v of %v (edge %v, ok %v), want the le=1 bucket and about %v requests",
				p.Pod, p.Latency, slow, total, edge, ok, p.Requests)
		}
		errShare, slowShare := p.Errors/p.Requests, slow/total
		t.Logf("pod %s: %.0f requests, %.0f 5xx (%.1f%%), %.0f slower than 1s (%.1f%%)", p.Pod, p.Requests, p.Errors, 100*errShare, slow, 100*slowShare)
		if p.ReplicaSet == badRS && (errShare < 0.2 || errShare > 0.4 || slowShare < 0.015) {
			// p99 2 s read from the buckets (linear between 1 and 2.5 s) is about 2 to 3 %
			// of requests above 1 s.
			t.Errorf("bad-slow pod %s: %.1f%% 5xx and %.1f%% slow, want about 30%% 5xx and over 1.5%% slow", p.Pod, 100*errShare, 100*slowShare)
		}
		if p.ReplicaSet == healthyRS && (errShare > 0.01 || slowShare > 0.001) {
			t.Errorf("healthy pod %s: %.1f%% 5xx and %.2f%% slow", p.Pod, 100*errShare, 100*slowShare)
		}
	}
	if q := countersQuery(scope); q == "" {
		t.Fatal("no query")
	}
	if got, err := src.Counters(context.Background(), nil); got != nil || err != nil {
		t.Errorf("no ReplicaSets: %v %v, want nothing read", got, err)
	}
	one := []domain.ReplicaSetRef{{Namespace: "shop", Name: badRS, Pods: []string{badRS + "-fghij"}}}
	if got, err := src.Counters(context.Background(), one); err != nil || len(got) != 1 || got[0].Pod != badRS+"-fghij" {
		t.Errorf("one pod of %s asked for: %v %+v, want that pod alone", badRS, err, got)
	}
}
