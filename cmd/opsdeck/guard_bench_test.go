package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/opsdeck/opsdeck/internal/sandbox"
)

// BenchmarkGuardReaction measures, in the sandbox, the time from the first sample of a bad
// revision in Prometheus to the guard's rollback patch (the audit line is written right after
// the patch), with the default configuration: the early verdict on. bad fails 30 % of its
// requests (6x the 5 % bound); slow has p99 2 s, about 3 % of requests above the 1 s bound
// (3x its 1 % share). Run it with -benchtime=4x: each iteration is a real rollout.
func BenchmarkGuardReaction(b *testing.B) {
	for _, tag := range []string{"bad", "slow"} {
		b.Run(tag, func(b *testing.B) {
			env := sandbox.Shared(b)
			client := env.Client(b)
			var total time.Duration
			for i := 0; i < b.N; i++ {
				ns := env.NewNamespace(b)
				env.CreateDeployment(b, ns, "web", "web:v1", 3)
				g := startGuardB(b, env, ns)
				setImage(b, client, ns, "web", "web:v2-"+tag)
				// The audit line follows the patch: wait for both.
				sandbox.WaitFor(b, 90*time.Second, "the rollback", func() (bool, string) {
					return image(b, client, ns, "web") == "web:v1" && len(rollbacks(b, g.audit)) == 1, g.output()
				})
				total += reaction(b, env, client, ns, "web", "web:v2-"+tag, g.audit)
			}
			b.ReportMetric(total.Seconds()/float64(b.N), "s/rollback")
		})
	}
}

// reaction is the time from the first sample of the bad ReplicaSet's pods in Prometheus to the
// guard's rollback in the audit log.
func reaction(tb testing.TB, env *sandbox.Env, client kubernetes.Interface, ns, name, badImage, auditLog string) time.Duration {
	tb.Helper()
	rb := rollbacks(tb, auditLog)
	if len(rb) != 1 {
		tb.Fatalf("%d rollbacks, want 1", len(rb))
	}
	rss, err := client.AppsV1().ReplicaSets(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	bad := ""
	for _, rs := range rss.Items {
		if rs.Spec.Template.Spec.Containers[0].Image == badImage {
			bad = rs.Name
		}
	}
	if bad == "" {
		tb.Fatalf("no ReplicaSet of %s", badImage)
	}
	// The earliest sample of any pod of the bad ReplicaSet, to the second.
	q := fmt.Sprintf(`min(min_over_time(timestamp(http_requests_total{namespace=%q,pod=~"%s-.*"})[5m:1s]))`, ns, bad)
	var first float64
	sandbox.WaitFor(tb, 10*time.Second, "the first bad sample", func() (bool, string) {
		s, err := sandbox.Query(context.Background(), env.PrometheusURL, q)
		if err != nil || len(s) == 0 {
			return false, fmt.Sprint(err)
		}
		first = s[0].Value
		return true, ""
	})
	firstAt := time.Unix(0, int64(first*1e9))
	d := rb[0].Time.Sub(firstAt)
	tb.Logf("first bad sample %s, rollback %s: %.1fs (%s)", firstAt.Format("15:04:05.000"),
		rb[0].Time.Format("15:04:05.000"), d.Seconds(), strings.SplitN(rb[0].Reason, ";", 2)[0])
	return d
}
