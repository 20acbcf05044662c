package demo

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/internal/domain"
)

var t0 = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

func newTest(t *testing.T) (*Backend, *ManualClock) {
	t.Helper()
	c := NewManualClock(t0)
	return New(c), c
}

func svc(t *testing.T, b *Backend, name string) domain.Service {
	t.Helper()
	s, ok := b.State().FindByName("shop", name)
	if !ok {
		t.Fatalf("no service %s", name)
	}
	return s
}

func exec(t *testing.T, b *Backend, a domain.Action) domain.Result {
	t.Helper()
	if a.Namespace == "" {
		a.Namespace = "shop"
	}
	a.Trigger = domain.TriggerKey
	r, err := b.Execute(context.Background(), a)
	if err != nil {
		t.Fatalf("%s: %v", a.Kind, err)
	}
	return r
}

func TestSeed(t *testing.T) {
	b, _ := newTest(t)
	st := b.State()
	if len(st.Services) != 5 || !st.Synced || !st.API.OK {
		t.Fatalf("state: %d services, synced %v", len(st.Services), st.Synced)
	}
	want := []string{"cart-service", "gateway", "inventory-service", "order-service", "payment-service"}
	for i, s := range st.Services {
		if s.Name != want[i] || s.Namespace != "shop" || s.Image != s.Name+":v1" || s.Revision != 1 ||
			s.Desired != 3 || s.Ready != 3 || s.Phase != domain.PhaseComplete || s.ProgressDeadline != 60*time.Second {
			t.Errorf("service %d: %+v", i, s)
		}
	}
	id := b.Identity()
	if !id.Demo || id.Context != "demo" || len(id.Namespaces) != 1 || id.Namespaces[0] != "shop" {
		t.Errorf("identity %+v", id)
	}
}

func TestRollingUpdateSurgeOneUnavailableZero(t *testing.T) {
	b, c := newTest(t)
	r := exec(t, b, domain.Action{Kind: domain.ActionDeploy, Service: "order-service", Image: "order-service:v2"})
	if r.FromRevision != 1 || r.ToRevision != 2 || r.ToImage != "order-service:v2" {
		t.Fatalf("result %+v", r)
	}
	type step struct{ newPods, oldPods, ready int32 }
	var got []step
	for range 8 {
		s := svc(t, b, "order-service")
		if s.Current > 4 || s.Ready < 3 {
			t.Fatalf("surge/unavailable broken at %s: current %d ready %d", c.Now().Sub(t0), s.Current, s.Ready)
		}
		old := int32(0)
		for _, rs := range s.OldReplicaSets() {
			old += int32(len(rs.Pods))
		}
		got = append(got, step{s.Updated, old, s.Ready})
		c.Advance(time.Second)
	}
	want := []step{{1, 3, 3}, {1, 3, 3}, {2, 2, 3}, {2, 2, 3}, {3, 1, 3}, {3, 1, 3}, {3, 0, 3}, {3, 0, 3}}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("second %d: got %+v, want %+v (all %v)", i, got[i], want[i], got)
		}
	}
	if s := svc(t, b, "order-service"); s.Phase != domain.PhaseComplete || s.Revision != 2 || len(s.ReplicaSets) != 2 {
		t.Fatalf("after rollout: %+v", s)
	}
}

func TestCrashStallsAfterDeadlineAndRollbackReusesRevision(t *testing.T) {
	b, c := newTest(t)
	exec(t, b, domain.Action{Kind: domain.ActionDeploy, Service: "payment-service", Image: "payment-service:v2-crash"})
	c.Advance(30 * time.Second)
	s := svc(t, b, "payment-service")
	if s.Phase != domain.PhaseProgressing || s.Ready != 3 || s.Updated != 1 {
		t.Fatalf("at 30s: phase %s ready %d updated %d", s.Phase, s.Ready, s.Updated)
	}
	rs, _ := s.NewReplicaSet()
	if rs.Pods[0].Reason != "CrashLoopBackOff" || rs.Pods[0].Restarts == 0 {
		t.Fatalf("crashing pod: %+v", rs.Pods[0])
	}
	c.Advance(31 * time.Second)
	s = svc(t, b, "payment-service")
	if s.Phase != domain.PhaseStalled || !strings.Contains(s.Message, "timed out") {
		t.Fatalf("at 61s: phase %s message %q", s.Phase, s.Message)
	}
	found := false
	for _, cond := range s.Conditions {
		found = found || cond.Reason == "ProgressDeadlineExceeded"
	}
	if !found {
		t.Fatalf("no ProgressDeadlineExceeded condition: %+v", s.Conditions)
	}
	if ev := b.State().Events; len(ev) == 0 || ev[0].Reason != "BackOff" || ev[0].Type != "Warning" {
		t.Fatalf("events %+v", ev)
	}
	r := exec(t, b, domain.Action{Kind: domain.ActionRollback, Service: "payment-service"})
	if r.ToRevision != 3 || r.ToImage != "payment-service:v1" {
		t.Fatalf("rollback result %+v", r)
	}
	s = svc(t, b, "payment-service")
	if s.Phase != domain.PhaseComplete || s.Revision != 3 || s.Image != "payment-service:v1" {
		t.Fatalf("after rollback: phase %s rev %d image %s", s.Phase, s.Revision, s.Image)
	}
	revs, err := b.Revisions(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	// Revision 1's ReplicaSet was re-used and became revision 3, as Kubernetes does.
	if len(revs) != 2 || revs[0].Number != 3 || !revs[0].Current || revs[1].Number != 2 || revs[1].Image != "payment-service:v2-crash" {
		t.Fatalf("revisions %+v", revs)
	}
	r = exec(t, b, domain.Action{Kind: domain.ActionRollback, Service: "payment-service", ToRevision: 3})
	if !r.Skipped {
		t.Fatalf("rollback to the current template should be skipped: %+v", r)
	}
}

func TestBadVersionErrorRatioClimbsAndRollbackRestores(t *testing.T) {
	b, c := newTest(t)
	ctx := context.Background()
	errRatio := func() (float64, domain.MetricsFrame) {
		f := b.Metrics(ctx, nil)
		v, ok := f.Services["shop/order-service"].Get(domain.MetricErrorRatio)
		if !ok {
			t.Fatal("no error ratio")
		}
		return v, f
	}
	before, f := errRatio()
	if before > 0.01 || f.Queries != 5 {
		t.Fatalf("healthy error ratio %v, queries %d", before, f.Queries)
	}
	exec(t, b, domain.Action{Kind: domain.ActionDeploy, Service: "order-service", Image: "order-service:v2-bad"})
	c.Advance(2 * time.Second)
	mid, f := errRatio()
	s := svc(t, b, "order-service")
	newRS, _ := s.NewReplicaSet()
	oldRS := s.OldReplicaSets()[0]
	nv := f.ReplicaSets["shop/"+newRS.Name][domain.MetricErrorRatio]
	ov := f.ReplicaSets["shop/"+oldRS.Name][domain.MetricErrorRatio]
	if nv < 0.25 || ov > 0.01 {
		t.Fatalf("per revision: new %v old %v", nv, ov)
	}
	// 1 bad pod of 3 serving: sum of numerators over sum of denominators, about 10 %.
	if mid < 0.07 || mid > 0.13 {
		t.Fatalf("mid-rollout error ratio %v", mid)
	}
	c.Advance(10 * time.Second)
	after, _ := errRatio()
	if after < 0.25 {
		t.Fatalf("after rollout error ratio %v", after)
	}
	exec(t, b, domain.Action{Kind: domain.ActionRollback, Service: "order-service"})
	c.Advance(10 * time.Second)
	back, _ := errRatio()
	if back > 0.01 {
		t.Fatalf("after rollback error ratio %v", back)
	}
}

func TestWorkloadTable(t *testing.T) {
	b, c := newTest(t)
	exec(t, b, domain.Action{Kind: domain.ActionDeploy, Service: "cart-service", Image: "cart-service:v2-slow"})
	exec(t, b, domain.Action{Kind: domain.ActionDeploy, Service: "inventory-service", Image: "inventory-service:v2-hog"})
	exec(t, b, domain.Action{Kind: domain.ActionDeploy, Service: "payment-service", Image: "payment-service:v2-leak"})
	c.Advance(20 * time.Second)
	f1 := b.Metrics(context.Background(), nil)
	c.Advance(10 * time.Second)
	f2 := b.Metrics(context.Background(), nil)
	if v := f2.Services["shop/cart-service"][domain.MetricLatencyP99]; v < 1.5 {
		t.Errorf("slow p99 %v", v)
	}
	if v := f2.Services["shop/order-service"][domain.MetricLatencyP99]; math.Abs(v-0.12) > 0.03 {
		t.Errorf("healthy p99 %v", v)
	}
	if v := f2.Services["shop/inventory-service"][domain.MetricCPU]; math.Abs(v-0.95) > 0.05 {
		t.Errorf("hog cpu %v", v)
	}
	if v := f2.Services["shop/order-service"][domain.MetricCPU]; math.Abs(v-0.1) > 0.02 {
		t.Errorf("healthy cpu %v", v)
	}
	grow := (f2.Services["shop/payment-service"][domain.MetricMemory] - f1.Services["shop/payment-service"][domain.MetricMemory]) / (1 << 20) / 10
	if grow < 8 || grow > 12 {
		t.Errorf("leak grows %v MiB/s per pod", grow)
	}
	if v := f2.Services["shop/gateway"][domain.MetricRequestRate]; math.Abs(v-150) > 15 {
		t.Errorf("healthy rps %v", v)
	}
}

func TestDeterministic(t *testing.T) {
	run := func() (domain.MetricsFrame, []domain.Series) {
		b, c := newTest(t)
		exec(t, b, domain.Action{Kind: domain.ActionDeploy, Service: "order-service", Image: "order-service:v2-bad"})
		c.Advance(3 * time.Second)
		h, err := b.History(context.Background(), svc(t, b, "order-service"), 10*time.Minute, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return b.Metrics(context.Background(), nil), h
	}
	f1, h1 := run()
	f2, h2 := run()
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
	// The backfill covers the window and has per-ReplicaSet series for both revisions.
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

func TestActions(t *testing.T) {
	b, c := newTest(t)
	ctx := context.Background()
	exec(t, b, domain.Action{Kind: domain.ActionPause, Service: "gateway"})
	if _, err := b.Execute(ctx, domain.Action{Kind: domain.ActionRollback, Namespace: "shop", Service: "gateway"}); err == nil || !strings.Contains(err.Error(), "paused") {
		t.Fatalf("rollback of paused: %v", err)
	}
	// A paused Deployment takes a new template but does not roll it out.
	exec(t, b, domain.Action{Kind: domain.ActionDeploy, Service: "gateway", Container: "envoy", Image: "envoyproxy/envoy:v1.31.0"})
	c.Advance(10 * time.Second)
	if s := svc(t, b, "gateway"); s.Phase != domain.PhasePaused || s.Updated != 0 || s.Containers[1].Image != "envoyproxy/envoy:v1.31.0" {
		t.Fatalf("paused gateway %+v", s)
	}
	exec(t, b, domain.Action{Kind: domain.ActionResume, Service: "gateway"})
	c.Advance(10 * time.Second)
	if s := svc(t, b, "gateway"); s.Phase != domain.PhaseComplete || s.Updated != 3 {
		t.Fatalf("resumed gateway phase %s updated %d", s.Phase, s.Updated)
	}
	r := exec(t, b, domain.Action{Kind: domain.ActionRestart, Service: "cart-service"})
	if r.ToRevision != 2 {
		t.Fatalf("restart %+v", r)
	}
	exec(t, b, domain.Action{Kind: domain.ActionScale, Service: "cart-service", Replicas: 5})
	c.Advance(20 * time.Second)
	if s := svc(t, b, "cart-service"); s.Ready != 5 || s.Phase != domain.PhaseComplete {
		t.Fatalf("scaled cart-service ready %d phase %s", s.Ready, s.Phase)
	}
	_, err := b.Execute(ctx, domain.Action{Kind: domain.ActionDeploy, Namespace: "shop", Service: "cart-service", Image: "x:1", ExpectRevision: 1})
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("expect revision: %v", err)
	}
	if _, err := b.Execute(ctx, domain.Action{Kind: domain.ActionDeploy, Namespace: "shop", Service: "nope", Image: "x:1"}); err == nil {
		t.Fatal("unknown service accepted")
	}
}

func TestWatchSendsChanges(t *testing.T) {
	b, c := newTest(t)
	b.SetPollInterval(5 * time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	ch := b.Watch(ctx)
	first := <-ch
	if len(first.Services) != 5 {
		t.Fatal("no initial state")
	}
	exec(t, b, domain.Action{Kind: domain.ActionDeploy, Service: "order-service", Image: "order-service:v2"})
	timeout := time.After(5 * time.Second)
	for {
		select {
		case st := <-ch:
			if s, _ := st.FindByName("shop", "order-service"); s.Revision == 2 {
				c.Advance(time.Minute)
				for st := range ch {
					if s, _ := st.FindByName("shop", "order-service"); s.Phase == domain.PhaseComplete {
						cancel()
						for range ch {
						}
						return
					}
				}
				t.Fatal("channel closed before completion")
			}
		case <-timeout:
			t.Fatal("no state after Execute")
		}
	}
}
