package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/opsdeck/opsdeck/config"
	"github.com/opsdeck/opsdeck/internal/actions"
	"github.com/opsdeck/opsdeck/internal/bluegreen"
	"github.com/opsdeck/opsdeck/internal/cluster"
	"github.com/opsdeck/opsdeck/internal/domain"
)

// blueGreenSettings are the executor's blue-green durations from the configuration.
func blueGreenSettings(cfg config.Config) actions.BlueGreenSettings {
	return actions.BlueGreenSettings{Preview: cfg.BlueGreen.Preview.Duration, ScaleDownDelay: cfg.BlueGreen.ScaleDownDelay.Duration}
}

// waitSwitch follows a blue-green action whose switch is pending until traffic has switched:
// it watches the namespace and performs the switch itself when it is due (after the preview,
// with the configured rules checked on the new colour's pods), unless another opsdeck process
// does it first. It fails when the switch is cancelled (a failed preview, a rollback) or does
// not happen within timeout.
func (g *globals) waitSwitch(ctx context.Context, conn *cluster.Conn, exec *actions.Executor, cfg config.Config,
	a domain.Action, res domain.Result, timeout time.Duration) error {
	if res.PendingSwitch == "" {
		return nil // switched at once, or nothing to switch
	}
	if timeout <= 0 {
		timeout = actions.DefaultWaitTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	w, err := cluster.NewWatcher(conn.Client, cluster.WatchOptions{Namespaces: []string{a.Namespace}})
	if err != nil {
		return err
	}
	w.Start(ctx)
	r := &bluegreen.Reconciler{
		Exec: exec, Clock: domain.SystemClock{}, Thresholds: cfg.ThresholdSet(),
		Only: func(s domain.Service) bool { return s.Namespace == a.Namespace && s.Name == a.Service },
		OnStep: func(s bluegreen.Step) {
			if s.Err == nil && !s.Result.Skipped {
				fmt.Fprintln(g.streams.Out, s.Result.Message)
			}
		},
	}
	if src, err := metricsSource(cfg, conn); err == nil {
		r.Metrics = src.Frame
	}
	states := w.Subscribe(ctx)
	start := time.Now()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var st domain.ClusterState
	last := ""
	for {
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("timed out after %s waiting for %s to switch to %s: %s", timeout, a.Service, res.PendingSwitch, last)
			}
			return fmt.Errorf("stopped waiting for the switch of %s: %w", a.Service, ctx.Err())
		case s, ok := <-states:
			if !ok {
				return fmt.Errorf("stopped waiting for the switch of %s", a.Service)
			}
			st = s
		case <-tick.C:
		}
		if !st.Synced {
			continue
		}
		svc, ok := st.FindByName(a.Namespace, a.Service)
		if !ok || svc.BlueGreen == nil {
			return fmt.Errorf("blue-green service %s disappeared while waiting", a.Service)
		}
		bg := svc.BlueGreen
		if bg.Problem != "" {
			return errors.New(bg.Problem)
		}
		if bg.Pending == "" {
			if bg.Active == res.PendingSwitch {
				fmt.Fprintf(g.streams.Out, "%s serves from %s (%s), switched in %s\n", a.Service, bg.Active,
					bg.Of(bg.Active).Image, time.Since(start).Round(10*time.Millisecond))
				return nil
			}
			return fmt.Errorf("the switch of %s to %s was cancelled; %s serves from %s (%s)", a.Service, res.PendingSwitch,
				a.Service, bg.Active, bg.Of(bg.Active).Image)
		}
		r.Reconcile(ctx, st)
		if s := r.PreviewStatus(svc.Key()); s != "" && s != last && !strings.HasPrefix(s, "switching") {
			fmt.Fprintln(g.streams.Out, s)
			last = s
		}
	}
}
