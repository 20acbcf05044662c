package cluster

import (
	"context"
	"fmt"
	"strings"

	authv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Permission is one thing opsdeck needs to be allowed to do.
type Permission struct {
	Verb, Group, Resource string
}

func (p Permission) String() string {
	if p.Group == "" {
		return p.Verb + " " + p.Resource
	}
	return p.Verb + " " + p.Resource + "." + p.Group
}

// GuardPermissions are what auto-guard needs in each namespace it watches: to read what it
// judges, to roll back (kubectl's rollback patches the Deployment) and to record its Events.
var GuardPermissions = []Permission{
	{"list", "apps", "deployments"}, {"watch", "apps", "deployments"}, {"patch", "apps", "deployments"},
	{"list", "apps", "replicasets"}, {"watch", "apps", "replicasets"},
	{"list", "", "pods"}, {"watch", "", "pods"},
	{"create", "", "events"},
}

// MissingPermissions asks the API server, with SelfSubjectAccessReviews, which of perms the
// current user lacks in each namespace ("" for all namespaces). The error is about asking,
// not about a refusal.
func MissingPermissions(ctx context.Context, client kubernetes.Interface, namespaces []string, perms []Permission) ([]string, error) {
	if len(namespaces) == 0 {
		namespaces = []string{""}
	}
	var missing []string
	for _, ns := range namespaces {
		for _, p := range perms {
			review := &authv1.SelfSubjectAccessReview{Spec: authv1.SelfSubjectAccessReviewSpec{
				ResourceAttributes: &authv1.ResourceAttributes{Namespace: ns, Verb: p.Verb, Group: p.Group, Resource: p.Resource},
			}}
			res, err := client.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
			if err != nil {
				return nil, fmt.Errorf("checking permissions (%s): %w", p, err)
			}
			if !res.Status.Allowed {
				where := "in namespace " + ns
				if ns == "" {
					where = "in all namespaces"
				}
				missing = append(missing, p.String()+" "+where)
			}
		}
	}
	return missing, nil
}

// FormatMissing writes missing permissions as one line.
func FormatMissing(user string, missing []string) string {
	return fmt.Sprintf("user %q may not %s", user, strings.Join(missing, ", "))
}
