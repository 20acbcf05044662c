package release

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	"github.com/opsdeck/opsdeck/internal/actions"
	"github.com/opsdeck/opsdeck/internal/audit"
	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/internal/sandbox"
)

// shiftedClock is the wall clock moved by a fixed offset: the windows of the test open a few
// real seconds after it starts, whatever the minute.
type shiftedClock struct{ off time.Duration }

func (c shiftedClock) Now() time.Time { return time.Now().Add(c.off) }

// process is one opsdeck process: its own executor, audit log, informer and reconciler.
type process struct {
	rec  *Reconciler
	log  string
	stop context.CancelFunc
	done chan struct{}
}

func startProcess(t *testing.T, client kubernetes.Interface, ns, who string, clock domain.Clock) *process {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	log, err := audit.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	exec := &actions.Executor{Client: client, Audit: log, Identity: domain.Identity{Context: "sandbox", User: who}, Clock: clock}
	f := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace(ns))
	dl := f.Apps().V1().Deployments().Lister()
	cml := f.Core().V1().ConfigMaps().Lister()
	ctx, cancel := context.WithCancel(context.Background())
	f.Start(ctx.Done())
	f.WaitForCacheSync(ctx.Done())
	p := &process{log: path, stop: cancel, done: make(chan struct{})}
	p.rec = &Reconciler{Client: client, Exec: exec, Clock: clock, Who: who, StaleAfter: 5 * time.Second,
		Deployments: func() []*appsv1.Deployment { ds, _ := dl.List(labels.Everything()); return ds },
		NamespaceFreeze: func(ns string) *Freeze {
			cm, _ := cml.ConfigMaps(ns).Get(FreezeConfigMap)
			return FreezeFromConfigMap(cm)
		},
		Log: func(s string) { t.Logf("%s: %s", who, s) }}
	go func() {
		defer close(p.done)
		p.rec.Run(ctx, 100*time.Millisecond)
	}()
	t.Cleanup(func() { cancel(); <-p.done; f.Shutdown() })
	return p
}

// deploys is the deploy outcome lines of the audit logs given.
func deploys(t *testing.T, paths ...string) []audit.Entry {
	t.Helper()
	var out []audit.Entry
	for _, p := range paths {
		es, err := audit.Read(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue // a process that never acted has written no audit log
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range audit.Outcomes(es) {
			if e.Action == "deploy" {
				out = append(out, e)
			}
		}
	}
	return out
}

func image(t *testing.T, c kubernetes.Interface, ns, name string) (string, *appsv1.Deployment) {
	d, err := c.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d.Spec.Template.Spec.Containers[0].Image, d
}

func waitImage(t *testing.T, c kubernetes.Interface, ns, name, want string, timeout time.Duration) time.Time {
	t.Helper()
	sandbox.WaitFor(t, timeout, name+" to run "+want, func() (bool, string) {
		img, _ := image(t, c, ns, name)
		return img == want, img
	})
	return time.Now()
}

// TestSandboxPendingDeploys drives one service through a window, a namespace freeze, a
// service freeze, a scheduled deploy, an approval and two stale claims, with two reconcilers
// racing (no leader election), and checks that each deploy ran exactly once with the right
// trigger and requester.
func TestSandboxPendingDeploys(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the sandbox")
	}
	env := sandbox.Shared(t)
	ns := env.NewNamespace(t)
	client := env.Client(t)
	ctx := context.Background()
	env.CreateDeployment(t, ns, "web", "web:v1.0.0", 1)

	// Shift the clock so that the next minute opens 3 real seconds from now.
	real := time.Now()
	boundary := real.Truncate(time.Minute).Add(time.Minute)
	clock := shiftedClock{off: boundary.Add(-3 * time.Second).Sub(real)}
	opens := clock.Now().Add(3 * time.Second).UTC()
	window := fmt.Sprintf("%s %s-%s UTC", opens.Weekday().String()[:3], opens.Format("15:04"), opens.Add(30*time.Minute).Format("15:04"))
	setAnn(t, client, ns, map[string]any{AnnotationWindows: window, AnnotationTags: "minor"})

	a := startProcess(t, client, ns, "guard-a", clock)
	b := startProcess(t, client, ns, "guard-b", clock)
	gate := &Gate{Client: client, Exec: a.rec.Exec, Clock: clock}

	// 1. Outside its window: a registry push waits, then runs once when the window opens.
	out, err := gate.Submit(ctx, Request{Namespace: ns, Service: "web", Image: "web:v1.1.0", Trigger: domain.TriggerRegistry, RequestedBy: "registry.example/web"})
	if err != nil || out.State != "queued" || !out.Until.Equal(opens.Truncate(time.Minute)) {
		t.Fatalf("outside the window: %+v %v, want queued until %s", out, err, opens)
	}
	ran := waitImage(t, client, ns, "web", "web:v1.1.0", 20*time.Second)
	if ran.Add(clock.off).Before(opens) {
		t.Fatalf("deployed at %s, before the window opened at %s", ran.Add(clock.off), opens)
	}
	// A tag the policy refuses is skipped, changing nothing.
	if out, _ := gate.Submit(ctx, Request{Namespace: ns, Service: "web", Image: "web:v2.0.0", Trigger: domain.TriggerRegistry}); out.State != "skipped" || !strings.Contains(out.Message, "new major") {
		t.Fatalf("major bump under policy minor: %+v", out)
	}

	// 2. A namespace freeze for 4 seconds: the webhook deploy waits and names it; runs after expiry.
	if err := SetNamespaceFreeze(ctx, client, ns, &Freeze{Until: clock.Now().Add(4 * time.Second), Reason: "release party", By: "alice", At: clock.Now()}); err != nil {
		t.Fatal(err)
	}
	out, err = gate.Submit(ctx, Request{Namespace: ns, Service: "web", Image: "web:v1.2.0", Trigger: domain.TriggerWebhook, RequestedBy: "ci-bot"})
	if err != nil || out.State != "queued" || !strings.Contains(out.Message, "release party") || !strings.Contains(out.Message, "alice") {
		t.Fatalf("during a freeze: %+v %v", out, err)
	}
	// A person's deploy during the freeze is refused unless overridden.
	if _, err := gate.Submit(ctx, Request{Namespace: ns, Service: "web", Image: "web:v1.2.0", Trigger: domain.TriggerCLI}); !errors.Is(err, ErrFrozen) || !strings.Contains(err.Error(), "--override-freeze") {
		t.Fatalf("person's deploy during a freeze: %v", err)
	}
	waitImage(t, client, ns, "web", "web:v1.2.0", 20*time.Second)

	// 3. A service freeze with no end in sight: waits until unfreeze.
	if err := SetServiceFreeze(ctx, client, ns, "web", &Freeze{Until: clock.Now().Add(time.Hour), Reason: "db migration", By: "bob"}); err != nil {
		t.Fatal(err)
	}
	if out, err := gate.Submit(ctx, Request{Namespace: ns, Service: "web", Image: "web:v1.3.0", Trigger: domain.TriggerGit}); err != nil || out.State != "queued" || !strings.Contains(out.Message, "db migration") {
		t.Fatalf("service freeze: %+v %v", out, err)
	}
	time.Sleep(time.Second) // a negative check: a second of reconciling must not deploy it
	if img, _ := image(t, client, ns, "web"); img != "web:v1.2.0" {
		t.Fatalf("deployed %s through a service freeze", img)
	}
	if err := SetServiceFreeze(ctx, client, ns, "web", nil); err != nil {
		t.Fatal(err)
	}
	waitImage(t, client, ns, "web", "web:v1.3.0", 20*time.Second)

	// 4. deploy --at 3 s ahead runs once, not before.
	nb := clock.Now().Add(3 * time.Second)
	if out, err := gate.Submit(ctx, Request{Namespace: ns, Service: "web", Image: "web:v1.4.0", Trigger: domain.TriggerCLI, RequestedBy: "carol", NotBefore: nb}); err != nil || out.State != "scheduled" {
		t.Fatalf("scheduled: %+v %v", out, err)
	}
	ran = waitImage(t, client, ns, "web", "web:v1.4.0", 20*time.Second)
	if ran.Add(clock.off).Before(nb) {
		t.Fatalf("scheduled deploy ran at %s, before %s", ran.Add(clock.off), nb)
	}

	// 5. Approval required: waits until approved, the audit reason names the approver.
	setAnn(t, client, ns, map[string]any{AnnotationApproval: "true"})
	if out, err := gate.Submit(ctx, Request{Namespace: ns, Service: "web", Image: "web:v1.5.0", Trigger: domain.TriggerRegistry, RequestedBy: "registry"}); err != nil || out.State != "awaiting-approval" {
		t.Fatalf("approval: %+v %v", out, err)
	}
	time.Sleep(time.Second) // negative check: nobody approved, nothing runs
	if img, _ := image(t, client, ns, "web"); img != "web:v1.4.0" {
		t.Fatalf("deployed %s without approval", img)
	}
	if _, err := Approve(ctx, client, ns, "web", "dave"); err != nil {
		t.Fatal(err)
	}
	waitImage(t, client, ns, "web", "web:v1.5.0", 20*time.Second)
	setAnn(t, client, ns, map[string]any{AnnotationApproval: nil})

	// 6. A process died after claiming (kill -9): once the claim is stale the next one performs it.
	stale := Pending{ID: "dead1", Image: "web:v1.6.0", Trigger: domain.TriggerRegistry, RequestedBy: "registry",
		State: StatePerforming, ClaimedBy: "guard-dead", ClaimedAt: clock.Now().Add(-time.Minute), Created: clock.Now()}
	setAnn(t, client, ns, map[string]any{AnnotationPending: stale})
	waitImage(t, client, ns, "web", "web:v1.6.0", 20*time.Second)
	// 7. It died after deploying, before clearing: the next one only clears.
	stale.ID, stale.Image = "dead2", "web:v1.6.0"
	setAnn(t, client, ns, map[string]any{AnnotationPending: stale})
	sandbox.WaitFor(t, 20*time.Second, "the stale claim to be cleared", func() (bool, string) {
		_, d := image(t, client, ns, "web")
		return d.Annotations[AnnotationPending] == "", d.Annotations[AnnotationPending]
	})

	// Exactly once each, across both processes: six deploys, revisions 2..7.
	ds := deploys(t, a.log, b.log)
	want := []string{"web:v1.1.0", "web:v1.2.0", "web:v1.3.0", "web:v1.4.0", "web:v1.5.0", "web:v1.6.0"}
	if len(ds) != len(want) {
		for _, e := range ds {
			t.Logf("%s %s %s %s", e.User, e.ToImage, e.Trigger, e.Result)
		}
		t.Fatalf("%d deploy lines across both processes, want %d", len(ds), len(want))
	}
	perImage := map[string]audit.Entry{}
	for _, e := range ds {
		if e.Result != audit.ResultOK {
			t.Fatalf("deploy %s: %s", e.ToImage, e.Result)
		}
		perImage[e.ToImage] = e
	}
	for _, w := range want {
		if _, ok := perImage[w]; !ok {
			t.Fatalf("no deploy line for %s", w)
		}
	}
	if e := perImage["web:v1.1.0"]; e.Trigger != "registry" || e.RequestedBy != "registry.example/web" {
		t.Errorf("window deploy: trigger %s requested_by %q", e.Trigger, e.RequestedBy)
	}
	if e := perImage["web:v1.4.0"]; e.Trigger != "schedule" || e.RequestedBy != "carol" {
		t.Errorf("scheduled deploy: trigger %s requested_by %q", e.Trigger, e.RequestedBy)
	}
	if e := perImage["web:v1.5.0"]; !strings.Contains(e.Reason, "approved by dave") {
		t.Errorf("approved deploy reason %q does not name the approver", e.Reason)
	}
	_, d := image(t, client, ns, "web")
	if d.Annotations["deployment.kubernetes.io/revision"] != "7" {
		t.Errorf("revision %s, want 7 (six deploys after the first)", d.Annotations["deployment.kubernetes.io/revision"])
	}
	t.Logf("deploys by process: a %d, b %d", len(deploys(t, a.log)), len(deploys(t, b.log)))
}

func setAnn(t *testing.T, c kubernetes.Interface, ns string, kv map[string]any) {
	t.Helper()
	ann := map[string]any{}
	for k, v := range kv {
		switch v := v.(type) {
		case nil, string:
			ann[k] = v
		default:
			b, _ := json.Marshal(v)
			ann[k] = string(b)
		}
	}
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": ann}})
	if _, err := c.AppsV1().Deployments(ns).Patch(context.Background(), "web", "application/merge-patch+json", patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
}
