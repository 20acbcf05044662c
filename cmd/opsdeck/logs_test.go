package main

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/opsdeck/opsdeck/internal/sandbox"
)

// opsdeck logs in the sandbox, where kwok serves the logs the simulator writes, through the
// API server on 127.0.0.1: a healthy pod's lines, followed live; a crash-looping pod's panic
// in its previous container; and the refusals, each in one line.
func TestLogs(t *testing.T) {
	env, client, ns := guardedService(t, "lg")
	kube := []string{"--kubeconfig", env.Kubeconfig, "-n", ns}

	// Every node's address is loopback before the first request for logs.
	nodes, err := client.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes.Items {
		for _, a := range n.Status.Addresses {
			if a.Type == corev1.NodeInternalIP && a.Address != "127.0.0.1" {
				t.Fatalf("node %s has InternalIP %s: the API server would dial it for logs", n.Name, a.Address)
			}
		}
	}

	var r result
	sandbox.WaitFor(t, 30*time.Second, "the healthy pods' logs", func() (bool, string) {
		r = opsdeck(t, nil, append([]string{"logs", "lg", "--tail", "2"}, kube...)...)
		return r.code == 0 && strings.Count(r.stdout, "INFO GET /api/items/") >= 6, r.stdout + r.stderr
	})
	if !strings.HasPrefix(r.stdout, "[lg-") {
		t.Errorf("lines without their pod: %q", r.stdout)
	}

	// Followed: new lines arrive while it runs.
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, binary(t), append([]string{"logs", "lg", "-f", "--tail", "1"}, kube...)...).Output()
	if n := strings.Count(string(out), "INFO GET"); n < 6 {
		t.Errorf("followed 4s of 3 pods writing a line a second, got %d lines:\n%s", n, out)
	}

	// No previous container for a pod that never restarted; an unknown service.
	if got := oneLineFailure(t, opsdeck(t, nil, append([]string{"logs", "lg", "--previous"}, kube...)...)); !strings.Contains(got, "has not restarted, so it has no previous container log") {
		t.Errorf("previous of a healthy pod: %q", got)
	}
	if got := oneLineFailure(t, opsdeck(t, nil, append([]string{"logs", "nope"}, kube...)...)); !strings.Contains(got, `service "nope" not found in namespace `+ns) {
		t.Errorf("unknown service: %q", got)
	}

	// The viewer may list what it needs, but not pods/log.
	grantViewer(t, client, ns)
	r = opsdeck(t, nil, append([]string{"logs", "lg", "--context", sandbox.ViewerContext}, kube...)...)
	if got := oneLineFailure(t, r); !strings.Contains(got, `user "viewer" may not get pods/log in namespace `+ns) || strings.Contains(got, "list pods") {
		t.Errorf("viewer: %q", got)
	}

	// A crash loop: the previous container's panic.
	setImage(t, client, ns, "lg", "lg:v2-crash")
	sandbox.WaitFor(t, 60*time.Second, "the crash-looping pod's panic", func() (bool, string) {
		r = opsdeck(t, nil, append([]string{"logs", "lg", "--previous"}, kube...)...)
		return r.code == 0 && strings.Contains(r.stdout, "panic: runtime error: invalid memory address"), r.stdout + r.stderr
	})
	if !strings.Contains(r.stdout, "goroutine 1 [running]") {
		t.Errorf("previous container without its stack:\n%s", r.stdout)
	}
}

// grantViewer lets the sandbox's viewer read Deployments, ReplicaSets and pods of ns, not
// their logs.
func grantViewer(t *testing.T, client kubernetes.Interface, ns string) {
	t.Helper()
	ctx := context.Background()
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "read-no-logs", Namespace: ns}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{"apps"}, Resources: []string{"deployments", "replicasets"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{""}, Resources: []string{"pods", "services", "events"}, Verbs: []string{"get", "list", "watch"}},
	}}
	if _, err := client.RbacV1().Roles(ns).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "viewer-read-no-logs", Namespace: ns},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "read-no-logs"},
		Subjects: []rbacv1.Subject{{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: sandbox.ViewerUser}}}
	if _, err := client.RbacV1().RoleBindings(ns).Create(ctx, rb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}
