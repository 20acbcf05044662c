package leader

import (
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// A console reads the Lease to know whether a guard leads: only a claim renewed within its
// duration counts; a released Lease (empty holder) or an expired one does not.
func TestHolderOf(t *testing.T) {
	now := time.Date(2026, 11, 28, 3, 12, 0, 0, time.UTC)
	lease := func(holder string, renewedAgo time.Duration, seconds int32) *coordinationv1.Lease {
		renew := metav1.NewMicroTime(now.Add(-renewedAgo))
		return &coordinationv1.Lease{Spec: coordinationv1.LeaseSpec{HolderIdentity: &holder, RenewTime: &renew, LeaseDurationSeconds: &seconds}}
	}
	cases := []struct {
		name  string
		l     *coordinationv1.Lease
		valid bool
	}{
		{"renewed 2s ago, 15s lease", lease("guard-0_17", 2*time.Second, 15), true},
		{"renewed 16s ago, 15s lease", lease("guard-0_17", 16*time.Second, 15), false},
		{"released (holder emptied)", lease("", time.Second, 1), false},
		{"never renewed", &coordinationv1.Lease{}, false},
	}
	for _, c := range cases {
		if got := holderOf(c.l, now); got.Valid != c.valid {
			t.Errorf("%s: valid %v, want %v (%+v)", c.name, got.Valid, c.valid, got)
		}
	}
}

func TestPod(t *testing.T) {
	for id, want := range map[string]string{
		"opsdeck-guard-7d9f-x2k4q_1": "opsdeck-guard-7d9f-x2k4q",
		"host_with_underscores_42":   "host_with_underscores",
		"nopid":                      "nopid",
	} {
		if got := Pod(id); got != want {
			t.Errorf("Pod(%q) = %q, want %q", id, got, want)
		}
	}
}
