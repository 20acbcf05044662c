package notify

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/internal/notify/amtest"
)

func alert(resolved bool) domain.Alert {
	now := time.Now().UTC().Truncate(time.Second)
	a := domain.Alert{Namespace: "shop", Service: "payment-service", Metric: domain.MetricErrorRatio,
		Rule: "errors > 5.0% for 20s", Value: 0.31, Threshold: 0.05, StartsAt: now.Add(-time.Minute),
		Message: "payment-service 5xx ratio at 31.0%, threshold 5.0% (errors > 5.0% for 20s)"}
	if resolved {
		a.Resolved, a.EndsAt = true, now
	}
	return a
}

// A real Alertmanager lists the alert, then no longer does once it is resolved.
func TestAlertmanagerRaisesAndResolves(t *testing.T) {
	url := amtest.Start(t)
	ctx := context.Background()
	am := &Alertmanager{URL: url}
	if err := am.Notify(ctx, []domain.Alert{alert(false)}); err != nil {
		t.Fatal(err)
	}
	active := waitAlerts(t, url, func(as []amtest.Alert) bool { return len(as) == 1 })
	got := active[0]
	if got.Labels["service"] != "payment-service" || got.Labels["metric"] != "errors" || got.Labels["alertname"] != "OpsdeckThreshold" {
		t.Errorf("labels %v", got.Labels)
	}
	if !strings.Contains(got.Annotations["summary"], "31.0%") {
		t.Errorf("summary %q does not carry the measured value", got.Annotations["summary"])
	}
	if err := am.Notify(ctx, []domain.Alert{alert(true)}); err != nil {
		t.Fatal(err)
	}
	waitAlerts(t, url, func(as []amtest.Alert) bool { return len(as) == 0 })
}

func waitAlerts(t *testing.T, url string, cond func([]amtest.Alert) bool) []amtest.Alert {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var last []amtest.Alert
	for time.Now().Before(deadline) {
		as, err := amtest.Active(context.Background(), url)
		if err == nil && cond(as) {
			return as
		}
		last = as
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("alertmanager alerts never matched; last %+v", last)
	return nil
}

func TestWebhookPayload(t *testing.T) {
	got := make(chan WebhookPayload, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p WebhookPayload
		if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		got <- p
	}))
	defer srv.Close()
	if err := (&Webhook{URL: srv.URL}).Notify(context.Background(), []domain.Alert{alert(true)}); err != nil {
		t.Fatal(err)
	}
	p := <-got
	if p.Source != "opsdeck" || len(p.Alerts) != 1 || p.Alerts[0].Status != "resolved" || p.Alerts[0].Value != 0.31 {
		t.Errorf("payload %+v", p)
	}
}

func TestReceiverErrorsAreOneLine(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "bad alert", http.StatusBadRequest)
	}))
	defer srv.Close()
	err := Multi{&Webhook{URL: srv.URL}, &Alertmanager{URL: "http://127.0.0.1:1"}}.Notify(context.Background(), []domain.Alert{alert(false)})
	if err == nil || !strings.Contains(err.Error(), "400 Bad Request: bad alert") || !strings.Contains(err.Error(), "alertmanager http://127.0.0.1:1/api/v2/alerts") {
		t.Errorf("error %v", err)
	}
}
