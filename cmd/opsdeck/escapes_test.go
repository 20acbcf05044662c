package main

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/opsdeck/opsdeck/internal/sandbox"
)

// Whoever may write an Event, an annotation or an image name must not drive the terminal of
// the person running `opsdeck status`: its output has no ESC byte, no OSC 52, no bidi
// override; and a Prometheus URL's credentials never appear in it.
func TestStatusPrintsNoEscapeSequencesNorURLSecrets(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the sandbox")
	}
	env := sandbox.Shared(t)
	ns := env.NewNamespace(t)
	client := env.Client(t)
	ctx := context.Background()
	hostile := "\x1b[2J\x1b]52;c;cm0gLXJmIH4=\x07\u202eevil\r"
	d := sandbox.Deployment(ns, "web", "web:v1"+hostile, 1)
	d.Annotations = map[string]string{"kubernetes.io/change-cause": "deploy " + hostile}
	if _, err := client.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		// The API may refuse such an image: keep the annotation, which it cannot refuse.
		d = sandbox.Deployment(ns, "web", "web:v1", 1)
		d.Annotations = map[string]string{"kubernetes.io/change-cause": "deploy " + hostile}
		if _, err := client.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Logf("image with escapes refused by the API server: %v", err)
	}
	ev := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{GenerateName: "web-", Namespace: ns},
		InvolvedObject: corev1.ObjectReference{Kind: "Deployment", Namespace: ns, Name: "web", APIVersion: "apps/v1"},
		Reason:         "Hostile" + "\x1b[31m", Message: "pwned " + hostile, Type: corev1.EventTypeWarning,
		Source: corev1.EventSource{Component: "test"},
	}
	if _, err := client.CoreV1().Events(ns).Create(ctx, ev, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"table", "json"} {
		r := opsdeck(t, nil, "--kubeconfig", env.Kubeconfig, "-n", ns, "--prometheus", "http://bob:s3cret@127.0.0.1:1/?token=t0psecret",
			"status", "-o", format)
		out := r.stdout + r.stderr
		if r.code != 0 || !strings.Contains(out, "web") {
			t.Fatalf("status -o %s: %+v", format, r)
		}
		if strings.ContainsAny(out, "\x1b\a\r\u202e\u009b") {
			t.Errorf("status -o %s printed a control character: %q", format, out)
		}
		if strings.Contains(out, "s3cret") || strings.Contains(out, "t0psecret") {
			t.Errorf("status -o %s printed a secret of the Prometheus URL: %s", format, out)
		}
		if format == "json" && !strings.Contains(out, "deploy evil") && !strings.Contains(out, `deploy evil`) {
			t.Errorf("the change-cause is not shown, cleaned: %s", out)
		}
	}
}
