package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"golang.org/x/term"

	"github.com/opsdeck/opsdeck/config"
	"github.com/opsdeck/opsdeck/internal/actions"
	"github.com/opsdeck/opsdeck/internal/audit"
	"github.com/opsdeck/opsdeck/internal/cluster"
	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/internal/metrics"
	"github.com/opsdeck/opsdeck/internal/safe"
)

// loadConfig reads --config (or the default file, or the defaults) and applies --prometheus.
func (g *globals) loadConfig() (config.Config, error) {
	cfg, err := config.Load(g.configPath)
	if err != nil {
		return cfg, err
	}
	if g.prometheus != "" {
		cfg.Prometheus.URL = g.prometheus
		cfg.Prometheus.Service = ""
	}
	return cfg, nil
}

// connect opens the cluster connection that the kubeconfig flags select.
func (g *globals) connect() (*cluster.Conn, error) {
	return cluster.Connect(g.kube, cluster.AllNamespaces(g.allNamespaces), cluster.UserAgent("opsdeck/"+version))
}

// namespaces are the namespaces to watch: none (all) with -A.
func (g *globals) namespaces(conn *cluster.Conn) []string {
	if g.allNamespaces {
		return nil
	}
	return []string{conn.Namespace}
}

// executor is the one executor for this process, with its audit log and event recorder. Close
// the recorder before exiting so the Event reaches the API server.
func (g *globals) executor(conn *cluster.Conn) (*actions.Executor, *actions.EventRecorder, error) {
	log, err := audit.Open(g.auditLog)
	if err != nil {
		return nil, nil, err
	}
	rec := actions.NewEventRecorder(conn.Client)
	exec := &actions.Executor{
		Client:   conn.Client,
		Audit:    log,
		Identity: conn.Identity,
		ReadOnly: g.readOnly,
		Recorder: rec,
		Clock:    domain.SystemClock{},
	}
	g.settleUnknown(exec)
	return exec, rec, nil
}

// settleUnknown reports, on stderr (and in the console's events pane), the actions of the
// audit log whose process stopped between their intent and their outcome, with what the
// cluster shows of them now; each is then settled in the log and reported once.
func (g *globals) settleUnknown(exec *actions.Executor) {
	ctx, cancel := context.WithTimeout(context.Background(), settleTimeout)
	defer cancel()
	settled, err := exec.Recover(ctx)
	if len(settled) > 1 {
		fmt.Fprintf(g.streams.ErrOut, "opsdeck: %s:\n", actions.Summary(settled))
		for _, s := range settled {
			fmt.Fprintf(g.streams.ErrOut, "opsdeck:   %s\n", safe.Text(s.Line()))
		}
	} else if len(settled) == 1 {
		fmt.Fprintf(g.streams.ErrOut, "opsdeck: %s\n", safe.Text(actions.Summary(settled)))
	}
	if err != nil {
		fmt.Fprintf(g.streams.ErrOut, "opsdeck: %s\n", safe.Text(err.Error()))
	}
	g.settled = append(g.settled, settled...)
}

// settleTimeout bounds the cluster reads that settle actions of unknown outcome at start.
const settleTimeout = 10 * time.Second

// metricsSource connects to Prometheus when one is configured; otherwise nil and the reason.
func metricsSource(cfg config.Config, conn *cluster.Conn) (*metrics.Source, error) {
	if cfg.Prometheus.URL == "" && cfg.Prometheus.Service == "" {
		return nil, fmt.Errorf("no Prometheus configured (--prometheus URL or prometheus.url in the config)")
	}
	return metrics.New(cfg.Prometheus, cfg.Queries, conn.RESTConfig)
}

// eventFlushTimeout bounds how long a verb waits for its Event to be written before exiting.
const eventFlushTimeout = 5 * time.Second

// isTerminal tells whether f is a terminal.
func isTerminal(f any) bool {
	if file, ok := f.(*os.File); ok {
		return term.IsTerminal(int(file.Fd()))
	}
	return false
}
