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
