package cluster

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/spf13/pflag"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/opsdeck/opsdeck/internal/domain"
)

func TestIdentityFrom(t *testing.T) {
	raw := clientcmdapi.Config{
		CurrentContext: "prod",
		Contexts: map[string]*clientcmdapi.Context{
			"prod":    {Cluster: "eu-1", AuthInfo: "sre", Namespace: "shop"},
			"staging": {Cluster: "eu-2", AuthInfo: "dev"},
		},
	}
	tests := []struct {
		name string
		args []string
		ns   string
		all  bool
		want domain.Identity
	}{
		{"current context", nil, "shop", false,
			domain.Identity{Context: "prod", Cluster: "eu-1", User: "sre", Namespaces: []string{"shop"}}},
		{"--context", []string{"--context", "staging"}, "default", false,
			domain.Identity{Context: "staging", Cluster: "eu-2", User: "dev", Namespaces: []string{"default"}}},
		{"--cluster, --user and -A", []string{"--cluster=eu-3", "--user", "admin"}, "shop", true,
			domain.Identity{Context: "prod", Cluster: "eu-3", User: "admin"}},
		{"--as", []string{"--as", "bob"}, "shop", false,
			domain.Identity{Context: "prod", Cluster: "eu-1", User: "bob", Namespaces: []string{"shop"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := parseFlags(t, tt.args...)
			if got := IdentityFrom(f, raw, tt.ns, tt.all); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("IdentityFrom = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestConnectFollowsKubectlRules(t *testing.T) {
	dir := t.TempDir()
	kc := filepath.Join(dir, "config")
	os.WriteFile(kc, []byte(`apiVersion: v1
kind: Config
clusters:
- name: c1
  cluster: {server: "https://127.0.0.1:6443"}
users:
- name: u1
  user: {token: t}
contexts:
- name: one
  context: {cluster: c1, user: u1, namespace: shop}
- name: two
  context: {cluster: c1, user: u1}
current-context: one
`), 0o600)
	t.Setenv("KUBECONFIG", kc)
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	conn, err := Connect(parseFlags(t))
	if err != nil {
		t.Fatal(err)
	}
	if conn.Namespace != "shop" || conn.Identity.Context != "one" || conn.RESTConfig.QPS < DefaultQPS || conn.RESTConfig.Burst < DefaultBurst {
		t.Fatalf("from $KUBECONFIG: %+v qps=%v", conn.Identity, conn.RESTConfig.QPS)
	}
	conn, err = Connect(parseFlags(t, "--context", "two"))
	if err != nil || conn.Namespace != "default" || conn.Identity.Context != "two" {
		t.Fatalf("--context two: %+v, %v", conn, err)
	}
	if conn, err = Connect(parseFlags(t, "--context", "two", "-n", "payments"), AllNamespaces(true)); err != nil || conn.Namespace != "payments" || conn.Identity.Namespaces != nil {
		t.Fatalf("-n payments -A: %+v, %v", conn, err)
	}

	t.Setenv("KUBECONFIG", filepath.Join(dir, "missing"))
	t.Setenv("HOME", dir)
	if _, err := Connect(parseFlags(t)); err == nil {
		t.Fatal("Connect without any kubeconfig succeeded")
	}
	// --kubeconfig and --server, as kubectl spells them.
	conn, err = Connect(parseFlags(t, "--kubeconfig", kc, "-s", "https://127.0.0.1:7443"))
	if err != nil || conn.RESTConfig.Host != "https://127.0.0.1:7443" || conn.Namespace != "shop" {
		t.Fatalf("--kubeconfig, -s: %+v, %v", conn, err)
	}
}

// parseFlags are KubeFlags parsed from args as the command line gives them.
func parseFlags(t *testing.T, args ...string) *KubeFlags {
	t.Helper()
	f := NewKubeFlags()
	fs := pflag.NewFlagSet("opsdeck", pflag.ContinueOnError)
	f.AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return f
}
