package rollout

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/polymorphichelpers"
	deploymentutil "k8s.io/kubectl/pkg/util/deployment"
	"k8s.io/utils/ptr"
)

// These tests hold each function to kubectl's own (a test dependency only) on the same
// objects; the sandbox tests of internal/actions run them against a real API server.

var t0 = time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)

func deployment(mutate ...func(*appsv1.Deployment)) *appsv1.Deployment {
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web", UID: "d-uid", Generation: 3,
			Annotations: map[string]string{RevisionAnnotation: "3", corev1.LastAppliedConfigAnnotation: "{}", "team": "checkout"}},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](3),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: template("web:v3"),
		},
		Status: appsv1.DeploymentStatus{ObservedGeneration: 3, Replicas: 3, UpdatedReplicas: 3, ReadyReplicas: 3, AvailableReplicas: 3},
	}
	for _, m := range mutate {
		m(d)
	}
	return d
}

func template(image string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}},
	}
}

// replicaSet is d's ReplicaSet of revision rev running image, created age before t0.
func replicaSet(d *appsv1.Deployment, rev int, image string, age time.Duration) *appsv1.ReplicaSet {
	tmpl := template(image)
	hash := fmt.Sprintf("hash%d", rev)
	tmpl.Labels[appsv1.DefaultDeploymentUniqueLabelKey] = hash
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: d.Namespace, Name: d.Name + "-" + hash, UID: types.UID("rs-" + hash),
			CreationTimestamp: metav1.NewTime(t0.Add(-age)), Labels: tmpl.Labels,
			Annotations: map[string]string{RevisionAnnotation: fmt.Sprint(rev), "kubernetes.io/change-cause": "deploy " + image,
				"deployment.kubernetes.io/desired-replicas": "3"},
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(d, appsv1.SchemeGroupVersion.WithKind("Deployment"))}},
		Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](0), Selector: d.Spec.Selector, Template: tmpl},
	}
}

func TestStatusIsKubectlRolloutStatus(t *testing.T) {
	progressing := func(reason string) func(*appsv1.Deployment) {
		return func(d *appsv1.Deployment) {
			d.Status.Conditions = []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: reason}}
		}
	}
	cases := map[string]*appsv1.Deployment{
		"complete":           deployment(),
		"spec not observed":  deployment(func(d *appsv1.Deployment) { d.Status.ObservedGeneration = 2 }),
		"deadline exceeded":  deployment(progressing(TimedOutReason)),
		"other reason":       deployment(progressing("NewReplicaSetAvailable")),
		"updating":           deployment(func(d *appsv1.Deployment) { d.Status.UpdatedReplicas = 1 }),
		"old pods remaining": deployment(func(d *appsv1.Deployment) { d.Status.Replicas = 5 }),
		"unavailable":        deployment(func(d *appsv1.Deployment) { d.Status.AvailableReplicas = 2 }),
		"no replicas field":  deployment(func(d *appsv1.Deployment) { d.Spec.Replicas = nil; d.Status.UpdatedReplicas = 0 }),
	}
	viewer := &polymorphichelpers.DeploymentStatusViewer{}
	for name, d := range cases {
		msg, done, err := Status(d)
		u, cerr := runtime.DefaultUnstructuredConverter.ToUnstructured(d)
		if cerr != nil {
			t.Fatal(cerr)
		}
		wmsg, wdone, werr := viewer.Status(&unstructured.Unstructured{Object: u}, 0)
		if msg != strings.TrimSpace(wmsg) || done != wdone || fmt.Sprint(err) != fmt.Sprint(werr) {
			t.Errorf("%s: (%q, %v, %v), kubectl (%q, %v, %v)", name, msg, done, err, wmsg, wdone, werr)
		}
	}
}

func TestRevisionIsKubectls(t *testing.T) {
	for _, ann := range []map[string]string{nil, {RevisionAnnotation: "7"}, {RevisionAnnotation: "x"}} {
		d := deployment(func(d *appsv1.Deployment) { d.Annotations = ann })
		got, err := Revision(d)
		want, werr := deploymentutil.Revision(d)
		if got != want || fmt.Sprint(err) != fmt.Sprint(werr) {
			t.Errorf("%v: %d, %v; kubectl %d, %v", ann, got, err, want, werr)
		}
	}
}

// history is web at revision 3 with its three ReplicaSets and a ReplicaSet of another
// Deployment that its selector matches.
func history() (*appsv1.Deployment, []runtime.Object) {
	d := deployment()
	other := replicaSet(d, 9, "web:v9", time.Minute)
	other.Name, other.OwnerReferences = "web-canary-x", nil
	return d, []runtime.Object{d,
		replicaSet(d, 2, "web:v2", 2*time.Hour), replicaSet(d, 1, "web:v1", 3*time.Hour), replicaSet(d, 3, "web:v3", time.Hour), other}
}

func TestReplicaSetsAreKubectls(t *testing.T) {
	d, objs := history()
	// A second ReplicaSet of the current template, newer (after a cluster upgrade, say):
	// the current one is the older.
	twin := replicaSet(d, 3, "web:v3", time.Minute)
	twin.Name, twin.UID = "web-twin", "rs-twin"
	client := fake.NewClientset(append(objs, twin)...)
	all, cur, err := ReplicaSets(context.Background(), client.AppsV1(), d)
	if err != nil {
		t.Fatal(err)
	}
	_, oldRSs, newRS, err := deploymentutil.GetAllReplicaSets(d, client.AppsV1())
	if err != nil {
		t.Fatal(err)
	}
	if cur == nil || newRS == nil || cur.Name != newRS.Name || cur.Name != "web-hash3" {
		t.Errorf("current %v, kubectl's %v; want web-hash3, the older of the two with web's template", cur, newRS)
	}
	names := func(rss []*appsv1.ReplicaSet) string {
		var out []string
		for _, rs := range rss {
			out = append(out, rs.Name)
		}
		return strings.Join(out, " ")
	}
	// kubectl lists the current one apart, after the others.
	kubectls := append(oldRSs, newRS)
	slices.SortFunc(kubectls, func(a, b *appsv1.ReplicaSet) int { return a.CreationTimestamp.Compare(b.CreationTimestamp.Time) })
	if got, want := names(all), names(kubectls); got != want || got != "web-hash1 web-hash2 web-hash3 web-twin" {
		t.Errorf("ReplicaSets %s; kubectl's %s", got, want)
	}
}

// UndoPatch sends what kubectl rollout undo sends: the same patch, byte for byte, for the
// previous revision and for a named one.
func TestUndoPatchIsKubectlRolloutUndo(t *testing.T) {
	for _, to := range []int64{0, 1, 2} {
		d, objs := history()
		client := fake.NewClientset(objs...)
		var sent []byte
		client.PrependReactor("patch", "deployments", func(a k8stesting.Action) (bool, runtime.Object, error) {
			sent = a.(k8stesting.PatchAction).GetPatch()
			return true, d, nil
		})
		rb, err := polymorphichelpers.RollbackerFor(schema.GroupKind{Group: "apps", Kind: "Deployment"}, client)
		if err != nil {
			t.Fatal(err)
		}
		if out, err := rb.Rollback(d, nil, to, cmdutil.DryRunNone); err != nil || sent == nil {
			t.Fatalf("kubectl, to %d: %q, %v, sent %s", to, out, err, sent)
		}
		want := map[int64]string{0: "web-hash2", 1: "web-hash1", 2: "web-hash2"}[to]
		var target *appsv1.ReplicaSet
		for _, o := range objs {
			if rs, ok := o.(*appsv1.ReplicaSet); ok && rs.Name == want {
				target = rs
			}
		}
		got, err := UndoPatch(d, target)
		if err != nil || string(got) != string(sent) {
			t.Errorf("to %d:\n ours    %s (%v)\n kubectl %s", to, got, err, sent)
		}
	}
	// Its template already runs: kubectl skips, and so do callers, by EqualIgnoreHash.
	d, objs := history()
	if !EqualIgnoreHash(&objs[3].(*appsv1.ReplicaSet).Spec.Template, &d.Spec.Template) ||
		EqualIgnoreHash(&objs[1].(*appsv1.ReplicaSet).Spec.Template, &d.Spec.Template) {
		t.Error("EqualIgnoreHash does not tell the current template from an older one")
	}
}
