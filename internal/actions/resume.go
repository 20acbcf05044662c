package actions

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/internal/rollout"
)

// resumeDeployment resumes d under its resourceVersion and returns the updated object.
func resumeDeployment(ctx context.Context, e *Executor, d *appsv1.Deployment) (*appsv1.Deployment, error) {
	patch, err := objectPatch(d, rollout.Resume)
	if err != nil {
		return nil, fmt.Errorf("%s %v", d.Name, err)
	}
	return patchDeployment(ctx, e.Client, d, types.StrategicMergePatchType, patch)
}

func planResume(_ context.Context, e *Executor, a domain.Action, d *appsv1.Deployment) (*plan, error) {
	p := sameRevision(d, "patch")
	if _, err := objectPatch(d, rollout.Resume); err != nil {
		return nil, fmt.Errorf("%s %v", a.Service, err) // "order-service is not paused"
	}
	p.sentence = fmt.Sprintf("resume %s's rollout at revision %d (%s)", a.Service, p.res.FromRevision, p.res.FromImage)
	p.applyTo = func(ctx context.Context, cur *appsv1.Deployment) (string, error) {
		if _, err := resumeDeployment(ctx, e, cur); err != nil {
			return "", err
		}
		return fmt.Sprintf("resumed %s", a.Service), nil
	}
	return p, nil
}
