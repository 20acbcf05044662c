package listener

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/opsdeck/opsdeck/internal/domain"
)

// FuzzListener sends arbitrary bodies to every endpoint, signed or not, and checks the
// answer is a JSON object with a status below 500 and that nothing unsigned or
// unauthenticated reaches the deployer or the executor.
func FuzzListener(f *testing.F) {
	paths := []string{"/v1/deploy", "/v1/rollback", "/v1/webhooks/registry", "/v1/webhooks/github", "/v1/alertmanager"}
	f.Add(uint8(0), "application/json", true, `{"namespace":"shop","service":"order-service","image":"order:v2"}`)
	f.Add(uint8(2), "application/json", true, `{"events":[{"id":"a","action":"push","target":{"repository":"shop/order","tag":"v3"},"request":{"host":"registry.example"}}]}`)
	f.Add(uint8(2), "", true, `{"push_data":{"tag":"v4"},"repository":{"repo_name":"acme/order"}}`)
	f.Add(uint8(3), "application/json", true, `{"ref":"refs/heads/main","after":"0123abc","repository":{"full_name":"acme/shop","default_branch":"main"}}`)
	f.Add(uint8(4), "application/json", false, `{"version":"4","alerts":[{"status":"firing","labels":{"service":"order-service"}}]}`)
	f.Add(uint8(2), "text/plain", false, `{"repository":"x","tag":"y"}`)
	f.Fuzz(func(t *testing.T, which uint8, ctype string, sign bool, body string) {
		d := &fakeDeployer{}
		s := testServer(d)
		s.Signals = &fakeSignals{}
		x := &fakeExecutor{}
		s.Executor = x
		path := paths[int(which)%len(paths)]
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		if ctype != "" && !strings.ContainsAny(ctype, "\r\n\x00") {
			req.Header.Set("Content-Type", ctype)
		}
		req.Header.Set("X-GitHub-Event", []string{"push", "release", "package", "ping"}[int(which)/len(paths)%4])
		if sign {
			req.Header.Set("Authorization", "Bearer good")
			req.Header.Set(SignatureHeader, Sign(testSecret, []byte(body)))
			req.Header.Set(GitHubSignatureHeader, Sign(testSecret, []byte(body)))
		} else {
			req.Header.Set("Authorization", "Bearer weak")
		}
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%s %q answered %d: %s", path, body, w.Code, w.Body)
		}
		var v map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil || v["status"] == nil {
			t.Fatalf("%s answered %d with no JSON status: %q", path, w.Code, w.Body)
		}
		if !sign && (len(d.requests) > 0 || len(x.actions) > 0) {
			t.Fatalf("an unsigned or unauthorized request deployed %+v or acted %+v", d.requests, x.actions)
		}
		if w.Code >= 400 && (len(d.requests) > 0 || len(x.actions) > 0) {
			t.Fatalf("a %d answer deployed %+v or acted %+v", w.Code, d.requests, x.actions)
		}
	})
}

// fakeExecutor records the actions it is asked to perform and reports each done.
type fakeExecutor struct{ actions []domain.Action }

func (f *fakeExecutor) Execute(_ context.Context, a domain.Action) (domain.Result, error) {
	f.actions = append(f.actions, a)
	return domain.Result{Action: a, Message: string(a.Kind) + " " + a.Service}, nil
}
