package cluster

import (
	"context"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/internal/sandbox"
)

// tcpProxy forwards a loopback port to the API server; cut drops every connection and stops
// listening, mend listens again on the same port: an API server that goes away and comes back.
type tcpProxy struct {
	t      *testing.T
	addr   string
	target string
	mu     sync.Mutex
	ln     net.Listener
	conns  []net.Conn
}

func newProxy(t *testing.T, target string) *tcpProxy {
	p := &tcpProxy{t: t, target: target, addr: "127.0.0.1:0"}
	p.mend()
	p.addr = p.ln.Addr().String()
	t.Cleanup(p.cut)
	return p
}

func (p *tcpProxy) mend() {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatalf("proxy listen %s: %v", p.addr, err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
}

func (p *tcpProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func TestWatcherReportsReconnectingAndRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the sandbox")
	}
	env := sandbox.Shared(t)
	ns := env.NewNamespace(t)
	env.CreateDeployment(t, ns, "web", "web:v1", 1)

	cfg := env.RESTConfig(t)
	u, err := url.Parse(cfg.Host)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newProxy(t, u.Host)
	cfg.Host = "https://" + proxy.addr
	cfg.TLSClientConfig.ServerName = u.Hostname()
	client := kubernetes.NewForConfigOrDie(cfg)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w, err := NewWatcher(client, WatchOptions{Namespaces: []string{ns}})
	if err != nil {
		t.Fatal(err)
	}
	w.Start(ctx)
	states := w.Subscribe(ctx)
	awaitState(t, states, 30*time.Second, "synced and healthy", func(st domain.ClusterState) bool {
		return st.Synced && st.API.OK && len(st.Services) == 1
	})

	proxy.cut()
	down := awaitState(t, states, 30*time.Second, "the API reconnecting", func(st domain.ClusterState) bool {
		return st.API.Reconnecting && !st.API.OK
	})
	if down.API.Err == "" || strings.Contains(down.API.Err, "\n") {
		t.Fatalf("reconnecting without a one-line reason: %+v", down.API)
	}
	if len(down.Services) != 1 {
		t.Fatalf("the last known services were dropped while reconnecting: %d", len(down.Services))
	}
	t.Logf("while cut: %s", down.API.Err)

	proxy.mend()
	up := awaitState(t, states, 60*time.Second, "the API back", func(st domain.ClusterState) bool { return st.API.OK })
	if up.API.LastSuccess.IsZero() || up.API.Err != "" {
		t.Fatalf("after recovery: %+v", up.API)
	}
	// The watches work again: a change made now is seen.
	env.CreateDeployment(t, ns, "api", "api:v1", 1)
	awaitState(t, states, 30*time.Second, "a service created after recovery", func(st domain.ClusterState) bool {
		_, ok := st.FindByName(ns, "api")
		return ok
	})
}
