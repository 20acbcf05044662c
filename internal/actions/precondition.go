package actions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	appsv1client "k8s.io/client-go/kubernetes/typed/apps/v1"

	"github.com/opsdeck/opsdeck/internal/domain"
)

// withResourceVersion adds metadata.resourceVersion = rv to a patch. The API server then
// refuses the patch with a Conflict when the object changed since rv was read, so two racing
// executors (or an executor and a human) cannot both act on the same state.
func withResourceVersion(pt types.PatchType, patch []byte, rv string) ([]byte, error) {
	if rv == "" {
		return nil, fmt.Errorf("no resourceVersion to guard the patch with")
	}
	out, err := editPatchMetadata(pt, patch,
		map[string]any{"op": "replace", "path": "/metadata/resourceVersion", "value": rv},
		func(md map[string]any) { md["resourceVersion"] = rv })
	if errors.Is(err, errPatchType) {
		return nil, fmt.Errorf("patch type %s cannot carry a precondition", pt)
	}
	return out, err
}

// errPatchType marks a patch type editPatchMetadata cannot edit.
var errPatchType = errors.New("unsupported patch type")

// editPatchMetadata adds to a patch: jsonOp to a JSON patch, or, for a merge patch, what edit
// sets in its metadata (created when the patch has none).
func editPatchMetadata(pt types.PatchType, patch []byte, jsonOp map[string]any, edit func(md map[string]any)) ([]byte, error) {
	switch pt {
	case types.JSONPatchType:
		var ops []map[string]any
		if err := json.Unmarshal(patch, &ops); err != nil {
			return nil, fmt.Errorf("json patch: %w", err)
		}
		return json.Marshal(append(ops, jsonOp))
	case types.StrategicMergePatchType, types.MergePatchType:
		var m map[string]any
		if err := json.Unmarshal(patch, &m); err != nil {
			return nil, fmt.Errorf("merge patch: %w", err)
		}
		if m == nil {
			m = map[string]any{}
		}
		md, _ := m["metadata"].(map[string]any)
		if md == nil {
			md = map[string]any{}
		}
		edit(md)
		m["metadata"] = md
		return json.Marshal(m)
	}
	return nil, errPatchType
}

// lastActionKey carries the value of domain.LastActionAnnotation through an action's context, so
// that every request the action makes records who acted in the same write as the change.
type lastActionKey struct{}

func withLastAction(ctx context.Context, l domain.LastAction) context.Context {
	return context.WithValue(ctx, lastActionKey{}, l.Encode())
}

func lastActionOf(ctx context.Context) (string, bool) {
	v, ok := ctx.Value(lastActionKey{}).(string)
	return v, ok
}

// withLastActionAnnotation adds the action's last-action annotation (from ctx) to a patch.
func withLastActionAnnotation(ctx context.Context, pt types.PatchType, patch []byte) ([]byte, error) {
	v, ok := lastActionOf(ctx)
	if !ok {
		return patch, nil
	}
	// kubectl's rollback replaces /metadata/annotations first; "add" after it sets ours.
	out, err := editPatchMetadata(pt, patch,
		map[string]any{"op": "add", "path": "/metadata/annotations/opsdeck.io~1last-action", "value": v},
		func(md map[string]any) {
			ann, _ := md["annotations"].(map[string]any)
			if ann == nil {
				ann = map[string]any{}
			}
			ann[domain.LastActionAnnotation] = v
			md["annotations"] = ann
		})
	if errors.Is(err, errPatchType) {
		return nil, fmt.Errorf("patch type %s cannot carry an annotation", pt)
	}
	return out, err
}

// setLastAction sets the action's last-action annotation (from ctx) on an object to Update.
func setLastAction(ctx context.Context, meta *metav1.ObjectMeta) {
	if v, ok := lastActionOf(ctx); ok {
		if meta.Annotations == nil {
			meta.Annotations = map[string]string{}
		}
		meta.Annotations[domain.LastActionAnnotation] = v
	}
}

// patchDeployment applies a patch to d guarded by d's resourceVersion.
func patchDeployment(ctx context.Context, c kubernetes.Interface, d *appsv1.Deployment, pt types.PatchType, patch []byte) (*appsv1.Deployment, error) {
	patch, err := withLastActionAnnotation(ctx, pt, patch)
	if err != nil {
		return nil, err
	}
	guarded, err := withResourceVersion(pt, patch, d.ResourceVersion)
	if err != nil {
		return nil, err
	}
	return c.AppsV1().Deployments(d.Namespace).Patch(ctx, d.Name, pt, guarded, metav1.PatchOptions{FieldManager: FieldManager})
}

// FieldManager is the field manager opsdeck's patches are recorded under.
const FieldManager = "opsdeck"

// pinnedClient hands kubectl's helpers (which Get the Deployment themselves and then patch it)
// the very Deployment opsdeck already read, and guards their patch with its resourceVersion: what
// was checked, snapshotted and audited is what gets changed, or nothing does.
type pinnedClient struct {
	kubernetes.Interface
	ctx context.Context
	d   *appsv1.Deployment
	// patchErr receives the API's error of the patch: kubectl's helpers format it with %v,
	// which loses its type (Conflict, Forbidden).
	patchErr *error
}

func (c pinnedClient) AppsV1() appsv1client.AppsV1Interface {
	return pinnedApps{AppsV1Interface: c.Interface.AppsV1(), c: c}
}

type pinnedApps struct {
	appsv1client.AppsV1Interface
	c pinnedClient
}

func (a pinnedApps) Deployments(ns string) appsv1client.DeploymentInterface {
	return pinnedDeployments{DeploymentInterface: a.AppsV1Interface.Deployments(ns), c: a.c, ns: ns}
}

type pinnedDeployments struct {
	appsv1client.DeploymentInterface
	c  pinnedClient
	ns string
}

func (p pinnedDeployments) Get(ctx context.Context, name string, opts metav1.GetOptions) (*appsv1.Deployment, error) {
	if p.ns == p.c.d.Namespace && name == p.c.d.Name {
		return p.c.d.DeepCopy(), nil
	}
	return p.DeploymentInterface.Get(ctx, name, opts)
}

func (p pinnedDeployments) Patch(_ context.Context, name string, pt types.PatchType, data []byte, opts metav1.PatchOptions, sub ...string) (*appsv1.Deployment, error) {
	if p.ns != p.c.d.Namespace || name != p.c.d.Name || len(sub) > 0 {
		return nil, fmt.Errorf("opsdeck: unexpected patch of %s/%s", p.ns, name)
	}
	data, err := withLastActionAnnotation(p.c.ctx, pt, data)
	if err != nil {
		return nil, err
	}
	guarded, err := withResourceVersion(pt, data, p.c.d.ResourceVersion)
	if err != nil {
		return nil, err
	}
	if opts.FieldManager == "" {
		opts.FieldManager = FieldManager
	}
	out, err := p.DeploymentInterface.Patch(p.c.ctx, name, pt, guarded, opts)
	if p.c.patchErr != nil {
		*p.c.patchErr = err
	}
	return out, err
}
