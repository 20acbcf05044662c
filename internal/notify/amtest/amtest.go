// Package amtest starts a real Alertmanager (Debian's prometheus-alertmanager) on loopback for
// tests, and reads back the alerts it holds.
package amtest

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Binary is where Debian's prometheus-alertmanager package installs the server.
const Binary = "/usr/bin/prometheus-alertmanager"

// Start runs an Alertmanager for the test and returns its URL. It is stopped at cleanup. A
// missing binary fails the test where OPSDECK_REQUIRE_PROMETHEUS is set (CI), else skips.
func Start(t testing.TB) string {
	t.Helper()
	return StartWithConfig(t, "route:\n  receiver: 'null'\nreceivers:\n- name: 'null'\n")
}

// StartWithConfig is Start with cfg as Alertmanager's configuration file (routes, receivers),
// e.g. a webhook receiver on loopback. Its receivers must send nowhere but 127.0.0.1.
func StartWithConfig(t testing.TB, cfg string) string {
	t.Helper()
	if _, err := os.Stat(Binary); err != nil {
		if os.Getenv("OPSDECK_REQUIRE_PROMETHEUS") != "" {
			t.Fatalf("%s missing: apt-get install prometheus-alertmanager", Binary)
		}
		t.Skipf("%s missing: apt-get install prometheus-alertmanager", Binary)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "am.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	log, err := os.Create(filepath.Join(dir, "am.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(Binary, "--config.file="+filepath.Join(dir, "am.yml"),
		"--storage.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr,
		// No gossip: a single instance that dials nobody.
		"--cluster.listen-address=")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	url := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return url
			}
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(log.Name())
			t.Fatalf("alertmanager not ready at %s: %v\n%s", url, err, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Alert is an alert as Alertmanager's API lists it.
type Alert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	Status      struct {
		State string `json:"state"`
	} `json:"status"`
}

// Active lists the alerts Alertmanager holds as active (not resolved).
func Active(ctx context.Context, url string) ([]Alert, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/api/v2/alerts?active=true&silenced=false&inhibited=false", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("alertmanager: %s", resp.Status)
	}
	var out []Alert
	return out, json.NewDecoder(resp.Body).Decode(&out)
}
