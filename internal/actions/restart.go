package actions

import (
	"context"
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/internal/rollout"
)

func planRestart(ctx context.Context, e *Executor, a domain.Action, d *appsv1.Deployment) (*plan, error) {
	if d.Spec.Paused {
		return nil, fmt.Errorf("%s is paused: resume it (p) before restarting", a.Service)
	}
	p := sameRevision(d, "patch")
	patch, err := objectPatch(d, e.restart)
	if err != nil {
		return nil, fmt.Errorf("restart %s: %s", a.Service, strings.TrimSpace(err.Error()))
	}
	// A restart rolls out a new template (the restartedAt annotation): a new revision.
	if p.res.ToRevision, err = nextRevision(ctx, e, d); err != nil {
		return nil, err
	}
	p.sentence = fmt.Sprintf("restart %s: every pod is replaced with %s, a new revision %d -> %d", a.Service, p.res.FromImage, p.res.FromRevision, p.res.ToRevision)
	p.applyTo = func(ctx context.Context, cur *appsv1.Deployment) (string, error) {
		if _, err := patchDeployment(ctx, e.Client, cur, types.StrategicMergePatchType, patch); err != nil {
			return "", err
		}
		return fmt.Sprintf("restarting %s (revision %d)", a.Service, p.res.ToRevision), nil
	}
	return p, nil
}

// restart stamps d's pod template with the wall clock, as kubectl rollout restart does: not
// the executor's Clock, whose frozen time in a test would make a second restart change nothing.
func (e *Executor) restart(d *appsv1.Deployment) error { return rollout.Restart(d, time.Now()) }
