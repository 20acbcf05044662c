package actions

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/opsdeck/opsdeck/internal/audit"
	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/internal/sandbox"
)

type fixture struct {
	env    *sandbox.Env
	ns     string
	client kubernetes.Interface
	exec   *Executor
	rec    *EventRecorder
	log    *audit.Log
}

func setup(t *testing.T) *fixture {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the sandbox")
	}
	env := sandbox.Shared(t)
	f := &fixture{env: env, ns: env.NewNamespace(t), client: env.Client(t)}
	log, err := audit.Open(filepath.Join(t.TempDir(), "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	f.log = log
	f.rec = NewEventRecorder(f.client)
	t.Cleanup(func() { f.rec.Close(time.Second) })
	f.exec = &Executor{Client: f.client, Audit: log, Identity: domain.Identity{Context: "sandbox", User: "admin"}, Recorder: f.rec}
	return f
}

func (f *fixture) deployment(t *testing.T, name string) *appsv1.Deployment {
	t.Helper()
	d, err := f.client.AppsV1().Deployments(f.ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func (f *fixture) do(t *testing.T, a domain.Action) domain.Result {
	t.Helper()
	if a.Namespace == "" {
		a.Namespace = f.ns
	}
	if a.Trigger == "" {
		a.Trigger = domain.TriggerCLI
	}
	res, err := f.exec.Execute(context.Background(), a)
	if err != nil {
		t.Fatalf("%s %s: %v", a.Kind, a.Service, err)
	}
	return res
}

func (f *fixture) wait(t *testing.T, name string) {
	t.Helper()
	if err := WaitForRollout(context.Background(), f.client, f.ns, name, 2*time.Minute, nil); err != nil {
		t.Fatalf("wait for %s: %v", name, err)
	}
}

// events lists the Events about Deployment name.
func (f *fixture) events(t *testing.T, name string) []corev1.Event {
	t.Helper()
	if !f.rec.Flush(10 * time.Second) {
		t.Fatal("events not written within 10s")
	}
	list, err := f.client.CoreV1().Events(f.ns).List(context.Background(), metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("involvedObject.name", name).String()})
	if err != nil {
		t.Fatal(err)
	}
	return list.Items
}

func TestDeployRollsOutAuditsAndRecordsEvent(t *testing.T) {
	f := setup(t)
	f.env.CreateDeployment(t, f.ns, "web", "web:v1", 3)

	start := time.Now()
	res := f.do(t, domain.Action{Kind: domain.ActionDeploy, Service: "web", Image: "web:v2", Trigger: domain.TriggerKey})
	f.wait(t, "web")
	t.Logf("deploy to complete (3 replicas, maxSurge 1): %s", time.Since(start).Round(time.Millisecond))

	if res.FromRevision != 1 || res.ToRevision != 2 || res.FromImage != "web:v1" || res.ToImage != "web:v2" || res.Skipped {
		t.Fatalf("result: %+v", res)
	}
	d := f.deployment(t, "web")
	if d.Spec.Template.Spec.Containers[0].Image != "web:v2" || d.Annotations[ChangeCauseAnnotation] != "opsdeck deploy web web:v2 (key)" {
		t.Fatalf("deployment: image %s, change-cause %q", d.Spec.Template.Spec.Containers[0].Image, d.Annotations[ChangeCauseAnnotation])
	}
	if d.Annotations["deployment.kubernetes.io/revision"] != "2" {
		t.Fatalf("revision %s", d.Annotations["deployment.kubernetes.io/revision"])
	}

	all, err := audit.Read(f.log.Path())
	if err != nil || len(all) != 2 {
		t.Fatalf("audit: %+v, %v", all, err)
	}
	// Write-ahead: the intent (pending) first, then the outcome with the same id.
	if in := all[0]; in.Result != audit.ResultPending || in.ID == "" || in.ID != all[1].ID || in.ToImage != "web:v2" || in.PID == 0 {
		t.Fatalf("intent line: %+v", in)
	}
	entries := outcomes(t, all)
	e := entries[0]
	if e.User != "admin" || e.Context != "sandbox" || e.Namespace != f.ns || e.Service != "web" || e.Action != "deploy" ||
		e.FromRevision != 1 || e.ToRevision != 2 || e.FromImage != "web:v1" || e.ToImage != "web:v2" ||
		e.Trigger != "key" || e.Result != "ok" || e.Time.IsZero() {
		t.Fatalf("audit entry: %+v", e)
	}
	var snap appsv1.Deployment
	raw, err := os.ReadFile(e.Snapshot)
	if err != nil || json.Unmarshal(raw, &snap) != nil || snap.Kind != "Deployment" || snap.Spec.Template.Spec.Containers[0].Image != "web:v1" {
		t.Fatalf("snapshot %s: %v (%s)", e.Snapshot, err, raw)
	}

	var found *corev1.Event
	for _, ev := range f.events(t, "web") {
		if ev.Reason == "OpsdeckDeploy" {
			found = &ev
		}
	}
	if found == nil || found.Type != corev1.EventTypeNormal || found.ReportingController != "opsdeck" || found.Source.Component != "opsdeck" ||
		!strings.Contains(found.Message, "web:v2") || found.InvolvedObject.Kind != "Deployment" {
		t.Fatalf("event: %+v", found)
	}

	// Deploying the image already running changes nothing and audits nothing.
	res = f.do(t, domain.Action{Kind: domain.ActionDeploy, Service: "web", Image: "web:v2"})
	if !res.Skipped {
		t.Fatalf("same image: %+v", res)
	}
	if entries, _ := audit.Read(f.log.Path()); len(entries) != 2 {
		t.Fatalf("a skipped deploy was audited: %d lines", len(entries))
	}
}

// outcomes checks that every outcome line of the log follows its intent line (same id) and
// returns the outcome lines.
func outcomes(t *testing.T, all []audit.Entry) []audit.Entry {
	t.Helper()
	intents := map[string]bool{}
	var out []audit.Entry
	for _, e := range all {
		switch {
		case e.Pending():
			intents[e.ID] = true
		case !intents[e.ID] && !strings.HasPrefix(e.Result, "stood down"):
			t.Fatalf("outcome line without an intent before it: %+v", e)
		default:
			out = append(out, e)
		}
	}
	return out
}

// normalise makes twin Deployments comparable: same name in labels and annotations.
func normalise(t *testing.T, v any, from, to string) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(string(b), from, to)
}

func TestRollbackMatchesKubectlRolloutUndo(t *testing.T) {
	f := setup(t)
	f.env.CreateDeployment(t, f.ns, "twin-a", "twin:v1", 2)
	f.env.CreateDeployment(t, f.ns, "twin-b", "twin:v1", 2)
	for _, img := range []string{"twin:v2", "twin:v3"} {
		for _, name := range []string{"twin-a", "twin-b"} {
			f.do(t, domain.Action{Kind: domain.ActionDeploy, Service: name, Image: img})
			f.wait(t, name)
		}
	}
	res := f.do(t, domain.Action{Kind: domain.ActionRollback, Service: "twin-a", ToRevision: 1})
	if res.FromRevision != 3 || res.ToRevision != 1 || res.ToImage != "twin:v1" || res.FromImage != "twin:v3" {
		t.Fatalf("result: %+v", res)
	}
	out, err := exec.Command(f.env.Kubectl(), "--kubeconfig", f.env.Kubeconfig, "-n", f.ns,
		"rollout", "undo", "deployment/twin-b", "--to-revision=1").CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl rollout undo: %v: %s", err, out)
	}
	f.wait(t, "twin-a")
	f.wait(t, "twin-b")
	a, b := f.deployment(t, "twin-a"), f.deployment(t, "twin-b")
	if got, want := normalise(t, a.Spec.Template, "twin-a", "twin-b"), normalise(t, b.Spec.Template, "twin-a", "twin-b"); got != want {
		t.Fatalf("pod templates differ:\nopsdeck: %s\nkubectl: %s", got, want)
	}
	if la, ok := domain.ParseLastAction(a.Annotations); !ok || la.Action != domain.ActionRollback || la.FromRevision != 3 || la.ToRevision != 1 || la.User != "admin" {
		t.Fatalf("last-action annotation: %q", a.Annotations[domain.LastActionAnnotation])
	}
	delete(a.Annotations, domain.LastActionAnnotation) // opsdeck's record of who acted; kubectl writes none
	if got, want := normalise(t, a.Annotations, "twin-a", "twin-b"), normalise(t, b.Annotations, "twin-a", "twin-b"); got != want {
		t.Fatalf("annotations differ:\nopsdeck: %s\nkubectl: %s", got, want)
	}
	if a.Spec.Template.Spec.Containers[0].Image != "twin:v1" || a.Annotations["deployment.kubernetes.io/revision"] != "4" {
		t.Fatalf("twin-a: %s at revision %s", a.Spec.Template.Spec.Containers[0].Image, a.Annotations["deployment.kubernetes.io/revision"])
	}

	// A revision that does not exist: one line listing the existing ones.
	_, err = f.exec.Execute(context.Background(), domain.Action{Kind: domain.ActionRollback, Namespace: f.ns, Service: "twin-a", ToRevision: 9, Trigger: domain.TriggerCLI})
	if err == nil || err.Error() != "revision 9 of twin-a not found; existing revisions: 2, 3, 4" {
		t.Fatalf("missing revision: %v", err)
	}
	// Rolling back to what already runs is skipped, like kubectl's "skipped rollback".
	res = f.do(t, domain.Action{Kind: domain.ActionRollback, Service: "twin-a", ToRevision: 4})
	if !res.Skipped {
		t.Fatalf("rollback to the current template: %+v", res)
	}
}

// stallable makes a Deployment whose rollouts stall after 5 s instead of 60.
func (f *fixture) stallable(t *testing.T, name string) {
	t.Helper()
	f.env.CreateDeployment(t, f.ns, name, name+":v1", 3)
	patch := []byte(`{"spec":{"progressDeadlineSeconds":5}}`)
	if _, err := f.client.AppsV1().Deployments(f.ns).Patch(context.Background(), name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	f.wait(t, name)
}

func TestGuardRollbackInTheMiddleOfAStalledCrashRollout(t *testing.T) {
	f := setup(t)
	f.stallable(t, "pay")
	f.do(t, domain.Action{Kind: domain.ActionDeploy, Service: "pay", Image: "pay:v2-crash"})
	err := WaitForRollout(context.Background(), f.client, f.ns, "pay", 2*time.Minute, nil)
	if err == nil || err.Error() != `deployment "pay" exceeded its progress deadline` {
		t.Fatalf("wait on a crash rollout: %v", err)
	}
	reason := "errors 31.2% > 5% for 30s after rollout of pay:v2-crash"
	res := f.do(t, domain.Action{Kind: domain.ActionRollback, Service: "pay", Trigger: domain.TriggerGuard, ExpectRevision: 2, Reason: reason})
	if res.ToRevision != 1 || res.ToImage != "pay:v1" {
		t.Fatalf("result: %+v", res)
	}
	f.wait(t, "pay")
	if img := f.deployment(t, "pay").Spec.Template.Spec.Containers[0].Image; img != "pay:v1" {
		t.Fatalf("image after rollback: %s", img)
	}
	var found *corev1.Event
	for _, ev := range f.events(t, "pay") {
		if ev.Reason == AutoRollbackReason {
			found = &ev
		}
	}
	if found == nil || found.Type != corev1.EventTypeWarning || found.ReportingController != "opsdeck" || !strings.Contains(found.Message, reason) {
		t.Fatalf("AutoRollback event: %+v", found)
	}
	entries, _ := audit.Read(f.log.Path())
	if last := entries[len(entries)-1]; last.Trigger != "guard" || last.Reason != reason || last.Action != "rollback" || last.ToRevision != 1 || last.Result != "ok" {
		t.Fatalf("audit: %+v", last)
	}
}

func TestPausedRollbackRefusedByKeyResumedByGuard(t *testing.T) {
	f := setup(t)
	f.stallable(t, "inv")
	f.do(t, domain.Action{Kind: domain.ActionDeploy, Service: "inv", Image: "inv:v2-crash"})
	f.do(t, domain.Action{Kind: domain.ActionPause, Service: "inv"})
	if _, err := f.exec.Execute(context.Background(), domain.Action{Kind: domain.ActionPause, Namespace: f.ns, Service: "inv", Trigger: domain.TriggerKey}); err == nil || err.Error() != "inv is already paused" {
		t.Fatalf("second pause: %v", err)
	}
	_, err := f.exec.Execute(context.Background(), domain.Action{Kind: domain.ActionRollback, Namespace: f.ns, Service: "inv", Trigger: domain.TriggerKey})
	if err == nil || !strings.Contains(err.Error(), "inv is paused: resume it (p") {
		t.Fatalf("key rollback of a paused deployment: %v", err)
	}
	res := f.do(t, domain.Action{Kind: domain.ActionRollback, Service: "inv", Trigger: domain.TriggerGuard, Reason: "p99 1.8s > 500ms"})
	if !strings.HasPrefix(res.Message, "resumed and rolled back inv to revision 1") {
		t.Fatalf("guard rollback: %+v", res)
	}
	f.wait(t, "inv")
	d := f.deployment(t, "inv")
	if d.Spec.Paused || d.Spec.Template.Spec.Containers[0].Image != "inv:v1" {
		t.Fatalf("after guard rollback: paused=%v image=%s", d.Spec.Paused, d.Spec.Template.Spec.Containers[0].Image)
	}
}

func TestPauseResumeRestartScale(t *testing.T) {
	f := setup(t)
	f.env.CreateDeployment(t, f.ns, "cart", "cart:v1", 2)
	f.do(t, domain.Action{Kind: domain.ActionPause, Service: "cart"})
	if !f.deployment(t, "cart").Spec.Paused {
		t.Fatal("not paused")
	}
	if _, err := f.exec.Execute(context.Background(), domain.Action{Kind: domain.ActionRestart, Namespace: f.ns, Service: "cart", Trigger: domain.TriggerKey}); err == nil {
		t.Fatal("restart of a paused deployment succeeded")
	}
	f.do(t, domain.Action{Kind: domain.ActionResume, Service: "cart"})
	res := f.do(t, domain.Action{Kind: domain.ActionRestart, Service: "cart"})
	f.wait(t, "cart")
	d := f.deployment(t, "cart")
	if d.Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"] == "" || d.Annotations["deployment.kubernetes.io/revision"] != "2" || res.ToRevision != 2 {
		t.Fatalf("restart: %+v / %+v", d.Spec.Template.Annotations, res)
	}
	res = f.do(t, domain.Action{Kind: domain.ActionScale, Service: "cart", Replicas: 4})
	f.wait(t, "cart")
	if d := f.deployment(t, "cart"); *d.Spec.Replicas != 4 || d.Status.AvailableReplicas != 4 || res.Message != "scaled cart from 2 to 4 replicas" {
		t.Fatalf("scale: %d replicas, %q", *d.Spec.Replicas, res.Message)
	}
	all, _ := audit.Read(f.log.Path())
	entries := outcomes(t, all)
	var kinds []string
	for _, e := range entries {
		kinds = append(kinds, e.Action)
	}
	if strings.Join(kinds, ",") != "pause,resume,restart,scale" {
		t.Fatalf("audited: %v", kinds)
	}
}

func TestReadOnlyRefusesAndChangesNothing(t *testing.T) {
	f := setup(t)
	f.env.CreateDeployment(t, f.ns, "web", "web:v1", 1)
	before := f.deployment(t, "web")
	f.exec.ReadOnly = true
	for _, a := range []domain.Action{
		{Kind: domain.ActionDeploy, Image: "web:v2"}, {Kind: domain.ActionRollback}, {Kind: domain.ActionPause},
		{Kind: domain.ActionRestart}, {Kind: domain.ActionScale, Replicas: 3},
	} {
		a.Namespace, a.Service, a.Trigger = f.ns, "web", domain.TriggerKey
		_, err := f.exec.Execute(context.Background(), a)
		if !errors.Is(err, domain.ErrReadOnly) || err.Error() != "read-only mode: refusing to "+string(a.Kind)+" web (started with --readonly)" {
			t.Fatalf("%s: %v", a.Kind, err)
		}
	}
	if after := f.deployment(t, "web"); after.ResourceVersion != before.ResourceVersion {
		t.Fatal("read-only executor changed the Deployment")
	}
	if _, err := os.Stat(f.log.Path()); !os.IsNotExist(err) {
		t.Fatal("read-only executor wrote the audit log")
	}
}

func TestFailuresAreOneLine(t *testing.T) {
	f := setup(t)
	f.env.CreateDeployment(t, f.ns, "web", "web:v1", 1)
	ctx := context.Background()
	_, err := f.exec.Execute(ctx, domain.Action{Kind: domain.ActionDeploy, Namespace: f.ns, Service: "x", Image: "x:v2", Trigger: domain.TriggerCLI})
	if err == nil || err.Error() != `service "x" not found in namespace "`+f.ns+`" (opsdeck status -n `+f.ns+` lists the services there)` || !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown service: %v", err)
	}
	_, err = f.exec.Execute(ctx, domain.Action{Kind: domain.ActionDeploy, Namespace: f.ns, Service: "web", Image: "Web:V2", Trigger: domain.TriggerCLI})
	if err == nil || err.Error() != `invalid image reference "Web:V2": repository name must be lowercase` {
		t.Fatalf("bad image: %v", err)
	}
	_, err = f.exec.Execute(ctx, domain.Action{Kind: domain.ActionDeploy, Namespace: f.ns, Service: "web", Image: "web:v2", Container: "sidecar", Trigger: domain.TriggerCLI})
	if err == nil || err.Error() != `container "sidecar" not found in web; its containers: app` {
		t.Fatalf("unknown container: %v", err)
	}
	_, err = f.exec.Execute(ctx, domain.Action{Kind: domain.ActionRollback, Namespace: f.ns, Service: "web", Trigger: domain.TriggerCLI})
	if err == nil || err.Error() != "no earlier revision of web to roll back to (revisions: 1)" {
		t.Fatalf("rollback without history: %v", err)
	}

	// RBAC: an impersonated user with no rights.
	cfg := f.env.RESTConfig(t)
	cfg.Impersonate.UserName = "bob"
	bob := &Executor{Client: kubernetes.NewForConfigOrDie(cfg), Audit: f.log, Identity: domain.Identity{User: "bob"}}
	_, err = bob.Execute(ctx, domain.Action{Kind: domain.ActionDeploy, Namespace: f.ns, Service: "web", Image: "web:v2", Trigger: domain.TriggerCLI})
	if err == nil || err.Error() != "forbidden: user bob may not get deployments in namespace "+f.ns || !errors.Is(err, ErrForbidden) {
		t.Fatalf("forbidden: %v", err)
	}
	if entries, _ := audit.Read(f.log.Path()); len(entries) != 0 {
		t.Fatalf("refusals were audited: %+v", entries)
	}
}

func TestExpectRevisionAndRacingExecutors(t *testing.T) {
	f := setup(t)
	f.env.CreateDeployment(t, f.ns, "web", "web:v1", 2)
	ctx := context.Background()
	_, err := f.exec.Execute(ctx, domain.Action{Kind: domain.ActionRollback, Namespace: f.ns, Service: "web", Trigger: domain.TriggerGuard, ExpectRevision: 7})
	if !errors.Is(err, domain.ErrConflict) || !strings.Contains(err.Error(), "someone else acted") {
		t.Fatalf("ExpectRevision 7 at revision 1: %v", err)
	}

	// Two executors (two opsdecks) act on revision 1 at once: exactly one may.
	other := &Executor{Client: f.env.Client(t), Audit: f.log, Identity: domain.Identity{User: "admin"}}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, e := range []*Executor{f.exec, other} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = e.Execute(ctx, domain.Action{Kind: domain.ActionDeploy, Namespace: f.ns, Service: "web",
				Image: []string{"web:v2", "web:v3"}[i], Trigger: domain.TriggerGuard, ExpectRevision: 1})
		}()
	}
	wg.Wait()
	ok, conflicts := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, domain.ErrConflict):
			conflicts++
		default:
			t.Fatalf("racing executor: %v", err)
		}
	}
	if ok != 1 || conflicts != 1 {
		t.Fatalf("racing executors: %d succeeded, %d conflicted (%v)", ok, conflicts, errs)
	}
	f.wait(t, "web")

	// A stale copy whose spec changed since: the guarded patch is refused.
	stale := f.deployment(t, "web")
	f.do(t, domain.Action{Kind: domain.ActionDeploy, Service: "web", Image: "web:v4"})
	if _, err := patchDeployment(ctx, f.client, stale, types.StrategicMergePatchType, []byte(`{"spec":{"paused":true}}`)); err == nil {
		t.Fatal("a patch guarded by a stale resourceVersion went through")
	}
	f.wait(t, "web")

	// A stale copy whose status only moved: the action goes through after reading again.
	stale = f.deployment(t, "web")
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		st := f.deployment(t, "web")
		st.Status.Conditions = append(st.Status.Conditions, appsv1.DeploymentCondition{Type: "OpsdeckTest", Status: corev1.ConditionTrue})
		_, err := f.client.AppsV1().Deployments(f.ns).UpdateStatus(ctx, st, metav1.UpdateOptions{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if f.deployment(t, "web").ResourceVersion == stale.ResourceVersion {
		t.Fatal("status update did not move the resourceVersion")
	}
	a := domain.Action{Kind: domain.ActionPause, Namespace: f.ns, Service: "web", Trigger: domain.TriggerCLI}
	p, err := planPause(ctx, f.exec, a, stale)
	if err != nil {
		t.Fatal(err)
	}
	if err := retryStatusConflicts(ctx, f.exec, stale, func(cur *appsv1.Deployment) error { _, err := p.applyTo(ctx, cur); return err }); err != nil {
		t.Fatalf("status-only change made a conflict: %v", err)
	}
	if !f.deployment(t, "web").Spec.Paused {
		t.Fatal("not paused")
	}
}
