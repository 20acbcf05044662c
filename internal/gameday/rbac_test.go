package gameday

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/yaml"
)

// The in-cluster example's RBAC is enough for two replicas with --leader-elect: applied to a
// namespace, its ServiceAccount's guards pass their permission check, one of them leads, and
// the Deployment of the example runs two replicas with --leader-elect.
func TestGuardInClusterExampleRBAC(t *testing.T) {
	env := gameday(t)
	client := env.Client(t)
	ns := env.NewNamespace(t)
	ctx := context.Background()

	b, err := os.ReadFile(filepath.Join("..", "..", "config", "examples", "guard-in-cluster.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var dep appsv1.Deployment
	for _, doc := range strings.Split(string(b), "\n---\n") {
		var meta metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatalf("example: %v", err)
		}
		switch meta.Kind {
		case "ServiceAccount":
			var sa corev1.ServiceAccount
			mustUnmarshal(t, doc, &sa)
			sa.Namespace = ns
			_, err = client.CoreV1().ServiceAccounts(ns).Create(ctx, &sa, metav1.CreateOptions{})
		case "Role":
			var r rbacv1.Role
			mustUnmarshal(t, doc, &r)
			r.Namespace = ns
			_, err = client.RbacV1().Roles(ns).Create(ctx, &r, metav1.CreateOptions{})
		case "RoleBinding":
			var rb rbacv1.RoleBinding
			mustUnmarshal(t, doc, &rb)
			rb.Namespace = ns
			for i := range rb.Subjects {
				rb.Subjects[i].Namespace = ns
			}
			_, err = client.RbacV1().RoleBindings(ns).Create(ctx, &rb, metav1.CreateOptions{})
		case "Deployment":
			mustUnmarshal(t, doc, &dep)
		}
		if err != nil {
			t.Fatalf("apply the example's %s: %v", meta.Kind, err)
		}
	}
	if dep.Spec.Replicas == nil || *dep.Spec.Replicas != 2 || !strings.Contains(strings.Join(dep.Spec.Template.Spec.Containers[0].Args, " "), "--leader-elect") {
		t.Fatalf("the example's Deployment should run 2 replicas with --leader-elect: %+v", dep.Spec.Template.Spec.Containers[0].Args)
	}
	env.CreateDeployment(t, ns, "orders", "orders:v1", 3)

	// The ServiceAccount's token, in a kubeconfig of its own: the guards run as the pod would.
	exp := int64(3600)
	tok, err := client.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "opsdeck-guard",
		&authnv1.TokenRequest{Spec: authnv1.TokenRequestSpec{ExpirationSeconds: &exp}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	admin, err := clientcmd.LoadFromFile(env.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cluster := admin.Clusters[admin.Contexts[admin.CurrentContext].Cluster]
	kc := clientcmdapi.NewConfig()
	kc.Clusters["sandbox"] = cluster
	kc.AuthInfos["guard"] = &clientcmdapi.AuthInfo{Token: tok.Status.Token}
	kc.Contexts["guard"] = &clientcmdapi.Context{Cluster: "sandbox", AuthInfo: "guard", Namespace: ns}
	kc.CurrentContext = "guard"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	saEnv := *env
	saEnv.Kubeconfig = path
	var gs []*guard
	for _, name := range []string{"pod-a", "pod-b"} {
		gs = append(gs, startGuard(t, &saEnv, name, ns, env.PrometheusURL, "--leader-elect", "--lease-duration", leaseDuration.String()))
	}
	leaderOf(t, gs, nil, 30*time.Second)
}

func mustUnmarshal(t *testing.T, doc string, into any) {
	t.Helper()
	if err := yaml.Unmarshal([]byte(doc), into); err != nil {
		t.Fatalf("example: %v", err)
	}
}
