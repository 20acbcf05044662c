package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/opsdeck/opsdeck/config"
	"github.com/opsdeck/opsdeck/internal/cluster"
	"github.com/opsdeck/opsdeck/internal/demo"
	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/internal/live"
	"github.com/opsdeck/opsdeck/ui/app"
)

// runConsole opens the console on the cluster, or on the simulated backend with --demo.
func runConsole(ctx context.Context, g *globals, demoMode bool) error {
	if !isTerminal(g.streams.Out) || !isTerminal(g.streams.In) {
		return fmt.Errorf("the console needs a terminal; for a snapshot use %s status", g.display)
	}
	cfg, err := g.loadConfig()
	if err != nil {
		return err
	}
	opts := consoleOptions(cfg, g.readOnly)
	if demoMode {
		return app.Run(ctx, demo.New(domain.SystemClock{}), opts)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	backend, closeEvents, err := g.liveBackend(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeEvents()
	err = app.Run(ctx, backend, opts)
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return nil // a signal asked us to quit
	}
	return err
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

// liveBackend connects to the cluster and Prometheus and starts the watches for ctx's life.
// closeEvents waits (briefly) for the Events of the actions taken to reach the API server.
func (g *globals) liveBackend(ctx context.Context, cfg config.Config) (b *live.Backend, closeEvents func(), err error) {
	conn, err := g.connect()
	if err != nil {
		return nil, nil, err
	}
	w, err := cluster.NewWatcher(conn.Client, cluster.WatchOptions{Namespaces: g.namespaces(conn), Selector: g.selector})
	if err != nil {
		return nil, nil, usageError{err}
	}
	exec, rec, err := g.executor(conn)
	if err != nil {
		return nil, nil, err
	}
	closeEvents = func() { rec.Close(eventFlushTimeout) }
	opts := live.Options{Identity: conn.Identity, Watcher: w, Executor: exec, Clock: domain.SystemClock{}}
	if src, err := metricsSource(cfg, conn); err != nil {
		opts.MetricsErr = err
	} else {
		opts.Metrics = src
	}
	b, err = live.New(ctx, opts)
	if err != nil {
		closeEvents()
		return nil, nil, err
	}
	return b, closeEvents, nil
}
