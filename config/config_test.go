package config

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/internal/domain"
	"sigs.k8s.io/yaml"
)

func TestCheck(t *testing.T) {
	tests := []struct {
		file string
		want []string
	}{
		{"good.yaml", nil},
		{"empty.yaml", nil},
		{"malformed.yaml", []string{
			"yaml: line 4: mapping values are not allowed in this context",
		}},
		{"wrong-type.yaml", []string{
			"prometheus.tls.insecure_skip_verify: must be true or false, not a string (\"maybe\")",
			"refresh: must be a duration such as \"20s\", not a list",
			"thresholds.errors.above: must be a number, not a string (\"high\")",
		}},
		{"unknown-field.yaml", []string{
			"colour: unknown field (known: blue_green, guard, keys, listener, notify, policies, prometheus, queries, refresh, services, thresholds, triggers)",
			"prometheus.urll: unknown field (did you mean url?)",
			"thresholds.errors.abvoe: unknown field (did you mean above?)",
		}},
		{"bad-duration.yaml", []string{
			"guard.window: must be a duration such as \"20s\" or \"1m30s\", not \"15 minutes\"",
			"refresh: must be a duration such as \"20s\" or \"1m30s\", not \"fast\"",
			"thresholds.p99.for: must be a duration such as \"20s\", not a number (30)",
		}},
		{"above-and-below.yaml", []string{
			"thresholds.rps: set above or below, not both",
		}},
		{"bad-action.yaml", []string{
			"thresholds.memory.action: must be alert or rollback, not \"page\"",
		}},
		{"many-problems.yaml", []string{
			"prometheus.service: set url or service, not both",
			"refresh: must be at least 100ms, not 10ms",
			"prometheus.bearer_token_file: /nonexistent/opsdeck-token: no such file",
			"prometheus.workload_label: must be a Prometheus label name, not \"app-name\"",
			"queries.cpu: must contain $selector inside its label matchers, e.g. metric{$selector}",
			"thresholds.errors.above: must be a number between 0 and 1 (a ratio: 0.05 is 5 %), not 5",
			"thresholds.latency: unknown metric (want one of rps, errors, p99, cpu, memory, memory_growth)",
			"thresholds.memory.below: must be a number of at least 0 (bytes), not -1",
			"services.payment-service.thresholds.errors: set above or below, not both",
			"guard.no_data: must be inconclusive or rollback, not \"panic\"",
			"notify.alertmanager_url: must be an http or https URL, not \"alertmanager:9093\"",
			"keys.rollback[0]: \"d\" is also bound to deploy",
			"keys.dance: unknown action (want one of deploy, rollback, guard, pause, restart, scale, filter, help, quit, up, down, top, bottom, details, next-pane, cancel, confirm, sort, release, timeline, logs, approve, cancel-pending, run-now, next-pod, prev-pod, previous-log)",
		}},
		{"missing.yaml", []string{"no such file"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			var got []string
			for _, err := range Check(filepath.Join("testdata", tt.file)) {
				got = append(got, err.Error())
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Check(%s):\n got  %q\n want %q", tt.file, got, tt.want)
			}
			for _, line := range got {
				if strings.Contains(line, "\n") {
					t.Errorf("problem on more than one line: %q", line)
				}
			}
		})
	}
}

func TestLoadGood(t *testing.T) {
	c, err := Load("testdata/good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Refresh = D(time.Second)
	want.Prometheus.URL = "https://prometheus.example.internal:9090"
	want.Prometheus.Timeout = D(3 * time.Second)
	want.Prometheus.TLS.InsecureSkipVerify = true
	want.Prometheus.WorkloadLabel = "replicaset"
	want.Queries.Window = D(2 * time.Minute)
	want.Thresholds["errors"] = Rule{Above: float(0.02), For: D(20 * time.Second), Action: ActionRollback}
	want.Thresholds["rps"] = Rule{Below: float(5), For: D(time.Minute), Action: ActionAlert}
	delete(want.Thresholds, "cpu")
	want.Services["payment-service"] = ServiceConfig{Thresholds: map[string]Rule{
		"p99":    {Above: float(2.5), For: D(30 * time.Second), Action: ActionRollback},
		"errors": {Above: float(0.02), For: D(20 * time.Second), Action: ActionAlert},
	}}
	want.Guard.NoData = NoDataRollback
	want.Notify.WebhookURL = "http://127.0.0.1:8080/hook"
	want.Keys["guard"] = []string{"g", "G"}
	if !reflect.DeepEqual(c, want) {
		got, _ := yaml.Marshal(c)
		exp, _ := yaml.Marshal(want)
		t.Errorf("Load(good.yaml):\n%s\nwant:\n%s", got, exp)
	}

	ts := c.ThresholdSet()
	if th, _ := ts.For("payment-service", domain.MetricErrorRatio); th.Rollback || th.Value != 0.02 {
		t.Errorf("payment-service errors = %+v, want alert at 0.02", th)
	}
	if th, _ := ts.For("order-service", domain.MetricErrorRatio); !th.Rollback || th.For != 20*time.Second {
		t.Errorf("order-service errors = %+v, want rollback after 20s", th)
	}
	if th, _ := ts.For("order-service", domain.MetricRequestRate); !th.Below || th.Value != 5 || !th.Breached(4) {
		t.Errorf("rps = %+v, want below 5", th)
	}
	if _, ok := ts.For("order-service", domain.MetricCPU); ok {
		t.Error("cpu rule removed by null is still there")
	}
}

func TestLoadError(t *testing.T) {
	_, err := Load("testdata/bad-action.yaml")
	var ce *Error
	if !errors.As(err, &ce) || len(ce.Problems) != 1 {
		t.Fatalf("Load = %v, want one problem", err)
	}
	want := `config testdata/bad-action.yaml: thresholds.memory.action: must be alert or rollback, not "page"`
	if err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
}

// The embedded default.yaml documents the defaults; it must say exactly what Default returns.
func TestDefaultYAMLIsDefault(t *testing.T) {
	var c Config
	if err := yaml.UnmarshalStrict(DefaultYAML(), &c); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, Default()) {
		got, _ := yaml.Marshal(c)
		want, _ := yaml.Marshal(Default())
		t.Errorf("default.yaml decodes to\n%s\nDefault() is\n%s", got, want)
	}
	if errs := Default().Validate(); errs != nil {
		t.Errorf("defaults are invalid: %v", errs)
	}
	c, errs := Parse(DefaultYAML())
	if errs != nil || !reflect.DeepEqual(c, Default()) {
		t.Errorf("Parse(default.yaml) = %v", errs)
	}
	ts := Default().ThresholdSet()
	want := map[domain.Metric]domain.Threshold{
		domain.MetricErrorRatio:   {Metric: domain.MetricErrorRatio, Value: 0.05, For: 20 * time.Second, Rollback: true},
		domain.MetricLatencyP99:   {Metric: domain.MetricLatencyP99, Value: 1, For: 30 * time.Second, Rollback: true},
		domain.MetricCPU:          {Metric: domain.MetricCPU, Value: 0.9, For: time.Minute, OfRequest: true},
		domain.MetricMemory:       {Metric: domain.MetricMemory, Value: 1 << 30, For: time.Minute},
		domain.MetricMemoryGrowth: {Metric: domain.MetricMemoryGrowth, Value: 1 << 20, For: time.Minute},
	}
	if !reflect.DeepEqual(ts.Default, want) {
		t.Errorf("default thresholds %+v", ts.Default)
	}
}

func TestLoadDefaultPath(t *testing.T) {
	xdg := t.TempDir()
	home := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", xdg)
	t.Setenv("HOME", home)

	c, err := Load("")
	if err != nil || !reflect.DeepEqual(c, Default()) {
		t.Fatalf("no file: Load = %v, want the defaults", err)
	}

	write := func(dir, body string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Join(dir, "opsdeck"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "opsdeck", "config.yaml"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(home, ".config"), "refresh: 3s\n")
	if c, _ := Load(""); c.Refresh.Duration != 3*time.Second {
		t.Errorf("~/.config file: refresh %s, want 3s", c.Refresh)
	}
	write(xdg, "refresh: 4s\n")
	if c, _ := Load(""); c.Refresh.Duration != 4*time.Second {
		t.Errorf("XDG file: refresh %s, want 4s", c.Refresh)
	}
}

func TestDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		20 * time.Second:                 `"20s"`,
		time.Minute:                      `"1m"`,
		90 * time.Second:                 `"1m30s"`,
		time.Hour:                        `"1h"`,
		1500 * time.Millisecond:          `"1.5s"`,
		0:                                `"0s"`,
		time.Hour + 30*time.Minute:       `"1h30m"`,
		2*time.Hour + 5*time.Millisecond: `"2h0m0.005s"`,
	} {
		b, err := D(d).MarshalJSON()
		if err != nil || string(b) != want {
			t.Errorf("%v marshals to %s, want %s", d, b, want)
		}
		var back Duration
		if err := back.UnmarshalJSON(b); err != nil || back.Duration != d {
			t.Errorf("%s reads back as %v (%v)", b, back, err)
		}
	}
}

func TestOfRequest(t *testing.T) {
	web := domain.Service{Name: "web", CPURequest: 0.25}
	for _, tc := range []struct {
		name      string
		yaml      string
		problems  []string
		ofRequest bool
		limit     float64 // resolved cpu limit for web (request 0.25 cores)
	}{
		{"default", ``, nil, true, 0.225},
		{"new bound in cores resets of_request", "thresholds:\n  cpu: {above: 1.5}\n", nil, false, 1.5},
		{"new fraction", "thresholds:\n  cpu: {above: 0.8, of_request: true}\n", nil, true, 0.2},
		{"off", "thresholds:\n  cpu: {of_request: false}\n", nil, false, 0.9},
		{"per service keeps of_request", "services:\n  web:\n    thresholds:\n      cpu: {for: 2m}\n", nil, true, 0.225},
		{"not on memory", "thresholds:\n  memory: {of_request: true}\n", []string{
			"thresholds.memory.of_request: is only allowed on cpu (a fraction of the CPU request), not on memory",
		}, false, 0},
		{"not on a service's p99", "services:\n  web:\n    thresholds:\n      p99: {above: 2, of_request: true}\n", []string{
			"services.web.thresholds.p99.of_request: is only allowed on cpu (a fraction of the CPU request), not on p99",
		}, false, 0},
		{"memory growth is alert only", "thresholds:\n  memory_growth: {action: rollback}\n", []string{
			"thresholds.memory_growth.action: must be alert: the guard does not roll back on memory growth",
		}, false, 0},
	} {
		c, errs := Parse([]byte(tc.yaml))
		var got []string
		for _, e := range errs {
			got = append(got, e.Error())
		}
		if !reflect.DeepEqual(got, tc.problems) {
			t.Errorf("%s: problems %q, want %q", tc.name, got, tc.problems)
			continue
		}
		if tc.problems != nil {
			continue
		}
		th, ok := c.ThresholdSet().ForService(web, domain.MetricCPU)
		raw, _ := c.ThresholdSet().For("web", domain.MetricCPU)
		if !ok || raw.OfRequest != tc.ofRequest || math.Abs(th.Value-tc.limit) > 1e-9 {
			t.Errorf("%s: cpu rule %+v resolved to %g, want of_request %v and %g", tc.name, raw, th.Value, tc.ofRequest, tc.limit)
		}
	}
}

// A key may serve an action of the logs view and one of the main screen alone (they never
// apply together), as tab and p do by default; within one screen it may serve one action.
func TestKeysClashOnlyWithinAScreen(t *testing.T) {
	for _, tt := range []struct {
		keys map[string][]string
		want []string
	}{
		{map[string][]string{"next-pane": {"tab"}, "next-pod": {"tab"}, "pause": {"p"}, "previous-log": {"p"}}, nil},
		{map[string][]string{"filter": {"/"}, "next-pod": {"/"}}, []string{`keys.next-pod[0]: "/" is also bound to filter`}},
		{map[string][]string{"next-pod": {"n"}, "prev-pod": {"n"}}, []string{`keys.prev-pod[0]: "n" is also bound to next-pod`}},
		{map[string][]string{"deploy": {"x"}, "pause": {"x"}}, []string{`keys.pause[0]: "x" is also bound to deploy`}},
	} {
		var errs []error
		validateKeys(&errs, tt.keys)
		var got []string
		for _, err := range errs {
			got = append(got, err.Error())
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("keys %v: got %q, want %q", tt.keys, got, tt.want)
		}
	}
}
