package backend

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"

	"github.com/opsdeck/opsdeck/config"
	"github.com/opsdeck/opsdeck/internal/actions"
	"github.com/opsdeck/opsdeck/internal/audit"
	"github.com/opsdeck/opsdeck/internal/backend/stream"
	"github.com/opsdeck/opsdeck/internal/bluegreen"
	"github.com/opsdeck/opsdeck/internal/cluster"
	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/internal/guard"
	"github.com/opsdeck/opsdeck/internal/metrics"
	"github.com/opsdeck/opsdeck/internal/sandbox"
)

// bgFixture is a blue-green service web (web-blue active at web:v1, 3 replicas; web-green at
// 0) in a namespace of the test's own, an audit log and an executor.
type bgFixture struct {
	env    *sandbox.Env
	ns     string
	client kubernetes.Interface
	log    *audit.Log
	rec    *actions.EventRecorder
	exec   *actions.Executor
}

func newBGFixture(t *testing.T, settings actions.BlueGreenSettings) *bgFixture {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the sandbox")
	}
	env := sandbox.Shared(t)
	f := &bgFixture{env: env, ns: env.NewNamespace(t), client: env.Client(t)}
	env.CreateBlueGreen(t, f.ns, "web", "web:v1", 3)
	log, err := audit.Open(filepath.Join(t.TempDir(), "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	f.log = log
	f.rec = actions.NewEventRecorder(f.client)
	t.Cleanup(func() { f.rec.Close(time.Second) })
	f.exec = f.executor(settings)
	return f
}

// executor is one opsdeck process's executor on the fixture's audit log.
func (f *bgFixture) executor(settings actions.BlueGreenSettings) *actions.Executor {
	return &actions.Executor{Client: f.client, Audit: f.log, Recorder: f.rec, BlueGreen: settings,
		Identity: domain.Identity{Context: "sandbox", User: "admin"}}
}

// backend starts a live backend (another opsdeck process: a console or opsdeck guard) on the
// fixture's namespace, with Prometheus when withMetrics, until the test ends.
func (f *bgFixture) backend(t *testing.T, exec *actions.Executor, withMetrics bool, th domain.Thresholds) *Backend {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	w, err := cluster.NewWatcher(f.client, cluster.WatchOptions{Namespaces: []string{f.ns}})
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Identity: exec.Identity, Watcher: w, Executor: exec, Thresholds: th}
	if withMetrics {
		src, err := metrics.New(config.Prometheus{URL: f.env.PrometheusURL, Timeout: config.D(5 * time.Second)}, config.Queries{}, f.env.RESTConfig(t))
		if err != nil {
			t.Fatal(err)
		}
		opts.Metrics = src
	}
	b, err := New(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !b.WaitForSync(ctx) {
		t.Fatal("no sync")
	}
	// The process's state stream, in which the reconciler acts (as in the console and the guard).
	if a := b.BlueGreenActor(); a != nil {
		s := &stream.Stream{Source: b, Interval: func() time.Duration { return time.Second }, Actors: []stream.Actor{a}}
		go func() { _ = s.Run(ctx) }()
	}
	return b
}

func (f *bgFixture) service(t *testing.T) *corev1.Service {
	t.Helper()
	s, err := f.client.CoreV1().Services(f.ns).Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (f *bgFixture) color(t *testing.T) domain.Color {
	t.Helper()
	return domain.Color(f.service(t).Spec.Selector[bluegreen.ColorLabel])
}

// pods lists the namespace's pods of colour c (all pods when c is empty).
func (f *bgFixture) pods(t *testing.T, c domain.Color) []corev1.Pod {
	t.Helper()
	opts := metav1.ListOptions{}
	if c != "" {
		opts.LabelSelector = bluegreen.ColorLabel + "=" + string(c)
	}
	l, err := f.client.CoreV1().Pods(f.ns).List(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return l.Items
}

func readyCount(pods []corev1.Pod) int {
	n := 0
	for _, p := range pods {
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue && p.DeletionTimestamp == nil {
				n++
			}
		}
	}
	return n
}

func (f *bgFixture) do(t *testing.T, exec *actions.Executor, a domain.Action) domain.Result {
	t.Helper()
	a.Namespace, a.Service = f.ns, "web"
	if a.Trigger == "" {
		a.Trigger = domain.TriggerCLI
	}
	res, err := exec.Execute(context.Background(), a)
	if err != nil {
		t.Fatalf("%s web: %v", a.Kind, err)
	}
	return res
}

// until polls cond every 25 ms until it holds, failing the test after timeout.
func until(t *testing.T, what string, timeout time.Duration, cond func() bool) time.Time {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(25 * time.Millisecond)
	}
	return time.Now()
}

func (f *bgFixture) auditActions(t *testing.T) []audit.Entry {
	t.Helper()
	es, err := audit.Read(f.log.Path())
	if err != nil {
		t.Fatal(err)
	}
	return audit.Outcomes(es)
}

// A blue-green deploy started by a process that then exits is finished by another opsdeck
// process: the Service keeps selecting blue while green's pods are not all Ready, and selects
// green once they are.
func TestBlueGreenDeploySwitchesOnlyWhenPreviewReady(t *testing.T) {
	f := newBGFixture(t, actions.BlueGreenSettings{ScaleDownDelay: time.Hour})
	start := time.Now()
	res := f.do(t, f.exec, domain.Action{Kind: domain.ActionDeploy, Image: "web:v2"})
	if res.PendingSwitch != domain.ColorGreen || res.Kind != domain.KindBlueGreen || res.FromImage != "web:v1" || res.ToImage != "web:v2" ||
		res.FromRevision != 1 || res.ToRevision != 2 {
		t.Fatalf("deploy result %+v", res)
	}
	if c := f.color(t); c != domain.ColorBlue {
		t.Fatalf("the deploy switched at once to %s", c)
	}
	// The deploying process is gone; a console (or opsdeck guard) performs the switch.
	other := f.backend(t, f.executor(actions.BlueGreenSettings{}), false, domain.Thresholds{})
	otherStates := other.Watch(context.Background())

	var sawBlueNotReady bool
	var allReadyAt time.Time
	switchedAt := until(t, "the switch to green", 90*time.Second, func() bool {
		c := f.color(t) // the selector first, then the pods: pods only become Ready
		green := f.pods(t, domain.ColorGreen)
		ready := readyCount(green)
		if ready == 3 && allReadyAt.IsZero() {
			allReadyAt = time.Now()
		}
		switch c {
		case domain.ColorBlue:
			if ready < 3 {
				sawBlueNotReady = true
			}
			return false
		case domain.ColorGreen:
			if ready < 3 {
				t.Fatalf("the Service selects green with only %d of 3 pods Ready", ready)
			}
			return true
		}
		t.Fatalf("selector colour %q", c)
		return false
	})
	if !sawBlueNotReady {
		t.Error("never saw the Service on blue while green's pods were not all Ready")
	}
	t.Logf("deploy to switch: %s; all green pods Ready to the switch seen: %s", switchedAt.Sub(start).Round(time.Millisecond),
		switchedAt.Sub(allReadyAt).Round(time.Millisecond))

	// The console that switched shows it in its events pane.
	await(t, otherStates, "the switch among the events", func(st domain.ClusterState) (domain.Service, bool) {
		for _, e := range st.Events {
			if e.Source == domain.SourceAction && e.Reason == "switch" && e.Object == "service/web" &&
				strings.Contains(e.Message, "switched web from blue (web:v1) to green (web:v2)") {
				return domain.Service{}, true
			}
		}
		return domain.Service{}, false
	})

	svc := f.service(t)
	st := bluegreen.ReadState(svc)
	if st.Revision != 2 || st.Pending != "" || st.ScaleDownAt.Sub(st.SwitchedAt) != time.Hour || st.Trigger != domain.TriggerCLI {
		t.Errorf("annotations after the switch: %+v", st)
	}
	if n := len(f.pods(t, domain.ColorBlue)); n != 3 {
		t.Errorf("blue runs %d pods right after the switch, want 3 (scale-down in an hour)", n)
	}
	es := f.auditActions(t)
	if len(es) != 2 || es[0].Action != "deploy" || es[1].Action != "switch" || es[1].Trigger != "cli" || es[1].FromImage != "web:v1" ||
		es[1].ToImage != "web:v2" || es[1].ToRevision != 2 || es[1].Result != audit.ResultOK {
		t.Fatalf("audit %+v", es)
	}
	for _, e := range es {
		b, err := os.ReadFile(e.Snapshot)
		if err != nil || !strings.Contains(string(b), `"kind": "List"`) || !strings.Contains(string(b), `"kind": "Service"`) ||
			!strings.Contains(string(b), `"name": "web-green"`) {
			t.Errorf("snapshot of %s: %v\n%.300s", e.Action, err, b)
		}
	}
}

// While the old colour is up, a rollback switches the selector back at once and starts no pod.
func TestBlueGreenRollbackSwitchesBackWithoutNewPods(t *testing.T) {
	f := newBGFixture(t, actions.BlueGreenSettings{ScaleDownDelay: time.Hour})
	b := f.backend(t, f.exec, false, domain.Thresholds{})
	f.do(t, f.exec, domain.Action{Kind: domain.ActionDeploy, Image: "web:v2"})
	until(t, "the switch to green", 90*time.Second, func() bool { return f.color(t) == domain.ColorGreen })

	uids := func() []string {
		var out []string
		for _, p := range f.pods(t, "") {
			out = append(out, string(p.UID))
		}
		sort.Strings(out)
		return out
	}
	before := uids()
	if len(before) != 6 {
		t.Fatalf("%d pods before the rollback, want 6 (both colours up)", len(before))
	}
	start := time.Now()
	res, err := b.Execute(context.Background(), domain.Action{Kind: domain.ActionRollback, Namespace: f.ns, Service: "web", Trigger: domain.TriggerKey})
	took := time.Since(start)
	if err != nil || res.Switched != domain.ColorBlue || res.PendingSwitch != "" || !strings.Contains(res.Message, "no pod started") {
		t.Fatalf("rollback: %+v, %v", res, err)
	}
	if c := f.color(t); c != domain.ColorBlue {
		t.Fatalf("after the rollback returned the Service selects %s", c)
	}
	t.Logf("switch back took %s (the executor's call, selector on blue when it returns)", took.Round(time.Millisecond))
	// Until the watches have seen the switch (and the controllers had their chance), the pods
	// are the same ones.
	states := b.Watch(context.Background())
	await(t, states, "web on blue", func(st domain.ClusterState) (domain.Service, bool) {
		s, ok := st.FindByName(f.ns, "web")
		return s, ok && s.BlueGreen != nil && s.BlueGreen.Active == domain.ColorBlue && s.Revision == 3
	})
	if after := uids(); strings.Join(after, ",") != strings.Join(before, ",") {
		t.Fatalf("pods changed: before %v, after %v", before, after)
	}
	if ready := readyCount(f.pods(t, domain.ColorBlue)); ready != 3 {
		t.Errorf("%d blue pods Ready", ready)
	}
	es := f.auditActions(t)
	last := es[len(es)-1]
	if last.Action != "rollback" || last.Trigger != "key" || last.FromImage != "web:v2" || last.ToImage != "web:v1" || last.FromRevision != 2 || last.ToRevision != 3 {
		t.Errorf("audit %+v", last)
	}
}

// The previous colour stays at full scale for the scale-down delay after the switch, then is
// scaled to zero by the running opsdeck, with its own audit line.
func TestBlueGreenOldColourScalesDownAfterDelay(t *testing.T) {
	const delay = 3 * time.Second
	f := newBGFixture(t, actions.BlueGreenSettings{ScaleDownDelay: delay})
	f.backend(t, f.exec, false, domain.Thresholds{})
	f.do(t, f.exec, domain.Action{Kind: domain.ActionDeploy, Image: "web:v2"})
	until(t, "the switch to green", 90*time.Second, func() bool { return f.color(t) == domain.ColorGreen })
	due := bluegreen.ReadState(f.service(t)).ScaleDownAt
	if due.IsZero() {
		t.Fatal("no scale-down deadline on the Service")
	}
	blue := func() int32 {
		d, err := f.client.AppsV1().Deployments(f.ns).Get(context.Background(), "web-blue", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return *d.Spec.Replicas
	}
	scaled := until(t, "web-blue scaled to 0", 30*time.Second, func() bool {
		n := blue()
		if n == 0 && time.Now().Before(due) {
			t.Fatalf("web-blue scaled down %s before its deadline", time.Until(due))
		}
		return n == 0
	})
	t.Logf("scale-down seen %s after its deadline (delay %s)", scaled.Sub(due).Round(time.Millisecond), delay)
	until(t, "web-blue's pods gone", 30*time.Second, func() bool { return len(f.pods(t, domain.ColorBlue)) == 0 })
	if ready := readyCount(f.pods(t, domain.ColorGreen)); ready != 3 || f.color(t) != domain.ColorGreen {
		t.Errorf("green: %d Ready, selected %s", ready, f.color(t))
	}
	if st := bluegreen.ReadState(f.service(t)); !st.ScaleDownAt.IsZero() {
		t.Errorf("the deadline is still on the Service: %+v", st)
	}
	es := f.auditActions(t)
	last := es[len(es)-1]
	if last.Action != "scale-down" || last.Result != audit.ResultOK || !strings.Contains(last.Reason, "scale-down delay 3s") {
		t.Errorf("audit %+v", last)
	}

	// After the scale-down, a rollback brings blue back with its image and switches once
	// it is Ready.
	res := f.do(t, f.exec, domain.Action{Kind: domain.ActionRollback})
	if res.PendingSwitch != domain.ColorBlue || res.ToImage != "web:v1" {
		t.Fatalf("rollback after the scale-down: %+v", res)
	}
	if f.color(t) != domain.ColorGreen {
		t.Fatal("switched back before blue had pods")
	}
	until(t, "the switch back to blue", 90*time.Second, func() bool {
		c := f.color(t)
		if c == domain.ColorBlue && readyCount(f.pods(t, domain.ColorBlue)) < 3 {
			t.Fatal("switched back to blue before its pods were Ready")
		}
		return c == domain.ColorBlue
	})
}

// Auto-guard over the live backend switches back a colour whose pods breach the error rule
// right after the switch to it, with the same records as a rolling rollback.
func TestGuardSwitchesBackABadColour(t *testing.T) {
	f := newBGFixture(t, actions.BlueGreenSettings{ScaleDownDelay: time.Hour})
	if f.env.PrometheusURL == "" {
		t.Fatal("the sandbox has no Prometheus")
	}
	th := domain.Thresholds{Default: map[domain.Metric]domain.Threshold{
		domain.MetricErrorRatio: {Metric: domain.MetricErrorRatio, Value: 0.05, For: 3 * time.Second, Rollback: true},
	}}
	b := f.backend(t, f.exec, true, th)
	runner := &guard.Runner{Backend: b, Engine: guard.New(guard.Config{Window: 10 * time.Minute, StableAfter: time.Hour, Thresholds: th}),
		Clock: domain.SystemClock{}, Interval: 500 * time.Millisecond}
	outcomes := make(chan guard.Outcome, 4)
	runner.OnEvaluate = func(ev guard.Evaluation) {
		for _, o := range ev.Outcomes {
			outcomes <- o
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go runner.Run(ctx)

	f.do(t, f.exec, domain.Action{Kind: domain.ActionDeploy, Image: "web:v2-bad"})
	switched := until(t, "the switch to green", 90*time.Second, func() bool { return f.color(t) == domain.ColorGreen })
	var o guard.Outcome
	select {
	case o = <-outcomes:
	case <-time.After(90 * time.Second):
		t.Fatal("the guard did not act within 90s of the switch to the bad colour")
	}
	back := time.Now()
	if o.Err != nil || o.Decision.ToColor != domain.ColorBlue || o.Result.Switched != domain.ColorBlue {
		t.Fatalf("outcome %+v", o)
	}
	if c := f.color(t); c != domain.ColorBlue {
		t.Fatalf("after the guard's switch back the Service selects %s", c)
	}
	t.Logf("switch to the bad colour -> switched back by the guard: %s (rule: errors > 5%% for 3s)", back.Sub(switched).Round(time.Millisecond))

	es := f.auditActions(t)
	last := es[len(es)-1]
	if last.Action != "rollback" || last.Trigger != "guard" || last.FromImage != "web:v2-bad" || last.ToImage != "web:v1" ||
		!strings.Contains(last.Reason, "errors > 5.0% for 3s") || !strings.Contains(last.Reason, "switching back from green (web:v2-bad) to blue (web:v1)") {
		t.Errorf("audit %+v", last)
	}
	if !f.rec.Flush(10 * time.Second) {
		t.Fatal("events not written")
	}
	evs, err := f.client.CoreV1().Events(f.ns).List(context.Background(), metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("involvedObject.name", "web-green").String()})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range evs.Items {
		if e.Reason == actions.AutoRollbackReason && e.Type == corev1.EventTypeWarning && e.InvolvedObject.Kind == "Deployment" &&
			(e.ReportingController == actions.Component || e.Source.Component == actions.Component) {
			found = true
		}
	}
	if !found {
		t.Errorf("no Warning AutoRollback event on Deployment web-green: %+v", evs.Items)
	}
	// Exactly once: the guard holds the service on blue.
	select {
	case o := <-outcomes:
		t.Fatalf("a second decision: %+v", o)
	default:
	}
}

// An inconsistent pair is refused in one line naming what is wrong, and nothing changes.
func TestBlueGreenInconsistentPairRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the sandbox")
	}
	env := sandbox.Shared(t)
	ns := env.NewNamespace(t)
	client := env.Client(t)
	ctx := context.Background()
	if _, err := client.AppsV1().Deployments(ns).Create(ctx, sandbox.BlueGreenDeployment(ns, "web", domain.ColorBlue, "web:v1", 2), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CoreV1().Services(ns).Create(ctx, sandbox.BlueGreenService(ns, "web", domain.ColorBlue), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	sandbox.WaitRolledOut(t, client, ns, "web-blue", 60*time.Second)
	log, err := audit.Open(filepath.Join(t.TempDir(), "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	exec := &actions.Executor{Client: client, Audit: log, Identity: domain.Identity{User: "admin"}}
	snapshot := func() string {
		s, _ := client.CoreV1().Services(ns).Get(ctx, "web", metav1.GetOptions{})
		d, _ := client.AppsV1().Deployments(ns).Get(ctx, "web-blue", metav1.GetOptions{})
		return s.ResourceVersion + "/" + d.ResourceVersion
	}
	check := func(want string) {
		t.Helper()
		before := snapshot()
		for _, a := range []domain.Action{
			{Kind: domain.ActionDeploy, Image: "web:v2"}, {Kind: domain.ActionRollback}, {Kind: domain.ActionScale, Replicas: 4},
		} {
			a.Namespace, a.Service, a.Trigger = ns, "web", domain.TriggerCLI
			_, err := exec.Execute(ctx, a)
			if err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), want) ||
				!strings.HasPrefix(err.Error(), "refusing to "+string(a.Kind)+" web: blue-green service "+ns+"/web is inconsistent: ") {
				t.Errorf("%s: %v; want one line with %q", a.Kind, err, want)
			}
		}
		if after := snapshot(); after != before {
			t.Errorf("objects changed: %s -> %s", before, after)
		}
		if _, err := os.Stat(log.Path()); !os.IsNotExist(err) {
			t.Errorf("a refused action wrote the audit log: %v", err)
		}
	}
	check("Deployment web-green not found (a blue-green pair needs web-blue and web-green)")

	// Both colours selected: green's pods carry the blue label.
	green := sandbox.BlueGreenDeployment(ns, "web", domain.ColorGreen, "web:v1", 0)
	green.Spec.Template.Labels[bluegreen.ColorLabel] = "blue"
	green.Spec.Selector.MatchLabels[bluegreen.ColorLabel] = "blue"
	green.Spec.Template.Labels["variant"] = "g"
	green.Spec.Selector.MatchLabels["variant"] = "g"
	if _, err := client.AppsV1().Deployments(ns).Create(ctx, green, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	check("both colours are selected: the pods of web-green match the selector app=web,opsdeck.io/color=blue")

	// The console shows the pair with its problem and no action.
	w, err := cluster.NewWatcher(client, cluster.WatchOptions{Namespaces: []string{ns}})
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w.Start(wctx)
	if !w.WaitForSync(wctx) {
		t.Fatal("no sync")
	}
	st := w.Build()
	if len(st.Services) != 1 || st.Services[0].Kind != domain.KindBlueGreen || !strings.Contains(st.Services[0].BlueGreen.Problem, "both colours are selected") {
		t.Fatalf("state %+v", st.Services)
	}
}

// A snapshot of a blue-green service brings back what revision history does not keep: the
// Service's selector. The snapshot taken before the switch restores blue as the active colour,
// at once since blue is still up as saved.
func TestBlueGreenSnapshotRestoresSelector(t *testing.T) {
	f := newBGFixture(t, actions.BlueGreenSettings{ScaleDownDelay: time.Hour})
	f.backend(t, f.exec, false, domain.Thresholds{})
	f.do(t, f.exec, domain.Action{Kind: domain.ActionDeploy, Image: "web:v2"})
	until(t, "the switch to green", 90*time.Second, func() bool { return f.color(t) == domain.ColorGreen })
	snaps, err := f.exec.Snapshots(f.ns, "web")
	if err != nil || len(snaps) != 2 || snaps[0].Action != "switch" || snaps[0].Color != domain.ColorBlue || snaps[0].Image != "web:v1" ||
		snaps[1].Action != "deploy" {
		t.Fatalf("snapshots %+v, %v", snaps, err)
	}
	res := f.do(t, f.exec, domain.Action{Kind: domain.ActionRollback, Snapshot: snaps[0].ID})
	if res.Switched != domain.ColorBlue || res.ToImage != "web:v1" {
		t.Fatalf("restore %+v", res)
	}
	if c := f.color(t); c != domain.ColorBlue {
		t.Fatalf("after the restore the Service selects %s", c)
	}
	// Green keeps its spec as saved before the switch: 3 replicas of web:v2.
	g, err := f.client.AppsV1().Deployments(f.ns).Get(context.Background(), "web-green", metav1.GetOptions{})
	if err != nil || *g.Spec.Replicas != 3 || g.Spec.Template.Spec.Containers[0].Image != "web:v2" {
		t.Fatalf("green after the restore: %v", err)
	}
}

// The metrics of a blue-green service sum both colours' pods (summed numerators over summed
// denominators) and keep each colour's apart, from real Prometheus with a fixed number of
// queries.
func TestBlueGreenMetricsAggregateBothColours(t *testing.T) {
	f := newBGFixture(t, actions.BlueGreenSettings{ScaleDownDelay: time.Hour})
	b := f.backend(t, f.exec, true, domain.Thresholds{})
	f.do(t, f.exec, domain.Action{Kind: domain.ActionDeploy, Image: "web:v2-bad"})
	states := b.Watch(context.Background())
	svc := await(t, states, "web switched to green", func(st domain.ClusterState) (domain.Service, bool) {
		s, ok := st.FindByName(f.ns, "web")
		return s, ok && s.BlueGreen != nil && s.BlueGreen.Active == domain.ColorGreen
	})
	blueRS, greenRS := f.ns+"/"+svc.BlueGreen.Of(domain.ColorBlue).ReplicaSet, f.ns+"/"+svc.BlueGreen.Of(domain.ColorGreen).ReplicaSet
	var fr domain.MetricsFrame
	until(t, "request rates of both colours", 60*time.Second, func() bool {
		fr = b.Metrics(context.Background(), []domain.Service{svc})
		_, okB := fr.ReplicaSets[blueRS].Get(domain.MetricRequestRate)
		_, okG := fr.ReplicaSets[greenRS].Get(domain.MetricErrorRatio)
		return fr.Err == nil && okB && okG
	})
	all := fr.Services[svc.Key()]
	bv, gv := fr.ReplicaSets[blueRS], fr.ReplicaSets[greenRS]
	rps := func(v domain.Values) float64 { x, _ := v.Get(domain.MetricRequestRate); return x }
	errs := func(v domain.Values) float64 { x, _ := v.Get(domain.MetricErrorRatio); return x }
	if d := rps(all) - rps(bv) - rps(gv); d > 0.01*rps(all) || d < -0.01*rps(all) {
		t.Errorf("service rps %.1f is not blue %.1f + green %.1f", rps(all), rps(bv), rps(gv))
	}
	want := (errs(bv)*rps(bv) + errs(gv)*rps(gv)) / (rps(bv) + rps(gv))
	if d := errs(all) - want; d > 0.001 || d < -0.001 || errs(gv) < 0.2 || errs(bv) > 0.05 {
		t.Errorf("error ratios: service %.4f (want %.4f), blue %.4f, green %.4f", errs(all), want, errs(bv), errs(gv))
	}
	t.Logf("web: %.0f req/s, %.1f%% 5xx (blue %.0f req/s %.1f%%, green %.0f req/s %.1f%%) in %d queries",
		rps(all), 100*errs(all), rps(bv), 100*errs(bv), rps(gv), 100*errs(gv), fr.Queries)
}
