package release

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/opsdeck/opsdeck/internal/domain"
)

const (
	// AnnotationFreeze holds a Freeze (JSON) on a Deployment: that service is frozen.
	AnnotationFreeze = "opsdeck.io/freeze"
	// AnnotationPending holds a Pending (JSON) deploy on a Deployment.
	AnnotationPending = "opsdeck.io/pending-deploy"
	// FreezeConfigMap is the ConfigMap whose data key "freeze" holds the namespace-wide Freeze.
	// A ConfigMap, not an annotation on the Namespace, because teams that may deploy usually may
	// edit ConfigMaps in their namespace but not the Namespace object itself.
	FreezeConfigMap = "opsdeck-freeze"
	freezeKey       = "freeze"
)

// Freeze stops automated deploys until Until.
type Freeze struct {
	Until  time.Time `json:"until"`
	Reason string    `json:"reason"`
	By     string    `json:"by"`
	At     time.Time `json:"at"`
	// Scope is the service name, or "all" for the namespace; filled when read.
	Scope string `json:"-"`
}

// Active reports whether f holds at now (an expired freeze is ignored).
func (f *Freeze) Active(now time.Time) bool { return f != nil && now.Before(f.Until) }

// String is one line: "frozen until 09:00 UTC by alice: release party".
func (f Freeze) String() string {
	scope := f.Scope
	if scope == "all" {
		scope = "namespace"
	}
	return fmt.Sprintf("%s frozen until %s by %s: %s", scope, f.Until.UTC().Format(time.RFC3339), orSomeone(f.By), f.Reason)
}

func orSomeone(s string) string {
	if s == "" {
		return "someone"
	}
	return s
}

// ParseFreeze reads a Freeze annotation; nil when absent or unreadable.
func ParseFreeze(s string) *Freeze {
	if s == "" {
		return nil
	}
	var f Freeze
	if json.Unmarshal([]byte(s), &f) != nil {
		return nil
	}
	return &f
}

// ActiveFreeze is the freeze holding the service at now: its own, else the namespace's.
func ActiveFreeze(svc, ns *Freeze, now time.Time) *Freeze {
	if svc.Active(now) {
		return svc
	}
	if ns.Active(now) {
		return ns
	}
	return nil
}

// Pending states, as stored and as the console shows them.
const (
	StateQueued     = "queued"
	StateScheduled  = "scheduled"
	StateAwaiting   = "awaiting-approval"
	StatePerforming = "performing"
)

// Pending is a deploy that waits, stored on the Deployment.
type Pending struct {
	ID    string `json:"id"`
	Image string `json:"image"`
	// Container is the container the image is for; empty means the only or first one.
	Container   string         `json:"container,omitempty"`
	NotBefore   time.Time      `json:"notBefore,omitempty"`
	RequestedBy string         `json:"requestedBy,omitempty"`
	Trigger     domain.Trigger `json:"trigger"`
	Reason      string         `json:"reason,omitempty"`
	State       string         `json:"state"`
	Created     time.Time      `json:"created"`
	// Until is when a queued deploy may run, as last judged (for display).
	Until time.Time `json:"until,omitempty"`
	// Approval is set when the deploy needs an approval; ApprovedBy once it has one.
	Approval   bool   `json:"approval,omitempty"`
	ApprovedBy string `json:"approvedBy,omitempty"`
	// ClaimedBy and ClaimedAt mark the process performing it (State performing).
	ClaimedBy string    `json:"claimedBy,omitempty"`
	ClaimedAt time.Time `json:"claimedAt,omitempty"`
}

// ParsePending reads the pending annotation; nil when absent or unreadable.
func ParsePending(s string) *Pending {
	if s == "" {
		return nil
	}
	var p Pending
	if json.Unmarshal([]byte(s), &p) != nil || p.Image == "" {
		return nil
	}
	return &p
}

// patchAnnotation sets (value non-nil) or removes one annotation of a Deployment with a merge
// patch; when rv is given the API server applies it only if the object is still at rv.
func patchAnnotation(ctx context.Context, c kubernetes.Interface, ns, name, key string, value any, rv string) (*appsv1.Deployment, error) {
	var v any
	if value != nil {
		b, err := json.Marshal(value)
		if err != nil {
			return nil, err
		}
		v = string(b)
	}
	md := map[string]any{"annotations": map[string]any{key: v}}
	if rv != "" {
		md["resourceVersion"] = rv
	}
	patch, _ := json.Marshal(map[string]any{"metadata": md})
	return c.AppsV1().Deployments(ns).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
}

// SetServiceFreeze freezes (f non-nil) or unfreezes one service.
func SetServiceFreeze(ctx context.Context, c kubernetes.Interface, ns, svc string, f *Freeze) error {
	var v any
	if f != nil {
		v = f
	}
	_, err := patchAnnotation(ctx, c, ns, svc, AnnotationFreeze, v, "")
	return err
}

// SetNamespaceFreeze freezes (f non-nil) or unfreezes the namespace in its ConfigMap.
func SetNamespaceFreeze(ctx context.Context, c kubernetes.Interface, ns string, f *Freeze) error {
	cms := c.CoreV1().ConfigMaps(ns)
	if f == nil {
		err := cms.Delete(ctx, FreezeConfigMap, metav1.DeleteOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	}
	cm := FreezeConfigMapFor(ns, *f)
	_, err := cms.Create(ctx, cm, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		_, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
	}
	return err
}

// FreezeConfigMapFor is the opsdeck-freeze ConfigMap holding f.
func FreezeConfigMapFor(ns string, f Freeze) *corev1.ConfigMap {
	b, _ := json.Marshal(f)
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: FreezeConfigMap, Namespace: ns,
		Labels: map[string]string{"app.kubernetes.io/managed-by": "opsdeck"}},
		Data: map[string]string{freezeKey: string(b)}}
}

// NamespaceFreeze reads the namespace-wide freeze (nil when none).
func NamespaceFreeze(ctx context.Context, c kubernetes.Interface, ns string) (*Freeze, error) {
	cm, err := c.CoreV1().ConfigMaps(ns).Get(ctx, FreezeConfigMap, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return FreezeFromConfigMap(cm), nil
}

// FreezeFromConfigMap reads the freeze of an opsdeck-freeze ConfigMap.
func FreezeFromConfigMap(cm *corev1.ConfigMap) *Freeze {
	if cm == nil {
		return nil
	}
	f := ParseFreeze(cm.Data[freezeKey])
	if f != nil {
		f.Scope = "all"
	}
	return f
}

// ServiceFreeze reads a Deployment's own freeze.
func ServiceFreeze(d *appsv1.Deployment) *Freeze {
	f := ParseFreeze(d.Annotations[AnnotationFreeze])
	if f != nil {
		f.Scope = d.Name
	}
	return f
}
