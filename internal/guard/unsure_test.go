package guard

import (
	"errors"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/internal/domain"
)

// A round judges nothing while the API is unreachable or the metrics query failed; a fresh
// state with no health recorded (as in unit tests) is judged.
func TestUnsure(t *testing.T) {
	cases := []struct {
		name string
		api  domain.Health
		err  error
		want bool
	}{
		{"healthy", domain.Health{OK: true, LastSuccess: time.Now()}, nil, false},
		{"no health recorded", domain.Health{}, nil, false},
		{"API reconnecting", domain.Health{Reconnecting: true, Err: "watch failed: connection refused"}, nil, true},
		{"API error", domain.Health{Err: "Unauthorized"}, nil, true},
		{"query failed", domain.Health{OK: true}, errors.New("context deadline exceeded"), true},
	}
	for _, c := range cases {
		got := unsure(domain.ClusterState{API: c.api}, domain.MetricsFrame{Err: c.err}) != ""
		if got != c.want {
			t.Errorf("%s: unsure %v, want %v", c.name, got, c.want)
		}
	}
}
