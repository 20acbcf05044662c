package guard

import (
	"math"

	"github.com/opsdeck/opsdeck/internal/domain"
)

// unsure says why a round cannot judge at all, or "" when it can: the Kubernetes API is
// unreachable (the watched state may be stale, and no rollback could be made), or the metrics
// query failed (no service has data; a failed query is never a breach). Such a round acts on
// nothing and forgets the breaches in progress, so a rule must hold again for its whole `for`
// on fresh data before the guard acts.
func unsure(st domain.ClusterState, f domain.MetricsFrame) string {
	if st.API.Reconnecting || (!st.API.OK && st.API.Err != "") {
		return "Kubernetes API unreachable (" + st.API.Err + "): not judging"
	}
	if f.Err != nil {
		return "Prometheus unavailable (" + f.Err.Error() + "): not a breach"
	}
	return ""
}

// inconclusive is every service's status in a round that cannot judge.
func inconclusive(st domain.ClusterState, why string) map[string]Status {
	out := make(map[string]Status, len(st.Services))
	for _, svc := range st.Services {
		out[svc.Key()] = Status{Service: svc.Key(), Verdict: VerdictInconclusive, Detail: why, Old: math.NaN(), Value: math.NaN()}
	}
	return out
}
