package metrics

import (
	"strings"
	"testing"

	"github.com/opsdeck/opsdeck/config"
	"github.com/opsdeck/opsdeck/internal/domain"
)

// FuzzQueryTemplating feeds hostile namespace and ReplicaSet names (they come from the
// cluster) into the PromQL templating and checks that they can only ever land inside string
// literals: with the literals blanked, every query is the same as for a plain name, so a name
// can neither change a query's shape nor break out of its quotes. Run: make fuzz.
func FuzzQueryTemplating(f *testing.F) {
	f.Add("shop", "order-service-6d4b8c9f7", "web", false)
	f.Add(`a"} or vector(1) #`, `x"}[5m]) or on() vector(1) #-abc12`, "q", true)
	f.Add("ns\\", "rs\n\"\\-1", "\x00\xff", false)
	f.Add("", "", "", true)
	f.Fuzz(func(t *testing.T, ns, rsName, ns2 string, workloadLabel bool) {
		label := ""
		if workloadLabel {
			label = "workload"
		}
		b := newBuilder(config.DefaultQueries(), label)
		plain := newBuilder(config.DefaultQueries(), label)

		// Namespaces and ReplicaSet names both reach the frame's selectors.
		services := func(ns1, ns2, rs string) []domain.Service {
			return []domain.Service{
				{Namespace: ns1, Name: "svc", ReplicaSets: []domain.ReplicaSet{{Name: rs}}},
				{Namespace: ns2, Name: "web", ReplicaSets: []domain.ReplicaSet{{Name: "web-abc12"}}},
			}
		}
		refNS2, refRS := "y", "svc-abc"
		if ns == ns2 {
			refNS2 = "x" // one namespace: an equality matcher, not a regex
		}
		if deploymentOf(rsName) == "" {
			refRS = "-" // no Deployment in the name: the service's name is used
		}
		got := services(ns, ns2, rsName)
		ref := services("x", refNS2, refRS)
		for _, detail := range [][2][]domain.Service{{nil, nil}, {got, ref}, {got[:1], ref[:1]}} {
			q, w := b.frameQueries(got, detail[0]), plain.frameQueries(ref, detail[1])
			for i := range q {
				checkShape(t, q[i], w[i])
			}
		}

		svc := domain.Service{Namespace: ns, Name: "svc", ReplicaSets: []domain.ReplicaSet{{Name: rsName}}}
		one := domain.Service{Namespace: "x", Name: "svc", ReplicaSets: []domain.ReplicaSet{{Name: refRS}}}
		h, hw := b.historyQueries(svc), plain.historyQueries(one)
		for m, q := range h {
			checkShape(t, q, hw[m])
		}
	})
}

// checkShape fails when q, with its string literals blanked, differs from want blanked the
// same way, or when a literal is left open.
func checkShape(t *testing.T, q, want string) {
	t.Helper()
	gs, ok := blankStrings(q)
	if !ok {
		t.Fatalf("unterminated string literal in %q", q)
	}
	ws, _ := blankStrings(want)
	if gs != ws {
		t.Fatalf("a name changed the query's shape:\n got %s\nwant %s", gs, ws)
	}
}

// blankStrings replaces each double-quoted PromQL string literal (with backslash escapes) by
// "", and reports whether every literal was closed.
func blankStrings(q string) (string, bool) {
	var b strings.Builder
	in, esc := false, false
	for _, r := range q {
		switch {
		case !in && r == '"':
			in = true
			b.WriteString(`""`)
		case !in:
			b.WriteRune(r)
		case esc:
			esc = false
		case r == '\\':
			esc = true
		case r == '"':
			in = false
		case r == '\n':
			return b.String(), false // PromQL strings cannot span lines
		}
	}
	return b.String(), !in
}
