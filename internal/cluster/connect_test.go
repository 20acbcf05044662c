package cluster

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"k8s.io/cli-runtime/pkg/genericclioptions"
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
	str := func(s string) *string { return &s }
	tests := []struct {
		name  string
		flags func(*genericclioptions.ConfigFlags)
		ns    string
		all   bool
		want  domain.Identity
	}{
		{"current context", func(*genericclioptions.ConfigFlags) {}, "shop", false,
			domain.Identity{Context: "prod", Cluster: "eu-1", User: "sre", Namespaces: []string{"shop"}}},
		{"--context", func(f *genericclioptions.ConfigFlags) { f.Context = str("staging") }, "default", false,
			domain.Identity{Context: "staging", Cluster: "eu-2", User: "dev", Namespaces: []string{"default"}}},
		{"--cluster, --user and -A", func(f *genericclioptions.ConfigFlags) { f.ClusterName = str("eu-3"); f.AuthInfoName = str("admin") }, "shop", true,
			domain.Identity{Context: "prod", Cluster: "eu-3", User: "admin"}},
		{"--as", func(f *genericclioptions.ConfigFlags) { f.Impersonate = str("bob") }, "shop", false,
			domain.Identity{Context: "prod", Cluster: "eu-1", User: "bob", Namespaces: []string{"shop"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := genericclioptions.NewConfigFlags(false)
			tt.flags(f)
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
	conn, err := Connect(genericclioptions.NewConfigFlags(false))
	if err != nil {
		t.Fatal(err)
	}
	if conn.Namespace != "shop" || conn.Identity.Context != "one" || conn.RESTConfig.QPS < DefaultQPS || conn.RESTConfig.Burst < DefaultBurst {
		t.Fatalf("from $KUBECONFIG: %+v qps=%v", conn.Identity, conn.RESTConfig.QPS)
	}
	f := genericclioptions.NewConfigFlags(false)
	ctx, ns := "two", "payments"
	f.Context = &ctx
	conn, err = Connect(f)
	if err != nil || conn.Namespace != "default" || conn.Identity.Context != "two" {
		t.Fatalf("--context two: %+v, %v", conn, err)
	}
	f.Namespace = &ns
	if conn, err = Connect(f, AllNamespaces(true)); err != nil || conn.Namespace != "payments" || conn.Identity.Namespaces != nil {
		t.Fatalf("-n payments -A: %+v, %v", conn, err)
	}

	t.Setenv("KUBECONFIG", filepath.Join(dir, "missing"))
	t.Setenv("HOME", dir)
	if _, err := Connect(genericclioptions.NewConfigFlags(false)); err == nil {
		t.Fatal("Connect without any kubeconfig succeeded")
	}
}
