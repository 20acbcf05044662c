// Package listener is the HTTP side of `opsdeck guard --listen`: it authenticates and parses
// deploy and rollback requests (Kubernetes bearer tokens), signed registry and git webhooks,
// and Alertmanager notifications, and turns each into a request to the deploy policy, the
// executor or auto-guard. It decides nothing about policy itself.
package listener

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/opsdeck/opsdeck/internal/domain"
)

// MaxBody is the largest request body accepted; a larger one gets 413.
const MaxBody = 1 << 20

// Timeouts of the HTTP server: a slow or stuck client holds a connection no longer than this.
const (
	ReadHeaderTimeout = 5 * time.Second
	ReadTimeout       = 15 * time.Second
	WriteTimeout      = 60 * time.Second
	IdleTimeout       = 60 * time.Second
	maxHeaderBytes    = 64 << 10
	shutdownTimeout   = 10 * time.Second
)

// Request is a deploy asked of the release side (policy, windows, freezes, queue).
type Request struct {
	Namespace, Service, Container, Image, Reason string
	Trigger                                      domain.Trigger
	// RequestedBy is the token's user, or the signed source ("registry registry.example/shop/order").
	RequestedBy string
}

// Outcome states.
const (
	StateStarted          = "started"
	StateQueued           = "queued"
	StateScheduled        = "scheduled"
	StateAwaitingApproval = "awaiting-approval"
	StateSkipped          = "skipped"
)

// Outcome is what the release side did with a Request.
type Outcome struct {
	State   string
	Until   time.Time // queued: when it may run
	Message string    // one line: why
}

// Deployer takes deploy requests: the release gate (policy, windows, freezes, approval).
type Deployer interface {
	Submit(ctx context.Context, r Request) (Outcome, error)
}

// Executor performs an action at once (actions.Executor); rollbacks go through it.
type Executor interface {
	Execute(ctx context.Context, a domain.Action) (domain.Result, error)
}

// Signal is one firing or resolved alert that names a service, for auto-guard to judge.
type Signal struct {
	Namespace, Service string
	AlertName, Summary string
	Firing             bool
	StartsAt           time.Time
	Fingerprint        string
}

// SignalResult is what auto-guard did with a Signal: an action word and one line.
type SignalResult struct {
	Action  string // "rolled-back", "ignored", ...
	Message string
}

// Signals is auto-guard's receiver of outside signals.
type Signals interface {
	Signal(ctx context.Context, s Signal) SignalResult
}

// Server holds what the handlers need. Fields left nil switch their endpoints off (503).
type Server struct {
	Auth     Authenticator
	Deployer Deployer
	Executor Executor
	Signals  Signals
	// WebhookSecret signs registry and git webhooks; empty refuses every webhook.
	WebhookSecret []byte
	Triggers      []Trigger
	// AlertToken is the bearer token Alertmanager sends; empty switches the receiver off.
	AlertToken     []byte
	AlertLabels    []string
	AlertNamespace string
	Log            *slog.Logger
	// Deliveries remembers webhook delivery ids; NewDeliveries(0, 0) when nil.
	Deliveries *Deliveries
	Clock      domain.Clock
}

// Trigger maps a repository to services (config.Trigger, parsed).
type Trigger struct {
	Repository string
	// Image is the git image template with ${sha} or ${tag}; empty for a registry repository.
	Image   string
	Targets []Target
}

// Target is one service a trigger deploys.
type Target struct{ Namespace, Service, Container string }

// ParseTarget reads "NAMESPACE/SERVICE[/CONTAINER]" (validated by the config already).
func ParseTarget(s string) (Target, bool) {
	p := strings.Split(s, "/")
	switch {
	case len(p) == 2 && p[0] != "" && p[1] != "":
		return Target{Namespace: p[0], Service: p[1]}, true
	case len(p) == 3 && p[0] != "" && p[1] != "" && p[2] != "":
		return Target{Namespace: p[0], Service: p[1], Container: p[2]}, true
	}
	return Target{}, false
}

// Handler routes the listener's endpoints, logging each request as one JSON line.
func (s *Server) Handler() http.Handler {
	if s.Deliveries == nil {
		s.Deliveries = NewDeliveries(0, 0)
	}
	if s.Log == nil {
		s.Log = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/deploy", s.deploy)
	mux.HandleFunc("/v1/rollback", s.rollback)
	mux.HandleFunc("/v1/webhooks/registry", s.registry)
	mux.HandleFunc("/v1/webhooks/github", s.github)
	mux.HandleFunc("/v1/alertmanager", s.alertmanager)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { reply(w, r, http.StatusOK, response{Status: "ok"}) })
	return s.logged(mux)
}

// Serve answers on ln until ctx ends, then shuts down gracefully: requests in flight finish
// (for up to 10 s). With certFile and keyFile it serves TLS.
func (s *Server) Serve(ctx context.Context, ln net.Listener, certFile, keyFile string) error {
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.Log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	if certFile != "" {
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	done := make(chan error, 1)
	go func() {
		if certFile != "" {
			done <- srv.ServeTLS(ln, certFile, keyFile)
		} else {
			done <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if err2 := <-done; !errors.Is(err2, http.ErrServerClosed) && err == nil {
		err = err2
	}
	return err
}

// response is every endpoint's JSON answer.
type response struct {
	Status   string          `json:"status"`
	Message  string          `json:"message,omitempty"`
	Until    *time.Time      `json:"until,omitempty"`
	Services []ServiceResult `json:"services,omitempty"`
	Alerts   []AlertResult   `json:"alerts,omitempty"`
}

// ServiceResult is what a webhook did for one mapped service.
type ServiceResult struct {
	Namespace string     `json:"namespace"`
	Service   string     `json:"service"`
	Image     string     `json:"image,omitempty"`
	State     string     `json:"state"`
	Until     *time.Time `json:"until,omitempty"`
	Message   string     `json:"message,omitempty"`
}

// AlertResult is what auto-guard did for one alert of a notification.
type AlertResult struct {
	Alert     string `json:"alert"`
	Namespace string `json:"namespace,omitempty"`
	Service   string `json:"service,omitempty"`
	Action    string `json:"action"`
	Message   string `json:"message,omitempty"`
}

// noteKey carries a per-request record the handlers fill for the log line.
type noteKey struct{}

type note struct {
	status int
	who    string
	detail string
}

func annotate(r *http.Request, who, detail string) {
	if n, ok := r.Context().Value(noteKey{}).(*note); ok {
		if who != "" {
			n.who = who
		}
		if detail != "" {
			n.detail = detail
		}
	}
}

func reply(w http.ResponseWriter, r *http.Request, status int, body response) {
	if n, ok := r.Context().Value(noteKey{}).(*note); ok {
		n.status = status
		if n.detail == "" && status >= 400 {
			n.detail = body.Message
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func fail(w http.ResponseWriter, r *http.Request, status int, msg string) {
	reply(w, r, status, response{Status: http.StatusText(status), Message: msg})
}

// logged writes one JSON line per request: method, path, status, duration, caller.
func (s *Server) logged(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		n := &note{}
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), noteKey{}, n)))
		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		attrs := []any{"method", r.Method, "path", r.URL.Path, "status", status,
			"duration_ms", float64(time.Since(start).Microseconds()) / 1000, "remote", r.RemoteAddr}
		if n.who != "" {
			attrs = append(attrs, "caller", n.who)
		}
		if n.detail != "" {
			attrs = append(attrs, "detail", n.detail)
		}
		level := slog.LevelInfo
		if status >= 400 {
			level = slog.LevelWarn
		}
		s.Log.Log(r.Context(), level, "http request", attrs...)
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// readBody reads a POST body of at most MaxBody bytes, answering 405 or 413 itself.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		fail(w, r, http.StatusMethodNotAllowed, r.Method+" is not allowed: send POST")
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		fail(w, r, http.StatusRequestEntityTooLarge, "body is larger than 1 MiB")
		return nil, false
	case err != nil:
		fail(w, r, http.StatusBadRequest, "cannot read the body: "+err.Error())
		return nil, false
	}
	return body, true
}

// jsonBody checks the content type names JSON (or is absent) and the body is one JSON value.
func jsonBody(w http.ResponseWriter, r *http.Request, body []byte, v any) bool {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.Contains(strings.ToLower(ct), "json") {
		fail(w, r, http.StatusUnsupportedMediaType, "content type "+oneLine(ct, 60)+" is not JSON: send application/json")
		return false
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	if err := dec.Decode(v); err != nil {
		fail(w, r, http.StatusBadRequest, "body is not valid JSON: "+oneLine(err.Error(), 200))
		return false
	}
	if dec.More() {
		fail(w, r, http.StatusBadRequest, "body is not valid JSON: more than one value")
		return false
	}
	return true
}

func oneLine(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}
