package actions

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/internal/rollout"
)

// ChangeCauseAnnotation is the annotation kubectl shows as CHANGE-CAUSE in rollout history.
const ChangeCauseAnnotation = "kubernetes.io/change-cause"

// ChangeCause is what opsdeck writes in kubernetes.io/change-cause for a deploy:
// "opsdeck deploy order-service order-service:v2 (key)".
func ChangeCause(a domain.Action) string {
	return fmt.Sprintf("opsdeck deploy %s %s (%s)", a.Service, a.Image, a.Trigger)
}

// PickContainer chooses the container a deploy changes: the one named, else the only one, else
// the one named like the service. Its error lists the container names.
func PickContainer(d *appsv1.Deployment, want string) (int, error) {
	cs := d.Spec.Template.Spec.Containers
	names := make([]string, len(cs))
	for i, c := range cs {
		names[i] = c.Name
	}
	if want != "" {
		for i, c := range cs {
			if c.Name == want {
				return i, nil
			}
		}
		return -1, fmt.Errorf("container %q not found in %s; its containers: %s", want, d.Name, strings.Join(names, ", "))
	}
	switch len(cs) {
	case 0:
		return -1, fmt.Errorf("%s has no containers", d.Name)
	case 1:
		return 0, nil
	}
	for i, c := range cs {
		if c.Name == d.Name {
			return i, nil
		}
	}
	return -1, fmt.Errorf("%s has %d containers (%s): name one with --container", d.Name, len(cs), strings.Join(names, ", "))
}

// nextRevision is the number the Deployment controller will give the next rollout: one more
// than the highest revision of the Deployment and its ReplicaSets.
func nextRevision(ctx context.Context, e *Executor, d *appsv1.Deployment) (int64, error) {
	max, _ := rollout.Revision(d)
	all, _, err := rollout.ReplicaSets(ctx, e.Client.AppsV1(), d)
	if err != nil {
		return 0, err
	}
	for _, rs := range all {
		if v, err := rollout.Revision(rs); err == nil && v > max {
			max = v
		}
	}
	return max + 1, nil
}

func planDeploy(ctx context.Context, e *Executor, a domain.Action, d *appsv1.Deployment) (*plan, error) {
	i, err := PickContainer(d, a.Container)
	if err != nil {
		return nil, err
	}
	c := d.Spec.Template.Spec.Containers[i]
	rev, _ := rollout.Revision(d)
	p := &plan{verb: "patch", resource: "deployments"}
	p.res.FromRevision, p.res.ToRevision, p.res.FromImage, p.res.ToImage = rev, rev, c.Image, a.Image
	if c.Image == a.Image {
		p.skip = fmt.Sprintf("%s already runs %s in container %s", a.Service, a.Image, c.Name)
		return p, nil
	}
	if p.res.ToRevision, err = nextRevision(ctx, e, d); err != nil {
		return nil, err
	}
	patch, err := json.Marshal(map[string]any{
		"metadata": map[string]any{"annotations": map[string]string{ChangeCauseAnnotation: ChangeCause(a)}},
		"spec": map[string]any{"template": map[string]any{"spec": map[string]any{
			"containers": []map[string]string{{"name": c.Name, "image": a.Image}},
		}}},
	})
	if err != nil {
		return nil, err
	}
	in := ""
	if len(d.Spec.Template.Spec.Containers) > 1 {
		in = " (container " + c.Name + ")"
	}
	p.sentence = fmt.Sprintf("deploy %s%s: %s -> %s (revision %d -> %d)", a.Service, in, c.Image, a.Image, rev, p.res.ToRevision)
	p.applyTo = func(ctx context.Context, cur *appsv1.Deployment) (string, error) {
		if _, err := patchDeployment(ctx, e.Client, cur, types.StrategicMergePatchType, patch); err != nil {
			return "", err
		}
		return fmt.Sprintf("deployed %s to %s (container %s, revision %d)", a.Image, a.Service, c.Name, p.res.ToRevision), nil
	}
	return p, nil
}
