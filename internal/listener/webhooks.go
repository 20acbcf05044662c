package listener

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/internal/imageref"
)

// Signature headers: GitHub's, and opsdeck's own for registries and generic senders. Both
// carry "sha256=" and the hex HMAC-SHA256 of the raw body under the shared secret.
const (
	GitHubSignatureHeader = "X-Hub-Signature-256"
	SignatureHeader       = "X-Opsdeck-Signature-256"
	DeliveryHeader        = "X-Opsdeck-Delivery"
)

// Sign returns the signature header value of body under secret: "sha256=HEX".
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// verify checks the body's signature in constant time.
func verify(secret, body []byte, header string) bool {
	if len(secret) == 0 || !strings.HasPrefix(header, "sha256=") {
		return false
	}
	got, err := hex.DecodeString(strings.TrimPrefix(header, "sha256="))
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return hmac.Equal(got, m.Sum(nil))
}

// push is one image or commit to deploy, parsed from a webhook.
type push struct {
	repos []string // candidate names of the repository, most specific first
	tag   string   // registry tag, release or package tag, or the tag of a pushed git tag
	sha   string   // git: the pushed commit
	skip  string   // why this event deploys nothing (a blob push, a branch deletion)
}

// signed reads and verifies a webhook, answering 4xx itself. It returns the body and the
// delivery id (the sender's, or a hash of the body).
func (s *Server) signed(w http.ResponseWriter, r *http.Request, header string) ([]byte, bool) {
	body, ok := readBody(w, r)
	if !ok {
		return nil, false
	}
	sig := r.Header.Get(header)
	if sig == "" && header == SignatureHeader {
		sig = r.Header.Get(GitHubSignatureHeader)
	}
	if !verify(s.WebhookSecret, body, sig) {
		what := "unsigned"
		if sig != "" {
			what = "mis-signed"
		}
		fail(w, r, http.StatusUnauthorized, fmt.Sprintf("%s webhook: send %s: sha256=HMAC-SHA256 of the body with the shared secret", what, header))
		return nil, false
	}
	return body, true
}

// registry is POST /v1/webhooks/registry: a distribution/registry notification envelope,
// a Docker Hub webhook, or a generic {"repository","tag"}.
func (s *Server) registry(w http.ResponseWriter, r *http.Request) {
	body, ok := s.signed(w, r, SignatureHeader)
	if !ok {
		return
	}
	var raw map[string]json.RawMessage
	if !jsonBody(w, r, body, &raw) {
		return
	}
	pushes, id, err := parseRegistry(raw)
	if err != nil {
		fail(w, r, http.StatusBadRequest, err.Error())
		return
	}
	if h := r.Header.Get(DeliveryHeader); h != "" {
		id = h
	}
	if id == "" {
		id = bodyID(body)
	}
	s.deliver(w, r, "registry:"+id, pushes, domain.TriggerRegistry, "registry")
}

// github is POST /v1/webhooks/github: push, release and package events.
func (s *Server) github(w http.ResponseWriter, r *http.Request) {
	body, ok := s.signed(w, r, GitHubSignatureHeader)
	if !ok {
		return
	}
	var ev githubEvent
	if !jsonBody(w, r, body, &ev) {
		return
	}
	event := r.Header.Get("X-GitHub-Event")
	if event == "ping" {
		reply(w, r, http.StatusOK, response{Status: "ok", Message: "pong"})
		return
	}
	p, err := ev.push(event)
	if err != nil {
		fail(w, r, http.StatusBadRequest, err.Error())
		return
	}
	id := r.Header.Get("X-GitHub-Delivery")
	if id == "" {
		id = bodyID(body)
	}
	s.deliver(w, r, "github:"+id, []push{p}, domain.TriggerGit, "github")
}

func bodyID(body []byte) string {
	h := sha256.Sum256(body)
	return "sha256:" + hex.EncodeToString(h[:])
}

// deliver deploys each push to its trigger's services, once per delivery id.
func (s *Server) deliver(w http.ResponseWriter, r *http.Request, id string, pushes []push, trigger domain.Trigger, source string) {
	annotate(r, "", "delivery "+oneLine(id, 100))
	// Find every trigger first: an unknown repository is a 404 and remembers nothing.
	type job struct {
		p push
		t Trigger
	}
	var jobs []job
	var results []ServiceResult
	for _, p := range pushes {
		if p.skip != "" {
			continue
		}
		t, ok := s.trigger(p.repos)
		if !ok {
			fail(w, r, http.StatusNotFound, fmt.Sprintf("repository %s is not mapped to any service: add it under triggers in the config", oneLine(p.repos[0], 200)))
			return
		}
		jobs = append(jobs, job{p, t})
	}
	if len(jobs) == 0 {
		msg := "nothing to deploy"
		if len(pushes) > 0 && pushes[0].skip != "" {
			msg = pushes[0].skip
		}
		reply(w, r, http.StatusOK, response{Status: "ignored", Message: msg})
		return
	}
	if !s.Deliveries.Claim(id) {
		reply(w, r, http.StatusOK, response{Status: "already delivered", Message: "delivery " + oneLine(id, 100) + " was handled before: nothing done"})
		return
	}
	if s.Deployer == nil {
		s.Deliveries.Forget(id)
		fail(w, r, http.StatusServiceUnavailable, "deploys are not available")
		return
	}
	failed := 0
	for _, j := range jobs {
		image, err := j.t.image(j.p)
		by := source + " " + j.t.Repository
		for _, tg := range j.t.Targets {
			res := ServiceResult{Namespace: tg.Namespace, Service: tg.Service, Image: image}
			if err != nil {
				res.State, res.Message = StateSkipped, err.Error()
				results = append(results, res)
				continue
			}
			out, err := s.Deployer.Submit(r.Context(), Request{
				Namespace: tg.Namespace, Service: tg.Service, Container: tg.Container, Image: image,
				Trigger: trigger, RequestedBy: by, Reason: fmt.Sprintf("%s push of %s", source, image),
			})
			if err != nil {
				_, msg := errorStatus(err)
				res.State, res.Message = "error", msg
				failed++
			} else {
				res.State, res.Message, res.Until = out.State, out.Message, until(out.Until)
			}
			results = append(results, res)
		}
	}
	status := http.StatusAccepted
	if failed == len(results) {
		// Nothing was done: let the sender deliver it again.
		s.Deliveries.Forget(id)
		status = http.StatusBadGateway
	}
	resp := response{Status: fmt.Sprintf("%d of %d services accepted", len(results)-failed, len(results)), Services: results}
	if q, ok := onlyQueued(results); ok {
		// Nothing runs now and something waits (a freeze, a window): say so as /v1/deploy
		// does, with why and until when. The delivery stays claimed: the deploy is queued.
		status, resp.Message, resp.Until = http.StatusConflict, q.Message, q.Until
		resp.Status = fmt.Sprintf("%d of %d services queued, none runs now", countState(results, StateQueued), len(results))
	}
	reply(w, r, status, resp)
}

func countState(results []ServiceResult, state string) int {
	n := 0
	for _, r := range results {
		if r.State == state {
			n++
		}
	}
	return n
}

// onlyQueued is the first queued result when no service of a push started, was scheduled or
// awaits approval (all are queued, skipped or failed) and at least one is queued.
func onlyQueued(results []ServiceResult) (ServiceResult, bool) {
	var q ServiceResult
	found := false
	for _, r := range results {
		switch r.State {
		case StateQueued:
			if !found {
				q, found = r, true
			}
		case StateSkipped, "error":
		default:
			return ServiceResult{}, false
		}
	}
	return q, found
}

// trigger finds the configured trigger of the first matching repository name.
func (s *Server) trigger(names []string) (Trigger, bool) {
	for _, n := range names {
		for _, t := range s.Triggers {
			if strings.EqualFold(t.Repository, n) {
				return t, true
			}
		}
	}
	return Trigger{}, false
}

// image is the image a push deploys: the trigger's repository with the pushed tag for a
// registry, or the trigger's template filled with the commit or tag for git.
func (t Trigger) image(p push) (string, error) {
	var img string
	if t.Image == "" {
		if p.tag == "" {
			return "", fmt.Errorf("the event names no tag")
		}
		img = t.Repository + ":" + p.tag
	} else {
		img = t.Image
		if strings.Contains(img, "${sha}") {
			if p.sha == "" {
				return "", fmt.Errorf("image template %s needs ${sha}, which this event does not carry", t.Image)
			}
			img = strings.ReplaceAll(img, "${sha}", p.sha)
		}
		if strings.Contains(img, "${tag}") {
			if p.tag == "" {
				return "", fmt.Errorf("image template %s needs ${tag}, which this event does not carry", t.Image)
			}
			img = strings.ReplaceAll(img, "${tag}", p.tag)
		}
	}
	if err := imageref.Validate(img); err != nil {
		return "", err
	}
	return img, nil
}

// Registry notification formats.
type distributionEnvelope struct {
	Events []struct {
		ID     string `json:"id"`
		Action string `json:"action"`
		Target struct {
			MediaType  string `json:"mediaType"`
			Repository string `json:"repository"`
			Tag        string `json:"tag"`
		} `json:"target"`
		Request struct {
			Host string `json:"host"`
		} `json:"request"`
	} `json:"events"`
}

type dockerHub struct {
	PushData struct {
		Tag string `json:"tag"`
	} `json:"push_data"`
	Repository struct {
		RepoName string `json:"repo_name"`
	} `json:"repository"`
}

type generic struct {
	Repository string `json:"repository"`
	Tag        string `json:"tag"`
}

// parseRegistry tells the three formats apart by their keys and returns the pushes and the
// sender's delivery id (the distribution events' ids), if any.
func parseRegistry(raw map[string]json.RawMessage) ([]push, string, error) {
	reencode := func(v any) error {
		b, _ := json.Marshal(raw)
		return json.Unmarshal(b, v)
	}
	switch {
	case raw["events"] != nil:
		var env distributionEnvelope
		if err := reencode(&env); err != nil {
			return nil, "", fmt.Errorf("registry notification: %s", oneLine(err.Error(), 200))
		}
		var pushes []push
		var ids []string
		for _, e := range env.Events {
			if e.ID != "" {
				ids = append(ids, e.ID)
			}
			p := push{tag: e.Target.Tag}
			if e.Target.Repository == "" {
				return nil, "", fmt.Errorf("registry notification: an event has no target.repository")
			}
			if e.Request.Host != "" {
				p.repos = append(p.repos, e.Request.Host+"/"+e.Target.Repository)
			}
			p.repos = append(p.repos, e.Target.Repository)
			switch {
			case e.Action != "push":
				p.skip = "event action " + oneLine(e.Action, 20) + " deploys nothing"
			case e.Target.Tag == "":
				p.skip = "a push without a tag (a blob or a digest) deploys nothing"
			}
			pushes = append(pushes, p)
		}
		if len(pushes) == 0 {
			return nil, "", fmt.Errorf("registry notification: no events")
		}
		return pushes, strings.Join(ids, ","), nil
	case raw["push_data"] != nil:
		var d dockerHub
		if err := reencode(&d); err != nil || d.Repository.RepoName == "" || d.PushData.Tag == "" {
			return nil, "", fmt.Errorf("a Docker Hub webhook needs push_data.tag and repository.repo_name")
		}
		return []push{{repos: []string{d.Repository.RepoName, "docker.io/" + d.Repository.RepoName}, tag: d.PushData.Tag}}, "", nil
	default:
		var g generic
		if err := reencode(&g); err != nil || g.Repository == "" || g.Tag == "" {
			return nil, "", fmt.Errorf("webhook: send a registry notification, a Docker Hub webhook, or {\"repository\":..., \"tag\":...}")
		}
		return []push{{repos: []string{g.Repository}, tag: g.Tag}}, "", nil
	}
}

// githubEvent holds the fields of GitHub's push, release and package events that matter.
type githubEvent struct {
	Ref        string `json:"ref"`
	After      string `json:"after"`
	Deleted    bool   `json:"deleted"`
	Action     string `json:"action"`
	Repository struct {
		FullName      string `json:"full_name"`
		DefaultBranch string `json:"default_branch"`
	} `json:"repository"`
	Release *struct {
		TagName string `json:"tag_name"`
	} `json:"release"`
	Package *struct {
		PackageVersion struct {
			Version           string `json:"version"`
			ContainerMetadata struct {
				Tag struct {
					Name string `json:"name"`
				} `json:"tag"`
			} `json:"container_metadata"`
		} `json:"package_version"`
	} `json:"package"`
}

func (ev githubEvent) push(event string) (push, error) {
	if ev.Repository.FullName == "" {
		return push{}, fmt.Errorf("GitHub %s event has no repository.full_name", oneLine(event, 20))
	}
	p := push{repos: []string{ev.Repository.FullName}}
	switch event {
	case "push":
		switch {
		case ev.Deleted || strings.Trim(ev.After, "0") == "":
			p.skip = "a deleted ref deploys nothing"
		case strings.HasPrefix(ev.Ref, "refs/tags/"):
			p.tag, p.sha = strings.TrimPrefix(ev.Ref, "refs/tags/"), ev.After
		case ev.Repository.DefaultBranch != "" && ev.Ref != "refs/heads/"+ev.Repository.DefaultBranch:
			p.skip = "a push to " + oneLine(ev.Ref, 100) + " (not the default branch " + ev.Repository.DefaultBranch + ") deploys nothing"
		default:
			p.sha = ev.After
		}
	case "release":
		if ev.Release == nil || ev.Release.TagName == "" {
			return push{}, fmt.Errorf("GitHub release event has no release.tag_name")
		}
		if ev.Action != "published" {
			p.skip = "release action " + oneLine(ev.Action, 20) + " deploys nothing (only published)"
		}
		p.tag = ev.Release.TagName
	case "package", "registry_package":
		if ev.Package == nil {
			return push{}, fmt.Errorf("GitHub package event has no package")
		}
		v := ev.Package.PackageVersion
		p.tag = v.ContainerMetadata.Tag.Name
		if p.tag == "" {
			p.tag = v.Version
		}
		if ev.Action != "published" {
			p.skip = "package action " + oneLine(ev.Action, 20) + " deploys nothing (only published)"
		}
	default:
		return push{}, fmt.Errorf("GitHub event %q is not push, release or package: set the webhook to send those", oneLine(event, 40))
	}
	return p, nil
}

func until(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
