package actions

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/opsdeck/opsdeck/internal/domain"
)

func planScale(_ context.Context, e *Executor, a domain.Action, d *appsv1.Deployment) (*plan, error) {
	p := sameRevision(d, "update")
	p.resource = "deployments/scale"
	from := int32(1)
	if d.Spec.Replicas != nil {
		from = *d.Spec.Replicas
	}
	if from == a.Replicas {
		p.skip = fmt.Sprintf("%s already has %d replicas", a.Service, a.Replicas)
		return p, nil
	}
	p.sentence = fmt.Sprintf("scale %s: %d -> %d replicas", a.Service, from, a.Replicas)
	p.applyTo = func(ctx context.Context, cur *appsv1.Deployment) (string, error) {
		// The scale subresource, guarded by the Deployment's resourceVersion.
		sc, err := e.Client.AppsV1().Deployments(d.Namespace).GetScale(ctx, d.Name, metav1.GetOptions{})
		if err != nil {
			return "", err
		}
		sc.ResourceVersion = cur.ResourceVersion
		sc.Spec.Replicas = a.Replicas
		if _, err := e.Client.AppsV1().Deployments(d.Namespace).UpdateScale(ctx, d.Name, sc, metav1.UpdateOptions{FieldManager: FieldManager}); err != nil {
			return "", err
		}
		return fmt.Sprintf("scaled %s from %d to %d replicas", a.Service, from, a.Replicas), nil
	}
	return p, nil
}
