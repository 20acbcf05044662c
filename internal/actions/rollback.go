package actions

import (
	"context"
	"fmt"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/internal/rollout"
)

// revisionTarget finds the ReplicaSet of revision to (0: the previous one) among d's, with
// kubectl's semantics, and the numbers of all revisions for an error.
func revisionTarget(ctx context.Context, e *Executor, d *appsv1.Deployment, to int64) (*appsv1.ReplicaSet, int64, error) {
	all, _, err := rollout.ReplicaSets(ctx, e.Client.AppsV1(), d)
	if err != nil {
		return nil, 0, err
	}
	byRev := map[int64]*appsv1.ReplicaSet{}
	var revs []int64
	for _, rs := range all {
		if v, err := rollout.Revision(rs); err == nil && v > 0 {
			byRev[v] = rs
			revs = append(revs, v)
		}
	}
	sort.Slice(revs, func(i, j int) bool { return revs[i] < revs[j] })
	list := make([]string, len(revs))
	for i, r := range revs {
		list[i] = fmt.Sprint(r)
	}
	if to > 0 {
		if rs, ok := byRev[to]; ok {
			return rs, to, nil
		}
		if len(revs) == 0 {
			return nil, 0, fmt.Errorf("revision %d of %s not found: it has no revisions", to, d.Name)
		}
		return nil, 0, fmt.Errorf("revision %d of %s not found; existing revisions: %s", to, d.Name, strings.Join(list, ", "))
	}
	// kubectl: the previous revision is the second highest.
	if len(revs) < 2 {
		return nil, 0, fmt.Errorf("no earlier revision of %s to roll back to (revisions: %s)", d.Name, strings.Join(list, ", "))
	}
	prev := revs[len(revs)-2]
	return byRev[prev], prev, nil
}

func planRollback(ctx context.Context, e *Executor, a domain.Action, d *appsv1.Deployment) (*plan, error) {
	if a.Snapshot != "" {
		return planRestore(ctx, e, a, d)
	}
	target, to, err := revisionTarget(ctx, e, d, a.ToRevision)
	if err != nil {
		return nil, err
	}
	rev, _ := rollout.Revision(d)
	p := &plan{verb: "patch", resource: "deployments"}
	p.res.FromRevision, p.res.ToRevision, p.res.FromImage = rev, to, mainImage(d)
	if cs := target.Spec.Template.Spec.Containers; len(cs) > 0 {
		p.res.ToImage = cs[0].Image
	}
	if a.Trigger.ByGuard() {
		p.eventType, p.eventReason = corev1.EventTypeWarning, AutoRollbackReason
	}
	if rollout.EqualIgnoreHash(&target.Spec.Template, &d.Spec.Template) {
		p.skip = fmt.Sprintf("skipped rollback: %s already runs the template of revision %d", a.Service, to)
		return p, nil
	}
	if d.Spec.Paused && !a.Trigger.ByGuard() {
		return nil, fmt.Errorf("%s is paused: resume it (p, or kubectl rollout resume) before rolling back", a.Service)
	}
	p.sentence = fmt.Sprintf("roll back %s: r%d %s -> r%d %s", a.Service, rev, p.res.FromImage, to, p.res.ToImage)
	if d.Spec.Paused {
		p.sentence += " (resuming its paused rollout first)"
	}
	p.applyTo = func(ctx context.Context, cur *appsv1.Deployment) (string, error) {
		resumed := ""
		if cur.Spec.Paused {
			// The guard acts on a bad rollout even when someone paused it: resume, then roll back.
			r, err := resumeDeployment(ctx, e, cur)
			if err != nil {
				return "", err
			}
			cur, resumed = r, "resumed and "
		}
		skipped := false
		err := retryStatusConflicts(ctx, e, cur, func(cur *appsv1.Deployment) error {
			// `kubectl rollout undo --to-revision` on the Deployment opsdeck read, to the
			// ReplicaSet the plan found (kubectl looks the number up again, but a racing
			// rollback renumbers that ReplicaSet: the loser must meet the Conflict of its
			// patch and stand down, not a missing revision), the patch guarded by the
			// Deployment's resourceVersion.
			if skipped = rollout.EqualIgnoreHash(&target.Spec.Template, &cur.Spec.Template); skipped {
				return nil
			}
			patch, err := rollout.UndoPatch(cur, target)
			if err != nil {
				return fmt.Errorf("restoring revision %d: %w", to, err)
			}
			_, err = patchDeployment(ctx, e.Client, cur, types.JSONPatchType, patch)
			return err
		})
		if err != nil {
			return "", err
		}
		if skipped {
			return fmt.Sprintf("%s: skipped rollback (current template already matches revision %d)", a.Service, to), nil
		}
		return fmt.Sprintf("%srolled back %s to revision %d (%s)", resumed, a.Service, to, p.res.ToImage), nil
	}
	return p, nil
}
