package config

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/opsdeck/opsdeck/internal/domain"
)

var (
	serviceRef = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?/(https?:)?[a-z0-9]([-a-z0-9.]*[a-z0-9])?:[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	labelName  = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

// Validate returns every invalid value of c, one error each, naming its YAML field.
func (c Config) Validate() []error {
	var errs []error
	add := func(path, format string, args ...any) { errs = append(errs, problem(path, format, args...)) }

	if err := c.Policies.Validate(); err != nil {
		add("policies", "%v", err)
	}
	if c.Refresh.Duration < 100*time.Millisecond {
		add("refresh", "must be at least 100ms, not %s", c.Refresh)
	}

	p := c.Prometheus
	switch {
	case p.Service != "":
		if !serviceRef.MatchString(p.Service) {
			add("prometheus.service", "must be NAMESPACE/NAME:PORT, such as monitoring/prometheus:9090, not %q", p.Service)
		}
	case p.URL == "":
		add("prometheus.url", "must be set (or prometheus.service)")
	default:
		checkURL(&errs, "prometheus.url", p.URL)
	}
	if p.Timeout.Duration <= 0 {
		add("prometheus.timeout", "must be a positive duration, not %s", p.Timeout)
	}
	if p.BearerToken != "" && p.BearerTokenFile != "" {
		add("prometheus.bearer_token_file", "set bearer_token or bearer_token_file, not both")
	}
	checkFile(&errs, "prometheus.bearer_token_file", p.BearerTokenFile)
	if b := p.BasicAuth; b != nil {
		if p.BearerToken != "" || p.BearerTokenFile != "" {
			add("prometheus.basic_auth", "set basic_auth or a bearer token, not both")
		}
		if b.Username == "" {
			add("prometheus.basic_auth.username", "must be set")
		}
		if b.Password != "" && b.PasswordFile != "" {
			add("prometheus.basic_auth.password_file", "set password or password_file, not both")
		}
		checkFile(&errs, "prometheus.basic_auth.password_file", b.PasswordFile)
	}
	if (p.TLS.CertFile == "") != (p.TLS.KeyFile == "") {
		add("prometheus.tls", "set cert_file and key_file together")
	}
	checkFile(&errs, "prometheus.tls.ca_file", p.TLS.CAFile)
	checkFile(&errs, "prometheus.tls.cert_file", p.TLS.CertFile)
	checkFile(&errs, "prometheus.tls.key_file", p.TLS.KeyFile)
	if p.WorkloadLabel != "" && !labelName.MatchString(p.WorkloadLabel) {
		add("prometheus.workload_label", "must be a Prometheus label name, not %q", p.WorkloadLabel)
	}

	q := c.Queries
	for _, t := range []struct{ name, expr string }{
		{"requests", q.Requests}, {"errors", q.Errors}, {"latency", q.Latency}, {"cpu", q.CPU}, {"memory", q.Memory},
	} {
		switch {
		case strings.TrimSpace(t.expr) == "":
			add("queries."+t.name, "must be a PromQL expression")
		case !strings.Contains(t.expr, PlaceholderSelector):
			add("queries."+t.name, "must contain %s inside its label matchers, e.g. metric{%s}", PlaceholderSelector, PlaceholderSelector)
		case strings.Count(t.expr, "(") != strings.Count(t.expr, ")") || strings.Count(t.expr, "{") != strings.Count(t.expr, "}"):
			add("queries."+t.name, "unbalanced brackets in %q", t.expr)
		}
	}
	if q.Window.Duration <= 0 || q.Window.Duration%time.Millisecond != 0 {
		add("queries.window", "must be a positive duration in whole milliseconds, not %s", q.Window)
	}

	for _, k := range sortedRuleKeys(c.Thresholds) {
		validateRule(&errs, child("thresholds", k), k, c.Thresholds[k])
	}
	names := make([]string, 0, len(c.Services))
	for name := range c.Services {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		path := child("services", name)
		if strings.TrimSpace(name) == "" {
			add(path, "a service name must not be empty")
		}
		rules := c.Services[name].Thresholds
		for _, k := range sortedRuleKeys(rules) {
			validateRule(&errs, child(child(path, "thresholds"), k), k, rules[k])
		}
	}

	if c.Guard.Window.Duration <= 0 {
		add("guard.window", "must be a positive duration, not %s", c.Guard.Window)
	}
	if c.Guard.StableAfter.Duration < 0 {
		add("guard.stable_after", "must not be negative")
	}
	if c.Guard.NoData != NoDataInconclusive && c.Guard.NoData != NoDataRollback {
		add("guard.no_data", "must be %s or %s, not %q", NoDataInconclusive, NoDataRollback, c.Guard.NoData)
	}
	if c.Guard.CrashRestarts < 1 {
		add("guard.crash_restarts", "must be at least 1, not %d", c.Guard.CrashRestarts)
	}
	if e := c.Guard.Early; !(e.Confidence >= 0.9 && e.Confidence < 1) {
		add("guard.early.confidence", "must be at least 0.9 and below 1 (0.999999999 is one false verdict in a billion), not %v", e.Confidence)
	}
	if c.Guard.Early.MinRequests < 1 {
		add("guard.early.min_requests", "must be at least 1, not %d", c.Guard.Early.MinRequests)
	}

	if c.BlueGreen.Preview.Duration < 0 {
		add("blue_green.preview", "must not be negative")
	}
	if c.BlueGreen.ScaleDownDelay.Duration < time.Second {
		add("blue_green.scale_down_delay", "must be at least 1s, not %s", c.BlueGreen.ScaleDownDelay)
	}

	if c.Notify.AlertmanagerURL != "" {
		checkURL(&errs, "notify.alertmanager_url", c.Notify.AlertmanagerURL)
	}
	if c.Notify.WebhookURL != "" {
		checkURL(&errs, "notify.webhook_url", c.Notify.WebhookURL)
	}

	validateKeys(&errs, c.Keys)
	validateListener(&errs, c.Listener, c.Triggers)
	return errs
}

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// validateListener checks the listener's secrets and the triggers' mappings.
func validateListener(errs *[]error, l Listener, triggers []Trigger) {
	add := func(path, format string, args ...any) { *errs = append(*errs, problem(path, format, args...)) }
	checkFile(errs, "listener.webhook_secret_file", l.WebhookSecretFile)
	checkFile(errs, "listener.alertmanager_token_file", l.AlertmanagerTokenFile)
	for i, name := range l.AlertServiceLabels {
		if !labelName.MatchString(name) {
			add(fmt.Sprintf("listener.alert_service_labels[%d]", i), "%q is not a label name", name)
		}
	}
	if len(triggers) > 0 && l.WebhookSecretFile == "" && l.WebhookSecretEnv == "" {
		add("listener.webhook_secret_file", "must be set (or listener.webhook_secret_env) when triggers are configured: webhooks are signed")
	}
	seen := map[string]bool{}
	for i, t := range triggers {
		path := fmt.Sprintf("triggers[%d]", i)
		switch {
		case t.Repository == "":
			add(path+".repository", "must be set: the registry or git repository, such as registry.example/shop/order or acme/shop")
		case seen[t.Repository]:
			add(path+".repository", "%q is mapped twice: list all its services in one trigger", t.Repository)
		}
		seen[t.Repository] = true
		if t.Image != "" && !strings.Contains(t.Image, "${sha}") && !strings.Contains(t.Image, "${tag}") {
			add(path+".image", "%q has neither ${sha} nor ${tag}: every push would deploy the same image", t.Image)
		}
		if len(t.Services) == 0 {
			add(path+".services", "must name at least one NAMESPACE/SERVICE")
		}
		for j, s := range t.Services {
			parts := strings.Split(s, "/")
			ok := len(parts) == 2 || len(parts) == 3
			for _, p := range parts {
				ok = ok && dnsLabel.MatchString(p)
			}
			if !ok {
				add(fmt.Sprintf("%s.services[%d]", path, j), "must be NAMESPACE/SERVICE or NAMESPACE/SERVICE/CONTAINER, not %q", s)
			}
		}
	}
}

func validateRule(errs *[]error, path, metric string, r Rule) {
	add := func(path, format string, args ...any) { *errs = append(*errs, problem(path, format, args...)) }
	m := domain.Metric(metric)
	if !slices.Contains(domain.RuleMetrics, m) {
		names := make([]string, len(domain.RuleMetrics))
		for i, m := range domain.RuleMetrics {
			names[i] = string(m)
		}
		add(path, "unknown metric (want one of %s)", strings.Join(names, ", "))
		return
	}
	switch {
	case r.Above != nil && r.Below != nil:
		add(path, "set above or below, not both")
	case r.Above == nil && r.Below == nil:
		add(path, "needs above or below")
	}
	for _, b := range []struct {
		name string
		v    *float64
	}{{"above", r.Above}, {"below", r.Below}} {
		if b.v == nil {
			continue
		}
		v := *b.v
		switch {
		case m == domain.MetricErrorRatio && (v < 0 || v > 1 || math.IsNaN(v)):
			add(path+"."+b.name, "must be a number between 0 and 1 (a ratio: 0.05 is 5 %%), not %g", v)
		case v < 0 || math.IsNaN(v) || math.IsInf(v, 0):
			add(path+"."+b.name, "must be a number of at least 0 (%s), not %g", rawUnit(m), v)
		}
	}
	if r.For.Duration < 0 {
		add(path+".for", "must not be negative")
	}
	if r.Action != ActionAlert && r.Action != ActionRollback {
		add(path+".action", "must be %s or %s, not %q", ActionAlert, ActionRollback, r.Action)
	} else if m == domain.MetricMemoryGrowth && r.Action != ActionAlert {
		add(path+".action", "must be %s: the guard does not roll back on memory growth", ActionAlert)
	}
	if r.OfRequest && m != domain.MetricCPU {
		add(path+".of_request", "is only allowed on cpu (a fraction of the CPU request), not on %s", metric)
	}
}

// rawUnit is the unit a threshold of m is written in.
func rawUnit(m domain.Metric) string {
	switch m {
	case domain.MetricRequestRate:
		return "requests per second"
	case domain.MetricLatencyP99:
		return "seconds"
	case domain.MetricCPU:
		return "cores"
	case domain.MetricMemory:
		return "bytes"
	case domain.MetricMemoryGrowth:
		return "bytes per second"
	}
	return "ratio"
}

func validateKeys(errs *[]error, keys map[string][]string) {
	add := func(path, format string, args ...any) { *errs = append(*errs, problem(path, format, args...)) }
	owner := map[string]string{}
	for _, action := range sortedKeyActions(keys) {
		path := child("keys", action)
		if !slices.Contains(KeyActions, action) {
			add(path, "unknown action (want one of %s)", strings.Join(KeyActions, ", "))
			continue
		}
		if len(keys[action]) == 0 {
			add(path, "must list at least one key")
		}
		for i, k := range keys[action] {
			kp := fmt.Sprintf("%s[%d]", path, i)
			if strings.TrimSpace(k) == "" {
				add(kp, "must not be empty")
				continue
			}
			if o, dup := owner[k]; dup && keysClash(o, action) {
				add(kp, "%q is also bound to %s", k, o)
				continue
			}
			owner[k] = action
		}
	}
}

// logsViewOwn are the logs view's own actions; logsViewShared those it shares with the main
// screen. A key may serve one of the view's own actions and an action of the main screen
// alone (by default tab is next-pane there and next-pod in the logs view): they never apply
// at the same time.
var (
	logsViewOwn    = []string{"next-pod", "prev-pod", "previous-log"}
	logsViewShared = []string{"filter", "quit", "cancel"}
)

// keysClash tells whether one key bound to actions a and b would be ambiguous.
func keysClash(a, b string) bool {
	if a == b {
		return false
	}
	inLogs := func(x string) bool { return slices.Contains(logsViewOwn, x) || slices.Contains(logsViewShared, x) }
	if slices.Contains(logsViewOwn, a) {
		return inLogs(b)
	}
	if slices.Contains(logsViewOwn, b) {
		return inLogs(a)
	}
	return true
}

// sortedKeyActions lists the actions of keys in KeyActions order, unknown ones last.
func sortedKeyActions(keys map[string][]string) []string {
	var out, unknown []string
	for _, a := range KeyActions {
		if _, ok := keys[a]; ok {
			out = append(out, a)
		}
	}
	for a := range keys {
		if !slices.Contains(KeyActions, a) {
			unknown = append(unknown, a)
		}
	}
	slices.Sort(unknown)
	return append(out, unknown...)
}

func sortedRuleKeys(rules map[string]Rule) []string {
	keys := make([]string, 0, len(rules))
	for k := range rules {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func checkURL(errs *[]error, path, raw string) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		*errs = append(*errs, problem(path, "must be an http or https URL, not %q", raw))
	}
}

func checkFile(errs *[]error, path, file string) {
	if file == "" {
		return
	}
	f, err := os.Open(file)
	if err != nil {
		msg := "cannot be read"
		switch {
		case errors.Is(err, fs.ErrNotExist):
			msg = "no such file"
		case errors.Is(err, fs.ErrPermission):
			msg = "permission denied"
		}
		*errs = append(*errs, problem(path, "%s: %s", file, msg))
		return
	}
	f.Close()
}
