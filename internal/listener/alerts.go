package listener

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// alertmanagerMessage is Alertmanager's webhook payload, version 4.
type alertmanagerMessage struct {
	Version string `json:"version"`
	Status  string `json:"status"`
	Alerts  []struct {
		Status      string            `json:"status"`
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
		StartsAt    time.Time         `json:"startsAt"`
		Fingerprint string            `json:"fingerprint"`
	} `json:"alerts"`
}

// ServiceFromLabels returns the value of the first of names present and not blank in labels.
func ServiceFromLabels(labels map[string]string, names []string) string {
	for _, n := range names {
		if v := strings.TrimSpace(labels[n]); v != "" {
			return v
		}
	}
	return ""
}

// alertmanager is POST /v1/alertmanager: each alert that names a service is a signal for
// auto-guard. Alertmanager authenticates with the shared bearer token of its http_config.
func (s *Server) alertmanager(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	if len(s.AlertToken) == 0 {
		fail(w, r, http.StatusNotFound, "the Alertmanager receiver is off: set listener.alertmanager_token_file")
		return
	}
	token, ok := bearer(r.Header.Get("Authorization"))
	if !ok || subtle.ConstantTimeCompare([]byte(token), s.AlertToken) != 1 {
		fail(w, r, http.StatusUnauthorized, "bad or no credentials: Alertmanager must send the bearer token of listener.alertmanager_token_file")
		return
	}
	annotate(r, "alertmanager", "")
	var msg alertmanagerMessage
	if !jsonBody(w, r, body, &msg) {
		return
	}
	if msg.Version != "4" {
		fail(w, r, http.StatusBadRequest, fmt.Sprintf("Alertmanager webhook version %q: only version 4 is understood", oneLine(msg.Version, 10)))
		return
	}
	labels := s.AlertLabels
	if len(labels) == 0 {
		labels = []string{"service", "deployment", "app"}
	}
	var results []AlertResult
	for _, a := range msg.Alerts {
		res := AlertResult{Alert: a.Labels["alertname"]}
		res.Service = ServiceFromLabels(a.Labels, labels)
		res.Namespace = a.Labels["namespace"]
		if res.Namespace == "" {
			res.Namespace = s.AlertNamespace
		}
		switch {
		case res.Service == "":
			res.Action, res.Message = "ignored", fmt.Sprintf("no label %v names a service", labels)
		case res.Namespace == "":
			res.Action, res.Message = "ignored", "no namespace label and no listener.alert_namespace"
		case s.Signals == nil:
			res.Action, res.Message = "ignored", "auto-guard does not take outside signals"
		default:
			summary := a.Annotations["summary"]
			if summary == "" {
				summary = a.Annotations["description"]
			}
			out := s.Signals.Signal(r.Context(), Signal{
				Namespace: res.Namespace, Service: res.Service, AlertName: res.Alert, Summary: summary,
				Firing: a.Status != "resolved", StartsAt: a.StartsAt, Fingerprint: a.Fingerprint,
			})
			res.Action, res.Message = out.Action, out.Message
		}
		results = append(results, res)
	}
	reply(w, r, http.StatusOK, response{Status: fmt.Sprintf("%d alerts", len(results)), Alerts: results})
}
