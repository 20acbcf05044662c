package listener

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/opsdeck/opsdeck/internal/actions"
	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/internal/imageref"
)

var dnsName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

type apiRequest struct {
	Namespace string `json:"namespace"`
	Service   string `json:"service"`
	Image     string `json:"image"`
	Reason    string `json:"reason"`
}

// authorized reads the body and the caller, answering 4xx itself: 401 without a token or
// with one the cluster rejects, 400 for a bad body, 403 when RBAC denies patching the
// Deployment.
func (s *Server) authorized(w http.ResponseWriter, r *http.Request, deploy bool) (apiRequest, Caller, bool) {
	var req apiRequest
	body, ok := readBody(w, r)
	if !ok {
		return req, Caller{}, false
	}
	token, ok := bearer(r.Header.Get("Authorization"))
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="opsdeck"`)
		fail(w, r, http.StatusUnauthorized, "no credentials: send Authorization: Bearer <Kubernetes token>")
		return req, Caller{}, false
	}
	if !jsonBody(w, r, body, &req) {
		return req, Caller{}, false
	}
	switch {
	case !dnsName.MatchString(req.Namespace):
		fail(w, r, http.StatusBadRequest, fmt.Sprintf("namespace %q is not a Kubernetes name: give the service's namespace", oneLine(req.Namespace, 64)))
		return req, Caller{}, false
	case !dnsName.MatchString(req.Service):
		fail(w, r, http.StatusBadRequest, fmt.Sprintf("service %q is not a Kubernetes name: give the Deployment's name", oneLine(req.Service, 64)))
		return req, Caller{}, false
	}
	if deploy {
		if err := imageref.Validate(req.Image); err != nil {
			fail(w, r, http.StatusBadRequest, oneLine(err.Error(), 300))
			return req, Caller{}, false
		}
	}
	if s.Auth == nil {
		fail(w, r, http.StatusServiceUnavailable, "token authentication is not available")
		return req, Caller{}, false
	}
	caller, err := s.Auth.Authenticate(r.Context(), token)
	if errors.Is(err, ErrUnauthenticated) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="opsdeck", error="invalid_token"`)
		fail(w, r, http.StatusUnauthorized, "bad credentials: the cluster does not accept this token")
		return req, Caller{}, false
	}
	if err != nil {
		fail(w, r, http.StatusBadGateway, oneLine(err.Error(), 300))
		return req, Caller{}, false
	}
	annotate(r, caller.User, "")
	allowed, err := s.Auth.MayPatch(r.Context(), caller, req.Namespace, req.Service)
	if err != nil {
		fail(w, r, http.StatusBadGateway, oneLine(err.Error(), 300))
		return req, Caller{}, false
	}
	if !allowed {
		fail(w, r, http.StatusForbidden, fmt.Sprintf("user %s may not patch deployments.apps/%s in namespace %s", caller.User, req.Service, req.Namespace))
		return req, Caller{}, false
	}
	return req, caller, true
}

// deploy is POST /v1/deploy: 202 started, scheduled or awaiting approval; 409 queued (frozen or
// outside its window, with why and until when); 422 skipped by policy (it will not run).
func (s *Server) deploy(w http.ResponseWriter, r *http.Request) {
	req, caller, ok := s.authorized(w, r, true)
	if !ok {
		return
	}
	if s.Deployer == nil {
		fail(w, r, http.StatusServiceUnavailable, "deploys are not available")
		return
	}
	out, err := s.Deployer.Submit(r.Context(), Request{
		Namespace: req.Namespace, Service: req.Service, Image: req.Image, Reason: req.Reason,
		Trigger: domain.TriggerWebhook, RequestedBy: caller.User,
	})
	if err != nil {
		status, msg := errorStatus(err)
		fail(w, r, status, msg)
		return
	}
	reply(w, r, outcomeStatus(out.State), response{Status: out.State, Message: out.Message, Until: until(out.Until)})
}

// rollback is POST /v1/rollback: a rollback at once through the executor.
func (s *Server) rollback(w http.ResponseWriter, r *http.Request) {
	req, caller, ok := s.authorized(w, r, false)
	if !ok {
		return
	}
	if s.Executor == nil {
		fail(w, r, http.StatusServiceUnavailable, "rollbacks are not available")
		return
	}
	reason := req.Reason
	if reason == "" {
		reason = "requested by " + caller.User
	}
	res, err := s.Executor.Execute(r.Context(), domain.Action{
		Kind: domain.ActionRollback, Namespace: req.Namespace, Service: req.Service,
		Trigger: domain.TriggerWebhook, RequestedBy: caller.User, Reason: reason,
	})
	if err != nil {
		status, msg := errorStatus(err)
		fail(w, r, status, msg)
		return
	}
	reply(w, r, http.StatusAccepted, response{Status: StateStarted, Message: res.Message})
}

// outcomeStatus maps an Outcome's state to the HTTP status of /v1/deploy.
func outcomeStatus(state string) int {
	switch state {
	case StateQueued:
		return http.StatusConflict
	case StateSkipped:
		return http.StatusUnprocessableEntity
	}
	return http.StatusAccepted
}

// errorStatus maps an error of the deployer or the executor: 404 unknown service, 409 a
// conflict (someone acted first), 502 the cluster refused opsdeck itself, 500 the rest.
func errorStatus(err error) (int, string) {
	msg := oneLine(err.Error(), 300)
	switch {
	case errors.Is(err, actions.ErrNotFound) || apierrors.IsNotFound(err):
		return http.StatusNotFound, msg
	case errors.Is(err, domain.ErrConflict):
		return http.StatusConflict, msg
	case errors.Is(err, actions.ErrForbidden), errors.Is(err, domain.ErrReadOnly):
		return http.StatusBadGateway, msg
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, msg
	}
	return http.StatusInternalServerError, msg
}
