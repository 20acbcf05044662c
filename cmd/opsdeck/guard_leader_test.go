package main

import (
	"strings"
	"testing"
)

// Bad --leader-elect usage is refused in a line naming what to do, with exit status 2,
// before any connection is tried.
func TestGuardLeaderElectUsage(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"guard", "--leader-elect", "-A"}, "give one with -n instead of -A"},
		{[]string{"guard", "--leader-elect", "--lease-duration", "1s"}, "--lease-duration 1s is too short"},
	}
	for _, c := range cases {
		r := opsdeck(t, nil, append(c.args, "--kubeconfig", "/nonexistent/kubeconfig")...)
		first, _, _ := strings.Cut(r.stderr, "\n")
		if r.code != 2 || !strings.Contains(first, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and a first line with %q", c.args, r.code, r.stderr, c.want)
		}
	}
}
