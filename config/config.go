// Package config holds opsdeck's configuration: its types, the embedded defaults, loading a
// user's YAML file over them, and validation with messages that name the YAML field.
package config

import (
	_ "embed"
	"time"

	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/internal/release"
)

//go:embed default.yaml
var defaultYAML []byte

// DefaultYAML is the embedded default configuration file, with a comment on every field.
func DefaultYAML() []byte { return append([]byte(nil), defaultYAML...) }

// Config is the whole configuration of opsdeck.
type Config struct {
	// Refresh is how often metrics are read.
	Refresh    Duration   `json:"refresh"`
	Prometheus Prometheus `json:"prometheus"`
	// Queries are the PromQL templates of each metric, per pod.
	Queries Queries `json:"queries"`
	// Thresholds are the rules per metric, keyed by domain.Metric name: rps, errors, p99, cpu,
	// memory.
	Thresholds map[string]Rule `json:"thresholds"`
	// Services holds per-service overrides, keyed by service name.
	Services map[string]ServiceConfig `json:"services"`
	Guard    Guard                    `json:"guard"`
	// BlueGreen configures blue-green deploys.
	BlueGreen BlueGreen `json:"blue_green"`
	Notify    Notify    `json:"notify"`
	// Keys binds console actions to keys; see KeyActions.
	Keys map[string][]string `json:"keys"`
	// Listener configures `opsdeck guard --listen`: webhook secrets and the Alertmanager receiver.
	Listener Listener `json:"listener"`
	// Triggers map a registry repository or a git repository to the services it deploys.
	Triggers []Trigger `json:"triggers"`
	// Policies says which triggers, tags and windows may deploy each service, and whether an
	// automated deploy needs approval (a default and per-service entries; Deployment
	// annotations opsdeck.io/... override them).
	Policies release.PolicyConfig `json:"policies"`
}

// Listener configures the HTTP listener of `opsdeck guard --listen`. Secrets are read from
// files or the environment, never written inline in the config.
type Listener struct {
	// WebhookSecretFile holds the HMAC-SHA256 shared secret of registry and git webhooks.
	WebhookSecretFile string `json:"webhook_secret_file"`
	// WebhookSecretEnv names an environment variable holding that secret (when no file).
	WebhookSecretEnv string `json:"webhook_secret_env"`
	// AlertmanagerTokenFile holds the bearer token Alertmanager sends
	// (http_config.authorization.credentials_file); empty: the receiver is off.
	AlertmanagerTokenFile string `json:"alertmanager_token_file"`
	// AlertServiceLabels are the alert labels that name the service, first present wins.
	AlertServiceLabels []string `json:"alert_service_labels"`
	// AlertNamespace is the namespace of an alert without a namespace label.
	AlertNamespace string `json:"alert_namespace"`
}

// Trigger maps a repository to the services a push to it deploys.
type Trigger struct {
	// Repository is a registry repository ("registry.example/shop/order", "shop/order") or a
	// git repository ("acme/shop", GitHub's full_name).
	Repository string `json:"repository"`
	// Image, for a git repository, is the image a push deploys: a template with ${sha} (the
	// pushed commit) or ${tag} (a release's or package's tag).
	Image string `json:"image"`
	// Services are "NAMESPACE/SERVICE" or "NAMESPACE/SERVICE/CONTAINER".
	Services []string `json:"services"`
}

// Prometheus says where and how to reach Prometheus.
type Prometheus struct {
	// URL is Prometheus's base URL, used when Service is empty.
	URL string `json:"url"`
	// Service is "NAMESPACE/NAME:PORT": reach Prometheus through the API server's service proxy
	// with the kubeconfig's credentials. When set, URL and the auth fields below are unused.
	Service string `json:"service"`
	// Timeout bounds every query.
	Timeout         Duration   `json:"timeout"`
	BearerToken     string     `json:"bearer_token"`
	BearerTokenFile string     `json:"bearer_token_file"`
	BasicAuth       *BasicAuth `json:"basic_auth,omitempty"`
	TLS             TLS        `json:"tls"`
	// WorkloadLabel, when set, is a label whose value is the pod's ReplicaSet name; queries
	// aggregate by it instead of deriving the ReplicaSet from the pod label with label_replace.
	WorkloadLabel string `json:"workload_label"`
}

// BasicAuth is HTTP basic authentication; PasswordFile is read at connection time.
type BasicAuth struct {
	Username     string `json:"username"`
	Password     string `json:"password"`
	PasswordFile string `json:"password_file"`
}

// TLS configures the connection to an https Prometheus.
type TLS struct {
	CAFile             string `json:"ca_file"`
	CertFile           string `json:"cert_file"`
	KeyFile            string `json:"key_file"`
	InsecureSkipVerify bool   `json:"insecure_skip_verify"`
}

// Placeholders substituted in query templates.
const (
	// PlaceholderSelector becomes the label matchers that scope a query (namespaces, pods).
	PlaceholderSelector = "$selector"
	// PlaceholderWindow becomes the rate window, such as 1m.
	PlaceholderWindow = "$window"
)

// Queries are PromQL templates that yield one series per pod (or per pod and container) for
// each metric; opsdeck aggregates them per ReplicaSet and per service. Each must contain
// $selector inside its label matchers; $window is the rate window.
type Queries struct {
	// Requests is the request rate.
	Requests string `json:"requests"`
	// Errors is the rate of 5xx responses.
	Errors string `json:"errors"`
	// Latency is the rate of the latency histogram's buckets (keeping the le label), in seconds.
	Latency string `json:"latency"`
	// CPU is CPU usage in cores.
	CPU string `json:"cpu"`
	// Memory is the working-set memory in bytes.
	Memory string `json:"memory"`
	// Window is the range of rate(), substituted for $window.
	Window Duration `json:"window"`
}

// Rule actions.
const (
	ActionAlert    = "alert"
	ActionRollback = "rollback"
)

// Rule is a threshold on one metric. Values are in raw units: ratio (0.05 = 5 %), seconds,
// cores, bytes, requests per second. Exactly one of Above and Below is set.
type Rule struct {
	Above *float64 `json:"above,omitempty"`
	Below *float64 `json:"below,omitempty"`
	// For is how long a breach lasts before the rule fires.
	For Duration `json:"for"`
	// Action is alert or rollback.
	Action string `json:"action"`
	// OfRequest (cpu only) makes the bound a fraction of each service's per-pod CPU request
	// (0.9 = 90 % of it); a service without a request is held to the bound in cores. Giving
	// above or below over a rule without of_request resets it to false.
	OfRequest bool `json:"of_request,omitempty"`
}

// ServiceConfig overrides settings for one service.
type ServiceConfig struct {
	// Thresholds override the rules of the same metrics; fields left out keep the global rule's.
	Thresholds map[string]Rule `json:"thresholds"`
}

// What the guard does when a service has no data.
const (
	NoDataInconclusive = "inconclusive"
	NoDataRollback     = "rollback"
)

// Guard configures auto-guard.
type Guard struct {
	// Window is how long after a rollout starts the guard watches it.
	Window Duration `json:"window"`
	// StableAfter is how long a rollout must stay healthy to be declared good.
	StableAfter Duration `json:"stable_after"`
	// NoData is inconclusive or rollback.
	NoData string `json:"no_data"`
	// CrashRestarts is how many restarts of a new revision's pods make a crash loop (a pod in
	// CrashLoopBackOff is one at once); fewer only alert.
	CrashRestarts int `json:"crash_restarts"`
	// Early is the early verdict on the 5xx and latency rules, from counted requests.
	Early Early `json:"early"`
}

// Early configures the early verdict: a rollback rule on the 5xx ratio or on p99 latency is
// breached at once when the new revision's counted requests show, with Confidence, that the
// share of failures (5xx, or slower than the bound) is above the rule's bound.
type Early struct {
	Enabled bool `json:"enabled"`
	// Confidence is 1 minus the chance that a revision whose true share is at or below the
	// bound is ever judged above it, however often the guard looks.
	Confidence float64 `json:"confidence"`
	// MinRequests is the fewest requests of the new revision an early verdict rests on.
	MinRequests int `json:"min_requests"`
}

// BlueGreen configures deploys of blue-green services.
type BlueGreen struct {
	// Preview is how long the new colour must stay Ready, passing the guard's rollback rules
	// on its own pods, before traffic switches to it (0s: as soon as it is Ready).
	Preview Duration `json:"preview"`
	// ScaleDownDelay is how long the previous colour stays at full scale after the switch,
	// ready for an instant switch back, before it is scaled to zero.
	ScaleDownDelay Duration `json:"scale_down_delay"`
}

// Notify says where alerts are sent besides the screen and Kubernetes Events.
type Notify struct {
	AlertmanagerURL string `json:"alertmanager_url"`
	WebhookURL      string `json:"webhook_url"`
}

// KeyActions are the console actions whose keys the config may rebind, in help order.
// ui/keys' tests hold it equal to the console's own list (keys.Names).
var KeyActions = []string{"deploy", "rollback", "guard", "pause", "restart", "scale", "filter", "help", "quit",
	"up", "down", "top", "bottom", "details", "next-pane", "cancel", "confirm", "sort", "release", "timeline", "logs",
	"approve", "cancel-pending", "run-now", "next-pod", "prev-pod", "previous-log"}

// Default is the configuration used when no file is given; it equals the embedded
// default.yaml.
func Default() Config {
	return Config{
		Refresh: D(2 * time.Second),
		Prometheus: Prometheus{
			URL:     "http://localhost:9090",
			Timeout: D(5 * time.Second),
		},
		Queries: DefaultQueries(),
		Thresholds: map[string]Rule{
			string(domain.MetricErrorRatio):   {Above: float(0.05), For: D(20 * time.Second), Action: ActionRollback},
			string(domain.MetricLatencyP99):   {Above: float(1), For: D(30 * time.Second), Action: ActionRollback},
			string(domain.MetricCPU):          {Above: float(0.9), For: D(time.Minute), Action: ActionAlert, OfRequest: true},
			string(domain.MetricMemory):       {Above: float(1 << 30), For: D(time.Minute), Action: ActionAlert},
			string(domain.MetricMemoryGrowth): {Above: float(1 << 20), For: D(time.Minute), Action: ActionAlert},
		},
		Services: map[string]ServiceConfig{},
		Guard: Guard{
			Window:        D(15 * time.Minute),
			StableAfter:   D(5 * time.Minute),
			NoData:        NoDataInconclusive,
			CrashRestarts: 3,
			Early: Early{
				Enabled:     true,
				Confidence:  1 - 1e-9,
				MinRequests: 50,
			},
		},
		BlueGreen: BlueGreen{
			Preview:        D(0),
			ScaleDownDelay: D(5 * time.Minute),
		},
		Keys: map[string][]string{
			"deploy":   {"d"},
			"rollback": {"r"},
			"guard":    {"a"},
			"pause":    {"p"},
			"restart":  {"R"},
			"scale":    {"s"},
			"filter":   {"/"},
			"help":     {"?"},
			"quit":     {"q", "ctrl+c"},
		},
		Listener: Listener{AlertServiceLabels: []string{"service", "deployment", "app"}},
	}
}

// DefaultQueries are the templates for the metric names of design.md: cAdvisor's container
// metrics and the common HTTP instrumentation.
func DefaultQueries() Queries {
	return Queries{
		Requests: `rate(http_requests_total{$selector}[$window])`,
		Errors:   `rate(http_requests_total{$selector,code=~"5.."}[$window])`,
		Latency:  `rate(http_request_duration_seconds_bucket{$selector}[$window])`,
		CPU:      `rate(container_cpu_usage_seconds_total{$selector,container!="",container!="POD"}[$window])`,
		Memory:   `container_memory_working_set_bytes{$selector,container!="",container!="POD"}`,
		Window:   D(time.Minute),
	}
}

func float(v float64) *float64 { return &v }
