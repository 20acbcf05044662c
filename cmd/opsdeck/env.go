package main

import (
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
	return &actions.Executor{
		Client:   conn.Client,
		Audit:    log,
		Identity: conn.Identity,
		ReadOnly: g.readOnly,
		Recorder: rec,
		Clock:    domain.SystemClock{},
	}, rec, nil
}

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
