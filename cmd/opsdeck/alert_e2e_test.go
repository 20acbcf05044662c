package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/internal/metrics/promtest"
	"github.com/opsdeck/opsdeck/internal/notify/amtest"
	"github.com/opsdeck/opsdeck/internal/sandbox"
)

// The whole path of an outside alert, with real parts only: a Prometheus alerting rule fires,
// the real Alertmanager routes it to `opsdeck guard --listen` with the shared bearer token, and
// the guard rolls back a rollout whose own metrics are healthy, once, with trigger "alert", the
// alert's name and summary as the reason, and the AutoRollback Event. A request without the
// token (or with a wrong one) is refused with 401 and changes nothing.
func TestGuardRollsBackOnARoutedAlert(t *testing.T) {
	env, client, ns := guardedService(t, "web")
	// A healthy new version, rolled out before the guard starts: its first judgement of web is
	// of revision 2, and its own rules find nothing wrong.
	setImage(t, client, ns, "web", "web:v2")
	sandbox.WaitRolledOut(t, client, ns, "web", 90*time.Second)

	dir := t.TempDir()
	token := filepath.Join(dir, "alertmanager-token")
	if err := os.WriteFile(token, []byte("am-bearer-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("listener:\n  alertmanager_token_file: %s\n", token)), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeLoopbackAddr(t)
	g := startGuard(t, env, ns, "--config", cfg, "--listen", addr)
	// The guard's first round has judged web (revision 2, as it rolled out before the guard
	// started): "watching", or "inconclusive" while its metrics have no samples yet.
	sandbox.WaitFor(t, 30*time.Second, "the listener up and web judged", func() (bool, string) {
		out := g.output()
		return strings.Contains(out, `"msg":"listening"`) && strings.Contains(out, `"service":"`+ns+`/web","verdict":"`), out
	})
	for _, bad := range []string{"breaching", "rolling back", "held"} {
		if out := g.output(); strings.Contains(out, `"verdict":"`+bad+`"`) {
			t.Fatalf("the guard judged the healthy web:v2 %s:\n%s", bad, out)
		}
	}
	if img := image(t, client, ns, "web"); img != "web:v2" {
		t.Fatalf("the guard changed the healthy web:v2 to %s before any alert:\n%s", img, g.output())
	}

	// Bad input: the same alert without the token, or with another, is refused and does nothing.
	alert := fmt.Sprintf(`{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"CheckoutFailuresReported","service":"web","namespace":%q},"annotations":{"summary":"checkout failures reported by support"},"fingerprint":"f00d"}]}`, ns)
	for _, auth := range []string{"", "Bearer not-the-token"} {
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/v1/alertmanager", strings.NewReader(alert))
		req.Header.Set("Content-Type", "application/json")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), "listener.alertmanager_token_file") {
			t.Fatalf("alert with Authorization %q: %d %s; want 401 naming listener.alertmanager_token_file", auth, res.StatusCode, body)
		}
	}
	if img := image(t, client, ns, "web"); img != "web:v2" {
		t.Fatalf("an unauthenticated alert changed web to %s", img)
	}
	if rb := rollbacks(t, g.audit); len(rb) != 0 {
		t.Fatalf("an unauthenticated alert rolled back: %+v", rb)
	}
	if strings.Contains(g.output(), `"msg":"signal"`) {
		t.Fatalf("an unauthenticated alert reached the guard:\n%s", g.output())
	}

	// The real Alertmanager, routing every alert at once to the guard's listener with the token.
	amURL := amtest.StartWithConfig(t, fmt.Sprintf(`route:
  receiver: opsdeck
  group_by: [alertname, namespace, service]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: opsdeck
    webhook_configs:
      - url: http://%s/v1/alertmanager
        send_resolved: true
        http_config:
          authorization:
            credentials_file: %s
`, addr, token))
	// The real Prometheus, with a rule that fires at once and names the service.
	rules := filepath.Join(dir, "rules.yml")
	if err := os.WriteFile(rules, []byte(fmt.Sprintf(`groups:
  - name: support
    interval: 1s
    rules:
      - alert: CheckoutFailuresReported
        expr: vector(1)
        for: 0s
        labels:
          service: web
          namespace: %s
        annotations:
          summary: checkout failures reported by support
`, ns)), 0o644); err != nil {
		t.Fatal(err)
	}
	fired := time.Now()
	promtest.StartWithAlerting(t, rules, []string{strings.TrimPrefix(amURL, "http://")})

	sandbox.WaitFor(t, 60*time.Second, "the routed alert to roll web back to web:v1", func() (bool, string) {
		return image(t, client, ns, "web") == "web:v1", g.output()
	})
	t.Logf("Prometheus started to rollback seen: %d ms", time.Since(fired).Milliseconds())
	sandbox.WaitFor(t, 20*time.Second, "the AutoRollback event", func() (bool, string) {
		evs := warningEvents(t, client, ns, "AutoRollback")
		return len(evs) == 1 && evs[0].InvolvedObject.Name == "web" && strings.Contains(evs[0].Message, "CheckoutFailuresReported"), fmt.Sprint(evs)
	})
	as, err := amtest.Active(context.Background(), amURL)
	if err != nil {
		t.Fatal(err)
	}
	routed := false
	for _, a := range as {
		routed = routed || (a.Labels["alertname"] == "CheckoutFailuresReported" && a.Labels["namespace"] == ns)
	}
	if !routed {
		t.Errorf("Alertmanager does not hold the alert: %+v", as)
	}

	rb := rollbacks(t, g.audit)
	if len(rb) != 1 {
		t.Fatalf("%d rollbacks in the audit log, want 1: %+v", len(rb), rb)
	}
	e := rb[0]
	if e.Trigger != "alert" || e.FromImage != "web:v2" || e.ToImage != "web:v1" ||
		!strings.HasPrefix(e.Reason, "alert CheckoutFailuresReported: checkout failures reported by support; ") {
		t.Errorf("audit line %+v, want trigger alert from web:v2 to web:v1, reason naming the alert and its summary", e)
	}

	// The guard's log: Alertmanager's request, authenticated (only Alertmanager and the 401s
	// above used this path, and only Alertmanager had the token), and the signal it acted on.
	var request, signal map[string]any
	for _, line := range strings.Split(g.output(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) != nil {
			continue
		}
		switch {
		case request == nil && m["msg"] == "http request" && m["path"] == "/v1/alertmanager" && m["status"] == float64(200):
			request = m
		case signal == nil && m["msg"] == "signal" && m["alert"] == "CheckoutFailuresReported" && m["acted"] == true:
			signal = m
		}
	}
	if request == nil || request["caller"] != "alertmanager" || signal == nil ||
		signal["message"] != "rolled back web rev 2 -> 1: alert CheckoutFailuresReported: checkout failures reported by support" {
		t.Fatalf("no 200 request line from alertmanager or no acting signal line (request %v, signal %v):\n%s", request, signal, g.output())
	}
	if n := strings.Count(g.output(), `"path":"/v1/alertmanager","status":401`); n != 2 {
		t.Errorf("%d request lines with status 401, want 2:\n%s", n, g.output())
	}

	// Alert received to rollback patched: the listener answers Alertmanager only after the
	// rollback's patch returned (the signal is judged and executed within the request), so the
	// request's duration_ms bounds it from above. The audit line, written once the patch
	// succeeded, gives the same figure from the request's start on the wall clock.
	dur := request["duration_ms"].(float64)
	at, err := time.Parse(time.RFC3339Nano, request["time"].(string))
	if err != nil {
		t.Fatal(err)
	}
	received := at.Add(-time.Duration(dur * float64(time.Millisecond)))
	toAudit := e.Time.Sub(received)
	t.Logf("alert received to rollback patched: %.1f ms (request duration); %d ms to the audit line", dur, toAudit.Milliseconds())
	if toAudit < 0 || toAudit > time.Duration(dur*float64(time.Millisecond))+time.Millisecond {
		t.Errorf("audit line at %s outside the request (received %s, %.1f ms)", e.Time, received, dur)
	}
	if dur > 2000 {
		t.Errorf("alert received to rollback patched took %.0f ms; the goal is well under 2 s", dur)
	}
}

// freeLoopbackAddr is a 127.0.0.1 address with a port free now.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
