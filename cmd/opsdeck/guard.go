package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/opsdeck/opsdeck/config"
	"github.com/opsdeck/opsdeck/internal/actions"
	"github.com/opsdeck/opsdeck/internal/cluster"
	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/internal/guard"
	"github.com/opsdeck/opsdeck/internal/notify"
)

// guardInterval is how often auto-guard reads metrics and judges: often enough that a rollback
// follows a breach's `for` duration within a few seconds.
const guardInterval = time.Second

func newGuardCmd(g *globals) *cobra.Command {
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "guard",
		Short: "Auto-guard without a screen: roll back bad rollouts, JSON lines on stdout",
		Long: `guard watches the Deployments of the namespace and rolls back a rollout that breaches a
rollback rule of the config (by default: 5xx ratio above 5 % for 20 s, p99 latency above 1 s for
30 s), stalls, or crash-loops, within guard.window of its start. Every decision and action is
written as a JSON line on stdout, in the audit log, and as a Kubernetes Event. It stops on
SIGINT or SIGTERM. In a pod it uses the in-cluster configuration.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runGuard(cmd.Context(), g, dryRun)
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "decide and report, but change nothing")
	return cmd
}

func runGuard(ctx context.Context, g *globals, dryRun bool) error {
	if g.readOnly && !dryRun {
		return errors.New("auto-guard rolls back without asking, which --readonly forbids; use --dry-run to only report")
	}
	cfg, err := g.loadConfig()
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(g.streams.Out, nil))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g.observeOnly = dryRun // a dry run performs no pending blue-green switch or scale-down either
	lb, err := g.liveBackend(ctx, cfg, 0)
	if err != nil {
		return err
	}
	defer lb.close()
	if !dryRun {
		missing, err := cluster.MissingPermissions(ctx, lb.conn.Client, g.namespaces(lb.conn), cluster.GuardPermissions)
		if err != nil {
			return err
		}
		if len(missing) > 0 {
			return fmt.Errorf("auto-guard cannot start: %s (see config/examples/guard-in-cluster.yaml for the least RBAC it needs)",
				cluster.FormatMissing(lb.conn.Identity.User, missing))
		}
	}
	if !lb.backend.WaitForSync(ctx) {
		return ctx.Err()
	}
	runner := newGuardRunner(cfg, lb.backend, lb.recorder, dryRun, log)
	log.Info("guard started", "context", lb.conn.Identity.Context, "user", lb.conn.Identity.User,
		"namespaces", lb.conn.Identity.Namespaces, "dry_run", dryRun,
		"window", cfg.Guard.Window.String(), "stable_after", cfg.Guard.StableAfter.String())
	err = runner.Run(ctx)
	log.Info("guard stopped")
	return err
}

// newGuardRunner assembles auto-guard from the configuration; the console runs the same.
func newGuardRunner(cfg config.Config, b domain.Backend, rec *actions.EventRecorder, dryRun bool, log *slog.Logger) *guard.Runner {
	r := &guard.Runner{
		Backend:  b,
		Engine:   guard.New(guardConfig(cfg)),
		Clock:    domain.SystemClock{},
		Interval: roundInterval(b),
		DryRun:   dryRun,
		Log:      log,
		Alerter:  &guard.Alerter{Thresholds: cfg.ThresholdSet()},
	}
	var receivers notify.Multi
	if cfg.Notify.AlertmanagerURL != "" {
		receivers = append(receivers, &notify.Alertmanager{URL: cfg.Notify.AlertmanagerURL})
	}
	if cfg.Notify.WebhookURL != "" {
		receivers = append(receivers, &notify.Webhook{URL: cfg.Notify.WebhookURL})
	}
	if len(receivers) > 0 {
		r.Notifier = receivers
	}
	if rec != nil && !dryRun {
		r.AlertEvents = func(a domain.Alert) { recordAlertEvent(rec, a) }
	}
	return r
}

// guardConfig is the engine's part of the configuration.
func guardConfig(cfg config.Config) guard.Config {
	return guard.Config{
		Window:         cfg.Guard.Window.Duration,
		StableAfter:    cfg.Guard.StableAfter.Duration,
		NoDataRollback: cfg.Guard.NoData == config.NoDataRollback,
		Thresholds:     cfg.ThresholdSet(),
	}
}

// recordAlertEvent records a threshold alert as an Event on the service's Deployment, where
// `kubectl describe` and every event-based tool will find it.
func recordAlertEvent(rec *actions.EventRecorder, a domain.Alert) {
	name := a.Deployment
	if name == "" {
		name = a.Service
	}
	obj := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: a.Namespace}}
	if a.Resolved {
		rec.Event(obj, corev1.EventTypeNormal, "ThresholdResolved", a.Message)
		return
	}
	rec.Event(obj, corev1.EventTypeWarning, "ThresholdBreached", a.Message)
}
