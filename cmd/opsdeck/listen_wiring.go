package main

import (
	"context"
	"strings"
	"sync/atomic"

	"github.com/opsdeck/opsdeck/internal/guard"
	"github.com/opsdeck/opsdeck/internal/listener"
	"github.com/opsdeck/opsdeck/internal/release"
)

// gateDeployer hands the listener's deploys to the release gate: policy, windows, freezes,
// approval, then the executor (or the queue in the cluster).
type gateDeployer struct{ gate *release.Gate }

func (d gateDeployer) Submit(ctx context.Context, r listener.Request) (listener.Outcome, error) {
	o, err := d.gate.Submit(ctx, release.Request{
		Namespace: r.Namespace, Service: r.Service, Container: r.Container, Image: r.Image, Reason: r.Reason,
		Trigger: r.Trigger, RequestedBy: r.RequestedBy,
	})
	if err != nil {
		return listener.Outcome{}, err
	}
	return listener.Outcome{State: o.State, Until: o.Until, Message: o.Message}, nil
}

// guardSignals hands the listener's alerts to the auto-guard judging now: the process's only
// runner, or under --leader-elect the current term's; none on a standby.
type guardSignals struct{ current *atomic.Pointer[guard.Runner] }

func (g guardSignals) Signal(ctx context.Context, s listener.Signal) listener.SignalResult {
	r := g.current.Load()
	if r == nil {
		return listener.SignalResult{Action: "ignored", Message: "not the leader: this guard is standing by; the leader's listener acts"}
	}
	res := r.Signal(ctx, guard.Signal{
		Namespace: s.Namespace, Service: s.Service, Name: s.AlertName, Summary: s.Summary,
		StartsAt: s.StartsAt, Fingerprint: s.Fingerprint, Firing: s.Firing,
	})
	action := "ignored"
	switch {
	case res.Acted:
		action = "rolled-back"
	case strings.HasPrefix(res.Message, "dry run"):
		action = "dry-run"
	}
	return listener.SignalResult{Action: action, Message: res.Message}
}
