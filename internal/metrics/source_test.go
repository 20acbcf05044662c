package metrics

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/opsdeck/opsdeck/config"
	"github.com/opsdeck/opsdeck/internal/domain"
)

// fakeProm answers every query with an empty result and records what it was asked.
type fakeProm struct {
	mu      sync.Mutex
	queries []string
	paths   []string
	auth    []string
	n       atomic.Int64
}

func (f *fakeProm) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.n.Add(1)
	_ = r.ParseForm()
	f.mu.Lock()
	f.queries = append(f.queries, r.Form.Get("query"))
	f.paths = append(f.paths, r.URL.Path)
	f.auth = append(f.auth, r.Header.Get("Authorization"))
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	kind := "vector"
	if strings.HasSuffix(r.URL.Path, "query_range") {
		kind = "matrix"
	}
	_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"` + kind + `","result":[]}}`))
}

func newSource(t *testing.T, p config.Prometheus) *Source {
	t.Helper()
	if p.Timeout.Duration == 0 {
		p.Timeout = config.D(5 * time.Second)
	}
	s, err := New(p, config.DefaultQueries(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestQueriesPerFrameAreFixed(t *testing.T) {
	fake := &fakeProm{}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	src := newSource(t, config.Prometheus{URL: srv.URL})
	instant := func() int {
		fake.mu.Lock()
		defer fake.mu.Unlock()
		n := 0
		for _, p := range fake.paths {
			if strings.HasSuffix(p, "/api/v1/query") {
				n++
			}
		}
		return n
	}

	for _, n := range []int{1, 5, 500} {
		before := instant()
		many := manyServices(n)
		f := src.Frame(context.Background(), many)
		asked := instant() - before
		// No service runs two ReplicaSets: no p99 per ReplicaSet.
		if f.Err != nil || f.Queries != numFrameQueries-1 || asked != f.Queries {
			t.Errorf("%d services: Queries %d, %d requests, err %v; want %d", n, f.Queries, asked, f.Err, numFrameQueries-1)
		}
		many[0].ReplicaSets[0].Replicas, many[0].ReplicaSets[1].Replicas = 3, 1
		if f := src.Frame(context.Background(), many); f.Queries != numFrameQueries {
			t.Errorf("%d services, one rolling out: Queries %d, want %d", n, f.Queries, numFrameQueries)
		}
	}
	// Scoped to each namespace and the Deployments' pods it holds (svc-N is in team-N%10).
	fake.mu.Lock()
	last := fake.queries[len(fake.queries)-numFrameQueries:]
	fake.mu.Unlock()
	for _, q := range last {
		if strings.Contains(q, "sum by (namespace, replicaset, le)") {
			if !strings.Contains(q, `{namespace="team-0",pod=~"^svc-000-[a-z0-9]+-[a-z0-9]{5}$"}`) {
				t.Errorf("p99 per ReplicaSet not scoped to the service rolling out: %.300s", q)
			}
			continue
		}
		for k := range 10 {
			if !strings.Contains(q, fmt.Sprintf(`{namespace="team-%d",pod=~"^(svc-00%d|svc-01%d|`, k, k, k)) ||
				!strings.Contains(q, fmt.Sprintf(`|svc-49%d)-[a-z0-9]+-[a-z0-9]{5}$"`, k)) {
				t.Errorf("query not scoped to team-%d and its Deployments: %.300s", k, q)
			}
		}
		if strings.Contains(q, "namespace=~") {
			t.Errorf("one matcher across namespaces that hold different Deployments: %.300s", q)
		}
	}
	if f := src.Frame(context.Background(), nil); f.Queries != 0 || f.Err != nil {
		t.Errorf("no services: %d queries, %v", f.Queries, f.Err)
	}
}

func TestFrameQueries(t *testing.T) {
	b := newBuilder(config.DefaultQueries(), "")
	svc := domain.Service{Namespace: "shop", Name: "order-service", ReplicaSets: []domain.ReplicaSet{
		{Name: "order-service-6c8f7d9b5c", Replicas: 3}, {Name: "order-service-7d9f8b6c4d", Replicas: 3}}}
	stable := domain.Service{Namespace: "shop", Name: "cart.v2"}
	q := b.frameQueries([]domain.Service{svc, stable}, []domain.Service{svc})
	sel := `namespace="shop",pod=~"^(cart\\.v2|order-service)-[a-z0-9]+-[a-z0-9]{5}$"`
	one := `namespace="shop",pod=~"^order-service-[a-z0-9]+-[a-z0-9]{5}$"`
	want := map[int]string{
		qRequests: `sum by (namespace, replicaset) (label_replace(sum by (namespace, pod) (rate(http_requests_total{` + sel + `}[1m])), "replicaset", "$1", "pod", "(.+)-[a-z0-9]{5}"))`,
		qErrors:   `sum by (namespace, replicaset) (label_replace(sum by (namespace, pod) (rate(http_requests_total{` + sel + `,code=~"5.."}[1m])), "replicaset", "$1", "pod", "(.+)-[a-z0-9]{5}"))`,
		qP99:      `histogram_quantile(0.99, sum by (namespace, replicaset, le) (label_replace(sum by (namespace, pod, le) (rate(http_request_duration_seconds_bucket{` + one + `}[1m])), "replicaset", "$1", "pod", "(.+)-[a-z0-9]{5}")))`,
		qP99Deployment: `histogram_quantile(0.99, sum by (namespace, deployment, le) (label_replace(sum by (namespace, pod, le) (rate(http_request_duration_seconds_bucket{` + sel + `}[1m])), ` +
			`"deployment", "$1", "pod", "(.+)-[a-z0-9]+-[a-z0-9]{5}")))`,
	}
	for i, w := range want {
		if q[i] != w {
			t.Errorf("query %s:\n got  %s\n want %s", queryNames[i], q[i], w)
		}
	}
	if !strings.Contains(q[qPods], `label_replace(count by (namespace, replicaset) (label_replace(sum by (namespace, pod) (rate(container_cpu_usage_seconds_total{`) ||
		!strings.Contains(q[qPods], `"metric", "memory", "", "")`) {
		t.Errorf("pods query: %s", q[qPods])
	}
	if q := b.frameQueries([]domain.Service{stable}, nil); q[qP99] != "" {
		t.Errorf("p99 per ReplicaSet asked with no service rolling out: %s", q[qP99])
	}

	// With a workload label, no label_replace from the pod.
	b = newBuilder(config.DefaultQueries(), "owner")
	q = b.frameQueries([]domain.Service{{Namespace: "a", Name: "x"}, {Namespace: "b.c", Name: "y"}}, nil)
	if got, w := q[qRequests], `sum by (namespace, owner) (rate(http_requests_total{namespace="a",owner=~"^x-[a-z0-9]+$"}[1m])) or `+
		`sum by (namespace, owner) (rate(http_requests_total{namespace="b.c",owner=~"^y-[a-z0-9]+$"}[1m]))`; got != w {
		t.Errorf("workload label:\n got  %s\n want %s", got, w)
	}
	for _, s := range q {
		if strings.Contains(s, `"pod"`) {
			t.Errorf("workload label query relabels pods: %s", s)
		}
	}

	// With the recording rules: the recorded series, scoped the same way.
	b = newBuilder(config.DefaultQueries(), "")
	b.rules = true
	q = b.frameQueries([]domain.Service{svc, stable}, []domain.Service{svc})
	rsSel := `namespace="shop",replicaset=~"^(cart\\.v2|order-service)-[a-z0-9]+$"`
	for i, w := range map[int]string{
		qRequests:      recRequests + `{` + rsSel + `}`,
		qP99:           `histogram_quantile(0.99, ` + recBuckets + `{namespace="shop",replicaset=~"^order-service-[a-z0-9]+$"})`,
		qP99Deployment: `histogram_quantile(0.99, ` + recBucketsDeploy + `{namespace="shop",deployment=~"(cart\\.v2|order-service)"})`,
	} {
		if q[i] != w {
			t.Errorf("recorded query %s:\n got  %s\n want %s", queryNames[i], q[i], w)
		}
	}
}

// Once the watch has seen every pod come and go for a frame's lookback (twice its window), a
// frame matches the services' pods by their exact names, the gone ones included, which
// Prometheus looks up in its index instead of scanning every pod name it holds. Before that,
// and for a service it knows no pod of, by Deployment.
func TestFrameQueriesMatchKnownPodsByName(t *testing.T) {
	now := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	watched := now.Add(-2 * time.Minute) // the default window is 1m
	web := domain.Service{Namespace: "shop", Name: "web", PodsKnownSince: watched,
		GonePods: []string{"web-6c8f7d9b5c-zzzzz"},
		ReplicaSets: []domain.ReplicaSet{{Name: "web-7d9f8b6c4d", Replicas: 2,
			Pods: []domain.Pod{{Name: "web-7d9f8b6c4d-x7k2p"}, {Name: "web-7d9f8b6c4d-a1b2c"}}}}}
	api := web
	api.Namespace, api.Name, api.GonePods = "edge", "api", nil
	api.ReplicaSets = []domain.ReplicaSet{{Name: "api-5d4c3b2a1f", Replicas: 1, Pods: []domain.Pod{{Name: "api-5d4c3b2a1f-q9w8e"}}}}
	scaledDown := domain.Service{Namespace: "shop", Name: "batch", PodsKnownSince: watched,
		ReplicaSets: []domain.ReplicaSet{{Name: "batch-5f6d7c8b9a"}}}

	b := newBuilder(config.DefaultQueries(), "")
	b.now = now
	q := b.frameQueries([]domain.Service{web, api, scaledDown}, nil)
	byName := `namespace=~"edge|shop",pod=~"api-5d4c3b2a1f-q9w8e|web-6c8f7d9b5c-zzzzz|web-7d9f8b6c4d-a1b2c|web-7d9f8b6c4d-x7k2p"`
	if got, w := q[qRequests], `sum by (namespace, replicaset) (label_replace(sum by (namespace, pod) (rate(http_requests_total{`+byName+`}[1m])), "replicaset", "$1", "pod", "(.+)-[a-z0-9]{5}")) or `+
		`sum by (namespace, replicaset) (label_replace(sum by (namespace, pod) (rate(http_requests_total{namespace="shop",pod=~"^batch-[a-z0-9]+-[a-z0-9]{5}$"}[1m])), "replicaset", "$1", "pod", "(.+)-[a-z0-9]{5}"))`; got != w {
		t.Errorf("requests:\n got  %s\n want %s", got, w)
	}

	// A watch younger than the lookback may have missed a pod deleted just before it began.
	b.now = watched.Add(2*time.Minute - time.Second)
	if q := b.frameQueries([]domain.Service{web}, nil); strings.Contains(q[qRequests], "x7k2p") ||
		!strings.Contains(q[qRequests], `pod=~"^web-[a-z0-9]+-[a-z0-9]{5}$"`) {
		t.Errorf("pods matched by name before the watch covered the lookback: %s", q[qRequests])
	}
	unknown := web
	unknown.PodsKnownSince = time.Time{}
	b.now = now
	if q := b.frameQueries([]domain.Service{unknown}, nil); strings.Contains(q[qRequests], "x7k2p") {
		t.Errorf("pods matched by name with no watch behind them: %s", q[qRequests])
	}

	// With the recording rules: the ReplicaSets by name, those of gone pods included, one
	// selector per set of namespaces holding the same names.
	b.rules = true
	twin := web
	twin.Namespace = "shop-2"
	q = b.frameQueries([]domain.Service{web, twin, api}, []domain.Service{web})
	want := recRequests + `{namespace="edge",replicaset=~"api-5d4c3b2a1f"} or ` +
		recRequests + `{namespace=~"shop|shop-2",replicaset=~"(web-6c8f7d9b5c|web-7d9f8b6c4d)"}`
	if q[qRequests] != want {
		t.Errorf("recorded requests:\n got  %s\n want %s", q[qRequests], want)
	}
	if w := `histogram_quantile(0.99, ` + recBuckets + `{namespace="shop",replicaset=~"(web-6c8f7d9b5c|web-7d9f8b6c4d)"})`; q[qP99] != w {
		t.Errorf("recorded p99:\n got  %s\n want %s", q[qP99], w)
	}
}

func TestScrapeIntervalOf(t *testing.T) {
	for doc, want := range map[string]time.Duration{
		"global:\n  scrape_interval: 15s\n": 15 * time.Second,
		"global:\n  scrape_interval: 1s\nscrape_configs:\n- job_name: a\n  scrape_interval: 30s\n": 30 * time.Second,
		"not: [yaml": 0,
	} {
		if got := scrapeIntervalOf(doc); got != want {
			t.Errorf("scrapeIntervalOf(%q) = %s, want %s", doc, got, want)
		}
	}
}

func TestHistoryQueries(t *testing.T) {
	b := newBuilder(config.DefaultQueries(), "")
	svc := domain.Service{Namespace: "shop", Name: "order-service"}
	q := b.historyQueries(svc)
	if len(q) != len(domain.Metrics) {
		t.Fatalf("%d history queries", len(q))
	}
	sel := `{namespace="shop",pod=~"^order-service-[a-z0-9]+-[a-z0-9]{5}$"}`
	if w := `sum by (replicaset) (label_replace(rate(http_requests_total` + sel + `[1m]), "replicaset", "$1", "pod", "(.+)-[a-z0-9]{5}")) or sum(rate(http_requests_total` + sel + `[1m]))`; q[domain.MetricRequestRate] != w {
		t.Errorf("rps history:\n got  %s\n want %s", q[domain.MetricRequestRate], w)
	}
	// Blue-green: both Deployments' pods.
	bg := domain.Service{Namespace: "shop", Name: "web", ReplicaSets: []domain.ReplicaSet{{Name: "web-blue-5f6d7c8b9a"}, {Name: "web-green-6c7d8e9f5a"}}}
	if got := b.serviceSelector(bg); got != `namespace="shop",pod=~"^(web-blue|web-green)-[a-z0-9]+-[a-z0-9]{5}$"` {
		t.Errorf("blue-green selector %s", got)
	}
	re := regexp.MustCompile(`^(web-blue|web-green)-[a-z0-9]+-[a-z0-9]{5}$`)
	if !re.MatchString("web-blue-5f6d7c8b9a-x2x7q") || re.MatchString("web-blue-canary-5f6d7c8b9a-x2x7q-1") {
		t.Error("selector regexp")
	}
}

func TestHistoryAsksOneQueryPerMetric(t *testing.T) {
	fake := &fakeProm{}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	src := newSource(t, config.Prometheus{URL: srv.URL})
	if _, err := src.History(context.Background(), orderService, 15*time.Minute, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if n := fake.n.Load(); n != int64(len(domain.Metrics)) {
		t.Errorf("%d range queries, want %d", n, len(domain.Metrics))
	}
	if _, err := src.History(context.Background(), orderService, 0, time.Second); err == nil {
		t.Error("a zero window was accepted")
	}
}

func TestPrometheusFailures(t *testing.T) {
	// A port nobody listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()

	// A server that accepts and never answers.
	hang := make(chan struct{})
	silent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	defer silent.Close()
	defer close(hang)

	// A Prometheus that refuses a bad template.
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"status":"error","errorType":"bad_data","error":"1:6: parse error: unexpected \"}\"\nin query"}`))
	}))
	defer refusing.Close()

	// Not Prometheus at all.
	other := httptest.NewServer(http.NotFoundHandler())
	defer other.Close()

	tests := []struct {
		name string
		p    config.Prometheus
		want string
	}{
		{"refused", config.Prometheus{URL: closed}, "prometheus " + closed + ": connection refused"},
		{"silent", config.Prometheus{URL: silent.URL, Timeout: config.D(300 * time.Millisecond)}, "prometheus " + silent.URL + ": no answer within 300ms"},
		{"bad query", config.Prometheus{URL: refusing.URL}, "prometheus " + refusing.URL + `: query requests: bad_data: 1:6: parse error: unexpected "}" in query`},
		{"not prometheus", config.Prometheus{URL: other.URL}, "prometheus " + other.URL + ": client error: 404 (404 page not found)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := newSource(t, tt.p)
			start := time.Now()
			f := src.Frame(context.Background(), []domain.Service{orderService})
			if f.Err == nil || f.Err.Error() != tt.want {
				t.Errorf("Err = %v\n want %s", f.Err, tt.want)
			}
			if len(f.Services) != 0 || len(f.ReplicaSets) != 0 || f.Queries != numFrameQueries {
				t.Errorf("frame not empty: %+v", f)
			}
			if took := time.Since(start); took > 3*time.Second {
				t.Errorf("took %s", took)
			}
			if err := src.Ping(context.Background()); err == nil {
				t.Error("Ping succeeded")
			}
		})
	}
}

func TestAuthentication(t *testing.T) {
	fake := &fakeProm{}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	passFile := filepath.Join(dir, "password")
	if err := os.WriteFile(tokenFile, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(passFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		p    config.Prometheus
		want string
	}{
		{config.Prometheus{URL: srv.URL, BearerToken: "tok"}, "Bearer tok"},
		{config.Prometheus{URL: srv.URL, BearerTokenFile: tokenFile}, "Bearer from-file"},
		{config.Prometheus{URL: srv.URL, BasicAuth: &config.BasicAuth{Username: "ops", PasswordFile: passFile}}, "Basic b3BzOnMzY3JldA=="},
		{config.Prometheus{URL: srv.URL}, ""},
	}
	for _, tt := range tests {
		src := newSource(t, tt.p)
		if err := src.Ping(context.Background()); err != nil {
			t.Fatal(err)
		}
		fake.mu.Lock()
		got := fake.auth[len(fake.auth)-1]
		fake.mu.Unlock()
		if got != tt.want {
			t.Errorf("Authorization %q, want %q", got, tt.want)
		}
	}
}

func TestTLS(t *testing.T) {
	fake := &fakeProm{}
	srv := httptest.NewUnstartedServer(fake)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake
	srv.StartTLS()
	defer srv.Close()

	// Unknown CA: refused.
	src := newSource(t, config.Prometheus{URL: srv.URL})
	if err := src.Ping(context.Background()); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("untrusted certificate: %v", err)
	}
	// The server's CA from a file.
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pemCert(srv.Certificate().Raw), 0o600); err != nil {
		t.Fatal(err)
	}
	src = newSource(t, config.Prometheus{URL: srv.URL, TLS: config.TLS{CAFile: ca}})
	if err := src.Ping(context.Background()); err != nil {
		t.Errorf("with ca_file: %v", err)
	}
	src = newSource(t, config.Prometheus{URL: srv.URL, TLS: config.TLS{InsecureSkipVerify: true}})
	if err := src.Ping(context.Background()); err != nil {
		t.Errorf("insecure: %v", err)
	}
}

// Through the API server's service proxy, with the kubeconfig's credentials.
func TestServiceProxy(t *testing.T) {
	fake := &fakeProm{}
	apiserver := httptest.NewServer(fake)
	defer apiserver.Close()
	rc := &rest.Config{Host: apiserver.URL, BearerToken: "kube-token"}
	src, err := New(config.Prometheus{Service: "monitoring/prometheus:9090", URL: "http://ignored:9090", Timeout: config.D(time.Second)}, config.DefaultQueries(), rc)
	if err != nil {
		t.Fatal(err)
	}
	if f := src.Frame(context.Background(), []domain.Service{orderService}); f.Err != nil {
		t.Fatal(f.Err)
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	if p := fake.paths[len(fake.paths)-1]; p != "/api/v1/namespaces/monitoring/services/prometheus:9090/proxy/api/v1/query" {
		t.Errorf("path %s", p)
	}
	if a := fake.auth[0]; a != "Bearer kube-token" {
		t.Errorf("Authorization %q", a)
	}
	if _, err := New(config.Prometheus{Service: "monitoring/prometheus:9090"}, config.Queries{}, nil); err == nil {
		t.Error("service proxy without a cluster connection accepted")
	}
}

// Namespaces that hold the same Deployments share a selector; the others get their own, so
// that no selector matches a Deployment of one namespace in another.
func TestScopesMatchOnlyTheServicesAsked(t *testing.T) {
	svc := func(ns, name string) domain.Service { return domain.Service{Namespace: ns, Name: name} }
	got := scopesOf([]domain.Service{svc("fleet-1", "svc-1"), svc("fleet-2", "svc-1"), svc("fleet-3", "svc-2"),
		svc("fleet-4", "svc-1"), svc("fleet-4", "svc-2")}, deploymentsOf)
	want := []scope{
		{namespaces: `namespace="fleet-3"`, alt: "svc-2"},
		{namespaces: `namespace="fleet-4"`, alt: "(svc-1|svc-2)"},
		{namespaces: `namespace=~"fleet-1|fleet-2"`, alt: "svc-1"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("scopes:\n got  %+v\n want %+v", got, want)
	}
}
