package gameday

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/opsdeck/opsdeck/internal/audit"
	"github.com/opsdeck/opsdeck/internal/sandbox"
)

// leaseDuration is the game days' --lease-duration: short, so a failover is quick to see.
const leaseDuration = 6 * time.Second

// replicas starts n guards with --leader-elect on ns and waits until one of them leads.
func replicas(t *testing.T, env *sandbox.Env, ns string, n int) []*guard {
	t.Helper()
	cfg := testConfig(t, "")
	var gs []*guard
	for i := 0; i < n; i++ {
		gs = append(gs, startGuard(t, env, fmt.Sprintf("replica-%d", i), ns, env.PrometheusURL,
			"--config", cfg, "--leader-elect", "--lease-duration", leaseDuration.String()))
	}
	leaderOf(t, gs, nil, 30*time.Second)
	return gs
}

// leaderOf waits until exactly one live replica of gs (other than the dead) logs that it leads,
// and returns it with the time it said so.
func leaderOf(t *testing.T, gs []*guard, dead *guard, timeout time.Duration) (*guard, time.Time) {
	t.Helper()
	var lead *guard
	var at time.Time
	waitFor(t, timeout, "one replica to lead", func() (bool, string) {
		n := 0
		for _, g := range gs {
			if g == dead || g.exited() {
				continue
			}
			if l, ok := g.find("leading", nil); ok {
				n++
				lead, at = g, l.At
			}
		}
		if n > 1 {
			t.Fatalf("%d replicas lead at once", n)
		}
		return n == 1, "no replica leads yet"
	})
	return lead, at
}

// rolledBackOnce waits until service name is back at image want, then checks that the guards
// made exactly one rollback of it, and that the Deployment shows one: revision 3 (1 the first
// image, 2 the bad one, 3 the first template again). A second rollback would make a revision 4.
func rolledBackOnce(t *testing.T, client kubernetes.Interface, ns, name, want string, timeout time.Duration, gs ...*guard) {
	t.Helper()
	waitFor(t, timeout, name+" rolled back to "+want, func() (bool, string) {
		img, rev := deployment(client, ns, name)
		// The deployment controller numbers the new revision a moment after the patch.
		logged := false
		for _, g := range gs {
			if _, ok := g.find("rolled back", about(ns+"/"+name)); ok {
				logged = true
			}
		}
		return img == want && rev != "2" && rev != "" && logged && len(guardRollbacks(t, name, gs...)) > 0,
			fmt.Sprintf("image %s revision %s", img, rev)
	})
	if n := len(guardRollbacks(t, name, gs...)); n != 1 {
		t.Fatalf("%d guard rollbacks of %s in the audit logs, want exactly 1", n, name)
	}
	if img, rev := deployment(client, ns, name); rev != "3" {
		t.Fatalf("%s at revision %s (%s), want 3: one rollback makes exactly one new revision", name, rev, img)
	}
}

// noSecondRollback checks, for the rule's `for` and a lease duration more, that nothing rolls
// the services back again: the new leader judges from the cluster and sees a healthy revision.
func noSecondRollback(t *testing.T, client kubernetes.Interface, ns string, names []string, gs ...*guard) {
	t.Helper()
	holds(t, ruleFor+leaseDuration, fmt.Sprintf("one rollback of each of %v", names), func() (bool, string) {
		for _, name := range names {
			n := len(guardRollbacks(t, name, gs...))
			if _, rev := deployment(client, ns, name); n != 1 || (rev != "3" && rev != "") {
				return false, fmt.Sprintf("%s: %d rollbacks, revision %s", name, n, rev)
			}
		}
		return true, ""
	})
}

// The leader is killed with -9 while a bad rollout breaches (before its `for` has passed): the
// standby takes the Lease within the lease duration, judges the rollout afresh from the
// cluster and rolls it back, once.
func TestLeaderKilledStandbyActsOnce(t *testing.T) {
	env := gameday(t)
	client := env.Client(t)
	ns := env.NewNamespace(t)
	env.CreateDeployment(t, ns, "orders", "orders:v1", 3)
	gs := replicas(t, env, ns, 2)
	lead, _ := leaderOf(t, gs, nil, time.Second)
	key := ns + "/orders"

	setImage(t, client, ns, "orders", "orders:v2-bad")
	waitFor(t, 60*time.Second, "the leader to see the breach", func() (bool, string) {
		_, ok := lead.find("guard status", verdict(key, "breaching", ""))
		return ok, lead.output()
	})
	killed := lead.kill9(t)
	if n := len(guardRollbacks(t, "orders", lead)); n != 0 {
		t.Fatalf("the leader rolled back before it was killed (%d); the `for` should still be running", n)
	}

	standby, took := leaderOf(t, gs, lead, leaseDuration+ruleFor)
	rolledBackOnce(t, client, ns, "orders", "orders:v1", leaseDuration+ruleFor+30*time.Second, gs...)
	acted, _ := standby.find("rolled back", about(key))
	failover := took.Sub(killed)
	measure(t, "failover", "Lease taken %.1fs after the leader's kill -9 (lease %s); rollback %.1fs after the kill (the rule's for %s restarts on takeover)",
		failover.Seconds(), leaseDuration, acted.At.Sub(killed).Seconds(), ruleFor)
	// The standby counts the lease duration from when it last saw the record change (up to one
	// retry period after the leader's last renewal, which preceded the kill) and then tries
	// every retry period (leaseDuration*2/15) with client-go's jitter of up to 1.2 periods more.
	retry := leaseDuration * 2 / 15
	if failover > leaseDuration+retry+retry*22/10+time.Second {
		t.Errorf("the standby took the Lease %.1fs after the kill: more than the lease duration %s and its retry periods", failover.Seconds(), leaseDuration)
	}
	noSecondRollback(t, client, ns, []string{"orders"}, gs...)
}

// With two and with three replicas, bad rollouts of two services are each rolled back exactly
// once; the leader is then killed right after acting, and the new leader does not roll back
// again (the Deployments already run the good revision).
func TestReplicasRollBackEachBadRolloutOnce(t *testing.T) {
	env := gameday(t)
	for _, n := range []int{2, 3} {
		t.Run(fmt.Sprintf("%d replicas", n), func(t *testing.T) {
			client := env.Client(t)
			ns := env.NewNamespace(t)
			services := []string{"cart", "pay"}
			for _, s := range services {
				env.CreateDeployment(t, ns, s, s+":v1", 3)
			}
			gs := replicas(t, env, ns, n)
			lead, _ := leaderOf(t, gs, nil, time.Second)
			for _, s := range services {
				setImage(t, client, ns, s, s+":v2-bad")
			}
			total := 0
			for _, s := range services {
				rolledBackOnce(t, client, ns, s, s+":v1", 90*time.Second, gs...)
				total += len(guardRollbacks(t, s, gs...))
			}
			measure(t, "rollbacks per bad rollout", "%d replicas: %d rollbacks for %d bad rollouts = %.1f per rollout",
				n, total, len(services), float64(total)/float64(len(services)))

			lead.kill9(t)
			leaderOf(t, gs, lead, 2*leaseDuration)
			noSecondRollback(t, client, ns, services, gs...)
		})
	}
}

// Only the leader finishes pending blue-green steps: a deploy started by the CLI (which exits
// at once) is switched by the leading replica, and the standby's audit log has nothing.
func TestOnlyLeaderFinishesBlueGreenSwitch(t *testing.T) {
	env := gameday(t)
	client := env.Client(t)
	ns := env.NewNamespace(t)
	env.CreateBlueGreen(t, ns, "checkout", "checkout:v1", 2)
	gs := replicas(t, env, ns, 2)
	lead, _ := leaderOf(t, gs, nil, time.Second)

	home := t.TempDir()
	cmd := exec.Command(world.bin, "deploy", "checkout", "checkout:v2", "--yes", "-n", ns,
		"--kubeconfig", env.Kubeconfig, "--audit-log", filepath.Join(home, "audit.jsonl"))
	cmd.Env = []string{"HOME=" + home, "XDG_CONFIG_HOME=" + home, "XDG_STATE_HOME=" + home, "PATH=" + os.Getenv("PATH")}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("opsdeck deploy: %v\n%s", err, out)
	}
	waitFor(t, 90*time.Second, "traffic switched to green", func() (bool, string) {
		svc, err := client.CoreV1().Services(ns).Get(context.Background(), "checkout", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return svc.Spec.Selector["opsdeck.io/color"] == "green", fmt.Sprintf("selector %v", svc.Spec.Selector)
	})
	for _, g := range gs {
		entries, err := audit.Read(g.audit)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		switches := 0
		for _, e := range entries {
			if e.Action == "switch" && e.Result == audit.ResultOK {
				switches++
			}
		}
		want := 0
		if g == lead {
			want = 1
		}
		if switches != want {
			t.Errorf("%s (leader: %v) made %d switches, want %d", g.name, g == lead, switches, want)
		}
	}
}
