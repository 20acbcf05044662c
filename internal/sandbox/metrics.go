package sandbox

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// RulesEnv names a rule file that the sandbox's Prometheus loads (see Options.RecordingRules).
const RulesEnv = "OPSDECK_SANDBOX_RULES"

// PrometheusBinary is where Debian's prometheus package installs the server.
const PrometheusBinary = "/usr/bin/prometheus"

// startMetrics starts the metrics simulator and a Prometheus that scrapes it every second,
// and returns Prometheus' URL.
func (s *Sandbox) startMetrics(ctx context.Context, simulatorBin string) (string, error) {
	prom, err := exec.LookPath(PrometheusBinary)
	if err != nil {
		return "", fmt.Errorf("prometheus not found at %s: install Debian's package (apt-get install prometheus)", PrometheusBinary)
	}
	addrFile := s.path("simulator.addr")
	if _, err := s.start("simulator", simulatorBin, s.opts.Tied,
		"--kubeconfig="+s.Kubeconfig(), "--listen=127.0.0.1:0", "--addr-file="+addrFile,
		"--logs-dir="+s.path(PodLogsDir),
	); err != nil {
		return "", err
	}
	var simulatorAddr string
	if err := s.waitFor(ctx, "metrics simulator listening", 30*time.Second, func(context.Context) (bool, error) {
		b, err := os.ReadFile(addrFile)
		simulatorAddr = strings.TrimSpace(string(b))
		return err == nil && simulatorAddr != "", err
	}); err != nil {
		return "", err
	}

	// Only the simulator's loopback address is scraped: kwok's pod IPs are data, never
	// targets. honor_labels keeps the simulator's namespace and pod labels.
	config := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
- job_name: simulator
  honor_labels: true
  static_configs:
  - targets: ['%s']
`, simulatorAddr)
	if rules := cmp.Or(s.opts.RecordingRules, os.Getenv(RulesEnv)); rules != "" {
		abs, err := filepath.Abs(rules)
		if err != nil {
			return "", err
		}
		if _, err := os.Stat(abs); err != nil {
			return "", fmt.Errorf("recording rules: %w", err)
		}
		config += fmt.Sprintf("rule_files: [%q]\n", abs)
	}
	if err := os.WriteFile(s.path("prometheus.yml"), []byte(config), 0o644); err != nil {
		return "", err
	}
	promURL := fmt.Sprintf("http://127.0.0.1:%d", s.ports.prometheus)
	if _, err := s.start("prometheus", prom, s.opts.Tied,
		"--config.file="+s.path("prometheus.yml"),
		"--storage.tsdb.path="+s.path("prometheus"),
		"--storage.tsdb.retention.time=1d",
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", s.ports.prometheus),
		"--log.level=warn",
	); err != nil {
		return "", err
	}
	return promURL, s.waitFor(ctx, "prometheus ready", 60*time.Second, httpOK(promURL+"/-/ready", ""))
}

// waitSamples waits until Prometheus has a request rate for every ready pod of the seeded
// namespace (two samples each: rate() answers nothing with one): from then on, every query a
// test makes has data to read.
func (s *Sandbox) waitSamples(ctx context.Context, client kubernetes.Interface, promURL string) error {
	return s.waitFor(ctx, "prometheus has a request rate for every seeded pod", 3*time.Minute, func(ctx context.Context) (bool, error) {
		pods, err := client.CoreV1().Pods(Namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		seen, err := QueryLabels(ctx, promURL, fmt.Sprintf(`group by (pod) (rate(http_requests_total{namespace=%q}[1m]))`, Namespace), "pod")
		if err != nil {
			return false, err
		}
		missing := 0
		for _, p := range pods.Items {
			if podReady(p) && !seen[p.Name] {
				missing++
			}
		}
		return missing == 0 && len(pods.Items) > 0, fmt.Errorf("%d ready pods without samples", missing)
	})
}

func podReady(p corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// QueryLabels runs an instant PromQL query and returns the set of values of label among the
// result's series.
func QueryLabels(ctx context.Context, promURL, query, label string) (map[string]bool, error) {
	result, err := Query(ctx, promURL, query)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, r := range result {
		out[r.Metric[label]] = true
	}
	return out, nil
}

// Sample is one series of an instant query's vector result.
type Sample struct {
	Metric map[string]string
	Value  float64
}

// Query runs an instant PromQL query against promURL. It is the sandbox's own small client,
// for readiness checks and tests of the sandbox itself.
func Query(ctx context.Context, promURL, query string) ([]Sample, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, promURL+"/api/v1/query?query="+url.QueryEscape(query), nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("prometheus %s: %s: %w", promURL, resp.Status, err)
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("prometheus query %q: %s", query, body.Error)
	}
	out := make([]Sample, 0, len(body.Data.Result))
	for _, r := range body.Data.Result {
		var v float64
		if str, ok := r.Value[1].(string); ok {
			fmt.Sscan(str, &v)
		}
		out = append(out, Sample{Metric: r.Metric, Value: v})
	}
	return out, nil
}
