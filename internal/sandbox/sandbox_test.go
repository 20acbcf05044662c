package sandbox

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

// The seeded services are there, each 3/3 available at NAME:v1, with a Service.
func TestSeededServicesAvailable(t *testing.T) {
	env := Shared(t)
	client := env.Client(t)
	ctx := context.Background()
	for _, name := range SeededServices {
		d, err := client.AppsV1().Deployments(Namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("deployment %s: %v", name, err)
		}
		if d.Status.AvailableReplicas != 3 || *d.Spec.Replicas != 3 {
			t.Errorf("%s: %d/%d available, want 3/3", name, d.Status.AvailableReplicas, *d.Spec.Replicas)
		}
		if img := d.Spec.Template.Spec.Containers[0].Image; img != name+":v1" {
			t.Errorf("%s: image %s, want %s:v1", name, img, name)
		}
		if _, err := client.CoreV1().Services(Namespace).Get(ctx, name, metav1.GetOptions{}); err != nil {
			t.Errorf("service %s: %v", name, err)
		}
	}
}

// Prometheus has one request series per ready seeded pod.
func TestPrometheusSeriesPerSeededPod(t *testing.T) {
	env := Shared(t)
	client := env.Client(t)
	ctx := context.Background()
	pods, err := client.CoreV1().Pods(Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, p := range pods.Items {
		if podReady(p) {
			want[p.Name] = true
		}
	}
	if len(want) < 3*len(SeededServices) {
		t.Fatalf("%d ready pods in %s, want at least %d", len(want), Namespace, 3*len(SeededServices))
	}
	perPod := func(window string) map[string]float64 {
		samples, err := Query(ctx, env.PrometheusURL, `sum by (pod) (rate(http_requests_total{namespace="shop"}[`+window+`]))`)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]float64{}
		for _, s := range samples {
			got[s.Metric["pod"]] = s.Value
		}
		return got
	}
	// The query of the README: one series per pod.
	series := perPod("1m")
	for pod := range want {
		if _, ok := series[pod]; !ok {
			t.Errorf("no request rate series for pod %s", pod)
		}
	}
	// A short window reads the rate of pods younger than a minute without extrapolation.
	for pod, v := range perPod("5s") {
		if want[pod] && (v < 35 || v > 65) {
			t.Errorf("pod %s serves %.1f req/s, want about 50", pod, v)
		}
	}
}

// Pods become Ready 1 to 3 s after they are scheduled.
func TestPodsReadyOneToThreeSecondsAfterScheduling(t *testing.T) {
	env := Shared(t)
	ns := env.NewNamespace(t)
	env.CreateDeployment(t, ns, "timing", "timing:v1", 3)
	pods, err := env.Client(t).CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		scheduled, ready := condTime(p, corev1.PodScheduled), condTime(p, corev1.PodReady)
		// Condition times have a resolution of one second.
		if d := ready.Sub(scheduled); d < 0 || d > 4*time.Second {
			t.Errorf("pod %s ready %s after scheduling, want 1 to 3 s", p.Name, d)
		}
	}
}

func condTime(p corev1.Pod, c corev1.PodConditionType) time.Time {
	for _, cond := range p.Status.Conditions {
		if cond.Type == c {
			return cond.LastTransitionTime.Time
		}
	}
	return time.Time{}
}

// A rollout to a crash image stalls: its pods never become Ready, the old ones keep serving,
// and the Deployment reports ProgressDeadlineExceeded once its deadline has passed.
func TestCrashImageStallsRollout(t *testing.T) {
	env := Shared(t)
	client := env.Client(t)
	ns := env.NewNamespace(t)
	env.CreateDeployment(t, ns, "stalling", "stalling:v1", 3)
	ctx := context.Background()
	const deadline = 10
	patch := fmt.Sprintf(`{"spec":{"progressDeadlineSeconds":%d,"template":{"spec":{"containers":[{"name":"app","image":"stalling:v2-crash"}]}}}}`, deadline)
	start := time.Now()
	if _, err := client.AppsV1().Deployments(ns).Patch(ctx, "stalling", types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	var d *appsv1.Deployment
	WaitFor(t, 60*time.Second, "ProgressDeadlineExceeded", func() (bool, string) {
		var err error
		d, err = client.AppsV1().Deployments(ns).Get(ctx, "stalling", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		for _, c := range d.Status.Conditions {
			if c.Type == appsv1.DeploymentProgressing && c.Reason == "ProgressDeadlineExceeded" {
				return true, ""
			}
		}
		return false, fmt.Sprintf("updated %d ready %d", d.Status.UpdatedReplicas, d.Status.ReadyReplicas)
	})
	if took := time.Since(start); took < deadline*time.Second {
		t.Errorf("ProgressDeadlineExceeded after %s, before the %ds deadline", took, deadline)
	}
	if d.Status.ReadyReplicas != 3 || d.Status.UpdatedReplicas != 1 {
		t.Errorf("stalled rollout: ready %d updated %d, want the 3 old pods ready and 1 new pod stuck", d.Status.ReadyReplicas, d.Status.UpdatedReplicas)
	}
	pods, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	crashing := 0
	for _, p := range pods.Items {
		if p.Spec.Containers[0].Image == "stalling:v2-crash" {
			if podReady(p) {
				t.Errorf("crash pod %s is Ready", p.Name)
			}
			if w := p.Status.ContainerStatuses; len(w) > 0 && w[0].State.Waiting != nil && w[0].State.Waiting.Reason == "CrashLoopBackOff" {
				crashing++
			}
		}
	}
	if crashing == 0 {
		t.Errorf("no pod of the crash revision is in CrashLoopBackOff")
	}
}

// The error ratio that Prometheus computes is about 0.3 for a bad revision and below 0.01 for a
// healthy one: the metrics simulator follows the behaviour table.
func TestErrorRatioFollowsImageTag(t *testing.T) {
	env := Shared(t)
	ns := env.NewNamespace(t)
	env.CreateDeployment(t, ns, "good", "good:v1", 3)
	env.CreateDeployment(t, ns, "broken", "broken:v2-bad", 3)
	ratio := func(app string) (float64, bool) {
		q := fmt.Sprintf(`sum(rate(http_requests_total{namespace=%q,pod=~"%s-.*",code=~"5.."}[20s])) / sum(rate(http_requests_total{namespace=%q,pod=~"%s-.*"}[20s]))`, ns, app, ns, app)
		s, err := Query(context.Background(), env.PrometheusURL, q)
		if err != nil || len(s) == 0 {
			return 0, false
		}
		return s[0].Value, true
	}
	var bad, good float64
	WaitFor(t, 60*time.Second, "error ratios of both revisions", func() (bool, string) {
		var ok1, ok2 bool
		bad, ok1 = ratio("broken")
		good, ok2 = ratio("good")
		return ok1 && ok2, "no samples yet"
	})
	if bad < 0.2 || bad > 0.4 {
		t.Errorf("bad revision error ratio %.3f, want about 0.3", bad)
	}
	if good >= 0.01 {
		t.Errorf("healthy revision error ratio %.4f, want below 0.01", good)
	}
}

// A second up on a live folder refuses and changes nothing; down stops every process.
func TestUpTwiceThenDown(t *testing.T) {
	env := Shared(t) // the binaries are known to work
	dir := t.TempDir()
	ctx := context.Background()
	_, err := Up(ctx, Options{Dir: dir, Nodes: 1, BinDir: env.BinDir, Tied: true})
	if err != nil {
		t.Fatal(err)
	}
	pids := recordedPids(dir)
	if len(pids) != 7 {
		t.Errorf("recorded %d processes (%v), want 7", len(pids), pids)
	}
	envBefore, _ := os.ReadFile(filepath.Join(dir, envFile))
	_, err = Up(ctx, Options{Dir: dir, Nodes: 1, BinDir: env.BinDir, Tied: true})
	if err == nil || !strings.Contains(err.Error(), "already running") {
		t.Fatalf("second up: %v, want an already-running error", err)
	}
	envAfter, _ := os.ReadFile(filepath.Join(dir, envFile))
	if string(envBefore) != string(envAfter) || len(living(dir, pids)) != len(pids) {
		t.Fatalf("second up changed the running sandbox")
	}
	if err := Down(dir); err != nil {
		t.Fatal(err)
	}
	if left := processesMentioning(t, dir); len(left) > 0 {
		t.Errorf("processes left after down: %v", left)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("down kept %s", dir)
	}
}

// A process that dies during up fails it with the last lines of its log, and nothing of the
// sandbox keeps running.
func TestUpFailsWhenAProcessDies(t *testing.T) {
	env := Shared(t)
	bin := t.TempDir()
	for _, name := range []string{"etcd", "kube-controller-manager", "kube-scheduler", "kubectl", "kwok"} {
		if err := os.Symlink(filepath.Join(env.BinDir, name), filepath.Join(bin, name)); err != nil {
			t.Fatal(err)
		}
	}
	broken := "#!/bin/sh\necho 'E1126 cannot open etcd storage: simulated failure'\nexit 3\n"
	if err := os.WriteFile(filepath.Join(bin, "kube-apiserver"), []byte(broken), 0o755); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	_, err := Up(context.Background(), Options{Dir: dir, Nodes: 1, BinDir: bin, Tied: true})
	if err == nil {
		t.Fatal("up succeeded with a kube-apiserver that exits")
	}
	for _, want := range []string{"kube-apiserver exited", "simulated failure"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if left := processesMentioning(t, dir); len(left) > 0 {
		t.Errorf("processes left after a failed up: %v", left)
	}
}

// processesMentioning lists live processes whose command line contains s.
func processesMentioning(t *testing.T, s string) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscan(e.Name(), &pid); err != nil {
			continue
		}
		if alive(pid, s) {
			cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			out = append(out, fmt.Sprintf("%d %s", pid, strings.ReplaceAll(string(cmd), "\x00", " ")))
		}
	}
	return out
}
