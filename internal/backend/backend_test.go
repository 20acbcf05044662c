package backend

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/config"
	"github.com/opsdeck/opsdeck/internal/actions"
	"github.com/opsdeck/opsdeck/internal/audit"
	"github.com/opsdeck/opsdeck/internal/cluster"
	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/internal/metrics"
	"github.com/opsdeck/opsdeck/internal/sandbox"
)

func TestMain(m *testing.M) { os.Exit(sandbox.Main(m)) }

func TestNewNeedsWatcherAndExecutor(t *testing.T) {
	if _, err := New(context.Background(), Options{}); err == nil {
		t.Fatal("New without a watcher succeeded")
	}
}

func TestLiveBackend(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the sandbox")
	}
	env := sandbox.Shared(t)
	ns := env.NewNamespace(t)
	env.CreateDeployment(t, ns, "web", "web:v1", 2)
	client := env.Client(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	w, err := cluster.NewWatcher(client, cluster.WatchOptions{Namespaces: []string{ns}})
	if err != nil {
		t.Fatal(err)
	}
	log, err := audit.Open(filepath.Join(t.TempDir(), "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	id := domain.Identity{Context: "sandbox", User: "admin", Namespaces: []string{ns}}
	exec := &actions.Executor{Client: client, Audit: log, Identity: id}
	opts := Options{Identity: id, Watcher: w, Executor: exec}
	if env.PrometheusURL != "" {
		src, err := metrics.New(config.Prometheus{URL: env.PrometheusURL, Timeout: config.D(5 * time.Second)}, config.Queries{}, env.RESTConfig(t))
		if err != nil {
			t.Fatal(err)
		}
		opts.Metrics = src
	}
	b, err := New(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !b.WaitForSync(ctx) || b.Identity().Context != "sandbox" {
		t.Fatal("no sync")
	}
	states := b.Watch(ctx)
	svc := await(t, states, "web synced", func(st domain.ClusterState) (domain.Service, bool) {
		s, ok := st.FindByName(ns, "web")
		return s, ok && st.Synced
	})
	revs, err := b.Revisions(ctx, svc)
	if err != nil || len(revs) != 1 || revs[0].Image != "web:v1" {
		t.Fatalf("Revisions = %+v, %v", revs, err)
	}

	if opts.Metrics != nil {
		deadline := time.Now().Add(45 * time.Second)
		for {
			f := b.Metrics(ctx, []domain.Service{svc})
			if v, ok := f.Services[svc.Key()].Get(domain.MetricRequestRate); f.Err == nil && ok && v > 0 {
				t.Logf("metrics of %s: %v in %d queries", svc.Key(), f.Services[svc.Key()], f.Queries)
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no request rate for %s: %+v", svc.Key(), f)
			}
			time.Sleep(time.Second)
		}
	}

	res, err := b.Execute(ctx, domain.Action{Kind: domain.ActionDeploy, Namespace: ns, Service: "web", Image: "web:v2", Trigger: domain.TriggerKey})
	if err != nil || res.ToRevision != 2 {
		t.Fatalf("Execute: %+v, %v", res, err)
	}
	await(t, states, "web complete on revision 2", func(st domain.ClusterState) (domain.Service, bool) {
		s, _ := st.FindByName(ns, "web")
		return s, s.Revision == 2 && s.Phase == domain.PhaseComplete
	})
	cancel()
	for range states { // closed when ctx ends
	}
}

func TestMetricsUnavailableSaysWhy(t *testing.T) {
	b := &Backend{opts: Options{Clock: domain.SystemClock{}}}
	f := b.Metrics(context.Background(), nil)
	if f.Err == nil || !strings.Contains(f.Err.Error(), "no Prometheus configured") {
		t.Fatalf("frame without a source: %+v", f)
	}
	if _, err := b.History(context.Background(), domain.Service{}, time.Minute, time.Second); err == nil {
		t.Fatal("History without a source succeeded")
	}
}

func await(t *testing.T, states <-chan domain.ClusterState, what string, ok func(domain.ClusterState) (domain.Service, bool)) domain.Service {
	t.Helper()
	timeout := time.After(60 * time.Second)
	for {
		select {
		case st := <-states:
			if s, done := ok(st); done {
				return s
			}
		case <-timeout:
			t.Fatalf("no state with %s after 60s", what)
		}
	}
}
