package main

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/opsdeck/opsdeck/config"
	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/internal/release"
	"github.com/opsdeck/opsdeck/internal/safe"
)

// pendingInterval is how often the pending deploys' reconciler looks at the watched
// Deployments (from the informer cache).
const pendingInterval = time.Second

// pendingReconciler performs due pending deploys (queued, scheduled, approved) through the
// process's one executor. while, when set, gates it (the leader's, under --leader-elect).
func pendingReconciler(cfg config.Config, lb *clusterParts, while func() bool, logf func(string)) *release.Reconciler {
	host, _ := os.Hostname()
	list := lb.watcher.Deployments
	if while != nil {
		list = func() []*appsv1.Deployment {
			if !while() {
				return nil
			}
			return lb.watcher.Deployments()
		}
	}
	return &release.Reconciler{
		Client: lb.conn.Client, Exec: lb.exec, Policies: cfg.Policies,
		Who:         fmt.Sprintf("%s@%s/%d", lb.conn.Identity.User, host, os.Getpid()),
		StaleAfter:  30 * time.Second,
		Deployments: list,
		// Read only for a namespace that has a pending deploy, and only then.
		NamespaceFreeze: func(ns string) *release.Freeze {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			f, err := release.NamespaceFreeze(ctx, lb.conn.Client, ns)
			if err != nil {
				// Unknown is not "not frozen": hold automated deploys a minute and say why.
				return &release.Freeze{Scope: "all", Until: time.Now().Add(time.Minute),
					Reason: "cannot read the namespace freeze: " + safe.OneLine(err.Error()), By: "opsdeck"}
			}
			return f
		},
		Log: logf,
	}
}

// freezePoll is how often the console reads its namespace's opsdeck-freeze ConfigMap for the
// header: one GET of one object.
const freezePoll = 5 * time.Second

// pollNamespaceFreeze keeps the namespace's freeze in out until ctx ends.
func pollNamespaceFreeze(ctx context.Context, lb *clusterParts, out *atomic.Pointer[domain.FreezeInfo]) {
	t := time.NewTicker(freezePoll)
	defer t.Stop()
	for {
		rctx, cancel := context.WithTimeout(ctx, freezePoll)
		f, err := release.NamespaceFreeze(rctx, lb.conn.Client, lb.conn.Namespace)
		cancel()
		if err == nil {
			if f == nil {
				out.Store(nil)
			} else {
				out.Store(&domain.FreezeInfo{Scope: f.Scope, Until: f.Until, Reason: f.Reason, By: f.By})
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
