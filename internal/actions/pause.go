package actions

import (
	"context"
	"encoding/json"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"

	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/internal/rollout"
)

// objectPatch runs one of the rollout mutators (rollout.Pause, Resume, Restart) on a copy of d
// and returns the strategic merge patch from d to the result, as kubectl rollout
// pause/resume/restart compute it.
func objectPatch(d *appsv1.Deployment, mutate func(*appsv1.Deployment) error) ([]byte, error) {
	before, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	obj := d.DeepCopy()
	if err := mutate(obj); err != nil {
		return nil, err
	}
	after, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	return strategicpatch.CreateTwoWayMergePatch(before, after, &appsv1.Deployment{})
}

func sameRevision(d *appsv1.Deployment, verb string) *plan {
	rev, _ := rollout.Revision(d)
	img := mainImage(d)
	p := &plan{verb: verb, resource: "deployments"}
	p.res.FromRevision, p.res.ToRevision, p.res.FromImage, p.res.ToImage = rev, rev, img, img
	return p
}

func planPause(_ context.Context, e *Executor, a domain.Action, d *appsv1.Deployment) (*plan, error) {
	p := sameRevision(d, "patch")
	patch, err := objectPatch(d, rollout.Pause)
	if err != nil {
		return nil, fmt.Errorf("%s %v", a.Service, err) // "order-service is already paused"
	}
	p.sentence = fmt.Sprintf("pause %s's rollout at revision %d (%s): no pod changes until it is resumed", a.Service, p.res.FromRevision, p.res.FromImage)
	p.applyTo = func(ctx context.Context, cur *appsv1.Deployment) (string, error) {
		if _, err := patchDeployment(ctx, e.Client, cur, types.StrategicMergePatchType, patch); err != nil {
			return "", err
		}
		return fmt.Sprintf("paused %s at revision %d", a.Service, p.res.FromRevision), nil
	}
	return p, nil
}
