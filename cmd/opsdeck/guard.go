package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	authv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/opsdeck/opsdeck/config"
	"github.com/opsdeck/opsdeck/internal/actions"
	"github.com/opsdeck/opsdeck/internal/backend/stream"
	"github.com/opsdeck/opsdeck/internal/cluster"
	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/internal/guard"
	"github.com/opsdeck/opsdeck/internal/leader"
	"github.com/opsdeck/opsdeck/internal/notify"
)

// guardInterval is how often auto-guard reads metrics and judges: often enough that a rollback
// follows a breach's `for` duration within a few seconds.
const guardInterval = time.Second

// guardOptions are the flags of `opsdeck guard`.
type guardOptions struct {
	dryRun bool
	// leaderElect runs this process as one of several replicas: only the Lease's holder acts.
	leaderElect   bool
	leaseDuration time.Duration
	// listen, when set, serves the HTTP listener (deploy and rollback API, webhooks,
	// Alertmanager) on this address; tlsCert and tlsKey make it HTTPS.
	listen, tlsCert, tlsKey string
}

func newGuardCmd(g *globals) *cobra.Command {
	var o guardOptions
	cmd := &cobra.Command{
		Use:   "guard",
		Short: "Auto-guard without a screen: roll back bad rollouts, JSON lines on stdout",
		Long: `guard watches the Deployments of the namespace and rolls back a rollout that breaches a
rollback rule of the config (by default: 5xx ratio above 5 % for 20 s, p99 latency above 1 s for
30 s), stalls, or crash-loops, within guard.window of its start. Every decision and action is
written as a JSON line on stdout, in the audit log, and as a Kubernetes Event. It stops on
SIGINT or SIGTERM. In a pod it uses the in-cluster configuration.

With --leader-elect several replicas share the namespace: they elect a leader on the
coordination.k8s.io Lease "opsdeck-guard" of the namespace, and only the leader judges and acts.
When the leader dies a standby takes over within the lease duration and judges the rollouts in
flight afresh from the cluster; the executor's revision preconditions keep it from repeating a
rollback the old leader made.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.leaseDuration < 3*time.Second {
				return usageError{fmt.Errorf("--lease-duration %s is too short: give 3s or more (default %s)", o.leaseDuration, leader.DefaultLeaseDuration)}
			}
			if (o.tlsCert == "") != (o.tlsKey == "") {
				return usageError{errors.New("--tls-cert and --tls-key go together: give both files or neither")}
			}
			if o.listen != "" && o.dryRun {
				return usageError{errors.New("--listen deploys and rolls back on request, --dry-run changes nothing: give one or the other")}
			}
			if o.tlsCert != "" && o.listen == "" {
				return usageError{errors.New("--tls-cert needs --listen ADDR")}
			}
			return runGuard(cmd.Context(), g, o)
		},
	}
	cmd.Flags().BoolVar(&o.dryRun, "dry-run", false, "decide and report, but change nothing")
	cmd.Flags().BoolVar(&o.leaderElect, "leader-elect", false, "run as one of several replicas: only the holder of the namespace's Lease acts")
	cmd.Flags().DurationVar(&o.leaseDuration, "lease-duration", leader.DefaultLeaseDuration,
		"with --leader-elect: how long a leader's claim lasts unrenewed, the longest a standby waits after the leader dies")
	addListenFlags(cmd, &o)
	return cmd
}

// missingLeasePermissions names what --leader-elect lacks on top of the guard's own
// permissions: to create the Lease, and to read and renew the one named leader.LeaseName (a
// Role may grant those two by resourceNames, as config/examples/guard-in-cluster.yaml does).
func missingLeasePermissions(ctx context.Context, client kubernetes.Interface, ns string) ([]string, error) {
	var missing []string
	for _, p := range []authv1.ResourceAttributes{
		{Verb: "create", Group: "coordination.k8s.io", Resource: "leases"},
		{Verb: "get", Group: "coordination.k8s.io", Resource: "leases", Name: leader.LeaseName},
		{Verb: "update", Group: "coordination.k8s.io", Resource: "leases", Name: leader.LeaseName},
	} {
		p.Namespace = ns
		review := &authv1.SelfSubjectAccessReview{Spec: authv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &p}}
		res, err := client.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
		if err != nil {
			return nil, fmt.Errorf("checking permissions (%s leases): %w", p.Verb, err)
		}
		if !res.Status.Allowed {
			what := p.Verb + " leases.coordination.k8s.io"
			if p.Name != "" {
				what += " " + p.Name
			}
			missing = append(missing, what+" in namespace "+ns)
		}
	}
	return missing, nil
}

func runGuard(ctx context.Context, g *globals, o guardOptions) error {
	dryRun := o.dryRun
	if o.leaderElect && g.allNamespaces {
		return usageError{errors.New("--leader-elect keeps its Lease in the guarded namespace: give one with -n instead of -A")}
	}
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
	var leading atomic.Bool
	if o.leaderElect {
		// Standbys leave pending blue-green switches and scale-downs to the leader too.
		g.reconcileWhile = leading.Load
	}
	lb, err := g.clusterBackend(ctx, cfg)
	if err != nil {
		return err
	}
	defer lb.close()
	if !dryRun {
		missing, err := cluster.MissingPermissions(ctx, lb.conn.Client, g.namespaces(lb.conn), cluster.GuardPermissions)
		if err != nil {
			return err
		}
		if o.leaderElect {
			more, err := missingLeasePermissions(ctx, lb.conn.Client, lb.conn.Namespace)
			if err != nil {
				return err
			}
			missing = append(missing, more...)
		}
		if len(missing) > 0 {
			return fmt.Errorf("auto-guard cannot start: %s (see config/examples/guard-in-cluster.yaml for the least RBAC it needs)",
				cluster.FormatMissing(lb.conn.Identity.User, missing))
		}
	}
	if !lb.backend.WaitForSync(ctx) {
		return ctx.Err()
	}
	// The runner judging now, for the listener's alerts: set while one runs (under
	// --leader-elect, while this replica leads).
	var current atomic.Pointer[guard.Runner]
	if o.listen != "" {
		stop, err := startListener(ctx, cfg, lb, o, guardSignals{&current}, log)
		if err != nil {
			return err
		}
		// Runs last: the guard below has stopped; requests in flight finish first.
		defer stop()
	}
	if !dryRun {
		var while func() bool
		if o.leaderElect {
			while = leading.Load
		}
		rec := pendingReconciler(cfg, lb, while, func(s string) { log.Info(s) })
		go rec.Run(ctx, pendingInterval)
	}
	attrs := []any{"context", lb.conn.Identity.Context, "user", lb.conn.Identity.User,
		"namespaces", lb.conn.Identity.Namespaces, "dry_run", dryRun,
		"window", cfg.Guard.Window.String(), "stable_after", cfg.Guard.StableAfter.String()}
	if !o.leaderElect {
		log.Info("guard started", attrs...)
		r := newGuardRunner(cfg, lb.backend, lb.recorder, dryRun, log)
		current.Store(r)
		err = r.Run(ctx)
		current.Store(nil)
		log.Info("guard stopped")
		return err
	}
	id := leader.Identity()
	log.Info("guard started", append(attrs, "leader_elect", true, "identity", id,
		"lease", lb.conn.Namespace+"/"+leader.LeaseName, "lease_duration", o.leaseDuration.String())...)
	err = leader.Run(ctx, leader.Config{
		Client: lb.conn.Client, Namespace: lb.conn.Namespace, Identity: id, LeaseDuration: o.leaseDuration,
		OnNewLeader: func(holder string) {
			if holder != id {
				log.Info("standby", "leader", holder)
			}
		},
	}, func(ctx context.Context) {
		log.Info("leading", "identity", id)
		leading.Store(true)
		defer leading.Store(false)
		// A new term starts from what the cluster says, never from an earlier term's memory: a
		// fresh engine judges the rollouts in flight, and the executor's preconditions refuse
		// to repeat what another leader already did.
		r := newGuardRunner(cfg, lb.backend, lb.recorder, dryRun, log)
		current.Store(r)
		defer current.Store(nil)
		_ = r.Run(ctx)
		log.Info("not leading", "identity", id)
	})
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
	// The backend's blue-green reconciler acts in the same rounds, on the same frame.
	if bg, ok := b.(interface{ BlueGreenActor() stream.Actor }); ok {
		if a := bg.BlueGreenActor(); a != nil {
			r.Actors = append(r.Actors, a)
		}
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
		CrashRestarts:  cfg.Guard.CrashRestarts,
		Early: guard.EarlyConfig{
			Enabled:     cfg.Guard.Early.Enabled,
			Confidence:  cfg.Guard.Early.Confidence,
			MinRequests: cfg.Guard.Early.MinRequests,
		},
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
