package simulator

import (
	"math"
	"testing"
)

// MixedP99 of one kind of pod is the table's p99, as histogram_quantile reads it from the
// buckets the simulator serves; pods read together give a p99 between their own.
func TestMixedP99(t *testing.T) {
	slow, healthy := BehaviourFor("x:v2-slow"), BehaviourFor("x:v1")
	for _, c := range []struct {
		name string
		pods []Share
		want float64
	}{
		{"healthy", []Share{{RPS: 50, P99: healthy.P99}, {RPS: 50, P99: healthy.P99}}, healthy.P99},
		{"slow", []Share{{RPS: 50, P99: slow.P99}}, slow.P99},
	} {
		if got := MixedP99(c.pods); math.Abs(got-c.want) > 1e-3*c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	mixed := MixedP99([]Share{{RPS: 50, P99: healthy.P99}, {RPS: 50, P99: slow.P99}})
	if mixed <= healthy.P99 || mixed >= slow.P99 {
		t.Errorf("mixed p99 %v, want between %v and %v", mixed, healthy.P99, slow.P99)
	}
	if got := MixedP99([]Share{{RPS: 0, P99: slow.P99}}); !math.IsNaN(got) {
		t.Errorf("no traffic: %v, want NaN", got)
	}
}
