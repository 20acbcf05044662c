package sandbox

import (
	"fmt"
	"testing"
)

// `up --services 2000 --namespaces 100` seeds 100 namespaces of 20 services, every name once.
func TestFleetSpreadsServicesEvenly(t *testing.T) {
	for _, tc := range []struct{ services, namespaces, min, max int }{
		{2000, 100, 20, 20},
		{7, 3, 2, 3},
		{2, 5, 0, 1},
	} {
		f := fleet(tc.services, tc.namespaces)
		total := 0
		for ns, names := range f {
			if len(names) < tc.min || len(names) > tc.max {
				t.Errorf("%d over %d: %s has %d services, want %d to %d", tc.services, tc.namespaces, ns, len(names), tc.min, tc.max)
			}
			seen := map[string]bool{}
			for _, n := range names {
				if seen[n] {
					t.Errorf("%s: %s twice", ns, n)
				}
				seen[n] = true
			}
			total += len(names)
		}
		if total != tc.services {
			t.Errorf("%d over %d: %d services seeded", tc.services, tc.namespaces, total)
		}
		if want := min(tc.services, tc.namespaces); len(f) != want {
			t.Errorf("%d over %d: %d namespaces, want %d", tc.services, tc.namespaces, len(f), want)
		}
		if _, ok := f[FleetNamespace(1)]; !ok {
			t.Errorf("no namespace %s", FleetNamespace(1))
		}
	}
	if got := fmt.Sprint(fleet(3, 2)[FleetNamespace(1)]); got != "[svc-001 svc-002]" {
		t.Errorf("fleet-001 holds %s", got)
	}
}
