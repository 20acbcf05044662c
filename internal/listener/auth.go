package listener

import (
	"context"
	"errors"
	"fmt"
	"strings"

	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Caller is an authenticated Kubernetes user.
type Caller struct {
	User   string
	UID    string
	Groups []string
	Extra  map[string]authzv1.ExtraValue
}

// Authenticator asks the cluster who a bearer token is and whether it may patch a Deployment.
type Authenticator interface {
	// Authenticate returns ErrUnauthenticated when the cluster does not accept the token.
	Authenticate(ctx context.Context, token string) (Caller, error)
	// MayPatch says whether c may patch the Deployment name in namespace ns.
	MayPatch(ctx context.Context, c Caller, ns, name string) (bool, error)
}

// ErrUnauthenticated marks a token the cluster does not accept.
var ErrUnauthenticated = errors.New("unauthenticated")

// KubeAuth authenticates with TokenReview and authorizes with SubjectAccessReview: the
// cluster's RBAC decides who may deploy. Its client needs create on tokenreviews and
// subjectaccessreviews (the ClusterRole system:auth-delegator grants both).
type KubeAuth struct{ Client kubernetes.Interface }

func (k KubeAuth) Authenticate(ctx context.Context, token string) (Caller, error) {
	tr := &authnv1.TokenReview{Spec: authnv1.TokenReviewSpec{Token: token}}
	res, err := k.Client.AuthenticationV1().TokenReviews().Create(ctx, tr, metav1.CreateOptions{})
	if err != nil {
		return Caller{}, fmt.Errorf("token review: %w", err)
	}
	if !res.Status.Authenticated {
		return Caller{}, ErrUnauthenticated
	}
	u := res.Status.User
	c := Caller{User: u.Username, UID: u.UID, Groups: u.Groups}
	if len(u.Extra) > 0 {
		c.Extra = map[string]authzv1.ExtraValue{}
		for k, v := range u.Extra {
			c.Extra[k] = authzv1.ExtraValue(v)
		}
	}
	return c, nil
}

func (k KubeAuth) MayPatch(ctx context.Context, c Caller, ns, name string) (bool, error) {
	sar := &authzv1.SubjectAccessReview{Spec: authzv1.SubjectAccessReviewSpec{
		User: c.User, UID: c.UID, Groups: c.Groups, Extra: c.Extra,
		ResourceAttributes: &authzv1.ResourceAttributes{
			Namespace: ns, Verb: "patch", Group: "apps", Resource: "deployments", Name: name,
		},
	}}
	res, err := k.Client.AuthorizationV1().SubjectAccessReviews().Create(ctx, sar, metav1.CreateOptions{})
	if err != nil {
		return false, fmt.Errorf("subject access review: %w", err)
	}
	return res.Status.Allowed, nil
}

// bearer returns the token of an "Authorization: Bearer TOKEN" header.
func bearer(header string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}
