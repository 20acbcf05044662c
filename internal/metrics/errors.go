package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"github.com/opsdeck/opsdeck/internal/safe"
	"net"
	"os"
	"syscall"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
)

// Error is a failure to read from Prometheus, written in one line:
// "prometheus http://127.0.0.1:9090: connection refused".
type Error struct {
	// Target is the Prometheus URL, or the service reached through the API server's proxy.
	Target string
	// Query names the query that failed, when it matters (the query itself was refused).
	Query string
	Err   error
}

func (e *Error) Error() string {
	msg := brief(e.Err)
	if e.Query != "" {
		msg = "query " + e.Query + ": " + msg
	}
	return "prometheus " + e.Target + ": " + msg
}

func (e *Error) Unwrap() error { return e.Err }

// wrap makes err an *Error; the query is named only when Prometheus refused it (a bad
// template), not when Prometheus could not be reached.
func (s *Source) wrap(query string, err error) error {
	e := &Error{Target: s.target, Err: err}
	var api *v1.Error
	if errors.As(err, &api) && (api.Type == v1.ErrBadData || api.Type == v1.ErrExec) {
		e.Query = query
	}
	if errors.Is(err, context.DeadlineExceeded) {
		e.Err = &timeoutError{s.timeout.String()}
	}
	return e
}

type timeoutError struct{ after string }

func (t *timeoutError) Error() string { return "no answer within " + t.after }

// brief is the cause of err without the layers of Go's HTTP client, on one line.
func brief(err error) string {
	var t *timeoutError
	var api *v1.Error
	var op *net.OpError
	var dns *net.DNSError
	var msg string
	switch {
	case errors.As(err, &t):
		msg = t.Error()
	case errors.Is(err, syscall.ECONNREFUSED):
		msg = "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		msg = "connection reset"
	case errors.Is(err, os.ErrDeadlineExceeded):
		msg = "no answer in time"
	case errors.Is(err, context.Canceled):
		msg = "canceled"
	case errors.As(err, &dns):
		msg = "cannot resolve " + dns.Name
	case errors.As(err, &api):
		msg = api.Error()
		if api.Type == v1.ErrClient || api.Type == v1.ErrServer {
			msg = api.Msg
			// Msg is "client error: 404"; Detail the body, e.g. an API server's refusal.
			var status struct{ Message string }
			if json.Unmarshal([]byte(api.Detail), &status) == nil && status.Message != "" {
				msg += " (" + safe.OneLine(status.Message) + ")"
			} else if d := safe.OneLine(api.Detail); d != "" && len(d) < 200 {
				msg += " (" + d + ")"
			}
		}
	case errors.As(err, &op):
		msg = op.Err.Error()
	default:
		msg = err.Error()
	}
	return safe.OneLine(msg)
}
