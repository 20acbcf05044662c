package cluster

import (
	appsv1 "k8s.io/api/apps/v1"

	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/internal/release"
)

// releaseState reads the pending deploy and the freeze annotations of a Deployment.
func releaseState(d *appsv1.Deployment) (*domain.PendingDeploy, *domain.FreezeInfo) {
	var pd *domain.PendingDeploy
	if p := release.ParsePending(d.Annotations[release.AnnotationPending]); p != nil {
		pd = &domain.PendingDeploy{Image: p.Image, State: p.State, Until: p.Until, NotBefore: p.NotBefore,
			Trigger: p.Trigger, RequestedBy: p.RequestedBy, ApprovedBy: p.ApprovedBy}
	}
	var fi *domain.FreezeInfo
	if f := release.ServiceFreeze(d); f != nil {
		fi = &domain.FreezeInfo{Scope: f.Scope, Until: f.Until, Reason: f.Reason, By: f.By}
	}
	return pd, fi
}
