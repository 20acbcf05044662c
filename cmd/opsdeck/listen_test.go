package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/opsdeck/opsdeck/internal/audit"
	"github.com/opsdeck/opsdeck/internal/listener"
)

// `opsdeck guard --listen` serves signed GitHub pushes: a push to the default branch deploys
// the image of the trigger's template, audited with trigger git and the repository as the
// requester; every request is a JSON line on stdout; SIGTERM stops it cleanly (startGuard's
// cleanup checks the exit).
func TestGuardListenDeploysSignedGitPush(t *testing.T) {
	env, client, ns := guardedService(t, "web")
	g, url := listeningGuard(t, env, ns, "a-shared-secret", fmt.Sprintf(`triggers:
  - repository: acme/web
    image: web:${sha}
    services: [%s/web]
`, ns))

	body := []byte(`{"ref":"refs/heads/main","after":"c0ffee1","repository":{"full_name":"acme/web","default_branch":"main"}}`)
	send := func(sig string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, url+"/v1/webhooks/github", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-GitHub-Event", "push")
		req.Header.Set("X-GitHub-Delivery", "d-1")
		if sig != "" {
			req.Header.Set(listener.GitHubSignatureHeader, sig)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, resp := send(""); code != http.StatusUnauthorized {
		t.Fatalf("unsigned push: %d %s, want 401", code, resp)
	}
	if got := image(t, client, ns, "web"); got != "web:v1" {
		t.Fatalf("after an unsigned push web runs %s, want web:v1", got)
	}
	code, resp := send(listener.Sign([]byte("a-shared-secret"), body))
	if code != http.StatusAccepted || !strings.Contains(resp, `"image":"web:c0ffee1","state":"started"`) {
		t.Fatalf("signed push: %d %s, want 202 started web:c0ffee1", code, resp)
	}
	if got := image(t, client, ns, "web"); got != "web:c0ffee1" {
		t.Fatalf("after the signed push web runs %s, want web:c0ffee1", got)
	}
	if code, resp := send(listener.Sign([]byte("a-shared-secret"), body)); code != http.StatusOK || !strings.Contains(resp, "already delivered") {
		t.Fatalf("replayed push: %d %s, want 200 already delivered", code, resp)
	}
	var deploys int
	entries, err := audit.Read(g.audit)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Action == "deploy" && e.Result != "pending" {
			deploys++
			if e.Trigger != "git" || e.RequestedBy != "github acme/web" || e.ToImage != "web:c0ffee1" {
				t.Errorf("audit line %+v, want trigger git, requested_by github acme/web, to web:c0ffee1", e)
			}
		}
	}
	if deploys != 1 {
		t.Errorf("%d deploys in the audit log, want 1", deploys)
	}
	out := g.output()
	for _, want := range []string{`"path":"/v1/webhooks/github","status":401`, `"path":"/v1/webhooks/github","status":202`} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout has no request line with %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, "a-shared-secret") {
		t.Errorf("the secret appears in the output:\n%s", out)
	}
}

// Bad --listen usage is refused in a line naming what to do, with exit status 2, before any
// connection is tried.
func TestGuardListenUsage(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"guard", "--listen", "127.0.0.1:0", "--dry-run"}, "--dry-run changes nothing"},
		{[]string{"guard", "--listen", "127.0.0.1:0", "--tls-cert", "c.pem"}, "--tls-cert and --tls-key go together"},
		{[]string{"guard", "--tls-cert", "c.pem", "--tls-key", "k.pem"}, "--tls-cert needs --listen ADDR"},
	}
	for _, c := range cases {
		r := opsdeck(t, nil, append(c.args, "--kubeconfig", "/nonexistent/kubeconfig")...)
		first, _, _ := strings.Cut(r.stderr, "\n")
		if r.code != 2 || !strings.Contains(first, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and a first line with %q", c.args, r.code, r.stderr, c.want)
		}
	}
}
