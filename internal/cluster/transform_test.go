package cluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/opsdeck/opsdeck/internal/bluegreen"
	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/internal/sandbox"
)

// managed is a managedFields entry as the API server stores one: most of a small object.
var managed = []metav1.ManagedFieldsEntry{{
	Manager: "kube-controller-manager", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "v1",
	Time: ptr.To(metav1.NewTime(t0)), FieldsType: "FieldsV1",
	FieldsV1: metav1.NewFieldsV1(`{"f:metadata":{"f:generateName":{},"f:labels":{".":{},"f:app":{},"f:pod-template-hash":{}},"f:ownerReferences":{".":{},"k:{\"uid\":\"x\"}":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"app\"}":{".":{},"f:image":{},"f:imagePullPolicy":{},"f:name":{},"f:ports":{".":{},"k:{\"containerPort\":8080,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{},"f:name":{},"f:protocol":{}}},"f:resources":{".":{},"f:requests":{".":{},"f:cpu":{},"f:memory":{}}}}}}}`),
}}

// fullContainer is a container as a real manifest has one: ports, env, probes, mounts.
func fullContainer(name, image string) corev1.Container {
	return corev1.Container{
		Name: name, Image: image, ImagePullPolicy: corev1.PullIfNotPresent,
		Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}},
		Env:   []corev1.EnvVar{{Name: "LOG_LEVEL", Value: "info"}, {Name: "OTEL_EXPORTER_OTLP_ENDPOINT", Value: "http://collector:4317"}},
		Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("128Mi"),
		}},
		ReadinessProbe:         &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(8080)}}},
		VolumeMounts:           []corev1.VolumeMount{{Name: "kube-api-access", MountPath: "/var/run/secrets/kubernetes.io/serviceaccount", ReadOnly: true}},
		TerminationMessagePath: "/dev/termination-log", TerminationMessagePolicy: corev1.TerminationMessageReadFile,
	}
}

// fatten gives an object what the API server and kubectl add and opsdeck never reads, and the
// annotations opsdeck does read.
func fatten(m *metav1.ObjectMeta) {
	m.ManagedFields = managed
	m.GenerateName = m.Name + "-"
	if m.Annotations == nil {
		m.Annotations = map[string]string{}
	}
	m.Annotations["kubectl.kubernetes.io/last-applied-configuration"] = `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"x"}}`
	m.Annotations["opsdeck.io/last-action"] = `{"action":"rollback","by":"alice"}`
	m.Annotations["opsdeck.io/freeze"] = "until 2026-12-01T00:00:00Z"
	m.Annotations["opsdeck.io/policy-max-error-rate"] = "0.05"
}

func fatPodSpec(image string) corev1.PodSpec {
	return corev1.PodSpec{
		Containers:         []corev1.Container{fullContainer("app", image), fullContainer("sidecar", "envoy:1")},
		Volumes:            []corev1.Volume{{Name: "kube-api-access", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}}}}}}},
		Tolerations:        []corev1.Toleration{{Key: "node.kubernetes.io/not-ready", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](300)}},
		DNSPolicy:          corev1.DNSClusterFirst,
		RestartPolicy:      corev1.RestartPolicyAlways,
		SchedulerName:      "default-scheduler",
		ServiceAccountName: "default",
	}
}

// fatFleet is fleet(n) plus a blue-green pair, every object as full as the API server's.
func fatFleet(n int) Objects {
	o := fleet(n)
	o.Deployments = append(o.Deployments, colourDeployment(domain.ColorBlue, "checkout:v2", 3), colourDeployment(domain.ColorGreen, "checkout:v1", 0))
	o.Services = append(o.Services, bgService("blue", map[string]string{"opsdeck.io/switched-at": "2026-11-01T00:00:00Z"}))
	for _, d := range o.Deployments[n:] {
		rs := replicaSet(d, "ccccc", 1, d.Spec.Template.Spec.Containers[0].Image, *d.Spec.Replicas, t0)
		rs.Spec.Template.Labels = d.Spec.Template.Labels
		o.ReplicaSets = append(o.ReplicaSets, rs)
		o.Pods = append(o.Pods, pod(rs, "q0001", true))
	}
	for i, d := range o.Deployments {
		fatten(&d.ObjectMeta)
		d.Spec.Template.Spec = fatPodSpec(d.Spec.Template.Spec.Containers[0].Image)
		d.Spec.Template.Annotations = map[string]string{"prometheus.io/scrape": "true"}
		if i%7 == 0 {
			d.Spec.Paused = true
		}
	}
	for _, rs := range o.ReplicaSets {
		fatten(&rs.ObjectMeta)
		img := rs.Spec.Template.Spec.Containers[0].Image
		rs.Spec.Template.Spec = fatPodSpec(img)
	}
	for i, p := range o.Pods {
		fatten(&p.ObjectMeta)
		img := "app:v1"
		p.Spec = fatPodSpec(img)
		p.Spec.NodeName = "kwok-node-0"
		p.Status.PodIP, p.Status.HostIP = "10.244.0.1", "127.0.0.1"
		p.Status.QOSClass = corev1.PodQOSBurstable
		p.Status.ContainerStatuses[0].Image, p.Status.ContainerStatuses[0].ContainerID = img, "containerd://abc"
		if i%5 == 0 {
			p.Status.ContainerStatuses[0].State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: "back-off"}}
		}
		if i%11 == 0 {
			p.DeletionTimestamp = ptr.To(metav1.NewTime(t0))
		}
	}
	return o
}

func trimmed[T any](t *testing.T, in []T) []T {
	out := make([]T, len(in))
	for i, o := range in {
		got, err := trimObject(o)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = got.(T)
	}
	return out
}

// The informers' caches hold trimmed objects: a state, a history and a blue-green check built
// from them equal those built from the objects the API server sent.
func TestTrimKeepsWhatConversionReads(t *testing.T) {
	full := fatFleet(50)
	trim := Objects{
		Deployments: trimmed(t, full.Deployments), ReplicaSets: trimmed(t, full.ReplicaSets),
		Pods: trimmed(t, full.Pods), Services: trimmed(t, full.Services), Events: full.Events,
	}
	want := BuildState(full, t0, domain.Health{OK: true}, true)
	got := BuildState(trim, t0, domain.Health{OK: true}, true)
	if len(want.Services) != 51 || want.Services[0].BlueGreen == nil || want.Services[0].BlueGreen.Problem != "" {
		t.Fatalf("the fleet should have 50 services and a valid blue-green pair first: %d, %+v", len(want.Services), want.Services[0].BlueGreen)
	}
	if !reflect.DeepEqual(got, want) {
		for i := range want.Services {
			if !reflect.DeepEqual(got.Services[i], want.Services[i]) {
				t.Fatalf("service %d differs after the trim:\n got %+v\nwant %+v", i, got.Services[i], want.Services[i])
			}
		}
		t.Fatal("the state differs after the trim")
	}
	for i, d := range full.Deployments {
		if w, g := RevisionsFrom(d, full.ReplicaSets), RevisionsFrom(trim.Deployments[i], trim.ReplicaSets); !reflect.DeepEqual(g, w) {
			t.Fatalf("%s: revisions after the trim %+v, want %+v", d.Name, g, w)
		}
	}
	pair := func(deps []*appsv1.Deployment) bluegreen.Pair {
		return bluegreen.Pair{Service: full.Services[0], Blue: deps[len(deps)-2], Green: deps[len(deps)-1]}
	}
	if c, err := pair(trim.Deployments).Check(); err != nil || c != domain.ColorBlue {
		t.Fatalf("blue-green check of trimmed Deployments: %v %v", c, err)
	}

	// What is kept and what is dropped, as a user of the caches would look for it.
	d := trim.Deployments[0]
	for _, k := range []string{"opsdeck.io/last-action", "opsdeck.io/freeze", "opsdeck.io/policy-max-error-rate", "deployment.kubernetes.io/revision"} {
		if d.Annotations[k] != full.Deployments[0].Annotations[k] {
			t.Errorf("annotation %s dropped by the trim", k)
		}
	}
	if rs := trim.ReplicaSets[0]; rs.Annotations[ChangeCauseAnnotation] == "" {
		t.Errorf("the ReplicaSet's change cause was dropped")
	}
	if _, ok := d.Annotations["kubectl.kubernetes.io/last-applied-configuration"]; ok || d.ManagedFields != nil {
		t.Errorf("the trim kept what opsdeck never reads: %v", d.ObjectMeta)
	}
	if c := d.Spec.Template.Spec.Containers[0]; c.Env != nil || c.ReadinessProbe != nil || len(d.Spec.Template.Spec.Volumes) > 0 {
		t.Errorf("the trim kept the template's env, probes or volumes: %+v", d.Spec.Template.Spec)
	}
	if p := trim.Pods[0]; p.ManagedFields != nil || len(p.Spec.Containers) > 0 {
		t.Errorf("the trim kept a pod's managedFields or containers")
	}
	// Tombstones and other kinds pass through.
	tomb := cacheTombstone()
	if got, _ := trimObject(tomb); !reflect.DeepEqual(got, tomb) {
		t.Errorf("a tombstone was changed: %+v", got)
	}
}

type tombstone struct{ Key string }

func cacheTombstone() any { return tombstone{Key: "shop/x"} }

// BenchmarkPodCache measures the heap that 1,000 cached pods take, as the API server sends them
// (full) and as the informer keeps them (trimmed); bytes/pod is the figure.
func BenchmarkPodCache(b *testing.B) {
	for _, mode := range []string{"full", "trimmed"} {
		b.Run(mode, func(b *testing.B) {
			var per float64
			for b.Loop() {
				per = podCacheBytes(1000, mode == "trimmed")
			}
			b.ReportMetric(per, "bytes/pod")
		})
	}
}

// podCacheBytes is the retained heap of n pods (a fresh copy each, as a decoded LIST makes),
// trimmed or not, divided by n.
func podCacheBytes(n int, trim bool) float64 {
	proto := fatFleet(1).Pods[0]
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	cache := make([]any, n)
	for i := range cache {
		p := proto.DeepCopy()
		p.Name = fmt.Sprintf("%s-%d", proto.Name, i)
		var obj any = p
		if trim {
			obj, _ = trimObject(p)
		}
		cache[i] = obj
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(cache)
	return float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
}

// TestPerfWatcherHeap measures a Watcher's heap on the sandbox's namespace shop (2,006
// services with `sandbox up --services 2000`) once synced and a state built, and writes its heap
// profile (OPSDECK_HEAP_PROFILE, or a temporary file) for `go tool pprof -top`.
func TestPerfWatcherHeap(t *testing.T) {
	if os.Getenv("OPSDECK_PERF") == "" {
		t.Skip("set OPSDECK_PERF=1 to measure the watcher's memory")
	}
	env := sandbox.Shared(t)
	w, err := NewWatcher(env.Client(t), WatchOptions{Namespaces: []string{sandbox.Namespace}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	w.Start(ctx)
	sctx, scancel := context.WithTimeout(ctx, 3*time.Minute)
	defer scancel()
	if !w.WaitForSync(sctx) {
		t.Fatal("the watches did not sync in 3 minutes")
	}
	synced := time.Since(start)
	var peak runtime.MemStats
	runtime.ReadMemStats(&peak)
	st := w.Build()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	pods := 0
	for _, s := range st.Services {
		for _, rs := range s.ReplicaSets {
			pods += len(rs.Pods)
		}
	}
	t.Logf("%d services, %d pods: synced after %s; heap in use %.1f MiB after GC (%.0f bytes/pod), %.1f MiB before it; Sys %.1f MiB",
		len(st.Services), pods, synced.Round(10*time.Millisecond), float64(ms.HeapInuse)/(1<<20),
		float64(ms.HeapInuse)/float64(max(1, pods)), float64(peak.HeapInuse)/(1<<20), float64(ms.Sys)/(1<<20))
	path := os.Getenv("OPSDECK_HEAP_PROFILE")
	if path == "" {
		path = filepath.Join(t.TempDir(), "heap.pprof")
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := pprof.WriteHeapProfile(f); err != nil {
		t.Fatal(err)
	}
	runtime.KeepAlive(st)
}
