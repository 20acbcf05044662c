package listener

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
)

// The listener on a real socket answers 1,000 malformed requests (random bodies, wrong
// content types and methods, truncated JSON, bad signatures, huge headers, garbage on the
// wire) with a 4xx each, still serves a good request, and leaves no goroutine behind.
func TestListenerSurvivesMalformedRequests(t *testing.T) {
	d := &fakeDeployer{}
	s := testServer(d)
	baseline := runtime.NumGoroutine()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln, "", "") }()
	base := "http://" + ln.Addr().String()
	transport := &http.Transport{MaxIdleConnsPerHost: 4}
	client := &http.Client{Transport: transport, Timeout: 10 * time.Second}

	rng := rand.New(rand.NewPCG(1, 2))
	paths := []string{"/v1/deploy", "/v1/rollback", "/v1/webhooks/registry", "/v1/webhooks/github", "/v1/alertmanager", "/v2/nope"}
	valid := map[string]string{
		"/v1/deploy":            `{"namespace":"shop","service":"order-service","image":"order:v2","reason":"x"}`,
		"/v1/rollback":          `{"namespace":"shop","service":"order-service","reason":"x"}`,
		"/v1/webhooks/registry": `{"repository":"registry.example/shop/order","tag":"v9"}`,
		"/v1/webhooks/github":   `{"ref":"refs/heads/main","after":"abc","repository":{"full_name":"acme/shop","default_branch":"main"}}`,
		"/v1/alertmanager":      `{"version":"4","alerts":[{"status":"firing","labels":{"service":"order-service"}}]}`,
		"/v2/nope":              `{}`,
	}
	randomBytes := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		return b
	}
	statuses := map[int]int{}
	for i := range 1000 {
		path := paths[rng.IntN(len(paths))]
		method := http.MethodPost
		ctype := "application/json"
		var body []byte
		headers := map[string]string{"Authorization": "Bearer good", "X-GitHub-Event": "push"}
		switch i % 8 {
		case 0: // random bytes
			body = randomBytes(rng.IntN(4096))
		case 1: // truncated JSON
			v := valid[path]
			body = []byte(v[:rng.IntN(len(v)-1)])
		case 2: // wrong content type
			ctype = []string{"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "image/png"}[rng.IntN(4)]
			body = []byte(valid[path])
		case 3: // wrong method
			method = []string{http.MethodGet, http.MethodPut, http.MethodDelete, http.MethodPatch}[rng.IntN(4)]
			body = []byte(valid[path])
		case 4: // huge header
			headers["X-Padding"] = strings.Repeat("p", 128<<10+rng.IntN(64<<10))
			body = []byte(valid[path])
		case 5: // too big a body
			body = bytes.Repeat([]byte("{"), MaxBody+1+rng.IntN(100))
		case 6: // bad credentials and signatures on valid bodies
			body = []byte(valid[path])
			headers["Authorization"] = "Bearer nope"
			headers[SignatureHeader] = Sign([]byte("wrong"), body)
			headers[GitHubSignatureHeader] = Sign([]byte("wrong"), body)
		case 7: // signed random JSON-ish bodies
			body = []byte(fmt.Sprintf(`{"events":[{"action":%d,"target":"%x"}]`, rng.IntN(9), randomBytes(8)))
			headers[SignatureHeader] = Sign(testSecret, body)
			headers[GitHubSignatureHeader] = Sign(testSecret, body)
		}
		req, err := http.NewRequest(method, base+path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", ctype)
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatalf("request %d (%s %s, case %d): %v", i, method, path, i%8, err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		statuses[res.StatusCode]++
		if res.StatusCode < 400 || res.StatusCode >= 500 {
			t.Fatalf("request %d (%s %s, case %d, body %.80q) answered %d, want 4xx", i, method, path, i%8, body, res.StatusCode)
		}
	}
	// Garbage on the wire, not HTTP at all.
	for i := range 20 {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(c, "%s\r\n\r\n", randomBytes(10+i))
		line, _ := bufio.NewReader(c).ReadString('\n')
		c.Close()
		if !strings.HasPrefix(line, "HTTP/1.1 4") {
			t.Fatalf("garbage %d answered %q, want a 4xx status line", i, line)
		}
	}
	t.Logf("statuses of 1,000 malformed requests: %v", statuses)
	if len(d.requests) != 0 {
		t.Fatalf("malformed requests reached the deployer: %+v", d.requests)
	}

	good := `{"repository":"registry.example/shop/order","tag":"v10"}`
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/webhooks/registry", strings.NewReader(good))
	req.Header.Set(SignatureHeader, Sign(testSecret, []byte(good)))
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusAccepted || len(d.requests) != 1 {
		t.Fatalf("good request after the storm: %d, %d deploys; want 202 and one", res.StatusCode, len(d.requests))
	}

	// With the client's connections closed, only the server's two goroutines (Serve and
	// http.Server.Serve's accept loop) remain; after a shutdown, none.
	transport.CloseIdleConnections()
	waitGoroutines(t, baseline+2, "connections closed")
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve: %v", err)
	}
	waitGoroutines(t, baseline, "server shut down")
}

func waitGoroutines(t *testing.T, want int, when string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > want {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%s: %d goroutines, want at most %d:\n%s", when, runtime.NumGoroutine(), want, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}
