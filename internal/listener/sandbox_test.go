package listener

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/opsdeck/opsdeck/internal/actions"
	"github.com/opsdeck/opsdeck/internal/audit"
	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/internal/sandbox"
)

// live is a listener serving on 127.0.0.1 against the sandbox's API server, deploying
// through a real executor.
type live struct {
	url       string
	ns        string
	client    kubernetes.Interface
	auditPath string
	logs      *lockedWriter
	env       *sandbox.Env
}

var testSecret = []byte("s3cret-shared-with-the-registry")

func startLive(t *testing.T, triggers func(ns string) []Trigger) *live {
	t.Helper()
	env := sandbox.Shared(t)
	l := &live{ns: env.NewNamespace(t), client: env.Client(t), logs: &lockedWriter{w: &bytes.Buffer{}}, env: env}
	l.auditPath = filepath.Join(t.TempDir(), "audit.jsonl")
	log, err := audit.Open(l.auditPath)
	if err != nil {
		t.Fatal(err)
	}
	exec := &actions.Executor{Client: l.client, Audit: log, Identity: domain.Identity{Context: "sandbox", User: "admin"}}
	srv := &Server{
		Auth: KubeAuth{Client: l.client}, Deployer: ExecutorDeployer{Executor: exec}, Executor: exec,
		WebhookSecret: testSecret, Log: slog.New(slog.NewJSONHandler(l.logs, nil)),
	}
	if triggers != nil {
		srv.Triggers = triggers(l.ns)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln, "", "") }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	l.url = "http://" + ln.Addr().String()
	return l
}

// serviceAccountToken creates a ServiceAccount, binds it to a Role granting verbs on
// deployments (none: no binding), and returns a token from the TokenRequest API.
func (l *live) serviceAccountToken(t *testing.T, name string, verbs ...string) string {
	t.Helper()
	ctx := context.Background()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := l.client.CoreV1().ServiceAccounts(l.ns).Create(ctx, sa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if len(verbs) > 0 {
		role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: verbs}}}
		if _, err := l.client.RbacV1().Roles(l.ns).Create(ctx, role, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
			RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: name},
			Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: name, Namespace: l.ns}}}
		if _, err := l.client.RbacV1().RoleBindings(l.ns).Create(ctx, rb, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	exp := int64(600)
	tr, err := l.client.CoreV1().ServiceAccounts(l.ns).CreateToken(ctx, name,
		&authnv1.TokenRequest{Spec: authnv1.TokenRequestSpec{ExpirationSeconds: &exp}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("token request: %v", err)
	}
	return tr.Status.Token
}

type answer struct {
	status int
	body   response
	raw    string
}

func post(t *testing.T, url string, headers map[string]string, body []byte) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	a := answer{status: res.StatusCode, raw: string(b)}
	_ = json.Unmarshal(b, &a.body)
	return a
}

func (l *live) image(t *testing.T, name string) (string, int64) {
	t.Helper()
	d, err := l.client.AppsV1().Deployments(l.ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d.Spec.Template.Spec.Containers[0].Image, d.Generation
}

// auditLines are the audit log's outcome lines (not the intents).
func (l *live) auditLines(t *testing.T) []audit.Entry {
	t.Helper()
	f, err := os.Open(l.auditPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []audit.Entry
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e audit.Entry
		if json.Unmarshal(sc.Bytes(), &e) == nil && e.Result != "pending" {
			out = append(out, e)
		}
	}
	return out
}

// A token without patch rights gets 403 naming the verb and the resource, and nothing
// changes; a token with them deploys, and the audit line names the webhook trigger and the
// service account; a bad token gets 401.
func TestSandboxTokenDeploy(t *testing.T) {
	l := startLive(t, nil)
	l.env.CreateDeployment(t, l.ns, "order-service", "order-service:v1", 1)
	reader := l.serviceAccountToken(t, "reader", "get", "list")
	deployer := l.serviceAccountToken(t, "deployer", "get", "patch")
	body := []byte(fmt.Sprintf(`{"namespace":%q,"service":"order-service","image":"order-service:v2","reason":"ci"}`, l.ns))

	a := post(t, l.url+"/v1/deploy", map[string]string{"Authorization": "Bearer " + reader}, body)
	want := fmt.Sprintf("user system:serviceaccount:%s:reader may not patch deployments.apps/order-service in namespace %s", l.ns, l.ns)
	if a.status != http.StatusForbidden || a.body.Message != want {
		t.Fatalf("reader's deploy: %d %s, want 403 %q", a.status, a.raw, want)
	}
	if img, _ := l.image(t, "order-service"); img != "order-service:v1" {
		t.Fatalf("after a 403 the image is %s, want order-service:v1 unchanged", img)
	}

	a = post(t, l.url+"/v1/deploy", map[string]string{"Authorization": "Bearer not-a-token"}, body)
	if a.status != http.StatusUnauthorized {
		t.Fatalf("bad token: %d %s, want 401", a.status, a.raw)
	}
	a = post(t, l.url+"/v1/deploy", nil, body)
	if a.status != http.StatusUnauthorized {
		t.Fatalf("no token: %d %s, want 401", a.status, a.raw)
	}
	bad := []byte(fmt.Sprintf(`{"namespace":%q,"service":"order-service","image":"Order:v2"}`, l.ns))
	a = post(t, l.url+"/v1/deploy", map[string]string{"Authorization": "Bearer " + deployer}, bad)
	if a.status != http.StatusBadRequest || !strings.Contains(a.body.Message, "invalid image reference") {
		t.Fatalf("bad image: %d %s, want 400 invalid image reference", a.status, a.raw)
	}
	missing := []byte(fmt.Sprintf(`{"namespace":%q,"service":"nope","image":"nope:v2"}`, l.ns))
	// The deployer's Role covers every Deployment of the namespace, so RBAC allows it and the
	// executor answers that the service does not exist.
	a = post(t, l.url+"/v1/deploy", map[string]string{"Authorization": "Bearer " + deployer}, missing)
	if a.status != http.StatusNotFound {
		t.Fatalf("unknown service: %d %s, want 404", a.status, a.raw)
	}

	a = post(t, l.url+"/v1/deploy", map[string]string{"Authorization": "Bearer " + deployer}, body)
	if a.status != http.StatusAccepted || a.body.Status != StateStarted {
		t.Fatalf("deployer's deploy: %d %s, want 202 started", a.status, a.raw)
	}
	if img, _ := l.image(t, "order-service"); img != "order-service:v2" {
		t.Fatalf("after a 202 the image is %s, want order-service:v2", img)
	}
	user := "system:serviceaccount:" + l.ns + ":deployer"
	lines := l.auditLines(t)
	if len(lines) != 1 || lines[0].Trigger != "webhook" || lines[0].RequestedBy != user || lines[0].ToImage != "order-service:v2" || lines[0].Result != "ok" {
		t.Fatalf("audit lines %+v, want one deploy to order-service:v2 with trigger webhook, requested_by %s, result ok", lines, user)
	}
	if !strings.Contains(l.logs.String(), `"caller":"`+user+`"`) {
		t.Errorf("the request log names no caller %s:\n%s", user, l.logs)
	}

	// Rollback with the same token.
	sandbox.WaitRolledOut(t, l.client, l.ns, "order-service", 90*time.Second)
	rb := []byte(fmt.Sprintf(`{"namespace":%q,"service":"order-service","reason":"pager"}`, l.ns))
	a = post(t, l.url+"/v1/rollback", map[string]string{"Authorization": "Bearer " + reader}, rb)
	if a.status != http.StatusForbidden {
		t.Fatalf("reader's rollback: %d %s, want 403", a.status, a.raw)
	}
	a = post(t, l.url+"/v1/rollback", map[string]string{"Authorization": "Bearer " + deployer}, rb)
	if a.status != http.StatusAccepted {
		t.Fatalf("deployer's rollback: %d %s, want 202", a.status, a.raw)
	}
	if img, _ := l.image(t, "order-service"); img != "order-service:v1" {
		t.Fatalf("after the rollback the image is %s, want order-service:v1", img)
	}
	lines = l.auditLines(t)
	if last := lines[len(lines)-1]; last.Action != "rollback" || last.Trigger != "webhook" || last.RequestedBy != user || last.Reason != "pager" {
		t.Fatalf("rollback audit line %+v, want rollback, trigger webhook, requested_by %s, reason pager", last, user)
	}
}

// A registry webhook: unsigned and mis-signed get 401 and deploy nothing; a signed one
// deploys exactly the mapped services (not the third); a replay deploys nothing. It measures
// webhook received to rollout started (the Deployment's generation moving).
func TestSandboxRegistryWebhook(t *testing.T) {
	l := startLive(t, func(ns string) []Trigger {
		return []Trigger{{Repository: "registry.example/shop/order", Targets: []Target{
			{Namespace: ns, Service: "order-service"}, {Namespace: ns, Service: "payment-service"}}}}
	})
	for _, name := range []string{"order-service", "payment-service", "cart-service"} {
		l.env.CreateDeployment(t, l.ns, name, name+":v1", 1)
	}
	body := []byte(`{"events":[{"id":"evt-1","action":"push","target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","repository":"shop/order","tag":"v2"},"request":{"host":"registry.example"}}]}`)
	url := l.url + "/v1/webhooks/registry"

	if a := post(t, url, nil, body); a.status != http.StatusUnauthorized {
		t.Fatalf("unsigned: %d %s, want 401", a.status, a.raw)
	}
	if a := post(t, url, map[string]string{SignatureHeader: Sign([]byte("wrong"), body)}, body); a.status != http.StatusUnauthorized {
		t.Fatalf("mis-signed: %d %s, want 401", a.status, a.raw)
	}
	if !strings.Contains(l.logs.String(), `"status":401`) {
		t.Errorf("the 401s are not logged:\n%s", l.logs)
	}
	for _, name := range []string{"order-service", "payment-service", "cart-service"} {
		if img, _ := l.image(t, name); img != name+":v1" {
			t.Fatalf("after unsigned webhooks %s runs %s, want %s:v1", name, img, name)
		}
	}
	unknown := []byte(`{"repository":"registry.example/other","tag":"v9"}`)
	if a := post(t, url, map[string]string{SignatureHeader: Sign(testSecret, unknown)}, unknown); a.status != http.StatusNotFound ||
		!strings.Contains(a.body.Message, "registry.example/other is not mapped") {
		t.Fatalf("unknown repository: %d %s, want 404 naming it", a.status, a.raw)
	}

	_, gen0 := l.image(t, "order-service")
	// A watch sees the moment the Deployment's generation moves (the rollout started).
	w, err := l.client.AppsV1().Deployments(l.ns).Watch(context.Background(), metav1.ListOptions{FieldSelector: "metadata.name=order-service"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	moved := make(chan time.Time, 1)
	go func() {
		for ev := range w.ResultChan() {
			if d, ok := ev.Object.(*appsv1.Deployment); ok && d.Generation != gen0 {
				moved <- time.Now()
				return
			}
		}
	}()
	start := time.Now()
	a := post(t, url, map[string]string{SignatureHeader: Sign(testSecret, body)}, body)
	answered := time.Since(start)
	if a.status != http.StatusAccepted || len(a.body.Services) != 2 {
		t.Fatalf("signed: %d %s, want 202 with two services", a.status, a.raw)
	}
	for _, s := range a.body.Services {
		if s.State != StateStarted || s.Image != "registry.example/shop/order:v2" {
			t.Errorf("service result %+v, want started with registry.example/shop/order:v2", s)
		}
	}
	select {
	case at := <-moved:
		t.Logf("webhook received to rollout started (order-service's generation changed): %.1f ms; answered (both services) after %.1f ms",
			float64(at.Sub(start).Microseconds())/1000, float64(answered.Microseconds())/1000)
	case <-time.After(10 * time.Second):
		t.Fatal("order-service's generation did not change within 10s")
	}
	for name, want := range map[string]string{"order-service": "registry.example/shop/order:v2",
		"payment-service": "registry.example/shop/order:v2", "cart-service": "cart-service:v1"} {
		if img, _ := l.image(t, name); img != want {
			t.Errorf("%s runs %s, want %s", name, img, want)
		}
	}
	lines := l.auditLines(t)
	if len(lines) != 2 {
		t.Fatalf("audit has %d lines, want 2 (one per mapped service): %+v", len(lines), lines)
	}
	for _, e := range lines {
		if e.Trigger != "registry" || e.RequestedBy != "registry registry.example/shop/order" {
			t.Errorf("audit line %+v, want trigger registry, requested_by registry registry.example/shop/order", e)
		}
	}

	// The same delivery again: nothing happens.
	a = post(t, url, map[string]string{SignatureHeader: Sign(testSecret, body)}, body)
	if a.status != http.StatusOK || a.body.Status != "already delivered" {
		t.Fatalf("replay: %d %s, want 200 already delivered", a.status, a.raw)
	}
	if n := len(l.auditLines(t)); n != 2 {
		t.Fatalf("after the replay the audit has %d lines, want still 2", n)
	}
}

// lockedWriter serializes writes of the request log, read by the test.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.(*bytes.Buffer).String()
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
