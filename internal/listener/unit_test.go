package listener

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeDeployer records requests and answers with a fixed outcome per service.
type fakeDeployer struct {
	mu       sync.Mutex
	requests []Request
	outcome  map[string]Outcome
}

func (f *fakeDeployer) Submit(_ context.Context, r Request) (Outcome, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, r)
	if o, ok := f.outcome[r.Service]; ok {
		return o, nil
	}
	return Outcome{State: StateStarted}, nil
}

type fakeAuth struct{}

func (fakeAuth) Authenticate(_ context.Context, token string) (Caller, error) {
	if token != "good" && token != "weak" {
		return Caller{}, ErrUnauthenticated
	}
	return Caller{User: token + "-user"}, nil
}

func (fakeAuth) MayPatch(_ context.Context, c Caller, _, _ string) (bool, error) {
	return c.User == "good-user", nil
}

type fakeSignals struct{ got []Signal }

func (f *fakeSignals) Signal(_ context.Context, s Signal) SignalResult {
	f.got = append(f.got, s)
	return SignalResult{Action: "rolled-back", Message: "rolled back " + s.Service}
}

func testServer(d *fakeDeployer) *Server {
	return &Server{
		Auth: fakeAuth{}, Deployer: d, WebhookSecret: testSecret,
		Triggers: []Trigger{
			{Repository: "registry.example/shop/order", Targets: []Target{{Namespace: "shop", Service: "order-service"}}},
			{Repository: "acme/order", Targets: []Target{{Namespace: "shop", Service: "order-service"}}},
			{Repository: "acme/shop", Image: "registry.example/shop/app:${sha}", Targets: []Target{{Namespace: "shop", Service: "cart-service"}, {Namespace: "shop", Service: "gateway", Container: "app"}}},
			{Repository: "acme/lib", Image: "registry.example/lib:${tag}", Targets: []Target{{Namespace: "shop", Service: "lib"}}},
		},
		AlertToken: []byte("am-token"), AlertNamespace: "shop",
	}
}

func do(t *testing.T, h http.Handler, path string, headers map[string]string, body string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	b, _ := io.ReadAll(w.Result().Body)
	return w.Code, string(b)
}

func signed(body string) map[string]string {
	return map[string]string{SignatureHeader: Sign(testSecret, []byte(body))}
}

func TestDeployOutcomeStatus(t *testing.T) {
	until := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	d := &fakeDeployer{outcome: map[string]Outcome{
		"frozen": {State: StateQueued, Until: until, Message: "frozen by alice until 2026-11-30T09:00Z: release party"},
		"policy": {State: StateSkipped, Message: "tag 2.0.0 not accepted by policy semver-minor"},
		"later":  {State: StateScheduled},
	}}
	h := testServer(d).Handler()
	auth := map[string]string{"Authorization": "Bearer good"}
	for _, c := range []struct {
		service string
		status  int
		says    string
	}{
		{"order-service", 202, `"status":"started"`},
		{"later", 202, `"status":"scheduled"`},
		{"frozen", 409, `frozen by alice until`},
		{"policy", 422, `not accepted by policy`},
	} {
		code, body := do(t, h, "/v1/deploy", auth, fmt.Sprintf(`{"namespace":"shop","service":%q,"image":"x:v2"}`, c.service))
		if code != c.status || !strings.Contains(body, c.says) {
			t.Errorf("%s: %d %s, want %d with %s", c.service, code, body, c.status, c.says)
		}
	}
	if code, body := do(t, h, "/v1/deploy", auth, `{"namespace":"shop","service":"frozen","image":"x:v2"}`); !strings.Contains(body, `"until":"2026-11-30T09:00:00Z"`) {
		t.Errorf("queued answer %d %s names no until", code, body)
	}
	if r := d.requests[0]; r.Trigger != "webhook" || r.RequestedBy != "good-user" {
		t.Errorf("request %+v, want trigger webhook requested by good-user", r)
	}
}

func TestDeployRejects(t *testing.T) {
	d := &fakeDeployer{}
	h := testServer(d).Handler()
	good := `{"namespace":"shop","service":"order-service","image":"order:v2"}`
	for _, c := range []struct {
		name    string
		headers map[string]string
		body    string
		status  int
		says    string
	}{
		{"no token", nil, good, 401, "no credentials"},
		{"basic auth", map[string]string{"Authorization": "Basic eDp5"}, good, 401, "no credentials"},
		{"bad token", map[string]string{"Authorization": "Bearer nope"}, good, 401, "bad credentials"},
		{"no rights", map[string]string{"Authorization": "Bearer weak"}, good, 403, "user weak-user may not patch deployments.apps/order-service in namespace shop"},
		{"bad json", map[string]string{"Authorization": "Bearer good"}, `{"namespace":`, 400, "not valid JSON"},
		{"bad image", map[string]string{"Authorization": "Bearer good"}, `{"namespace":"shop","service":"order-service","image":"Order:v2"}`, 400, "invalid image reference"},
		{"bad service", map[string]string{"Authorization": "Bearer good"}, `{"namespace":"shop","service":"Order","image":"order:v2"}`, 400, "not a Kubernetes name"},
		{"text body", map[string]string{"Authorization": "Bearer good", "Content-Type": "text/plain"}, good, 415, "not JSON"},
		{"too big", map[string]string{"Authorization": "Bearer good"}, `{"reason":"` + strings.Repeat("x", MaxBody) + `"}`, 413, "larger than 1 MiB"},
	} {
		code, body := do(t, h, "/v1/deploy", c.headers, c.body)
		if code != c.status || !strings.Contains(body, c.says) {
			t.Errorf("%s: %d %s, want %d with %q", c.name, code, body, c.status, c.says)
		}
	}
	if len(d.requests) != 0 {
		t.Errorf("rejected requests reached the deployer: %+v", d.requests)
	}
}

func TestWebhookFormats(t *testing.T) {
	for _, c := range []struct {
		name, path, event, body string
		want                    []string // service=image
		status                  int
	}{
		{"distribution", "/v1/webhooks/registry", "",
			`{"events":[{"id":"a","action":"push","target":{"repository":"shop/order","tag":"v3"},"request":{"host":"registry.example"}},{"id":"b","action":"push","target":{"repository":"shop/order","digest":"sha256:x"},"request":{"host":"registry.example"}}]}`,
			[]string{"order-service=registry.example/shop/order:v3"}, 202},
		{"distribution pull", "/v1/webhooks/registry", "", `{"events":[{"id":"c","action":"pull","target":{"repository":"shop/order","tag":"v3"}}]}`, nil, 200},
		{"docker hub", "/v1/webhooks/registry", "", `{"push_data":{"tag":"v4"},"repository":{"repo_name":"acme/order"}}`, []string{"order-service=acme/order:v4"}, 202},
		{"generic", "/v1/webhooks/registry", "", `{"repository":"registry.example/shop/order","tag":"v5"}`, []string{"order-service=registry.example/shop/order:v5"}, 202},
		{"generic unknown", "/v1/webhooks/registry", "", `{"repository":"registry.example/nope","tag":"v5"}`, nil, 404},
		{"github push", "/v1/webhooks/github", "push",
			`{"ref":"refs/heads/main","after":"0123abc","repository":{"full_name":"acme/shop","default_branch":"main"}}`,
			[]string{"cart-service=registry.example/shop/app:0123abc", "gateway=registry.example/shop/app:0123abc"}, 202},
		{"github push branch", "/v1/webhooks/github", "push", `{"ref":"refs/heads/feature","after":"0123abd","repository":{"full_name":"acme/shop","default_branch":"main"}}`, nil, 200},
		{"github release", "/v1/webhooks/github", "release", `{"action":"published","release":{"tag_name":"1.4.0"},"repository":{"full_name":"acme/lib"}}`, []string{"lib=registry.example/lib:1.4.0"}, 202},
		{"github package", "/v1/webhooks/github", "package", `{"action":"published","package":{"package_version":{"container_metadata":{"tag":{"name":"1.5.0"}}}},"repository":{"full_name":"acme/lib"}}`, []string{"lib=registry.example/lib:1.5.0"}, 202},
		{"github issues", "/v1/webhooks/github", "issues", `{"repository":{"full_name":"acme/lib"}}`, nil, 400},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := &fakeDeployer{}
			h := testServer(d).Handler()
			headers := signed(c.body)
			if c.event != "" {
				headers = map[string]string{GitHubSignatureHeader: Sign(testSecret, []byte(c.body)), "X-GitHub-Event": c.event, "X-GitHub-Delivery": c.name}
			}
			code, body := do(t, h, c.path, headers, c.body)
			if code != c.status {
				t.Fatalf("%d %s, want %d", code, body, c.status)
			}
			var got []string
			for _, r := range d.requests {
				got = append(got, r.Service+"="+r.Image)
			}
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("deployed %v, want %v", got, c.want)
			}
			if len(c.want) > 0 {
				// A replay of the same delivery deploys nothing.
				code, body = do(t, h, c.path, headers, c.body)
				if code != 200 || !strings.Contains(body, "already delivered") || len(d.requests) != len(c.want) {
					t.Errorf("replay: %d %s, %d requests", code, body, len(d.requests))
				}
			}
		})
	}
}

func TestWebhookSignatures(t *testing.T) {
	d := &fakeDeployer{}
	h := testServer(d).Handler()
	body := `{"repository":"registry.example/shop/order","tag":"v5"}`
	for name, headers := range map[string]map[string]string{
		"unsigned":    nil,
		"wrong key":   {SignatureHeader: Sign([]byte("other"), []byte(body))},
		"other body":  {SignatureHeader: Sign(testSecret, []byte(body+" "))},
		"not hex":     {SignatureHeader: "sha256=zz"},
		"sha1":        {SignatureHeader: "sha1=0123"},
		"github hdr":  {GitHubSignatureHeader: "sha256=00"},
		"empty value": {SignatureHeader: ""},
	} {
		if code, resp := do(t, h, "/v1/webhooks/registry", headers, body); code != 401 {
			t.Errorf("%s: %d %s, want 401", name, code, resp)
		}
	}
	if len(d.requests) != 0 {
		t.Errorf("unsigned webhooks deployed %+v", d.requests)
	}
	// No secret configured: every webhook is refused.
	s := testServer(d)
	s.WebhookSecret = nil
	if code, _ := do(t, s.Handler(), "/v1/webhooks/registry", map[string]string{SignatureHeader: Sign(nil, []byte(body))}, body); code != 401 {
		t.Errorf("without a secret: %d, want 401", code)
	}
}

func TestAlertmanager(t *testing.T) {
	s := testServer(&fakeDeployer{})
	sig := &fakeSignals{}
	s.Signals = sig
	h := s.Handler()
	body := `{"version":"4","status":"firing","alerts":[
	 {"status":"firing","labels":{"alertname":"CheckoutErrors","deployment":"order-service"},"annotations":{"summary":"checkout fails"},"fingerprint":"f1"},
	 {"status":"firing","labels":{"alertname":"Other","team":"x"}},
	 {"status":"resolved","labels":{"alertname":"Slow","service":"cart-service","app":"cart","namespace":"web"}}]}`
	if code, _ := do(t, h, "/v1/alertmanager", nil, body); code != 401 {
		t.Errorf("no token: %d, want 401", code)
	}
	code, resp := do(t, h, "/v1/alertmanager", map[string]string{"Authorization": "Bearer am-token"}, body)
	if code != 200 || !strings.Contains(resp, `"action":"ignored"`) || !strings.Contains(resp, "rolled back order-service") {
		t.Fatalf("%d %s", code, resp)
	}
	want := []Signal{
		{Namespace: "shop", Service: "order-service", AlertName: "CheckoutErrors", Summary: "checkout fails", Firing: true, Fingerprint: "f1"},
		{Namespace: "web", Service: "cart-service", AlertName: "Slow"},
	}
	if fmt.Sprint(sig.got) != fmt.Sprint(want) {
		t.Errorf("signals %+v, want %+v", sig.got, want)
	}
	if code, resp := do(t, h, "/v1/alertmanager", map[string]string{"Authorization": "Bearer am-token"}, `{"version":"3","alerts":[]}`); code != 400 {
		t.Errorf("version 3: %d %s, want 400", code, resp)
	}
}

func TestDeliveriesBoundedWithTTL(t *testing.T) {
	d := NewDeliveries(3, time.Minute)
	now := time.Unix(0, 0)
	d.now = func() time.Time { return now }
	for _, id := range []string{"a", "b", "c", "d"} {
		if !d.Claim(id) {
			t.Fatalf("first claim of %s refused", id)
		}
	}
	if d.Len() != 3 || !d.Claim("a") {
		t.Errorf("the oldest id was not forgotten past the bound (len %d)", d.Len())
	}
	if d.Claim("d") {
		t.Error("a replay within the TTL was claimed again")
	}
	now = now.Add(2 * time.Minute)
	if !d.Claim("d") {
		t.Error("an id past its TTL is still remembered")
	}
}

// The first configured label present and not blank names the service.
func TestServiceFromLabels(t *testing.T) {
	names := []string{"service", "deployment", "app"}
	for _, tc := range []struct {
		labels map[string]string
		names  []string
		want   string
	}{
		{map[string]string{"service": "order-service", "app": "shop"}, names, "order-service"},
		{map[string]string{"app": "cart", "deployment": "cart-v2"}, names, "cart-v2"},
		{map[string]string{"service": " ", "app": "cart"}, names, "cart"},
		{map[string]string{"job": "x"}, names, ""},
		{map[string]string{"app": "cart", "svc": "order"}, []string{"svc", "app"}, "order"},
	} {
		if got := ServiceFromLabels(tc.labels, tc.names); got != tc.want {
			t.Errorf("ServiceFromLabels(%v, %v) = %q, want %q", tc.labels, tc.names, got, tc.want)
		}
	}
}
