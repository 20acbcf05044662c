// Package promtest starts a real Prometheus (Debian's /usr/bin/prometheus) for tests.
package promtest

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// RequireEnv, when set, makes a missing Prometheus a test failure instead of a skip (CI sets
// it).
const RequireEnv = "OPSDECK_REQUIRE_PROMETHEUS"

// Binary is the Prometheus that Start runs.
const Binary = "/usr/bin/prometheus"

// Start runs Prometheus on a free 127.0.0.1 port with a temporary TSDB, scraping targets
// (host:port, loopback only) every second with honor_labels, and returns its URL once it is
// ready. It stops when the test ends. Without Prometheus the test is skipped, unless
// OPSDECK_REQUIRE_PROMETHEUS is set.
func Start(t testing.TB, targets ...string) (url string) {
	t.Helper()
	return StartWithRules(t, "", targets...)
}

// StartWithRules is Start with a rule file (recording rules) loaded; "" loads none.
func StartWithRules(t testing.TB, rules string, targets ...string) (url string) {
	t.Helper()
	return StartWithAlerting(t, rules, nil, targets...)
}

// StartWithAlerting is StartWithRules that also sends the firing alerts of the rule file's
// alerting rules to the Alertmanagers (host:port, loopback only), evaluated every second.
func StartWithAlerting(t testing.TB, rules string, alertmanagers []string, targets ...string) (url string) {
	t.Helper()
	if _, err := os.Stat(Binary); err != nil {
		if os.Getenv(RequireEnv) != "" {
			t.Fatalf("%s is required (%s is set): %v", Binary, RequireEnv, err)
		}
		t.Skipf("%s not installed (set %s to make this a failure)", Binary, RequireEnv)
	}
	for _, target := range append(append([]string(nil), targets...), alertmanagers...) {
		host, _, err := net.SplitHostPort(target)
		if ip := net.ParseIP(host); err != nil || (host != "localhost" && (ip == nil || !ip.IsLoopback())) {
			t.Fatalf("promtest: target %q: only loopback host:port targets may be scraped", target)
		}
	}

	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	doc := config(targets)
	if rules != "" {
		abs, err := filepath.Abs(rules)
		if err != nil {
			t.Fatal(err)
		}
		doc += fmt.Sprintf("rule_files: [%q]\n", abs)
	}
	if len(alertmanagers) > 0 {
		doc += "alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: [" + quoted(alertmanagers) + "]\n"
	}
	if err := os.WriteFile(cfg, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}

	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		var flags []string
		if len(alertmanagers) > 0 {
			// Prometheus drops the alerts of the rounds before it has discovered its
			// Alertmanagers (a few seconds) and sends again only after the resend delay, a
			// minute by default: resend every second so an alert reaches them at once.
			flags = append(flags, "--rules.alert.resend-delay=1s")
		}
		url, err := run(t, cfg, filepath.Join(dir, fmt.Sprintf("data-%d", attempt)), port, flags...)
		if err == nil {
			return url
		}
		lastErr = err
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	t.Fatalf("promtest: %v", lastErr)
	return ""
}

func config(targets []string) string {
	var b strings.Builder
	b.WriteString("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n")
	b.WriteString("scrape_configs:\n  - job_name: opsdeck-test\n    honor_labels: true\n    static_configs:\n      - targets: [")
	b.WriteString(quoted(targets))
	b.WriteString("]\n")
	return b.String()
}

// quoted is hosts as a YAML flow list's items: "a", "b".
func quoted(hosts []string) string {
	var b strings.Builder
	for i, h := range hosts {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", h)
	}
	return b.String()
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// logBuffer keeps Prometheus's output for the test log.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// run starts Prometheus and waits until it is ready or has exited.
func run(t testing.TB, cfg, data string, port int, flags ...string) (string, error) {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command(Binary, append([]string{
		"--config.file=" + cfg,
		"--storage.tsdb.path=" + data,
		"--web.listen-address=" + addr,
		"--storage.tsdb.retention.time=1h",
		"--log.level=warn",
	}, flags...)...)
	var logs logBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		return "", err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}

	url := "http://" + addr
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-exited:
			return "", fmt.Errorf("prometheus exited (%v): %s", err, strings.TrimSpace(logs.String()))
		default:
		}
		if resp, err := client.Get(url + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			stop()
			return "", fmt.Errorf("prometheus on %s not ready within 60s: %s", addr, strings.TrimSpace(logs.String()))
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			if l := strings.TrimSpace(logs.String()); l != "" {
				t.Logf("prometheus log:\n%s", l)
			}
		}
	})
	return url, nil
}
