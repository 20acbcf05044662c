package main

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/opsdeck/opsdeck/config"
	"github.com/opsdeck/opsdeck/internal/actions"
	"github.com/opsdeck/opsdeck/internal/backend"
	"github.com/opsdeck/opsdeck/internal/cluster"
	"github.com/opsdeck/opsdeck/internal/demo"
	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/internal/podlogs"
	"github.com/opsdeck/opsdeck/ui/app"
)

// runConsole opens the console on the cluster, or on the simulated backend with --demo.
func runConsole(ctx context.Context, g *globals, demoMode, guardOn bool) error {
	if !isTerminal(g.streams.Out) || !isTerminal(g.streams.In) {
		return fmt.Errorf("the console needs a terminal; for a snapshot use %s status", g.display)
	}
	cfg, err := g.loadConfig()
	if err != nil {
		return err
	}
	if guardOn && g.readOnly {
		return usagef("--guard rolls back without asking, which --readonly forbids")
	}
	opts := consoleOptions(cfg, g.readOnly)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if demoMode {
		b, err := g.demoBackend(ctx, cfg)
		if err != nil {
			return err
		}
		defer b.Close()
		cg := newConsoleGuard(cfg, b, nil, guardOn, g.readOnly, opts.Refresh)
		go cg.run(ctx)
		return app.Run(ctx, b, cg.options(opts))
	}
	lb, err := g.clusterBackend(ctx, cfg)
	if err != nil {
		return err
	}
	defer lb.close()
	opts.Refresh = max(opts.Refresh, lb.scrape) // no faster than new samples arrive
	opts.Timeline = g.consoleTimeline(cfg, lb)
	opts.Logs = consoleLogs{r: podlogs.Reader{Client: lb.conn.Client}}
	if !g.allNamespaces {
		var nsFreeze atomic.Pointer[domain.FreezeInfo]
		go pollNamespaceFreeze(ctx, lb, &nsFreeze)
		opts.Freeze = nsFreeze.Load
	}
	opts.Pending = func(ctx context.Context, verb, ns, svc string) (string, error) {
		p, err := pendingVerb(ctx, verb, lb.conn.Client, ns, svc, lb.conn.Identity.User)
		if err != nil {
			return "", err
		}
		if err := g.auditNote(lb.conn, verb, svc, fmt.Sprintf("pending deploy of %s (%s, requested by %s)", p.Image, p.Trigger, p.RequestedBy)); err != nil {
			return "", err
		}
		return fmt.Sprintf("%s: %s the waiting deploy of %s", svc, verb, p.Image), nil
	}
	cg := newConsoleGuard(cfg, lb.backend, lb.recorder, guardOn, g.readOnly, opts.Refresh)
	cg.reportSettled(g.settled)
	if !g.allNamespaces {
		go cg.watchLeader(ctx, lb.conn.Client, lb.conn.Namespace)
	}
	go cg.run(ctx)
	if !g.readOnly {
		// Pending deploys too are performed only while auto-guard is on here and no guard
		// leader holds the namespace; the console's screen is no place for their log lines.
		go pendingReconciler(cfg, lb, cg.runner.Enabled, nil).Run(ctx, pendingInterval)
	}
	err = app.Run(ctx, lb.backend, cg.options(opts))
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return nil // a signal asked us to quit
	}
	return err
}

// demoBackend is --demo's backend: opsdeck's own backend and executor on the simulated
// cluster, read-only with --readonly, its audit log at --audit-log or in a temporary
// directory (never in the real audit log).
func (g *globals) demoBackend(ctx context.Context, cfg config.Config) (*demo.Backend, error) {
	opts := []demo.Option{
		demo.WithBlueGreen(cfg.BlueGreen.Preview.Duration, cfg.BlueGreen.ScaleDownDelay.Duration),
		demo.WithThresholds(cfg.ThresholdSet()),
	}
	if g.readOnly {
		opts = append(opts, demo.WithReadOnly())
	}
	if g.auditLog != "" {
		opts = append(opts, demo.WithAuditLog(g.auditLog))
	}
	return demo.New(ctx, domain.SystemClock{}, opts...)
}

func consoleOptions(cfg config.Config, readOnly bool) app.Options {
	return app.Options{
		Clock:        domain.SystemClock{},
		Refresh:      cfg.Refresh.Duration,
		Thresholds:   cfg.ThresholdSet(),
		ReadOnly:     readOnly,
		KeyOverrides: cfg.Keys,
	}
}

// clusterParts is the real backend with what built it.
type clusterParts struct {
	backend  *backend.Backend
	conn     *cluster.Conn
	recorder *actions.EventRecorder
	// watcher and exec are the backend's, for the pending deploys' reconciler.
	watcher *cluster.Watcher
	exec    *actions.Executor
	// scrape is Prometheus' scrape interval (0 when unknown): refreshes and guard rounds
	// never come faster, as they would read the same samples again.
	scrape time.Duration
}

// close waits (briefly) for the Events of the actions taken to reach the API server.
func (l *clusterParts) close() { l.recorder.Close(eventFlushTimeout) }

// clusterBackend connects to the cluster and Prometheus and starts the watches for ctx's life.
func (g *globals) clusterBackend(ctx context.Context, cfg config.Config) (*clusterParts, error) {
	conn, err := g.connect()
	if err != nil {
		return nil, err
	}
	w, err := cluster.NewWatcher(conn.Client, cluster.WatchOptions{Namespaces: g.namespaces(conn), Selector: g.selector})
	if err != nil {
		return nil, usageError{err}
	}
	exec, rec, err := g.executor(conn)
	if err != nil {
		return nil, err
	}
	parts := &clusterParts{conn: conn, recorder: rec, watcher: w, exec: exec}
	exec.BlueGreen = blueGreenSettings(cfg)
	opts := backend.Options{Identity: conn.Identity, Watcher: w, Executor: exec, Clock: domain.SystemClock{},
		Thresholds: cfg.ThresholdSet(), NoReconcile: g.observeOnly, ReconcileWhile: g.reconcileWhile}
	if src, err := metricsSource(cfg, conn); err != nil {
		opts.MetricsErr = err
	} else {
		opts.Metrics = src
		sctx, cancel := context.WithTimeout(ctx, time.Second)
		parts.scrape = src.ScrapeInterval(sctx)
		cancel()
	}
	opts.SampleInterval = parts.scrape
	opts.HotWindow = cfg.Guard.Window.Duration
	if parts.backend, err = backend.New(ctx, opts); err != nil {
		parts.close()
		return nil, err
	}
	return parts, nil
}

// roundInterval is how often auto-guard judges: every second, or every scrape interval of
// Prometheus when longer (a round in between would read the same samples).
func roundInterval(b domain.Backend) time.Duration {
	if s, ok := b.(interface{ SampleInterval() time.Duration }); ok {
		return max(guardInterval, s.SampleInterval())
	}
	return guardInterval
}
