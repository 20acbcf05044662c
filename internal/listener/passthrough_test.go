package listener

import (
	"context"

	"github.com/opsdeck/opsdeck/internal/domain"
)

// ExecutorDeployer deploys every request at once through the executor, with no policy, window,
// freeze or queue: the listener's own tests use it to test the HTTP side alone.
type ExecutorDeployer struct{ Executor Executor }

func (d ExecutorDeployer) Submit(ctx context.Context, r Request) (Outcome, error) {
	res, err := d.Executor.Execute(ctx, domain.Action{
		Kind: domain.ActionDeploy, Namespace: r.Namespace, Service: r.Service, Container: r.Container,
		Image: r.Image, Trigger: r.Trigger, RequestedBy: r.RequestedBy, Reason: r.Reason,
	})
	if err != nil {
		return Outcome{}, err
	}
	return Outcome{State: StateStarted, Message: res.Message}, nil
}
