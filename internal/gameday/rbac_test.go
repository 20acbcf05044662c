package gameday

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
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
// the Deployment of the example runs two replicas with --leader-elect. Stopped with SIGTERM,
// the leader exits 0 and hands the Lease over at once.
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
	lead, _ := leaderOf(t, gs, nil, 30*time.Second)

	// A rolling update of the guard's Deployment stops the leader with SIGTERM: it releases the
	// Lease as it goes, so the standby leads at once rather than after the lease duration.
	stopped := time.Now()
	if err := lead.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-lead.done:
	case <-time.After(15 * time.Second):
		t.Fatalf("the leader did not stop within 15s of SIGTERM:\n%s", lead.output())
	}
	if code := lead.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("the leader exited %d on SIGTERM:\n%s", code, lead.output())
	}
	_, took := leaderOf(t, gs, lead, leaseDuration)
	measure(t, "graceful handover", "the standby led %.1fs after the leader's SIGTERM (lease %s)", took.Sub(stopped).Seconds(), leaseDuration)
	if d := took.Sub(stopped); d > leaseDuration/2 {
		t.Errorf("the standby led %.1fs after the leader's SIGTERM: the released Lease should pass at once", d.Seconds())
	}
}

func mustUnmarshal(t *testing.T, doc string, into any) {
	t.Helper()
	if err := yaml.Unmarshal([]byte(doc), into); err != nil {
		t.Fatalf("example: %v", err)
	}
}
