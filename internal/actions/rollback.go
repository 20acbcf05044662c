package actions

import (
	"context"
	"fmt"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime/schema"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/polymorphichelpers"
	deploymentutil "k8s.io/kubectl/pkg/util/deployment"

	"github.com/opsdeck/opsdeck/internal/domain"
)

var deploymentKind = schema.GroupKind{Group: "apps", Kind: "Deployment"}

// revisionTarget finds the ReplicaSet of revision to (0: the previous one) among d's, with
// kubectl's semantics, and the numbers of all revisions for an error.
func revisionTarget(e *Executor, d *appsv1.Deployment, to int64) (*appsv1.ReplicaSet, int64, error) {
	_, all, newRS, err := deploymentutil.GetAllReplicaSets(d, e.Client.AppsV1())
	if err != nil {
		return nil, 0, err
	}
	if newRS != nil {
		all = append(all, newRS)
	}
	byRev := map[int64]*appsv1.ReplicaSet{}
	var revs []int64
	for _, rs := range all {
		if v, err := deploymentutil.Revision(rs); err == nil && v > 0 {
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

func sameTemplate(a, b *corev1.PodTemplateSpec) bool {
	a, b = a.DeepCopy(), b.DeepCopy()
	delete(a.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	delete(b.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	return apiequality.Semantic.DeepEqual(a, b)
}

func planRollback(ctx context.Context, e *Executor, a domain.Action, d *appsv1.Deployment) (*plan, error) {
	if a.Snapshot != "" {
		return planRestore(ctx, e, a, d)
	}
	target, to, err := revisionTarget(e, d, a.ToRevision)
	if err != nil {
		return nil, err
	}
	rev, _ := deploymentutil.Revision(d)
	p := &plan{verb: "patch", resource: "deployments"}
	p.res.FromRevision, p.res.ToRevision, p.res.FromImage = rev, to, mainImage(d)
	if cs := target.Spec.Template.Spec.Containers; len(cs) > 0 {
		p.res.ToImage = cs[0].Image
	}
	if a.Trigger.ByGuard() {
		p.eventType, p.eventReason = corev1.EventTypeWarning, AutoRollbackReason
	}
	if sameTemplate(&target.Spec.Template, &d.Spec.Template) {
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
		var out string
		err := retryStatusConflicts(ctx, e, cur, func(cur *appsv1.Deployment) error {
			// kubectl's own Rollbacker, as `kubectl rollout undo --to-revision`, on the Deployment
			// opsdeck read, its patch guarded by that resourceVersion.
			var patchErr error
			rb, err := polymorphichelpers.RollbackerFor(deploymentKind, pinnedClient{Interface: e.Client, ctx: ctx, d: cur, patchErr: &patchErr})
			if err != nil {
				return err
			}
			out, err = rb.Rollback(cur, nil, to, cmdutil.DryRunNone)
			if err != nil && patchErr != nil {
				return patchErr
			}
			return err
		})
		if err != nil {
			return "", err
		}
		if strings.HasPrefix(out, "skipped") {
			return fmt.Sprintf("%s: %s", a.Service, out), nil
		}
		return fmt.Sprintf("%srolled back %s to revision %d (%s)", resumed, a.Service, to, p.res.ToImage), nil
	}
	return p, nil
}
