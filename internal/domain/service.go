package domain

import (
	"strings"
	"time"
)

// Phase is the rollout state of a service, as an SRE reads it in the services table.
type Phase string

// Rollout phases. Stalled means the Deployment reported ProgressDeadlineExceeded.
const (
	PhaseComplete    Phase = "complete"
	PhaseProgressing Phase = "progressing"
	PhaseStalled     Phase = "stalled"
	PhasePaused      Phase = "paused"
	PhaseUnknown     Phase = "unknown"
)

// Kind tells how a service is deployed.
type Kind string

// Service kinds.
const (
	KindDeployment Kind = "Deployment"
	KindBlueGreen  Kind = "BlueGreen"
)

// Service is one Deployment (or one blue-green pair) with its rollout state, built from watched
// objects. It is a value: snapshots never share mutable state with the informer cache.
type Service struct {
	Namespace string
	Name      string
	Kind      Kind

	// Containers of the pod template, in order; Image is the first container's image.
	Containers []Container
	Image      string
	// CPURequest is the per-pod CPU request in cores: the sum of the pod template's
	// containers' requests.cpu, 0 when none sets one.
	CPURequest float64

	Desired   int32 // spec.replicas
	Current   int32 // status.replicas
	Updated   int32 // status.updatedReplicas
	Ready     int32 // status.readyReplicas
	Available int32 // status.availableReplicas

	Revision    int64 // deployment.kubernetes.io/revision of the Deployment
	Generation  int64
	Observed    int64 // status.observedGeneration
	Paused      bool
	Phase       Phase
	Message     string // the condition message behind Phase, when there is one
	Conditions  []Condition
	ReplicaSets []ReplicaSet // newest revision first
	Created     time.Time
	// RolloutStarted is when the current revision's ReplicaSet was created: the start of the
	// current rollout. Zero when unknown.
	RolloutStarted time.Time
	// ProgressDeadline is spec.progressDeadlineSeconds.
	ProgressDeadline time.Duration
	ResourceVersion  string
	// BlueGreen is set for Kind KindBlueGreen: both colours, the pending switch and the
	// scale-down deadline. The fields above then describe the active colour, Revision counts
	// the switches, and ReplicaSets holds both colours' ReplicaSets.
	BlueGreen *BlueGreen
	// LastAction is the Deployment's opsdeck.io/last-action annotation, parsed; nil when it has
	// none. A guard that starts (a standby that became leader) reads its holds from it.
	LastAction *LastAction
	// Pending is the deploy waiting on the service (queued, scheduled, awaiting approval), if
	// any; Freeze is the service's own freeze, if any (expired ones included: judge with Until).
	Pending *PendingDeploy
	Freeze  *FreezeInfo

	// GonePods are the pods of the service's Deployments that the watch saw deleted in the
	// last GonePodsKept: their last samples stay in a metric's rate window after they go.
	GonePods []string
	// PodsKnownSince is when the watch began to see every pod come and go: the service's pods
	// since then are all in its ReplicaSets or in GonePods. Zero when that is not known.
	PodsKnownSince time.Time
}

// GonePodsKept is how long a state names the pods deleted before it (Service.GonePods).
const GonePodsKept = 10 * time.Minute

// Key is namespace/name, unique across the watched namespaces.
func (s Service) Key() string { return s.Namespace + "/" + s.Name }

// Tag is the tag (or digest) of the service's main image, for narrow columns.
func (s Service) Tag() string { return ImageTag(s.Image) }

// NewReplicaSet is the ReplicaSet of the current revision, if the watches have seen it; for
// a blue-green service, the active colour's current ReplicaSet.
func (s Service) NewReplicaSet() (ReplicaSet, bool) {
	if s.BlueGreen != nil {
		name := s.BlueGreen.Of(s.BlueGreen.Active).ReplicaSet
		for _, rs := range s.ReplicaSets {
			if name != "" && rs.Name == name {
				return rs, true
			}
		}
		return ReplicaSet{}, false
	}
	for _, rs := range s.ReplicaSets {
		if rs.Revision == s.Revision {
			return rs, true
		}
	}
	return ReplicaSet{}, false
}

// OldReplicaSets are the ReplicaSets of earlier revisions that still run pods; for a
// blue-green service, every ReplicaSet with pods but the active colour's current one.
func (s Service) OldReplicaSets() []ReplicaSet {
	var out []ReplicaSet
	if s.BlueGreen != nil {
		cur := s.BlueGreen.Of(s.BlueGreen.Active).ReplicaSet
		for _, rs := range s.ReplicaSets {
			if rs.Name != cur && rs.Replicas > 0 {
				out = append(out, rs)
			}
		}
		return out
	}
	for _, rs := range s.ReplicaSets {
		if rs.Revision != s.Revision && rs.Replicas > 0 {
			out = append(out, rs)
		}
	}
	return out
}

// Container is one container of a pod template.
type Container struct {
	Name  string
	Image string
}

// Condition is a Deployment condition.
type Condition struct {
	Type    string
	Status  string
	Reason  string
	Message string
	Updated time.Time
}

// ReplicaSet is one revision of a Deployment, with the pods that run it.
type ReplicaSet struct {
	Name        string
	Revision    int64
	Image       string
	ChangeCause string
	Created     time.Time
	Replicas    int32 // spec.replicas
	Ready       int32
	Available   int32
	Pods        []Pod
	// Color is the colour whose Deployment owns the ReplicaSet, in a blue-green service.
	Color Color
}

// PodNames are the names of the ReplicaSet's pods.
func (rs ReplicaSet) PodNames() []string {
	out := make([]string, len(rs.Pods))
	for i, p := range rs.Pods {
		out[i] = p.Name
	}
	return out
}

// Pod is one pod as the rollout pane shows it.
type Pod struct {
	Name     string
	Phase    string // Pending, Running, ...
	Ready    bool
	Restarts int32
	// Reason is the waiting reason of a container that is not running (CrashLoopBackOff,
	// ContainerCreating, ImagePullBackOff), empty when all run.
	Reason  string
	Created time.Time
}

// Revision is one entry of a service's rollout history.
type Revision struct {
	Number      int64
	Image       string
	ChangeCause string
	Created     time.Time
	ReplicaSet  string
	Current     bool
	// Color is the colour whose Deployment the revision belongs to, in a blue-green service.
	Color Color
}

// ImageTag returns the tag or digest of an image reference ("repo/app:v2" -> "v2"), or
// "latest" when the reference names none.
func ImageTag(image string) string {
	if i := strings.LastIndex(image, "@"); i >= 0 {
		d := image[i+1:]
		if len(d) > 19 {
			d = d[:19]
		}
		return d
	}
	slash := strings.LastIndex(image, "/")
	if i := strings.LastIndex(image, ":"); i > slash {
		return image[i+1:]
	}
	if image == "" {
		return ""
	}
	return "latest"
}

// Deployment is the name of the Deployment that serves the service: its own, or the active
// colour's for a blue-green service.
func (s Service) Deployment() string {
	if s.BlueGreen != nil {
		if d := s.BlueGreen.Of(s.BlueGreen.Active).Deployment; d != "" {
			return d
		}
	}
	return s.Name
}
