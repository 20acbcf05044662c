// Package cluster is opsdeck's side of client-go: the connection built from kubectl's flags and
// kubeconfig rules, shared informers over the watched namespaces, and the conversion of cached
// objects into domain.ClusterState snapshots, delivered latest-wins.
package cluster

import (
	"fmt"
	"os"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/opsdeck/opsdeck/internal/domain"
)

// Client rate limits: client-go's defaults (5 QPS, burst 10) are meant for controllers that
// poll; an operator acting on a handful of objects while informers list several kinds at start
// needs more headroom.
const (
	DefaultQPS   = 50
	DefaultBurst = 100
)

// Conn is a connection to one cluster as one user.
type Conn struct {
	Client     kubernetes.Interface
	RESTConfig *rest.Config
	// Identity names the context, cluster and user of the kubeconfig in use and the namespaces
	// to watch (empty with --all-namespaces).
	Identity domain.Identity
	// Namespace is the namespace actions apply to: -n, else the context's, else "default".
	Namespace string
}

// ConnectOption adjusts Connect.
type ConnectOption func(*connectOptions)

type connectOptions struct {
	allNamespaces bool
	userAgent     string
}

// AllNamespaces makes the identity watch every namespace (-A).
func AllNamespaces(all bool) ConnectOption {
	return func(o *connectOptions) { o.allNamespaces = all }
}

// UserAgent sets the client's user agent.
func UserAgent(ua string) ConnectOption {
	return func(o *connectOptions) { o.userAgent = ua }
}

// Connect builds a client with kubectl's rules: --kubeconfig, else $KUBECONFIG, else
// ~/.kube/config; --context, else the current context; -n, else the context's namespace.
func Connect(flags *KubeFlags, opts ...ConnectOption) (*Conn, error) {
	var o connectOptions
	for _, opt := range opts {
		opt(&o)
	}
	loader := flags.Loader()
	raw, err := loader.RawConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	if len(raw.Contexts) == 0 && flags.Overrides.ClusterInfo.Server == "" && os.Getenv("KUBERNETES_SERVICE_HOST") == "" {
		return nil, fmt.Errorf("no kubeconfig found: pass --kubeconfig or set KUBECONFIG (kubectl's rules apply)")
	}
	cfg, err := loader.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	cfg = rest.CopyConfig(cfg)
	if cfg.QPS < DefaultQPS {
		cfg.QPS = DefaultQPS
	}
	if cfg.Burst < DefaultBurst {
		cfg.Burst = DefaultBurst
	}
	if o.userAgent != "" {
		cfg.UserAgent = o.userAgent
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	ns, _, err := loader.Namespace()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	id := IdentityFrom(flags, raw, ns, o.allNamespaces)
	return &Conn{Client: client, RESTConfig: cfg, Identity: id, Namespace: ns}, nil
}

// IdentityFrom names the context, cluster and user that flags select in the raw kubeconfig, and
// the watched namespaces: ns, or all of them (an empty list) when all is set.
func IdentityFrom(flags *KubeFlags, raw clientcmdapi.Config, ns string, all bool) domain.Identity {
	o := flags.Overrides
	id := domain.Identity{Context: raw.CurrentContext}
	if o.CurrentContext != "" {
		id.Context = o.CurrentContext
	}
	if c, ok := raw.Contexts[id.Context]; ok && c != nil {
		id.Cluster, id.User = c.Cluster, c.AuthInfo
	}
	if o.Context.Cluster != "" {
		id.Cluster = o.Context.Cluster
	}
	if o.Context.AuthInfo != "" {
		id.User = o.Context.AuthInfo
	}
	if o.AuthInfo.Impersonate != "" {
		id.User = o.AuthInfo.Impersonate
	}
	if !all {
		id.Namespaces = []string{ns}
	}
	return id
}
