package actions

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/opsdeck/opsdeck/internal/audit"
	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/internal/sandbox"
)

// A Deployment with revisionHistoryLimit 0 keeps no old ReplicaSet, so revision history
// cannot bring anything back; the snapshot saved before a deploy brings back its image and
// its replicas (which revision history never keeps).
func TestSnapshotRestoreWithoutRevisionHistory(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	d := sandbox.Deployment(f.ns, "web", "web:v1", 3)
	zero := int32(0)
	d.Spec.RevisionHistoryLimit = &zero
	if _, err := f.client.AppsV1().Deployments(f.ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.wait(t, "web")

	f.do(t, domain.Action{Kind: domain.ActionDeploy, Service: "web", Image: "web:v2"})
	f.wait(t, "web")
	f.do(t, domain.Action{Kind: domain.ActionScale, Service: "web", Replicas: 5})
	f.wait(t, "web")
	// The old ReplicaSet is gone: kubectl rollout undo has nothing to go back to.
	if _, err := f.exec.Preview(ctx, domain.Action{Kind: domain.ActionRollback, Namespace: f.ns, Service: "web", Trigger: domain.TriggerCLI}); err == nil ||
		!strings.Contains(err.Error(), "no earlier revision") {
		t.Fatalf("revision rollback without history: %v", err)
	}

	snaps, err := f.exec.Snapshots(f.ns, "web")
	if err != nil || len(snaps) != 2 {
		t.Fatalf("snapshots %+v, %v", snaps, err)
	}
	if snaps[0].Action != "scale" || snaps[0].Image != "web:v2" || snaps[0].Replicas != 3 ||
		snaps[1].Action != "deploy" || snaps[1].Image != "web:v1" || snaps[1].Replicas != 3 {
		t.Fatalf("snapshots, newest first: %+v", snaps)
	}

	// An unknown ID is refused with the service's snapshot IDs.
	_, err = f.exec.Execute(ctx, domain.Action{Kind: domain.ActionRollback, Namespace: f.ns, Service: "web", Trigger: domain.TriggerCLI, Snapshot: "nope"})
	if err == nil || !strings.Contains(err.Error(), `snapshot "nope" not found`) || !strings.Contains(err.Error(), snaps[0].ID+", "+snaps[1].ID) {
		t.Fatalf("unknown snapshot: %v", err)
	}

	res := f.do(t, domain.Action{Kind: domain.ActionRollback, Service: "web", Snapshot: snaps[1].ID})
	if res.FromImage != "web:v2" || res.ToImage != "web:v1" || res.ToRevision != res.FromRevision+1 {
		t.Fatalf("restore result %+v", res)
	}
	f.wait(t, "web")
	got := f.deployment(t, "web")
	if img := got.Spec.Template.Spec.Containers[0].Image; img != "web:v1" || *got.Spec.Replicas != 3 || got.Status.AvailableReplicas != 3 ||
		got.Spec.RevisionHistoryLimit == nil || *got.Spec.RevisionHistoryLimit != 0 {
		t.Fatalf("restored: image %s, %d/%d available", img, got.Status.AvailableReplicas, *got.Spec.Replicas)
	}
	if cause := got.Annotations[ChangeCauseAnnotation]; cause != "opsdeck rollback web --to-snapshot "+snaps[1].ID+" (cli)" {
		t.Errorf("change-cause %q", cause)
	}
	entries, err := audit.Read(f.log.Path())
	if err != nil {
		t.Fatal(err)
	}
	last := entries[len(entries)-1]
	if last.Action != "rollback" || last.FromImage != "web:v2" || last.ToImage != "web:v1" || last.Snapshot == "" || last.Result != "ok" {
		t.Errorf("audit %+v", last)
	}
	// Restoring it again changes nothing.
	again := f.do(t, domain.Action{Kind: domain.ActionRollback, Service: "web", Snapshot: snaps[1].ID})
	if !again.Skipped {
		t.Errorf("second restore %+v", again)
	}
}

// A restore is guarded by the resourceVersion it read: the restore of a Deployment that
// changed meanwhile is a conflict, and nothing changes.
func TestSnapshotRestoreConflict(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.env.CreateDeployment(t, f.ns, "web", "web:v1", 2)
	f.do(t, domain.Action{Kind: domain.ActionScale, Service: "web", Replicas: 4})
	snaps, err := f.exec.Snapshots(f.ns, "web")
	if err != nil || len(snaps) != 1 {
		t.Fatalf("snapshots %+v, %v", snaps, err)
	}
	d := f.deployment(t, "web")
	// Another actor scales in between: the plan was made on an older object.
	p, err := planRestore(ctx, f.exec, domain.Action{Kind: domain.ActionRollback, Namespace: f.ns, Service: "web", Snapshot: snaps[0].ID}, d)
	if err != nil {
		t.Fatal(err)
	}
	n := int32(6)
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := f.client.AppsV1().Deployments(f.ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return err
		}
		cur.Spec.Replicas = &n
		_, err = f.client.AppsV1().Deployments(f.ns).Update(ctx, cur, metav1.UpdateOptions{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.applyTo(ctx, d); err == nil || !strings.Contains(err.Error(), "the object has been modified") {
		t.Fatalf("restore over a changed object: %v", err)
	}
	if got := f.deployment(t, "web"); *got.Spec.Replicas != 6 {
		t.Errorf("replicas %d after a refused restore, want 6", *got.Spec.Replicas)
	}
}
