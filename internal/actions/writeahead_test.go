package actions

import (
	"bufio"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/opsdeck/opsdeck/internal/audit"
	"github.com/opsdeck/opsdeck/internal/bluegreen"
	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/internal/sandbox"
)

// intentSpy is a transport that, at every mutating request, checks that the audit log ends
// with an intent line that has no outcome yet: the write-ahead rule, seen from the wire.
type intentSpy struct {
	rt   http.RoundTripper
	path string
	mu   sync.Mutex
	seen []string // per mutating request: "intent" or what was wrong
}

func (s *intentSpy) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPatch || r.Method == http.MethodPut || r.Method == http.MethodPost && !strings.Contains(r.URL.Path, "/events") {
		got := "no intent line"
		if open, err := audit.Unfinished(s.path); err == nil && len(open) == 1 {
			got = "intent"
		} else if err != nil {
			got = err.Error()
		}
		s.mu.Lock()
		s.seen = append(s.seen, r.Method+" "+got)
		s.mu.Unlock()
	}
	return s.rt.RoundTrip(r)
}

// Every mutation (deploy, rollback, scale, restore) makes its API call only once its intent
// line is on disk, and leaves intent and outcome with the same id.
func TestIntentLineIsOnDiskBeforeTheFirstAPICall(t *testing.T) {
	f := setup(t)
	f.env.CreateDeployment(t, f.ns, "web", "web:v1", 1)
	spy := &intentSpy{path: f.log.Path()}
	cfg := f.env.RESTConfig(t)
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { spy.rt = rt; return spy }
	f.exec.Client = kubernetes.NewForConfigOrDie(cfg)

	start := time.Now()
	f.do(t, domain.Action{Kind: domain.ActionDeploy, Service: "web", Image: "web:v2"})
	t.Logf("deploy with intent and outcome lines (two fsyncs): %s", time.Since(start).Round(time.Microsecond))
	f.wait(t, "web")
	f.do(t, domain.Action{Kind: domain.ActionRollback, Service: "web"})
	f.wait(t, "web")
	f.do(t, domain.Action{Kind: domain.ActionScale, Service: "web", Replicas: 2})
	snaps, err := f.exec.Snapshots(f.ns, "web")
	if err != nil || len(snaps) == 0 {
		t.Fatalf("snapshots %v, %v", snaps, err)
	}
	f.do(t, domain.Action{Kind: domain.ActionRollback, Service: "web", Snapshot: snaps[0].ID})

	spy.mu.Lock()
	defer spy.mu.Unlock()
	if len(spy.seen) < 4 {
		t.Fatalf("saw %d mutating requests: %v", len(spy.seen), spy.seen)
	}
	for _, s := range spy.seen {
		if !strings.HasSuffix(s, " intent") {
			t.Fatalf("a mutating request without its intent line on disk first: %v", spy.seen)
		}
	}
	all, _ := audit.Read(f.log.Path())
	if out := outcomes(t, all); len(out) != 4 || len(all) != 8 {
		t.Fatalf("want 4 intents and 4 outcomes, got %d lines", len(all))
	}
}

// An audit log that cannot be written refuses the action in one line and changes nothing:
// the log's path is a directory, or the disk is full (/dev/full). Root ignores file modes,
// so neither relies on them.
func TestUnwritableAuditLogRefusesAndChangesNothing(t *testing.T) {
	f := setup(t)
	f.env.CreateDeployment(t, f.ns, "web", "web:v1", 1)
	before := f.deployment(t, "web")

	dir := t.TempDir()
	isDir := filepath.Join(dir, "a", "audit.jsonl")
	if err := os.MkdirAll(isDir, 0o700); err != nil {
		t.Fatal(err)
	}
	full := filepath.Join(dir, "b", "audit.jsonl")
	if err := os.MkdirAll(filepath.Dir(full), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/full", full); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{isDir, full} {
		log, err := audit.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		e := &Executor{Client: f.client, Audit: log, Identity: domain.Identity{User: "admin"}}
		for _, a := range []domain.Action{
			{Kind: domain.ActionDeploy, Image: "web:v2"}, {Kind: domain.ActionScale, Replicas: 3}, {Kind: domain.ActionPause},
		} {
			a.Namespace, a.Service, a.Trigger = f.ns, "web", domain.TriggerCLI
			_, err := e.Execute(context.Background(), a)
			want := "refusing to " + string(a.Kind) + " web: the audit log cannot be written, so nothing was changed"
			if err == nil || !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("%s with audit log %s: %v", a.Kind, path, err)
			}
		}
	}
	if after := f.deployment(t, "web"); after.ResourceVersion != before.ResourceVersion || after.Spec.Template.Spec.Containers[0].Image != "web:v1" {
		t.Fatal("an action whose audit log could not be written changed the Deployment")
	}
}

// An intent without an outcome (the process died in between) is settled once by the next
// executor: it reads the cluster and says whether the action took effect.
func TestRecoverSettlesIntentsWithoutOutcome(t *testing.T) {
	f := setup(t)
	f.env.CreateDeployment(t, f.ns, "web", "web:v1", 1)
	f.do(t, domain.Action{Kind: domain.ActionDeploy, Service: "web", Image: "web:v2"})
	f.wait(t, "web") // the controller has numbered the revision
	// The process "died" after the API call: drop the outcome line.
	all, _ := audit.Read(f.log.Path())
	intent := all[0]
	// And another died before its API call: an intent for web:v9 that never happened.
	never := intent
	never.ID, never.ToImage, never.FromImage, never.FromRevision, never.ToRevision = audit.NewID(), "web:v9", "web:v2", 2, 3
	never.Time = intent.Time.Add(time.Second)
	never.PID = 1 << 22 // no such process
	if err := os.Remove(f.log.Path()); err != nil {
		t.Fatal(err)
	}
	intent.PID = 1<<22 + 1
	for _, e := range []audit.Entry{intent, never} {
		if err := f.log.Append(e); err != nil {
			t.Fatal(err)
		}
	}

	next := &Executor{Client: f.client, Audit: f.log, Identity: domain.Identity{User: "admin"}}
	settled, err := next.Recover(context.Background())
	if err != nil || len(settled) != 2 {
		t.Fatalf("settled %+v, %v", settled, err)
	}
	if got := Summary(settled[:1]); !strings.HasPrefix(got, "1 action of unknown outcome: deploy web in "+f.ns+" at ") ||
		!strings.HasSuffix(got, "check it: found web at revision 2 with image web:v2: the deploy took effect") {
		t.Errorf("took effect: %s", got)
	}
	if got := settled[1].Found; got != "web at revision 2 with image web:v2: it still runs web:v2, so the deploy did not take effect" {
		t.Errorf("did not take effect: %s", got)
	}
	entries, _ := audit.Read(f.log.Path())
	if len(entries) != 4 || entries[2].ID != intent.ID || !strings.HasPrefix(entries[2].Result, "unknown outcome, found: web at revision 2") {
		t.Fatalf("outcome lines: %+v", entries)
	}
	if open, _ := audit.Unfinished(f.log.Path()); len(open) != 0 {
		t.Fatalf("still unfinished: %+v", open)
	}
	if again, err := next.Recover(context.Background()); err != nil || len(again) != 0 {
		t.Fatalf("reported twice: %+v, %v", again, err)
	}

	// An intent of a process still running on this host is in flight, not unknown.
	live := intent
	live.ID, live.PID = audit.NewID(), os.Getppid()
	if err := f.log.Append(live); err != nil {
		t.Fatal(err)
	}
	if s, _ := next.Recover(context.Background()); len(s) != 0 {
		t.Fatalf("an action in flight was settled: %+v", s)
	}
}

// A confirmed action carries what was previewed; if the Deployment changed behind the dialog,
// Execute refuses and changes nothing.
func TestConfirmedActionRefusedWhenTheDeploymentChanged(t *testing.T) {
	f := setup(t)
	f.env.CreateDeployment(t, f.ns, "web", "web:v1", 1)
	ctx := context.Background()
	a := domain.Action{Kind: domain.ActionDeploy, Namespace: f.ns, Service: "web", Image: "web:v2", Trigger: domain.TriggerCLI}
	preview, err := f.exec.Preview(ctx, a)
	if err != nil || preview.Precondition.Revision != 1 || preview.Precondition.Image != "web:v1" || preview.Precondition.ResourceVersion == "" {
		t.Fatalf("preview %+v, %v", preview.Precondition, err)
	}
	// Someone else deploys web:v3 between the preview and the "y".
	if _, err := f.client.AppsV1().Deployments(f.ns).Patch(ctx, "web", types.StrategicMergePatchType,
		[]byte(`{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"web:v3"}]}}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	f.wait(t, "web")
	moved := f.deployment(t, "web")
	seen := preview.Precondition
	a.Expect = &seen
	_, err = f.exec.Execute(ctx, a)
	if !errors.Is(err, domain.ErrConflict) || err.Error() != "conflict: changed since you confirmed: web: revision 2, not 1, image web:v3, not web:v1; nothing was changed, look again" {
		t.Fatalf("execute after a change: %v", err)
	}
	// (The controller may still update its status: compare the spec.)
	if after := f.deployment(t, "web"); after.Generation != moved.Generation || mainImage(after) != "web:v3" {
		t.Fatalf("the refused action changed the Deployment: generation %d -> %d, %s", moved.Generation, after.Generation, mainImage(after))
	}
	if entries, _ := audit.Read(f.log.Path()); len(entries) != 0 {
		t.Fatalf("a refused action was audited: %+v", entries)
	}
	// Nothing moved: the same confirmation goes through.
	preview, _ = f.exec.Preview(ctx, a)
	seen = preview.Precondition
	if _, err := f.exec.Execute(ctx, a); err != nil {
		t.Fatalf("execute on what was confirmed: %v", err)
	}
}

// A confirmed blue-green "switch back" is bound to the colour it would leave: if auto-guard
// switched back between the dialog and the "y", it is refused instead of sending traffic to
// the bad colour.
func TestConfirmedSwitchBackRefusedWhenTheGuardSwitchedFirst(t *testing.T) {
	f := setup(t)
	f.env.CreateBlueGreen(t, f.ns, "shop", "shop:v1", 2)
	ctx := context.Background()
	f.do(t, domain.Action{Kind: domain.ActionDeploy, Service: "shop", Image: "shop:v2-bad"})
	sandbox.WaitRolledOut(t, f.client, f.ns, bluegreen.DeploymentName("shop", domain.ColorGreen), 90*time.Second)
	f.do(t, domain.Action{Kind: domain.ActionSwitch, Service: "shop", Color: domain.ColorGreen})

	human := domain.Action{Kind: domain.ActionRollback, Namespace: f.ns, Service: "shop", Trigger: domain.TriggerKey}
	preview, err := f.exec.Preview(ctx, human)
	if err != nil || preview.Precondition.Color != domain.ColorGreen || preview.Switched != "" && preview.Switched != domain.ColorBlue {
		t.Fatalf("preview %+v, %v", preview, err)
	}
	// Auto-guard switches back to blue first.
	f.do(t, domain.Action{Kind: domain.ActionRollback, Service: "shop", Trigger: domain.TriggerGuard, Reason: "errors 30% > 5%"})
	svc, _ := f.client.CoreV1().Services(f.ns).Get(ctx, "shop", metav1.GetOptions{})
	if svc.Spec.Selector[bluegreen.ColorLabel] != "blue" {
		t.Fatalf("guard did not switch back: %v", svc.Spec.Selector)
	}
	seen := preview.Precondition
	human.Expect = &seen
	_, err = f.exec.Execute(ctx, human)
	if !errors.Is(err, domain.ErrConflict) || !strings.Contains(err.Error(), "changed since you confirmed: shop: traffic is on blue, not green") {
		t.Fatalf("confirmed switch back after the guard's: %v", err)
	}
	after, _ := f.client.CoreV1().Services(f.ns).Get(ctx, "shop", metav1.GetOptions{})
	if after.Spec.Selector[bluegreen.ColorLabel] != "blue" || after.ResourceVersion != svc.ResourceVersion {
		t.Fatalf("the refused switch back changed the Service: %v", after.Spec.Selector)
	}
}

// Two guards race the same rollback: one rolls back, the other stands down and says who did
// it and when; the cluster has one rollback.
func TestRacingGuardRollbacksOneActsOtherStandsDown(t *testing.T) {
	f := setup(t)
	f.env.CreateDeployment(t, f.ns, "web", "web:v1", 2)
	f.do(t, domain.Action{Kind: domain.ActionDeploy, Service: "web", Image: "web:v2-bad"})
	f.wait(t, "web")
	ctx := context.Background()
	logs := make([]*audit.Log, 2)
	execs := make([]*Executor, 2)
	for i := range execs {
		l, err := audit.Open(filepath.Join(t.TempDir(), "audit.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		logs[i] = l
		execs[i] = &Executor{Client: f.env.Client(t), Audit: l, Identity: domain.Identity{User: []string{"guard-a", "guard-b"}[i]}}
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, e := range execs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = e.Execute(ctx, domain.Action{Kind: domain.ActionRollback, Namespace: f.ns, Service: "web",
				Trigger: domain.TriggerGuard, ExpectRevision: 2, Reason: "errors 30% > 5% for 20s"})
		}()
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		if err == nil {
			winner = i
		}
	}
	if winner < 0 || errs[1-winner] == nil {
		t.Fatalf("want one rollback and one stand-down: %v", errs)
	}
	loser := 1 - winner
	var sd *domain.StoodDownError
	if !errors.As(errs[loser], &sd) || !errors.Is(errs[loser], domain.ErrConflict) || sd.By.User != []string{"guard-a", "guard-b"}[winner] ||
		!strings.HasPrefix(errs[loser].Error(), "stood down: already done by "+sd.By.User+" (guard) at ") {
		t.Fatalf("loser's error: %v", errs[loser])
	}
	f.wait(t, "web")
	d := f.deployment(t, "web")
	if d.Annotations["deployment.kubernetes.io/revision"] != "3" || mainImage(d) != "web:v1" {
		t.Fatalf("after the race: revision %s, %s (want one rollback: revision 3, web:v1)", d.Annotations["deployment.kubernetes.io/revision"], mainImage(d))
	}
	win, _ := audit.Read(logs[winner].Path())
	lose, _ := audit.Read(logs[loser].Path())
	if o := audit.Outcomes(win); len(o) != 1 || o[0].Result != audit.ResultOK {
		t.Fatalf("winner's log: %+v", win)
	}
	if o := audit.Outcomes(lose); len(o) != 1 || !strings.HasPrefix(o[0].Result, "stood down: already done by "+sd.By.User) {
		t.Fatalf("loser's log: %+v", lose)
	}
}

// BenchmarkAuditIntent measures the write-ahead's own cost: one intent line appended and
// fsynced (the outcome line costs the same again).
func BenchmarkAuditIntent(b *testing.B) {
	l, err := audit.Open(filepath.Join(b.TempDir(), "audit.jsonl"))
	if err != nil {
		b.Fatal(err)
	}
	e := audit.Entry{Time: time.Now(), User: "admin", Namespace: "shop", Service: "order-service", Action: "rollback",
		FromRevision: 4, ToRevision: 3, FromImage: "order-service:v2-bad", ToImage: "order-service:v1", Trigger: "guard",
		Reason: "5xx ratio 31.0% > 5.0% for 20s", Result: audit.ResultPending, ID: audit.NewID(), PID: os.Getpid(), Host: "vm"}
	for b.Loop() {
		if err := l.Append(e); err != nil {
			b.Fatal(err)
		}
	}
	f, _ := os.Open(l.Path())
	defer f.Close()
	n := 0
	for sc := bufio.NewScanner(f); sc.Scan(); n++ {
	}
	if n != b.N {
		b.Fatalf("%d lines for %d appends", n, b.N)
	}
}
