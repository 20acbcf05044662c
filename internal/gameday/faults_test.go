package gameday

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/internal/sandbox"
)

// The API server is stopped while a guarded bad rollout breaches, for longer than the rule's
// `for`, and started again on the same port and etcd data: the guard does nothing while it is
// away (no rollback, no failed attempt), and rolls back once after it returns.
func TestAPIServerRestartedMidRollout(t *testing.T) {
	env := gameday(t)
	client := env.Client(t)
	ns := env.NewNamespace(t)
	env.CreateDeployment(t, ns, "orders", "orders:v1", 3)
	g := startGuard(t, env, "guard", ns, env.PrometheusURL, "--config", testConfig(t, ""))
	key := ns + "/orders"

	setImage(t, client, ns, "orders", "orders:v2-bad")
	waitFor(t, 60*time.Second, "the guard to see the breach", func() (bool, string) {
		_, ok := g.find("guard status", verdict(key, "breaching", ""))
		return ok, g.output()
	})
	stopped := time.Now()
	if err := sandbox.Stop(env.Dir, "kube-apiserver"); err != nil {
		t.Fatal(err)
	}
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			_ = sandbox.Start(context.Background(), env.Dir, "kube-apiserver")
		}
	})
	waitFor(t, 30*time.Second, "the guard to say the API is unreachable", func() (bool, string) {
		_, ok := g.find("guard status", verdict(key, "inconclusive", "Kubernetes API unreachable"))
		return ok, g.output()
	})
	t.Logf("the guard noticed the API server's loss %.1fs after it was told to stop", time.Since(stopped).Seconds())
	holds(t, ruleFor+2*time.Second, "no rollback attempt while the API server is down", func() (bool, string) {
		n := g.count("rolled back", nil) + g.count("rollback failed", nil)
		return n == 0, g.output()
	})
	if err := sandbox.Start(context.Background(), env.Dir, "kube-apiserver"); err != nil {
		t.Fatal(err)
	}
	restarted = true
	back := time.Now()
	rolledBackOnce(t, client, ns, "orders", "orders:v1", 90*time.Second, g)
	acted, _ := g.find("rolled back", about(key))
	measure(t, "api server restarted", "down %.0fs; rolled back %.1fs after it was back (the rule's for is %s)",
		back.Sub(stopped).Seconds(), acted.At.Sub(back).Seconds(), ruleFor)
	if n := g.count("rollback failed", nil); n != 0 {
		t.Errorf("%d failed rollback attempts:\n%s", n, g.output())
	}
}

// Prometheus is killed (-9) while a bad rollout breaches: every service is inconclusive and
// nothing is done, however long it stays away; once it is back the guard acts, after the rule
// has held again for its whole `for` on fresh data.
func TestPrometheusKilledDuringBreach(t *testing.T) {
	env := gameday(t)
	client := env.Client(t)
	ns := env.NewNamespace(t)
	env.CreateDeployment(t, ns, "orders", "orders:v1", 3)
	g := startGuard(t, env, "guard", ns, env.PrometheusURL, "--config", testConfig(t, ""))
	key := ns + "/orders"

	setImage(t, client, ns, "orders", "orders:v2-bad")
	waitFor(t, 60*time.Second, "the guard to see the breach", func() (bool, string) {
		_, ok := g.find("guard status", verdict(key, "breaching", ""))
		return ok, g.output()
	})
	if err := sandbox.Kill(env.Dir, "prometheus"); err != nil {
		t.Fatal(err)
	}
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			_ = sandbox.Start(context.Background(), env.Dir, "prometheus")
		}
	})
	waitFor(t, 15*time.Second, "the guard to call the round inconclusive", func() (bool, string) {
		_, ok := g.find("guard status", verdict(key, "inconclusive", "Prometheus unavailable"))
		return ok, g.output()
	})
	holds(t, ruleFor+2*time.Second, "nothing done while Prometheus is away", func() (bool, string) {
		img, _ := deployment(client, ns, "orders")
		return g.count("rolled back", nil) == 0 && img == "orders:v2-bad", g.output()
	})
	if err := sandbox.Start(context.Background(), env.Dir, "prometheus"); err != nil {
		t.Fatal(err)
	}
	restarted = true
	back := time.Now()
	rolledBackOnce(t, client, ns, "orders", "orders:v1", 90*time.Second, g)
	breachAgain, _ := g.find("guard status", func(l logLine) bool {
		return verdict(key, "breaching", "")(l) && l.At.After(back)
	})
	acted, _ := g.find("rolled back", about(key))
	measure(t, "prometheus killed", "rolled back %.1fs after Prometheus was back, %.1fs after the breach was seen again (for %s)",
		acted.At.Sub(back).Seconds(), acted.At.Sub(breachAgain.At).Seconds(), ruleFor)
	if breachAgain.At.IsZero() || acted.At.Sub(breachAgain.At) < ruleFor-time.Second {
		t.Errorf("rolled back %.1fs after the data returned: the rule must hold again for its for (%s) on fresh data",
			acted.At.Sub(back).Seconds(), ruleFor)
	}
}

// slowProxy sits between the guard and Prometheus and delays every answer while slow is set.
type slowProxy struct {
	*httptest.Server
	delay atomic.Int64 // nanoseconds
}

func newSlowProxy(t *testing.T, target string) *slowProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &slowProxy{}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ErrorLog = log.New(io.Discard, "", 0) // the guard giving up on a slow answer is the point
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d := time.Duration(p.delay.Load()); d > 0 {
			select {
			case <-time.After(d):
			case <-r.Context().Done():
				// The client gave up (its query timeout): answer nothing, as a stuck server.
				_, _ = io.Copy(io.Discard, r.Body)
				return
			}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	return p
}

// Prometheus answers more slowly than the configured query timeout: the guard calls every
// round inconclusive and does nothing; when answers are quick again it judges and acts.
func TestPrometheusSlowerThanQueryTimeout(t *testing.T) {
	env := gameday(t)
	client := env.Client(t)
	ns := env.NewNamespace(t)
	env.CreateDeployment(t, ns, "orders", "orders:v1", 3)
	proxy := newSlowProxy(t, env.PrometheusURL)
	const timeout = 2 * time.Second
	proxy.delay.Store(int64(3 * timeout))
	g := startGuard(t, env, "guard", ns, proxy.URL, "--config", testConfig(t, fmt.Sprintf("prometheus:\n  timeout: %s\n", timeout)))
	key := ns + "/orders"

	setImage(t, client, ns, "orders", "orders:v2-bad")
	waitFor(t, 60*time.Second, "the guard to call the round inconclusive", func() (bool, string) {
		_, ok := g.find("guard status", verdict(key, "inconclusive", "Prometheus unavailable"))
		return ok, g.output()
	})
	holds(t, ruleFor+2*timeout+2*time.Second, "nothing done while Prometheus is too slow", func() (bool, string) {
		img, _ := deployment(client, ns, "orders")
		return g.count("rolled back", nil) == 0 && img == "orders:v2-bad", g.output()
	})
	if _, ok := g.find("guard status", verdict(key, "breaching", "")); ok {
		t.Errorf("the guard saw a breach through a Prometheus slower than its timeout:\n%s", g.output())
	}
	proxy.delay.Store(0)
	rolledBackOnce(t, client, ns, "orders", "orders:v1", 90*time.Second, g)
}
