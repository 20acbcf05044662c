package backend

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/config"
	"github.com/opsdeck/opsdeck/internal/actions"
	"github.com/opsdeck/opsdeck/internal/cluster"
	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/internal/metrics"
	"github.com/opsdeck/opsdeck/internal/sandbox"
)

// samplesTouched asks Prometheus for q with stats=all and returns how many samples it read
// (its own count, totalQueryableSamples).
func samplesTouched(t *testing.T, promURL, q string, at time.Time) int64 {
	t.Helper()
	v := url.Values{"query": {q}, "stats": {"all"}, "time": {fmt.Sprintf("%.3f", float64(at.UnixMilli())/1000)}}
	resp, err := http.PostForm(promURL+"/api/v1/query", v)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Stats struct {
				Samples struct {
					Total int64 `json:"totalQueryableSamples"`
				} `json:"samples"`
			} `json:"stats"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Status != "success" {
		t.Fatalf("query %s: %v %s", q, err, body.Error)
	}
	return body.Data.Stats.Samples.Total
}

// What a frame costs Prometheus follows the services on screen, not the namespace: in a
// namespace of 12 services, a frame in focus on 2 of them (and a batch of the rest) asks a
// fixed number of queries, and they read only the series of the services asked for,
// measured by Prometheus's own query stats.
func TestFrameCostFollowsTheScreen(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the sandbox")
	}
	env := sandbox.Shared(t)
	if env.PrometheusURL == "" {
		t.Skip("no Prometheus in the sandbox")
	}
	ns := env.NewNamespace(t)
	const n = 12
	for i := range n {
		env.CreateDeployment(t, ns, fmt.Sprintf("app-%02d", i), "app:v1", 1)
	}
	// A second namespace reusing two of the names, as a fleet's namespaces do (-A).
	ns2 := env.NewNamespace(t)
	env.CreateDeployment(t, ns2, "app-00", "app:v1", 1)
	env.CreateDeployment(t, ns2, "app-01", "app:v1", 1)
	client := env.Client(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w, err := cluster.NewWatcher(client, cluster.WatchOptions{Namespaces: []string{ns}})
	if err != nil {
		t.Fatal(err)
	}
	src, err := metrics.New(config.Prometheus{URL: env.PrometheusURL, Timeout: config.D(10 * time.Second)}, config.Queries{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if scrape := src.ScrapeInterval(ctx); scrape != time.Second {
		t.Errorf("scrape interval %s, want the sandbox's 1s", scrape)
	}
	b, err := New(ctx, Options{Watcher: w, Executor: &actions.Executor{Client: client, ReadOnly: true}, Metrics: src, NoReconcile: true})
	if err != nil {
		t.Fatal(err)
	}
	states := b.Watch(ctx)
	var st domain.ClusterState
	await(t, states, "12 services with their ReplicaSets", func(s domain.ClusterState) (domain.Service, bool) {
		ok := s.Synced && len(s.Services) == n
		for _, svc := range s.Services {
			ok = ok && len(svc.ReplicaSets) == 1 && svc.Ready == 1
		}
		st = s
		return domain.Service{}, ok
	})
	b.Focus([]string{ns + "/app-00", ns + "/app-01"})

	// Every pod has samples in the rate window.
	sandbox.WaitFor(t, 90*time.Second, "request rates of all 12 services", func() (bool, string) {
		f := src.Frame(ctx, st.Services)
		return f.Err == nil && len(f.Services) == n, fmt.Sprintf("%d services with values, err %v", len(f.Services), f.Err)
	})

	f := b.Metrics(ctx, st.Services)
	if f.Err != nil || f.Queries > 7 || f.Queries < 6 {
		t.Fatalf("frame: %d queries, err %v; want 6 (7 with a rollout)", f.Queries, f.Err)
	}
	var at time.Time
	cost := func(services []domain.Service) (total int64) {
		for _, q := range src.FrameQueries(ctx, services) {
			if q != "" {
				total += samplesTouched(t, env.PrometheusURL, q, at)
			}
		}
		return total
	}
	// Once every pod has a full rate window, each service costs the same.
	var one int64
	sandbox.WaitFor(t, 3*time.Minute, "every pod with a full rate window", func() (bool, string) {
		at = time.Now()
		lo, hi := int64(1<<62), int64(0)
		for _, s := range st.Services {
			c := cost([]domain.Service{s})
			lo, hi = min(lo, c), max(hi, c)
		}
		one = hi
		return lo > 0 && float64(lo) > 0.97*float64(hi), fmt.Sprintf("one service's frame reads %d to %d samples", lo, hi)
	})
	pair, all := cost(st.Services[:2]), cost(st.Services)
	t.Logf("samples read by a frame: 1 service %d, 2 services %d, all %d services %d", one, pair, n, all)
	// Scoped: the frame of two services reads twice one's, and the whole namespace's n times.
	if float64(pair) > 2.1*float64(one) {
		t.Errorf("2 services read %d samples, 1 read %d: more than their own", pair, one)
	}
	if float64(all) < float64(n)*0.9*float64(one) {
		t.Errorf("all %d services read %d samples, 1 read %d: the single frame is not scoped", n, all, one)
	}
	// One service's frame reads its pod's series at most twice each over the window
	// (requests and 5xx; CPU and its pod count), never another service's.
	// An instant selector reads one sample per series: this counts app-00's series.
	series := samplesTouched(t, env.PrometheusURL,
		fmt.Sprintf(`count({namespace=%q,pod=~"app-00-.*"})`, ns), at)
	if perSeries := float64(one) / float64(series); perSeries > 2*62 {
		t.Errorf("a frame of one service read %d samples over its %d series: %.0f per series, want at most 124", one, series, perSeries)
	}

	// Across namespaces that reuse names: the frame of ns/app-00 and ns2/app-01 reads those
	// two services, not app-00 and app-01 of both namespaces (twice as many).
	other := func(name string) domain.Service { return domain.Service{Namespace: ns2, Name: name} }
	sandbox.WaitFor(t, 3*time.Minute, "the second namespace's pods with a full rate window", func() (bool, string) {
		at = time.Now()
		a, b := cost([]domain.Service{other("app-00")}), cost([]domain.Service{other("app-01")})
		return float64(min(a, b)) > 0.97*float64(one), fmt.Sprintf("%s's services read %d and %d samples, one of %s %d", ns2, a, b, ns, one)
	})
	var first domain.Service
	for _, svc := range st.Services {
		if svc.Name == "app-00" {
			first = svc
		}
	}
	if cross := cost([]domain.Service{first, other("app-01")}); float64(cross) > 2.1*float64(one) {
		t.Errorf("%s/app-00 and %s/app-01 read %d samples, one service %d: the frame read the other namespace's namesakes too", ns, ns2, cross, one)
	}
}
