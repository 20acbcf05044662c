// Package notify sends opsdeck's alerts and guard actions to the receivers an SRE already
// watches: Alertmanager (its v2 API) and plain webhooks. Kubernetes Events are recorded by the
// executor, next to the mutation they describe.
package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	neturl "net/url"
	"strings"
	"time"

	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/internal/safe"
)

// Notifier delivers alerts.
type Notifier interface {
	Notify(ctx context.Context, alerts []domain.Alert) error
}

// Multi sends to every notifier and joins their errors.
type Multi []Notifier

// Notify sends to each notifier in turn.
func (m Multi) Notify(ctx context.Context, alerts []domain.Alert) error {
	var errs []error
	for _, n := range m {
		if err := n.Notify(ctx, alerts); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Alertmanager posts alerts to an Alertmanager's /api/v2/alerts. Every alert carries an end
// time: a resolved one its resolution, which is how Alertmanager learns that it is over; a
// firing one the time it stays valid without being sent again (Validity), longer than the
// alerter's repeat interval, so that Alertmanager does not resolve it between two repeats
// (its resolve_timeout, 5 m by default, equals opsdeck's repeat) and raise it again: no flapping.
type Alertmanager struct {
	URL    string // e.g. http://127.0.0.1:9093
	Client *http.Client
	// GeneratorURL links back from the alert; optional.
	GeneratorURL string
	// Validity is how long a firing alert stays active without a repeat (DefaultValidity
	// when zero); if opsdeck stops, Alertmanager resolves it after that.
	Validity time.Duration
	// Clock gives the send time (the system clock when nil).
	Clock func() time.Time
}

// DefaultValidity is three times the alerter's default repeat interval (5 m).
const DefaultValidity = 15 * time.Minute

type amAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       *time.Time        `json:"endsAt,omitempty"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// Notify posts the alerts in one request.
func (a *Alertmanager) Notify(ctx context.Context, alerts []domain.Alert) error {
	if len(alerts) == 0 {
		return nil
	}
	now := time.Now()
	if a.Clock != nil {
		now = a.Clock()
	}
	validity := a.Validity
	if validity <= 0 {
		validity = DefaultValidity
	}
	body := make([]amAlert, 0, len(alerts))
	for _, al := range alerts {
		x := amAlert{
			Labels: map[string]string{
				"alertname": orDefault(al.Name, domain.AlertThreshold), "namespace": al.Namespace, "service": al.Service,
				"metric": string(al.Metric), "severity": "warning", "source": "opsdeck",
			},
			Annotations:  map[string]string{"summary": al.Message, "rule": al.Rule},
			StartsAt:     al.StartsAt,
			GeneratorURL: a.GeneratorURL,
		}
		end := now.Add(validity)
		if al.Resolved {
			end = al.EndsAt
		}
		x.EndsAt = &end
		body = append(body, x)
	}
	return postJSON(ctx, a.Client, strings.TrimRight(a.URL, "/")+"/api/v2/alerts", body, "alertmanager")
}

// Webhook posts each batch of alerts as JSON: {"source": "opsdeck", "alerts": [...]}.
type Webhook struct {
	URL    string
	Client *http.Client
}

// WebhookAlert is one alert as the webhook receives it.
type WebhookAlert struct {
	Name      string    `json:"name"`
	Namespace string    `json:"namespace"`
	Service   string    `json:"service"`
	Metric    string    `json:"metric"`
	Rule      string    `json:"rule"`
	Value     float64   `json:"value"`
	Threshold float64   `json:"threshold"`
	Status    string    `json:"status"` // firing or resolved
	StartsAt  time.Time `json:"startsAt"`
	EndsAt    time.Time `json:"endsAt,omitzero"`
	Message   string    `json:"message"`
}

// WebhookPayload is the body of a webhook call.
type WebhookPayload struct {
	Source string         `json:"source"`
	Alerts []WebhookAlert `json:"alerts"`
}

// Notify posts the alerts in one request.
func (w *Webhook) Notify(ctx context.Context, alerts []domain.Alert) error {
	if len(alerts) == 0 {
		return nil
	}
	p := WebhookPayload{Source: "opsdeck"}
	for _, al := range alerts {
		status := "firing"
		if al.Resolved {
			status = "resolved"
		}
		p.Alerts = append(p.Alerts, WebhookAlert{
			Name: orDefault(al.Name, domain.AlertThreshold), Namespace: al.Namespace, Service: al.Service, Metric: string(al.Metric), Rule: al.Rule,
			Value: al.Value, Threshold: al.Threshold, Status: status, StartsAt: al.StartsAt, EndsAt: al.EndsAt,
			Message: al.Message,
		})
	}
	return postJSON(ctx, w.Client, w.URL, p, "webhook")
}

// Retry policy of a delivery: attempts, and the pause before the second, doubling after.
var (
	attempts     = 4
	firstBackoff = 500 * time.Millisecond
)

// postJSON posts v, retrying with backoff on a network error, a 5xx or a 429 until it is
// accepted, attempts run out or ctx ends. Errors name the receiver by its URL with userinfo
// and query redacted: they may hold credentials.
func postJSON(ctx context.Context, client *http.Client, url string, v any, what string) error {
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Second}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	backoff := firstBackoff
	for i := 1; ; i++ {
		retry, err := postOnce(ctx, client, url, b)
		if err == nil {
			return nil
		}
		if !retry || i >= attempts {
			return fmt.Errorf("%s %s: %s (%d attempts)", what, safe.URL(url), safe.Redact(err.Error()), i)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s %s: %s (gave up after %d attempts: %v)", what, safe.URL(url), safe.Redact(err.Error()), i, ctx.Err())
		case <-time.After(backoff):
		}
		backoff *= 2
	}
}

// postOnce makes one request; retry tells whether another attempt may succeed.
func postOnce(ctx context.Context, client *http.Client, url string, body []byte) (retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return false, errors.New("bad URL")
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		var uerr *neturl.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // its message quotes the URL
		}
		return ctx.Err() == nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return false, nil
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	retry = resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests
	return retry, fmt.Errorf("%s: %s", resp.Status, safe.Text(strings.TrimSpace(string(msg))))
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
