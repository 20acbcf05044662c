package actions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/kubectl/pkg/polymorphichelpers"
	kubectlscheme "k8s.io/kubectl/pkg/scheme"

	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/internal/rollout"
)

func TestReadOnlyRefusesEveryActionInOnePlace(t *testing.T) {
	// No client and no audit log: read-only must refuse before touching either.
	e := &Executor{ReadOnly: true}
	for _, k := range []domain.ActionKind{domain.ActionDeploy, domain.ActionRollback, domain.ActionPause,
		domain.ActionResume, domain.ActionRestart, domain.ActionScale} {
		_, err := e.Execute(context.Background(), domain.Action{Kind: k, Namespace: "shop", Service: "order-service", Image: "x:v2"})
		want := "read-only mode: refusing to " + string(k) + " order-service (started with --readonly)"
		if err == nil || err.Error() != want || !errors.Is(err, domain.ErrReadOnly) {
			t.Errorf("%s: err = %v, want %q wrapping ErrReadOnly", k, err, want)
		}
	}
}

func TestValidateBeforeAnyCall(t *testing.T) {
	e := &Executor{}
	_, err := e.Execute(context.Background(), domain.Action{Kind: domain.ActionDeploy, Namespace: "shop", Service: "a", Image: "A:v1"})
	if err == nil || !strings.Contains(err.Error(), `invalid image reference "A:v1"`) {
		t.Fatalf("bad image: %v", err)
	}
	_, err = e.Execute(context.Background(), domain.Action{Kind: "explode", Namespace: "shop", Service: "a"})
	if err == nil || !strings.Contains(err.Error(), `unknown action "explode"`) {
		t.Fatalf("unknown kind: %v", err)
	}
	_, err = e.Execute(context.Background(), domain.Action{Kind: domain.ActionScale, Namespace: "shop", Service: "a", Replicas: -1})
	if err == nil || !strings.Contains(err.Error(), "negative") {
		t.Fatalf("negative replicas: %v", err)
	}
	_, err = e.Execute(context.Background(), domain.Action{Kind: domain.ActionPause, Namespace: "shop", Service: "a"})
	if err == nil || !strings.Contains(err.Error(), "no audit log") {
		t.Fatalf("no audit log: %v", err)
	}
}

func TestAPIErrorsBecomeOneLine(t *testing.T) {
	e := &Executor{Identity: domain.Identity{User: "admin"}}
	a := domain.Action{Kind: domain.ActionDeploy, Namespace: "shop", Service: "x"}
	gr := schema.GroupResource{Group: "apps", Resource: "deployments"}

	err := e.apiError(apierrors.NewNotFound(gr, "x"), a, "get", "deployments")
	if err.Error() != `service "x" not found in namespace "shop" (opsdeck status -n shop lists the services there)` || !errors.Is(err, ErrNotFound) {
		t.Errorf("not found: %q", err)
	}
	forbidden := apierrors.NewForbidden(gr, "x", errors.New(`User "bob" cannot patch resource "deployments" in API group "apps" in the namespace "shop"`))
	err = e.apiError(forbidden, a, "patch", "deployments")
	if err.Error() != "forbidden: user bob may not patch deployments in namespace shop" || !errors.Is(err, ErrForbidden) {
		t.Errorf("forbidden: %q", err)
	}
	err = e.apiError(apierrors.NewConflict(gr, "x", errors.New("the object has been modified")), a, "patch", "deployments")
	if !errors.Is(err, domain.ErrConflict) || !strings.Contains(err.Error(), "someone else acted") {
		t.Errorf("conflict: %q", err)
	}
	err = e.apiError(errors.New("dial tcp 127.0.0.1:1: connect:\n connection refused"), a, "patch", "deployments")
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("multi-line: %q", err)
	}
}

func TestWithResourceVersion(t *testing.T) {
	got, err := withResourceVersion(types.StrategicMergePatchType, []byte(`{"spec":{"paused":true}}`), "42")
	if err != nil || string(got) != `{"metadata":{"resourceVersion":"42"},"spec":{"paused":true}}` {
		t.Fatalf("strategic: %s, %v", got, err)
	}
	got, err = withResourceVersion(types.StrategicMergePatchType, []byte(`{"metadata":{"annotations":{"a":"b"}}}`), "42")
	if err != nil || string(got) != `{"metadata":{"annotations":{"a":"b"},"resourceVersion":"42"}}` {
		t.Fatalf("strategic with metadata: %s, %v", got, err)
	}
	got, err = withResourceVersion(types.JSONPatchType, []byte(`[{"op":"replace","path":"/spec/template","value":{}}]`), "7")
	var ops []map[string]any
	if err != nil || json.Unmarshal(got, &ops) != nil || len(ops) != 2 || ops[1]["path"] != "/metadata/resourceVersion" || ops[1]["value"] != "7" {
		t.Fatalf("json patch: %s, %v", got, err)
	}
	if _, err := withResourceVersion(types.StrategicMergePatchType, []byte(`{}`), ""); err == nil {
		t.Fatal("empty resourceVersion accepted")
	}
}

func twoContainers(name string) *appsv1.Deployment {
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop", ResourceVersion: "5"},
		Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{
			{Name: "app", Image: "app:v1"}, {Name: "envoy", Image: "envoy:1"},
		}}}}}
}

func TestPickContainer(t *testing.T) {
	d := twoContainers("order-service")
	if i, err := PickContainer(d, "envoy"); err != nil || i != 1 {
		t.Fatalf("named: %d, %v", i, err)
	}
	_, err := PickContainer(d, "web")
	if err == nil || err.Error() != `container "web" not found in order-service; its containers: app, envoy` {
		t.Fatalf("unknown: %v", err)
	}
	_, err = PickContainer(d, "")
	if err == nil || err.Error() != "order-service has 2 containers (app, envoy): name one with --container" {
		t.Fatalf("ambiguous: %v", err)
	}
	d.Spec.Template.Spec.Containers[1].Name = "order-service"
	if i, err := PickContainer(d, ""); err != nil || i != 1 {
		t.Fatalf("named like the service: %d, %v", i, err)
	}
	d.Spec.Template.Spec.Containers = d.Spec.Template.Spec.Containers[:1]
	if i, err := PickContainer(d, ""); err != nil || i != 0 {
		t.Fatalf("only one: %d, %v", i, err)
	}
}

func TestChangeCause(t *testing.T) {
	got := ChangeCause(domain.Action{Service: "order-service", Image: "order-service:v2", Trigger: domain.TriggerKey})
	if got != "opsdeck deploy order-service order-service:v2 (key)" {
		t.Fatal(got)
	}
}

// The patches of pause, resume and restart are kubectl's, byte for byte: the same mutation of
// the same Deployment, diffed the same way (kubectl's restart stamps its own clock, so the
// timestamps are set equal).
func TestObjectPatchIsKubectls(t *testing.T) {
	kubectlPatch := func(d *appsv1.Deployment, fn func(runtime.Object) ([]byte, error)) ([]byte, error) {
		obj := d.DeepCopy()
		obj.APIVersion, obj.Kind = "apps/v1", "Deployment"
		before, err := runtime.Encode(kubectlscheme.DefaultJSONEncoder(), obj)
		if err != nil {
			return nil, err
		}
		after, err := fn(obj)
		if err != nil {
			return nil, err
		}
		return strategicpatch.CreateTwoWayMergePatch(before, after, &appsv1.Deployment{})
	}
	stamp := regexp.MustCompile(`"kubectl.kubernetes.io/restartedAt":"[^"]*"`)
	e := &Executor{}
	running := twoContainers("a")
	paused := running.DeepCopy()
	paused.Spec.Paused = true
	for _, c := range []struct {
		name    string
		d       *appsv1.Deployment
		ours    func(*appsv1.Deployment) error
		kubectl func(runtime.Object) ([]byte, error)
	}{
		{"pause", running, rollout.Pause, polymorphichelpers.ObjectPauserFn},
		{"pause, paused", paused, rollout.Pause, polymorphichelpers.ObjectPauserFn},
		{"resume", paused, rollout.Resume, polymorphichelpers.ObjectResumerFn},
		{"resume, running", running, rollout.Resume, polymorphichelpers.ObjectResumerFn},
		{"restart", running, e.restart, polymorphichelpers.ObjectRestarterFn},
		{"restart, paused", paused, e.restart, polymorphichelpers.ObjectRestarterFn},
	} {
		got, err := objectPatch(c.d, c.ours)
		want, werr := kubectlPatch(c.d, c.kubectl)
		if fmt.Sprint(err) != fmt.Sprint(werr) {
			t.Errorf("%s: error %v, kubectl's %v", c.name, err, werr)
		}
		if g, w := stamp.ReplaceAllString(string(got), "T"), stamp.ReplaceAllString(string(want), "T"); g != w {
			t.Errorf("%s: patch %s, kubectl's %s", c.name, got, want)
		}
	}
	if running.Spec.Paused || !paused.Spec.Paused {
		t.Fatal("objectPatch mutated its input")
	}
	if patch, _ := objectPatch(running, e.restart); !stamp.Match(patch) {
		t.Errorf("restart patch without its stamp: %s", patch)
	}
}
