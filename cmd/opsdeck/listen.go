package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/opsdeck/opsdeck/config"
	"github.com/opsdeck/opsdeck/internal/cluster"
	"github.com/opsdeck/opsdeck/internal/listener"
	"github.com/opsdeck/opsdeck/internal/release"
)

// listenerPermissions are what the token API needs cluster-wide: to ask who a token is and
// whether its user may patch a Deployment.
var listenerPermissions = []cluster.Permission{
	{Verb: "create", Group: "authentication.k8s.io", Resource: "tokenreviews"},
	{Verb: "create", Group: "authorization.k8s.io", Resource: "subjectaccessreviews"},
}

func addListenFlags(cmd *cobra.Command, o *guardOptions) {
	cmd.Flags().StringVar(&o.listen, "listen", "", "serve the deploy and rollback API, registry and git webhooks and the Alertmanager receiver on ADDR (such as :8443); off by default")
	cmd.Flags().StringVar(&o.tlsCert, "tls-cert", "", "with --listen: serve HTTPS with this certificate file (PEM)")
	cmd.Flags().StringVar(&o.tlsKey, "tls-key", "", "with --listen: the private key file of --tls-cert (PEM)")
}

// startListener binds the listener's address and serves it until ctx ends; stop waits for
// its graceful shutdown (it ends the listener first if ctx has not ended).
func startListener(ctx context.Context, cfg config.Config, lb *clusterParts, o guardOptions, signals listener.Signals, log *slog.Logger) (stop func(), err error) {
	srv, err := newListener(cfg, lb, signals, log)
	if err != nil {
		return nil, err
	}
	missing, err := cluster.MissingPermissions(ctx, lb.conn.Client, nil, listenerPermissions)
	if err != nil {
		return nil, err
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("--listen cannot check callers' tokens: %s (the ClusterRole system:auth-delegator grants both)",
			cluster.FormatMissing(lb.conn.Identity.User, missing))
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return nil, fmt.Errorf("--listen %s: %w", o.listen, err)
	}
	scheme := "http"
	if o.tlsCert != "" {
		scheme = "https"
	}
	log.Info("listening", "address", ln.Addr().String(), "scheme", scheme, "triggers", len(srv.Triggers),
		"webhooks", len(srv.WebhookSecret) > 0, "alertmanager", len(srv.AlertToken) > 0)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ctx, ln, o.tlsCert, o.tlsKey); err != nil {
			log.Error("listener stopped", "error", err.Error())
		}
	}()
	return func() { cancel(); <-done }, nil
}

// newListener assembles the listener from the configuration. Deploys go through the release
// gate (policy, windows, freezes, approval, then the executor or the queue), rollbacks
// straight through the executor, alerts to auto-guard.
func newListener(cfg config.Config, lb *clusterParts, signals listener.Signals, log *slog.Logger) (*listener.Server, error) {
	l := cfg.Listener
	srv := &listener.Server{
		Auth:           listener.KubeAuth{Client: lb.conn.Client},
		Deployer:       gateDeployer{&release.Gate{Client: lb.conn.Client, Exec: lb.exec, Policies: cfg.Policies}},
		Executor:       lb.exec,
		Signals:        signals,
		Log:            log,
		AlertLabels:    l.AlertServiceLabels,
		AlertNamespace: l.AlertNamespace,
	}
	if srv.AlertNamespace == "" {
		srv.AlertNamespace = lb.conn.Namespace
	}
	var err error
	if srv.WebhookSecret, err = readSecret("listener.webhook_secret_file", l.WebhookSecretFile, l.WebhookSecretEnv); err != nil {
		return nil, err
	}
	if srv.AlertToken, err = readSecret("listener.alertmanager_token_file", l.AlertmanagerTokenFile, ""); err != nil {
		return nil, err
	}
	for _, t := range cfg.Triggers {
		lt := listener.Trigger{Repository: t.Repository, Image: t.Image}
		for _, s := range t.Services {
			tg, ok := listener.ParseTarget(s)
			if !ok {
				return nil, fmt.Errorf("triggers: %q is not NAMESPACE/SERVICE[/CONTAINER]", s)
			}
			lt.Targets = append(lt.Targets, tg)
		}
		srv.Triggers = append(srv.Triggers, lt)
	}
	return srv, nil
}

// readSecret reads a secret from a file, else from an environment variable; field is the
// config key of the file (its _env twin names the variable). The secret never
// appears in a message.
func readSecret(field, file, env string) ([]byte, error) {
	var s string
	switch {
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("%s: cannot read %s: %w", field, file, err)
		}
		s = string(b)
	case env != "":
		s = os.Getenv(env)
		if s == "" {
			return nil, fmt.Errorf("%s_env: environment variable %s is empty or unset", strings.TrimSuffix(field, "_file"), env)
		}
	default:
		return nil, nil
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("%s: %s is empty", field, file)
	}
	return []byte(s), nil
}
