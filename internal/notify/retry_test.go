package notify

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/internal/domain"
)

func fastRetries(t *testing.T) {
	t.Helper()
	a, b := attempts, firstBackoff
	attempts, firstBackoff = 4, 20*time.Millisecond
	t.Cleanup(func() { attempts, firstBackoff = a, b })
}

// A receiver that fails twice (503) then accepts gets the alert on the third attempt.
func TestWebhookRetriesUntilTheReceiverRecovers(t *testing.T) {
	fastRetries(t)
	var calls atomic.Int32
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 {
			http.Error(w, "overloaded", http.StatusServiceUnavailable)
			return
		}
		body, _ = io.ReadAll(r.Body)
	}))
	defer srv.Close()
	if err := (&Webhook{URL: srv.URL}).Notify(context.Background(), []domain.Alert{alert(false)}); err != nil {
		t.Fatalf("after two failures: %v", err)
	}
	if calls.Load() != 3 || !strings.Contains(string(body), "payment-service") {
		t.Fatalf("%d calls, body %s", calls.Load(), body)
	}
}

// A 4xx is not retried; a receiver that keeps failing is given up after the attempts, with an
// error that names it without its credentials.
func TestWebhookGivesUpAndRedactsTheURL(t *testing.T) {
	fastRetries(t)
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if strings.Contains(r.URL.RawQuery, "bad") {
			http.Error(w, "no such hook", http.StatusNotFound)
			return
		}
		http.Error(w, "down", http.StatusBadGateway)
	}))
	defer srv.Close()
	secretURL := strings.Replace(srv.URL, "http://", "http://bob:s3cret@", 1) + "/hook?token=t0psecret"
	err := (&Webhook{URL: secretURL}).Notify(context.Background(), []domain.Alert{alert(false)})
	if err == nil || calls.Load() != 4 || !strings.Contains(err.Error(), "502") || !strings.Contains(err.Error(), "4 attempts") {
		t.Fatalf("%d calls: %v", calls.Load(), err)
	}
	if strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "bob") || strings.Contains(err.Error(), "t0psecret") {
		t.Fatalf("error leaks a secret: %v", err)
	}
	calls.Store(0)
	err = (&Webhook{URL: srv.URL + "/hook?bad=1"}).Notify(context.Background(), []domain.Alert{alert(false)})
	if err == nil || calls.Load() != 1 {
		t.Fatalf("a 404 was retried (%d calls): %v", calls.Load(), err)
	}
	// Connection refused: the transport's error quotes the URL; it is redacted too.
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := strings.Replace(dead.URL, "http://", "http://bob:s3cret@", 1) + "/?token=t0psecret"
	dead.Close()
	err = (&Alertmanager{URL: deadURL}).Notify(context.Background(), []domain.Alert{alert(false)})
	if err == nil || strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "t0psecret") || !strings.Contains(err.Error(), "REDACTED") {
		t.Fatalf("refused: %v", err)
	}
}

// A firing alert carries an end time beyond the repeat interval, so that Alertmanager keeps it
// active between two repeats; a resolved one carries its resolution.
func TestAlertmanagerFiringAlertsCarryEndsAt(t *testing.T) {
	var got []amAlert
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewDecoder(r.Body).Decode(&got)
	}))
	defer srv.Close()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	am := &Alertmanager{URL: srv.URL, Clock: func() time.Time { return now }}
	if err := am.Notify(context.Background(), []domain.Alert{alert(false), alert(true)}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].EndsAt == nil || !got[0].EndsAt.Equal(now.Add(DefaultValidity)) {
		t.Fatalf("firing alert endsAt: %+v", got)
	}
	if got[1].EndsAt == nil || got[1].EndsAt.After(time.Now()) {
		t.Fatalf("resolved alert endsAt: %+v", got[1])
	}
}

type blockingNotifier struct {
	release chan struct{}
	mu      sync.Mutex
	got     int
}

func (b *blockingNotifier) Notify(ctx context.Context, alerts []domain.Alert) error {
	select {
	case <-b.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	b.mu.Lock()
	b.got++
	b.mu.Unlock()
	return nil
}

// A receiver that hangs never blocks Enqueue: the queue fills, then drops and counts.
func TestQueueDropsAndCountsWhenFull(t *testing.T) {
	n := &blockingNotifier{release: make(chan struct{})}
	q := NewQueue(n, 2, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go q.Run(ctx)
	batch := []domain.Alert{alert(false)}
	start := time.Now()
	accepted := 0
	for range 10 {
		if q.Enqueue(batch) {
			accepted++
		}
	}
	if time.Since(start) > 100*time.Millisecond {
		t.Fatalf("Enqueue waited %s", time.Since(start))
	}
	st := q.Stats()
	// One batch in the receiver's hands (or about to be), two queued; the rest dropped.
	if accepted < 2 || accepted > 3 || st.Dropped != uint64(10-accepted) {
		t.Fatalf("accepted %d, stats %+v", accepted, st)
	}
	close(n.release)
	deadline := time.Now().Add(5 * time.Second)
	for q.Stats().Sent != uint64(accepted) {
		if time.Now().After(deadline) {
			t.Fatalf("sent %+v, want %d", q.Stats(), accepted)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
