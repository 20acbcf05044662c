// Package metrics reads opsdeck's metrics from Prometheus: a fixed number of instant queries
// per refresh, aggregated by Prometheus per ReplicaSet and here per service (summed numerators
// over summed denominators), and range queries for one service's history.
package metrics

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/transport"
	"sigs.k8s.io/yaml"

	"github.com/opsdeck/opsdeck/config"
	"github.com/opsdeck/opsdeck/internal/domain"
)

// Source reads metrics from one Prometheus. It is safe for concurrent use.
type Source struct {
	api     v1.API
	target  string // how errors name this Prometheus: its URL, or the service behind the proxy
	timeout time.Duration
	b       builder
	now     func() time.Time

	// rulesApply: the configured queries are the ones the recording rules precompute.
	rulesApply   bool
	rulesMu      sync.Mutex
	rulesOn      bool
	rulesChecked time.Time

	// pods are the pod names learned from Prometheus while the watch is young.
	pods podBook
}

// New connects to the Prometheus that p names: p.URL with its authentication and TLS settings,
// or, when p.Service is set, the API server's service proxy with rc's credentials. q holds the
// per-pod query templates. It does not dial; Ping does.
func New(p config.Prometheus, q config.Queries, rc *rest.Config) (*Source, error) {
	s := &Source{
		timeout: p.Timeout.Duration,
		b:       newBuilder(withDefaults(q), p.WorkloadLabel),
		now:     time.Now,
	}
	s.rulesApply = rulesApply(s.b.q, p.WorkloadLabel)
	if s.timeout <= 0 {
		s.timeout = 5 * time.Second
	}
	var cfg api.Config
	var err error
	if p.Service != "" {
		s.target = p.Service + " (service proxy)"
		cfg, err = proxyClient(p.Service, rc)
	} else {
		s.target = p.URL
		cfg, err = directClient(p)
	}
	if err != nil {
		return nil, fmt.Errorf("prometheus %s: %w", s.target, err)
	}
	c, err := api.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("prometheus %s: %w", s.target, err)
	}
	s.api = v1.NewAPI(c)
	return s, nil
}

// withDefaults fills the templates that q leaves empty.
func withDefaults(q config.Queries) config.Queries {
	d := config.DefaultQueries()
	for _, f := range []struct{ dst, def *string }{
		{&q.Requests, &d.Requests}, {&q.Errors, &d.Errors}, {&q.Latency, &d.Latency}, {&q.CPU, &d.CPU}, {&q.Memory, &d.Memory},
	} {
		if strings.TrimSpace(*f.dst) == "" {
			*f.dst = *f.def
		}
	}
	if q.Window.Duration <= 0 {
		q.Window = d.Window
	}
	return q
}

// directClient reaches Prometheus at p.URL; client-go's transport package builds the TLS
// config and the bearer (re-read from its file) or basic auth wrappers.
func directClient(p config.Prometheus) (api.Config, error) {
	u, err := url.Parse(p.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return api.Config{}, fmt.Errorf("not an http or https URL")
	}
	tc := &transport.Config{
		UserAgent:       "opsdeck",
		BearerToken:     p.BearerToken,
		BearerTokenFile: p.BearerTokenFile,
		TLS: transport.TLSConfig{
			CAFile:   p.TLS.CAFile,
			CertFile: p.TLS.CertFile,
			KeyFile:  p.TLS.KeyFile,
			Insecure: p.TLS.InsecureSkipVerify,
		},
	}
	if b := p.BasicAuth; b != nil {
		tc.Username, tc.Password = b.Username, b.Password
		if b.PasswordFile != "" {
			pw, err := readSecret(b.PasswordFile)
			if err != nil {
				return api.Config{}, err
			}
			tc.Password = pw
		}
	}
	tlsConfig, err := transport.TLSConfigFor(tc)
	if err != nil {
		return api.Config{}, err
	}
	base := api.DefaultRoundTripper.(*http.Transport).Clone()
	base.TLSClientConfig = tlsConfig
	base.MaxIdleConnsPerHost = 2 * numFrameQueries // a frame's queries run at once: keep their connections
	tc.TLS = transport.TLSConfig{}
	rt, err := transport.HTTPWrappersForConfig(tc, base)
	if err != nil {
		return api.Config{}, err
	}
	return api.Config{Address: p.URL, RoundTripper: rt}, nil
}

// proxyClient reaches Prometheus through the API server's service proxy,
// /api/v1/namespaces/NS/services/NAME:PORT/proxy/, with rc's client.
func proxyClient(service string, rc *rest.Config) (api.Config, error) {
	if rc == nil {
		return api.Config{}, fmt.Errorf("prometheus.service needs a connection to the cluster")
	}
	ns, name, ok := strings.Cut(service, "/")
	if !ok || ns == "" || name == "" {
		return api.Config{}, fmt.Errorf("want NAMESPACE/NAME:PORT")
	}
	hc, err := rest.HTTPClientFor(rc)
	if err != nil {
		return api.Config{}, err
	}
	base, _, err := rest.DefaultServerUrlFor(rc)
	if err != nil {
		return api.Config{}, err
	}
	u := *base
	u.Path = path.Join("/", base.Path, "api", "v1", "namespaces", ns, "services", name, "proxy")
	return api.Config{Address: u.String(), Client: hc}, nil
}

// Frame reads the latest value of every metric for services and their ReplicaSets with at
// most numFrameQueries concurrent instant queries (Frame.Queries), whatever the number of
// services. The queries are scoped to the services' namespaces and Deployments, so callers
// pass what they need (the rows on screen, what rolls out), not the fleet. They read the
// recorded series of config/examples/prometheus-rules.yaml when Prometheus has them. A
// failure leaves the frame empty, with Err in one line.
func (s *Source) Frame(ctx context.Context, services []domain.Service) domain.MetricsFrame {
	at := s.now()
	f := domain.MetricsFrame{At: at}
	if len(services) == 0 {
		return f
	}
	queries := s.frameBuilder(ctx, services, at).frameQueries(services, detailServices(services))

	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var res [numFrameQueries]model.Value
	var errs [numFrameQueries]error
	var wg sync.WaitGroup
	for i, q := range queries {
		if q == "" {
			continue
		}
		f.Queries++
		wg.Go(func() {
			res[i], _, _, errs[i] = s.api.Query(ctx, q, at, v1.WithTimeout(s.timeout))
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			f.Err = s.wrap(queryNames[i], err)
			return f
		}
	}
	f.Services, f.ReplicaSets = aggregate(rawFrom(res, s.b.label), services)
	return f
}

// FrameQueries are the queries Frame would ask for services now ("" for one not asked),
// learning pod names as Frame does.
func (s *Source) FrameQueries(ctx context.Context, services []domain.Service) []string {
	q := s.frameBuilder(ctx, services, s.now()).frameQueries(services, detailServices(services))
	return q[:]
}

// frameBuilder is the builder of a frame of services at a time: reading the recorded series
// if Prometheus has them, and the pod names learned for services.
func (s *Source) frameBuilder(ctx context.Context, services []domain.Service, at time.Time) builder {
	b := s.b
	b.rules = s.useRules(ctx)
	b.now = at
	b.learned = s.learn(ctx, b, services, at)
	return b
}

// detailServices are the services that need a p99 per ReplicaSet: those with more than one
// ReplicaSet running pods (a rollout, or a blue-green pair with both colours up). For the
// others a ReplicaSet's p99 is its Deployment's.
func detailServices(services []domain.Service) []domain.Service {
	var out []domain.Service
	for _, svc := range services {
		n := 0
		for _, rs := range svc.ReplicaSets {
			if rs.Replicas > 0 {
				n++
			}
		}
		if n > 1 || svc.Phase == domain.PhaseProgressing {
			out = append(out, svc)
		}
	}
	return out
}

// UsesRules tells whether frames read the recorded series (after the last look-up).
func (s *Source) UsesRules() bool {
	s.rulesMu.Lock()
	defer s.rulesMu.Unlock()
	return s.rulesOn
}

// useRules looks up, at most every rulesRecheck, whether Prometheus records the series of
// config/examples/prometheus-rules.yaml, and whether they compute what the configured queries
// do.
func (s *Source) useRules(ctx context.Context) bool {
	if !s.rulesApply {
		return false
	}
	s.rulesMu.Lock()
	defer s.rulesMu.Unlock()
	if now := s.now(); s.rulesChecked.IsZero() || now.Sub(s.rulesChecked) >= rulesRecheck {
		ctx, cancel := context.WithTimeout(ctx, s.timeout)
		defer cancel()
		s.rulesOn = s.detectRules(ctx)
		s.rulesChecked = now
	}
	return s.rulesOn
}

// ScrapeInterval is the longest scrape interval of Prometheus' configuration (global and per
// job): no refresh can see new samples more often than that. 0 when it cannot be read (the
// status API may be forbidden through a proxy).
func (s *Source) ScrapeInterval(ctx context.Context) time.Duration {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	cfg, err := s.api.Config(ctx)
	if err != nil {
		return 0
	}
	return scrapeIntervalOf(cfg.YAML)
}

// scrapeIntervalOf reads the longest scrape_interval of a Prometheus configuration.
func scrapeIntervalOf(doc string) time.Duration {
	var c struct {
		Global struct {
			ScrapeInterval string `json:"scrape_interval"`
		} `json:"global"`
		ScrapeConfigs []struct {
			ScrapeInterval string `json:"scrape_interval"`
		} `json:"scrape_configs"`
	}
	if err := yaml.Unmarshal([]byte(doc), &c); err != nil {
		return 0
	}
	var longest time.Duration
	for _, v := range append([]string{c.Global.ScrapeInterval}, func() []string {
		var out []string
		for _, sc := range c.ScrapeConfigs {
			out = append(out, sc.ScrapeInterval)
		}
		return out
	}()...) {
		if d, err := model.ParseDuration(v); err == nil && time.Duration(d) > longest {
			longest = time.Duration(d)
		}
	}
	return longest
}

// History reads svc's series over the last window at step: for each metric one range query,
// which returns the whole service's series (ReplicaSet "") and each ReplicaSet's. Series come
// in the order of domain.Metrics, the service first, then its ReplicaSets newest first.
func (s *Source) History(ctx context.Context, svc domain.Service, window, step time.Duration) ([]domain.Series, error) {
	if window <= 0 || step <= 0 {
		return nil, fmt.Errorf("history of %s: window and step must be positive", svc.Key())
	}
	end := s.now()
	return s.seriesOver(ctx, svc, v1.Range{Start: end.Add(-window), End: end, Step: step}, "history")
}

// seriesOver runs svc's history queries, one per metric and at once, over r; what names the
// read in an error ("history", "range").
func (s *Source) seriesOver(ctx context.Context, svc domain.Service, r v1.Range, what string) ([]domain.Series, error) {
	queries := s.b.historyQueries(svc)
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	res := make([]model.Value, len(domain.Metrics))
	errs := make([]error, len(domain.Metrics))
	var wg sync.WaitGroup
	for i, m := range domain.Metrics {
		wg.Go(func() {
			res[i], _, _, errs[i] = s.api.QueryRange(ctx, queries[m], r, v1.WithTimeout(s.timeout))
		})
	}
	wg.Wait()
	var out []domain.Series
	for i, m := range domain.Metrics {
		if errs[i] != nil {
			return nil, s.wrap(string(m)+" "+what, errs[i])
		}
		out = append(out, seriesFrom(m, res[i], s.b.label, svc)...)
	}
	return out, nil
}

// Ping asks Prometheus the simplest query, to tell whether it answers.
func (s *Source) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if _, _, _, err := s.api.Query(ctx, "vector(1)", s.now()); err != nil {
		return s.wrap("", err)
	}
	return nil
}
