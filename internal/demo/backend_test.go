package demo

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/internal/simulator"
)

// These tests check the simulation (the fake cluster's controller, kubelet and metrics) as
// opsdeck's real executor and watcher see it, on a manual clock.

var t0 = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

func newTest(t *testing.T, opts ...Option) (*Backend, *ManualClock) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c := NewManualClock(t0)
	opts = append([]Option{WithAuditLog(filepath.Join(t.TempDir(), "audit.jsonl"))}, opts...)
	b, err := New(ctx, c, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return b, c
}

func svc(t *testing.T, b *Backend, name string) domain.Service {
	t.Helper()
	s, ok := b.State().FindByName(Namespace, name)
	if !ok {
		t.Fatalf("no service %s", name)
	}
	return s
}

func run(t *testing.T, b *Backend, a domain.Action) domain.Result {
	t.Helper()
	a.Namespace = Namespace
	a.Trigger = domain.TriggerKey
	r, err := b.Execute(context.Background(), a)
	if err != nil {
		t.Fatalf("%s: %v", a.Kind, err)
	}
	return r
}

func frame(b *Backend) domain.MetricsFrame {
	return b.Metrics(context.Background(), b.State().Services)
}

func TestSeed(t *testing.T) {
	b, _ := newTest(t)
	st := b.State()
	want := []string{"cart-service", "gateway", "inventory-service", "order-service", "payment-service"}
	if len(st.Services) != len(want) || !st.Synced {
		t.Fatalf("state: %d services, synced %v", len(st.Services), st.Synced)
	}
	for i, s := range st.Services {
		if s.Name != want[i] || s.Image != s.Name+":v1" || s.Revision != 1 || s.Desired != 3 || s.Ready != 3 ||
			s.Phase != domain.PhaseComplete || s.ProgressDeadline != 60*time.Second || len(s.ReplicaSets) != 1 {
			t.Errorf("service %d: %+v", i, s)
		}
	}
	if id := b.Identity(); !id.Demo || id.Context != "demo" {
		t.Errorf("identity %+v", id)
	}
}

// A deploy creates a ReplicaSet as the deployment controller does (pod-template-hash,
// revision annotation), and the rollout keeps within maxSurge 1 and maxUnavailable 0.
func TestRollingUpdateSurgeOneUnavailableZero(t *testing.T) {
	b, c := newTest(t)
	r := run(t, b, domain.Action{Kind: domain.ActionDeploy, Service: "order-service", Image: "order-service:v2"})
	if r.FromRevision != 1 || r.ToRevision != 2 || r.ToImage != "order-service:v2" {
		t.Fatalf("result %+v", r)
	}
	rss, err := b.Client().AppsV1().ReplicaSets(Namespace).List(context.Background(), metav1.ListOptions{LabelSelector: "app=order-service"})
	if err != nil || len(rss.Items) != 2 {
		t.Fatalf("ReplicaSets: %v %d", err, len(rss.Items))
	}
	for _, rs := range rss.Items {
		hash := rs.Labels["pod-template-hash"]
		if hash == "" || rs.Name != "order-service-"+hash || rs.Spec.Template.Labels["pod-template-hash"] != hash ||
			rs.Annotations["deployment.kubernetes.io/revision"] == "" {
			t.Errorf("ReplicaSet %s: labels %v annotations %v", rs.Name, rs.Labels, rs.Annotations)
		}
	}
	for i := 0; ; i++ {
		s := svc(t, b, "order-service")
		if s.Current > 4 || s.Ready < 3 {
			t.Fatalf("surge/unavailable broken at %s: current %d ready %d", c.Now().Sub(t0), s.Current, s.Ready)
		}
		if s.Phase == domain.PhaseComplete {
			if s.Revision != 2 || s.Updated != 3 || len(s.ReplicaSets) != 2 || i < 3 {
				t.Fatalf("after %ds: %+v", i, s)
			}
			break
		}
		if i > 15 {
			t.Fatalf("not complete after %ds: %+v", i, s)
		}
		c.Advance(time.Second)
	}
}

// A crashing revision never gets Ready, restarts, stalls after the progress deadline; a
// rollback reuses revision 1's ReplicaSet as revision 3, as Kubernetes does.
func TestCrashStallsAfterDeadlineAndRollbackReusesRevision(t *testing.T) {
	b, c := newTest(t)
	first := svc(t, b, "payment-service").ReplicaSets[0].Name
	run(t, b, domain.Action{Kind: domain.ActionDeploy, Service: "payment-service", Image: "payment-service:v2-crash"})
	c.Advance(30 * time.Second)
	s := svc(t, b, "payment-service")
	if s.Phase != domain.PhaseProgressing || s.Ready != 3 || s.Updated != 1 {
		t.Fatalf("at 30s: phase %s ready %d updated %d", s.Phase, s.Ready, s.Updated)
	}
	rs, _ := s.NewReplicaSet()
	if len(rs.Pods) != 1 || rs.Pods[0].Ready || rs.Pods[0].Reason != "CrashLoopBackOff" || rs.Pods[0].Restarts == 0 {
		t.Fatalf("crashing pod: %+v", rs.Pods)
	}
	c.Advance(31 * time.Second)
	s = svc(t, b, "payment-service")
	if s.Phase != domain.PhaseStalled || !strings.Contains(s.Message, "timed out") {
		t.Fatalf("at 61s: phase %s message %q", s.Phase, s.Message)
	}
	if ev := b.State().Events; len(ev) == 0 || ev[0].Reason != "BackOff" || ev[0].Type != "Warning" {
		t.Fatalf("events %+v", ev)
	}
	r := run(t, b, domain.Action{Kind: domain.ActionRollback, Service: "payment-service"})
	if r.ToRevision != 1 || r.ToImage != "payment-service:v1" {
		t.Fatalf("rollback result %+v", r)
	}
	c.Advance(5 * time.Second)
	s = svc(t, b, "payment-service")
	if s.Phase != domain.PhaseComplete || s.Revision != 3 || s.Image != "payment-service:v1" {
		t.Fatalf("after rollback: phase %s rev %d image %s", s.Phase, s.Revision, s.Image)
	}
	revs, err := b.Revisions(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	if len(revs) != 2 || revs[0].Number != 3 || !revs[0].Current || revs[0].ReplicaSet != first || revs[1].Number != 2 {
		t.Fatalf("revisions %+v (first ReplicaSet %s)", revs, first)
	}
	if r := run(t, b, domain.Action{Kind: domain.ActionRollback, Service: "payment-service", ToRevision: 3}); !r.Skipped {
		t.Fatalf("rollback to the current template should be skipped: %+v", r)
	}
}

// The metrics follow the sandbox simulator's behaviour table.
func TestBehaviourTable(t *testing.T) {
	b, c := newTest(t)
	run(t, b, domain.Action{Kind: domain.ActionDeploy, Service: "cart-service", Image: "cart-service:v2-slow"})
	run(t, b, domain.Action{Kind: domain.ActionDeploy, Service: "inventory-service", Image: "inventory-service:v2-hog"})
	run(t, b, domain.Action{Kind: domain.ActionDeploy, Service: "payment-service", Image: "payment-service:v2-leak"})
	run(t, b, domain.Action{Kind: domain.ActionDeploy, Service: "order-service", Image: "order-service:v2-bad"})
	c.Advance(20 * time.Second)
	f1 := frame(b)
	c.Advance(10 * time.Second)
	f2 := frame(b)
	slow := simulator.BehaviourFor("x:v2-slow").P99
	near := func(what string, got, want, tol float64) {
		if math.Abs(got-want) > tol*want {
			t.Errorf("%s: %v, want %v ± %.0f%%", what, got, want, tol*100)
		}
	}
	near("slow p99", f2.Services["shop/cart-service"][domain.MetricLatencyP99], slow, 0.1)
	near("healthy p99", f2.Services["shop/gateway"][domain.MetricLatencyP99], simulator.Healthy.P99, 0.2)
	near("hog cpu", f2.Services["shop/inventory-service"][domain.MetricCPU], 0.95, 0.1)
	near("healthy cpu", f2.Services["shop/gateway"][domain.MetricCPU], 0.1, 0.15)
	near("bad 5xx", f2.Services["shop/order-service"][domain.MetricErrorRatio], 0.3, 0.1)
	grow := (f2.Services["shop/payment-service"][domain.MetricMemory] - f1.Services["shop/payment-service"][domain.MetricMemory]) / (1 << 20) / 10
	near("leak MiB/s", grow, 10, 0.2)
	near("healthy rps", f2.Services["shop/gateway"][domain.MetricRequestRate], 150, 0.1)
}

// Two runs on the same clock give the same frames and backfills.
func TestDeterministic(t *testing.T) {
	once := func() (domain.MetricsFrame, []domain.Series) {
		b, c := newTest(t)
		run(t, b, domain.Action{Kind: domain.ActionDeploy, Service: "order-service", Image: "order-service:v2-bad"})
		c.Advance(3 * time.Second)
		h, err := b.History(context.Background(), svc(t, b, "order-service"), 10*time.Minute, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return frame(b), h
	}
	f1, h1 := once()
	f2, h2 := once()
	for k, v := range f1.Services {
		for m, x := range v {
			if f2.Services[k][m] != x {
				t.Fatalf("%s %s differs: %v vs %v", k, m, x, f2.Services[k][m])
			}
		}
	}
	if len(h1) != len(h2) || len(h1[0].Points) != len(h2[0].Points) || h1[0].Points[10] != h2[0].Points[10] {
		t.Fatal("history differs")
	}
	var rsSeries int
	for _, s := range h1 {
		if s.ReplicaSet == "" && s.Metric == domain.MetricRequestRate && len(s.Points) != 301 {
			t.Errorf("service series has %d points", len(s.Points))
		}
		if s.ReplicaSet != "" && s.Metric == domain.MetricErrorRatio {
			rsSeries++
		}
	}
	if rsSeries != 2 {
		t.Errorf("%d per-ReplicaSet error series, want 2", rsSeries)
	}
}

// Pause, resume, restart and scale through the executor; a stale expectation is the
// executor's conflict.
func TestActions(t *testing.T) {
	b, c := newTest(t)
	ctx := context.Background()
	run(t, b, domain.Action{Kind: domain.ActionPause, Service: "gateway"})
	// A paused Deployment takes a new template but does not roll it out, nor back.
	run(t, b, domain.Action{Kind: domain.ActionDeploy, Service: "gateway", Container: "envoy", Image: "envoyproxy/envoy:v1.31.0"})
	if _, err := b.Execute(ctx, domain.Action{Kind: domain.ActionRollback, Namespace: Namespace, Service: "gateway", Trigger: domain.TriggerKey}); err == nil || !strings.Contains(err.Error(), "paused") {
		t.Fatalf("rollback of paused: %v", err)
	}
	c.Advance(10 * time.Second)
	if s := svc(t, b, "gateway"); s.Phase != domain.PhasePaused || s.Updated != 0 || s.Containers[1].Image != "envoyproxy/envoy:v1.31.0" {
		t.Fatalf("paused gateway %+v", s)
	}
	run(t, b, domain.Action{Kind: domain.ActionResume, Service: "gateway"})
	c.Advance(15 * time.Second)
	if s := svc(t, b, "gateway"); s.Phase != domain.PhaseComplete || s.Updated != 3 {
		t.Fatalf("resumed gateway phase %s updated %d", s.Phase, s.Updated)
	}
	if r := run(t, b, domain.Action{Kind: domain.ActionRestart, Service: "cart-service"}); r.ToRevision != 2 {
		t.Fatalf("restart %+v", r)
	}
	run(t, b, domain.Action{Kind: domain.ActionScale, Service: "cart-service", Replicas: 5})
	c.Advance(20 * time.Second)
	if s := svc(t, b, "cart-service"); s.Ready != 5 || s.Phase != domain.PhaseComplete || s.Revision != 2 {
		t.Fatalf("scaled cart-service ready %d phase %s revision %d", s.Ready, s.Phase, s.Revision)
	}
	_, err := b.Execute(ctx, domain.Action{Kind: domain.ActionDeploy, Namespace: Namespace, Service: "cart-service", Image: "x:1", ExpectRevision: 1, Trigger: domain.TriggerKey})
	if !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("expect revision: %v", err)
	}
}

// checkout: a deploy goes to the idle colour, the reconciler switches once it is Ready and
// scales the old colour down after the delay.
func TestBlueGreenDeploySwitchScaleDown(t *testing.T) {
	b, c := newTest(t, WithBlueGreen(0, time.Minute))
	s := svc(t, b, "checkout")
	if s.BlueGreen == nil || s.BlueGreen.Active != domain.ColorBlue {
		t.Fatalf("checkout %+v", s.BlueGreen)
	}
	run(t, b, domain.Action{Kind: domain.ActionDeploy, Service: "checkout", Image: "checkout:v2"})
	for i := 0; svc(t, b, "checkout").BlueGreen.Active != domain.ColorGreen; i++ {
		if i > 10 {
			t.Fatalf("no switch after %ds: %+v", i, svc(t, b, "checkout").BlueGreen)
		}
		c.Advance(time.Second)
	}
	// The switch shows among the events of the states the console watches.
	wctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	var seen []domain.Event
watch:
	for st := range b.Watch(wctx) {
		seen = st.Events
		for _, e := range st.Events {
			if strings.Contains(e.Message, "switched checkout from blue") {
				break watch
			}
		}
	}
	if wctx.Err() != nil {
		t.Errorf("no switch among the watched events: %+v", seen)
	}
	cancel()
	c.Advance(61 * time.Second)
	b.State()
	c.Advance(time.Second)
	if blue := svc(t, b, "checkout").BlueGreen.Of(domain.ColorBlue); blue.Desired != 0 || blue.Current != 0 {
		t.Fatalf("blue after the delay: %+v", blue)
	}
}

// BenchmarkNew is the demo's start: seeding, the first steps, the watches' sync.
func BenchmarkNew(b *testing.B) {
	for b.Loop() {
		ctx, cancel := context.WithCancel(context.Background())
		if _, err := New(ctx, NewManualClock(t0), WithBlueGreen(0, 0), WithAuditLog(filepath.Join(b.TempDir(), "audit.jsonl"))); err != nil {
			b.Fatal(err)
		}
		cancel()
	}
}
