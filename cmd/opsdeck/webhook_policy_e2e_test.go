package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/opsdeck/opsdeck/internal/audit"
	"github.com/opsdeck/opsdeck/internal/listener"
	"github.com/opsdeck/opsdeck/internal/sandbox"
)

const policyRepo = "registry.example/shop/app"

// webhookAnswer is the JSON answer of a webhook.
type webhookAnswer struct {
	code     int
	raw      string
	Status   string                   `json:"status"`
	Services []listener.ServiceResult `json:"services"`
}

// listeningGuard starts `opsdeck guard --listen` on ns with the webhook secret and extra config
// lines (triggers, policies), and waits until it listens. It returns the guard and the
// listener's base URL.
func listeningGuard(t *testing.T, env *sandbox.Env, ns, secret, config string) (*guardProc, string) {
	t.Helper()
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	os.WriteFile(secretFile, []byte(secret+"\n"), 0o600)
	cfg := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("listener:\n  webhook_secret_file: %s\n%s", secretFile, config)), 0o644)
	addr := freeLoopbackAddr(t)
	g := startGuard(t, env, ns, "--config", cfg, "--listen", addr)
	sandbox.WaitFor(t, 10*time.Second, "the listener to listen", func() (bool, string) {
		return strings.Contains(g.output(), `"msg":"listening"`), g.output()
	})
	return g, "http://" + addr
}

// pushTag sends a signed registry push of policyRepo:tag.
func pushTag(t *testing.T, url, secret, tag string) webhookAnswer {
	t.Helper()
	body := []byte(fmt.Sprintf(`{"repository":%q,"tag":%q}`, policyRepo, tag))
	req, _ := http.NewRequest(http.MethodPost, url+"/v1/webhooks/registry", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(listener.SignatureHeader, listener.Sign([]byte(secret), body))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	a := webhookAnswer{code: res.StatusCode, raw: string(b)}
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatalf("answer %d is not JSON: %s", res.StatusCode, b)
	}
	return a
}

func annotate(t *testing.T, client kubernetes.Interface, ns, name, key, value string) {
	t.Helper()
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, key, value)
	if _, err := client.AppsV1().Deployments(ns).Patch(context.Background(), name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
}

func deploymentRevision(t *testing.T, client kubernetes.Interface, ns, name string) string {
	t.Helper()
	d, err := client.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d.Annotations["deployment.kubernetes.io/revision"]
}

// A signed registry push of a bad tag, mapped to three services, deploys exactly the one whose
// policy accepts the tag (the config's glob:1.3.*); the annotations' patch and exact:1.2.0 skip
// it with the reason in the answer. The same guard process then rolls the bad tag back; the
// audit log has the deploy (trigger registry, requested_by the repository) and the guard's
// rollback, and nothing for the skipped services, whose revisions stay 1.
func TestRegistryWebhookDeploysWhatPolicyAccepts(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the sandbox")
	}
	t.Parallel()
	env := sandbox.Shared(t)
	ns := env.NewNamespace(t)
	client := env.Client(t)
	const old = policyRepo + ":1.2.0"
	env.CreateDeployment(t, ns, "minor-svc", old, 3)
	env.CreateDeployment(t, ns, "patch-svc", old, 1)
	env.CreateDeployment(t, ns, "exact-svc", old, 1)
	annotate(t, client, ns, "patch-svc", "opsdeck.io/tag-policy", "patch")
	annotate(t, client, ns, "exact-svc", "opsdeck.io/tag-policy", "exact:1.2.0")

	const secret = "registry-shared-secret"
	g, url := listeningGuard(t, env, ns, secret, fmt.Sprintf(`triggers:
  - repository: %s
    services: [%s/minor-svc, %s/patch-svc, %s/exact-svc]
policies:
  default: {tags: minor}
  services:
    minor-svc: {tags: "glob:1.3.*"}
`, policyRepo, ns, ns, ns))

	const bad = policyRepo + ":1.3.0-bad"
	a := pushTag(t, url, secret, "1.3.0-bad")
	if a.code != http.StatusAccepted || len(a.Services) != 3 {
		t.Fatalf("push: %d %s, want 202 with three services", a.code, a.raw)
	}
	want := map[string]struct{ state, why string }{
		"minor-svc": {listener.StateStarted, ""},
		"patch-svc": {listener.StateSkipped, "tag 1.3.0-bad is a pre-release (policy patch)"},
		"exact-svc": {listener.StateSkipped, "tag 1.3.0-bad is not 1.2.0 (policy exact:1.2.0)"},
	}
	for _, s := range a.Services {
		w, ok := want[s.Service]
		if !ok || s.State != w.state || !strings.Contains(s.Message, w.why) || s.Namespace != ns || s.Image != bad {
			t.Errorf("answer for %s: %+v, want state %s, image %s, message with %q", s.Service, s, w.state, bad, w.why)
		}
	}

	// The accepted service ran the bad tag; auto-guard, in the same process, takes it back.
	sandbox.WaitFor(t, 10*time.Second, "minor-svc to run the pushed tag", func() (bool, string) {
		got := image(t, client, ns, "minor-svc")
		return got == bad || len(rollbacks(t, g.audit)) > 0, got
	})
	sandbox.WaitFor(t, 90*time.Second, "auto-guard to roll minor-svc back to 1.2.0", func() (bool, string) {
		return image(t, client, ns, "minor-svc") == old && len(rollbacks(t, g.audit)) == 1, g.output()
	})
	for _, name := range []string{"patch-svc", "exact-svc"} {
		if got := image(t, client, ns, name); got != old {
			t.Errorf("%s runs %s, want %s (its policy refused the tag)", name, got, old)
		}
		if rev := deploymentRevision(t, client, ns, name); rev != "1" {
			t.Errorf("%s is at revision %s, want 1", name, rev)
		}
	}

	entries, err := audit.Read(g.audit)
	if err != nil {
		t.Fatal(err)
	}
	var deploys, rbs int
	for _, e := range entries {
		if e.Result == "pending" {
			continue
		}
		if e.Service != "minor-svc" {
			t.Errorf("audit line for a skipped service: %+v", e)
			continue
		}
		switch e.Action {
		case "deploy":
			deploys++
			if e.Result != audit.ResultOK || e.Trigger != "registry" || e.RequestedBy != "registry "+policyRepo ||
				e.FromImage != old || e.ToImage != bad {
				t.Errorf("deploy line %+v, want ok, trigger registry, requested_by registry %s, %s -> %s", e, policyRepo, old, bad)
			}
		case "rollback":
			rbs++
			if e.Result != audit.ResultOK || e.Trigger != "guard" || e.FromImage != bad || e.ToImage != old {
				t.Errorf("rollback line %+v, want ok by the guard, %s -> %s", e, bad, old)
			}
		}
	}
	if deploys != 1 || rbs != 1 {
		t.Errorf("audit has %d deploys and %d rollbacks of minor-svc, want 1 and 1: %+v", deploys, rbs, entries)
	}
}

// A signed registry push for a frozen service answers 409 naming the freeze's reason, who set
// it and until when, and changes nothing; after `opsdeck unfreeze` the guard's reconciler
// performs the queued deploy, once, audited with trigger registry.
func TestWebhookDeployDuringFreezeIs409(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the sandbox")
	}
	t.Parallel()
	env := sandbox.Shared(t)
	ns := env.NewNamespace(t)
	client := env.Client(t)
	const old, next = policyRepo + ":1.2.0", policyRepo + ":1.3.0"
	env.CreateDeployment(t, ns, "cart", old, 1)
	kube := []string{"--kubeconfig", env.Kubeconfig, "-n", ns}
	until := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	if r := opsdeck(t, nil, append([]string{"freeze", "cart", "--until", until.Format(time.RFC3339), "--reason", "release party"}, kube...)...); r.code != 0 {
		t.Fatalf("freeze: %d %s", r.code, r.stderr)
	}

	const secret = "registry-shared-secret"
	g, url := listeningGuard(t, env, ns, secret, fmt.Sprintf("triggers:\n  - repository: %s\n    services: [%s/cart]\n", policyRepo, ns))
	a := pushTag(t, url, secret, "1.3.0")
	var body struct {
		Message string     `json:"message"`
		Until   *time.Time `json:"until"`
	}
	_ = json.Unmarshal([]byte(a.raw), &body)
	if a.code != http.StatusConflict || !regexp.MustCompile(`frozen until \S+ by \S+: release party`).MatchString(body.Message) ||
		body.Until == nil || !body.Until.Equal(until) || len(a.Services) != 1 || a.Services[0].State != listener.StateQueued {
		t.Fatalf("push during a freeze: %d %s; want 409 naming the reason, who froze, until %s, cart queued", a.code, a.raw, until.Format(time.RFC3339))
	}
	if got, rev := image(t, client, ns, "cart"), deploymentRevision(t, client, ns, "cart"); got != old || rev != "1" {
		t.Fatalf("during the freeze cart runs %s at revision %s, want %s at 1", got, rev, old)
	}

	if r := opsdeck(t, nil, append([]string{"unfreeze", "cart"}, kube...)...); r.code != 0 {
		t.Fatalf("unfreeze: %d %s", r.code, r.stderr)
	}
	sandbox.WaitFor(t, 60*time.Second, "the queued deploy to run after unfreeze", func() (bool, string) {
		return image(t, client, ns, "cart") == next, g.output()
	})
	sandbox.WaitRolledOut(t, client, ns, "cart", 60*time.Second)
	entries, err := audit.Read(g.audit)
	if err != nil {
		t.Fatal(err)
	}
	var deploys []audit.Entry
	for _, e := range entries {
		if e.Action == "deploy" && e.Result != "pending" {
			deploys = append(deploys, e)
		}
	}
	if len(deploys) != 1 || deploys[0].Result != audit.ResultOK || deploys[0].Trigger != "registry" ||
		deploys[0].RequestedBy != "registry "+policyRepo || deploys[0].ToImage != next {
		t.Errorf("deploy lines %+v, want one ok, trigger registry, requested_by registry %s, to %s", deploys, policyRepo, next)
	}
}
