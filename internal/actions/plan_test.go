package actions

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/opsdeck/opsdeck/internal/audit"
	"github.com/opsdeck/opsdeck/internal/bluegreen"
	"github.com/opsdeck/opsdeck/internal/domain"
)

// A plan is read, someone else changes the Deployment, then the plan is executed: the
// executor refuses it as a conflict, in one line, and changes nothing (no audit line, no
// snapshot, the other person's change stands). A plan executed as read goes through.
func TestPlanExecutedAfterSomeoneElseChangedItIsAConflict(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.env.CreateDeployment(t, f.ns, "web", "web:v1", 2)
	a := domain.Action{Kind: domain.ActionDeploy, Namespace: f.ns, Service: "web", Image: "web:v2", Trigger: domain.TriggerKey}

	plan, err := f.exec.Plan(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Skipped || plan.Sentence != "deploy web: web:v1 -> web:v2 (revision 1 -> 2)" {
		t.Fatalf("plan %q (skipped %v)", plan.Sentence, plan.Skipped)
	}
	x := plan.Precondition
	if x.Revision != 1 || x.Image != "web:v1" || x.Generation == 0 || x.ResourceVersion == "" {
		t.Fatalf("preconditions %+v", x)
	}
	if d := f.deployment(t, "web"); d.Generation != x.Generation || mainImage(d) != "web:v1" {
		t.Fatal("planning changed the Deployment")
	}

	// Someone else deploys with kubectl meanwhile.
	container := f.deployment(t, "web").Spec.Template.Spec.Containers[0].Name
	if _, err := f.client.AppsV1().Deployments(f.ns).Patch(ctx, "web", types.StrategicMergePatchType,
		[]byte(`{"spec":{"template":{"spec":{"containers":[{"name":"`+container+`","image":"web:v3"}]}}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	theirs := f.deployment(t, "web")

	_, err = f.exec.ExecutePlan(ctx, plan)
	// The controller may or may not have made their revision 2 yet: both are named when it has.
	stale := regexp.MustCompile(`changed since you confirmed: web: (revision 2, not 1, )?image web:v3, not web:v1;`)
	if !errors.Is(err, domain.ErrConflict) || !stale.MatchString(err.Error()) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("executing a stale plan: %v", err)
	}
	after := f.deployment(t, "web")
	if after.Generation != theirs.Generation || mainImage(after) != "web:v3" || after.Annotations[domain.LastActionAnnotation] != "" {
		t.Fatalf("the stale plan changed web: generation %d -> %d, image %s", theirs.Generation, after.Generation, mainImage(after))
	}
	if entries := auditLines(t, f); len(entries) != 0 {
		t.Fatalf("audit lines after a refused plan: %+v", entries)
	}
	if snaps, _ := f.log.Snapshots(f.ns, "web"); len(snaps) != 0 {
		t.Fatalf("snapshots after a refused plan: %+v", snaps)
	}

	// A plan read now, and confirmed as read, is what runs.
	f.wait(t, "web")
	plan, err = f.exec.Plan(ctx, a)
	if err != nil || plan.Sentence != "deploy web: web:v3 -> web:v2 (revision 2 -> 3)" {
		t.Fatalf("plan %q: %v", plan.Sentence, err)
	}
	// A sentence other than the executor's own is not what it would do: refused.
	forged := plan
	forged.Sentence = "deploy web: web:v1 -> web:v2 (revision 1 -> 2)"
	if _, err := f.exec.ExecutePlan(ctx, forged); !errors.Is(err, domain.ErrConflict) || !strings.Contains(err.Error(), "the plan now reads") {
		t.Fatalf("a plan whose sentence differs: %v", err)
	}
	res, err := f.exec.ExecutePlan(ctx, plan)
	if err != nil || res.FromImage != "web:v3" || res.ToImage != "web:v2" || res.ToRevision != 3 {
		t.Fatalf("executing the fresh plan: %+v, %v", res, err)
	}
	if entries := audit.Outcomes(auditLines(t, f)); len(entries) != 1 || entries[0].ToImage != "web:v2" {
		t.Fatalf("audit: %+v", entries)
	}
}

// Planning an action on a plain Deployment reads the Deployment once and no Service: the
// blue-green pair is looked for only when no Deployment has the service's name.
func TestPlanOfAPlainDeploymentReadsItOnce(t *testing.T) {
	f := setup(t)
	f.env.CreateDeployment(t, f.ns, "web", "web:v1", 1)
	var mu sync.Mutex
	var requests []string
	cfg := f.env.RESTConfig(t)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			mu.Lock()
			requests = append(requests, r.Method+" "+r.URL.Path)
			mu.Unlock()
			return rt.RoundTrip(r)
		})
	})
	counted := *f.exec
	counted.Client = kubernetes.NewForConfigOrDie(cfg)
	if _, err := counted.Plan(context.Background(), domain.Action{Kind: domain.ActionScale, Namespace: f.ns, Service: "web", Replicas: 2,
		Trigger: domain.TriggerCLI}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"GET /apis/apps/v1/namespaces/" + f.ns + "/deployments/web"}
	if strings.Join(requests, "\n") != strings.Join(want, "\n") {
		t.Fatalf("requests to plan a scale:\n%s\nwant:\n%s", strings.Join(requests, "\n"), strings.Join(want, "\n"))
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// auditLines reads the fixture's audit log; a log never written has no lines.
func auditLines(t *testing.T, f *fixture) []audit.Entry {
	t.Helper()
	entries, err := audit.Read(f.log.Path())
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

// The same for a blue-green pair, read through its Service: a rollback planned while nothing
// was pending is refused, changing nothing, once another opsdeck started a deploy.
func TestBlueGreenPlanExecutedAfterAnotherDeployIsAConflict(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.env.CreateBlueGreen(t, f.ns, "checkout", "checkout:v1", 1)
	a := domain.Action{Kind: domain.ActionRollback, Namespace: f.ns, Service: "checkout", Trigger: domain.TriggerKey}
	plan, err := f.exec.Plan(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Preview.Kind != domain.KindBlueGreen || plan.Precondition.Color != domain.ColorBlue || plan.Precondition.ResourceVersion == "" ||
		!strings.HasPrefix(plan.Sentence, "roll back checkout (blue-green): checkout:v1 -> checkout:v1; green was scaled down") {
		t.Fatalf("plan %q %+v", plan.Sentence, plan.Precondition)
	}
	// Another opsdeck deploys checkout:v2 to green meanwhile.
	other := *f.exec
	if _, err := other.Execute(ctx, domain.Action{Kind: domain.ActionDeploy, Namespace: f.ns, Service: "checkout", Image: "checkout:v2",
		Trigger: domain.TriggerCLI}); err != nil {
		t.Fatal(err)
	}
	before, _ := f.client.CoreV1().Services(f.ns).Get(ctx, "checkout", metav1.GetOptions{})
	linesBefore := len(auditLines(t, f))
	_, err = f.exec.ExecutePlan(ctx, plan)
	if !errors.Is(err, domain.ErrConflict) || !strings.Contains(err.Error(), "changed since you confirmed: checkout: its Service changed") {
		t.Fatalf("executing a stale blue-green plan: %v", err)
	}
	after, _ := f.client.CoreV1().Services(f.ns).Get(ctx, "checkout", metav1.GetOptions{})
	if after.ResourceVersion != before.ResourceVersion || after.Annotations[bluegreen.AnnSwitchTo] != "green" {
		t.Fatalf("the stale plan changed the Service: %v", after.Annotations)
	}
	if n := len(auditLines(t, f)); n != linesBefore {
		t.Fatalf("audit lines after a refused plan: %d, want %d", n, linesBefore)
	}
}
