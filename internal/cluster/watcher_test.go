package cluster

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/opsdeck/opsdeck/internal/domain"
	"github.com/opsdeck/opsdeck/internal/sandbox"
)

// awaitState reads states from ch until ok accepts one, failing the test at the deadline.
func awaitState(t *testing.T, ch <-chan domain.ClusterState, timeout time.Duration, what string, ok func(domain.ClusterState) bool) domain.ClusterState {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	var last domain.ClusterState
	for {
		select {
		case st, open := <-ch:
			if !open {
				t.Fatalf("state channel closed while waiting for %s", what)
			}
			last = st
			if ok(st) {
				return st
			}
		case <-deadline.C:
			t.Fatalf("no state with %s after %s; last: %+v", what, timeout, last)
		}
	}
}

func TestWatcherSeesDeploymentAndRolloutProgress(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the sandbox")
	}
	env := sandbox.Shared(t)
	ns := env.NewNamespace(t)
	client := env.Client(t)
	env.CreateDeployment(t, ns, "web", "web:v1", 3)
	env.CreateDeployment(t, ns, "api", "api:v1", 1)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w, err := NewWatcher(client, WatchOptions{Namespaces: []string{ns}})
	if err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	w.Start(ctx)
	states := w.Subscribe(ctx)

	st := awaitState(t, states, 30*time.Second, "web complete with 3 ready pods", func(st domain.ClusterState) bool {
		s, ok := st.FindByName(ns, "web")
		if !ok || !st.Synced || s.Phase != domain.PhaseComplete {
			return false
		}
		rs, ok := s.NewReplicaSet()
		if !ok || len(rs.Pods) != 3 {
			return false
		}
		for _, p := range rs.Pods {
			if !p.Ready {
				return false
			}
		}
		return true
	})
	if !st.API.OK || len(st.Services) != 2 || st.Services[0].Name != "api" {
		t.Fatalf("state: api=%+v services=%d", st.API, len(st.Services))
	}
	web, _ := st.FindByName(ns, "web")
	if web.Revision != 1 || web.Image != "web:v1" || web.ProgressDeadline != time.Minute || web.RolloutStarted.IsZero() {
		t.Fatalf("web: %+v", web)
	}
	if web.PodsKnownSince.Before(started) || web.PodsKnownSince.After(st.At) || len(web.GonePods) != 0 {
		t.Errorf("a synced watch with no pod deleted: pods known since %s (started %s, state at %s), gone %v",
			web.PodsKnownSince, started, st.At, web.GonePods)
	}
	var v1Pods []string
	for _, p := range web.ReplicaSets[0].Pods {
		v1Pods = append(v1Pods, p.Name)
	}

	// A rollout: the watcher shows it progressing, then complete on revision 2.
	patch := []byte(`{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"web:v2"}]}}}}`)
	if _, err := client.AppsV1().Deployments(ns).Patch(ctx, "web", types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	sawProgress := false
	st = awaitState(t, states, 90*time.Second, "web complete on revision 2", func(st domain.ClusterState) bool {
		s, _ := st.FindByName(ns, "web")
		if s.Image == "web:v2" && (s.Phase == domain.PhaseProgressing || len(s.OldReplicaSets()) > 0) {
			sawProgress = true
		}
		return s.Revision == 2 && s.Phase == domain.PhaseComplete && len(s.OldReplicaSets()) == 0
	})
	if !sawProgress {
		t.Error("never saw the rollout in progress")
	}
	web, _ = st.FindByName(ns, "web")
	cur, ok := web.NewReplicaSet()
	if !ok || cur.Image != "web:v2" || !web.RolloutStarted.Equal(cur.Created) || len(web.ReplicaSets) != 2 {
		t.Fatalf("after rollout: %+v", web)
	}
	// Revision 1's pods are gone, and the state still names them: their samples stay in a
	// metric's rate window after them.
	if len(web.GonePods) < 3 {
		st = awaitState(t, states, 30*time.Second, "revision 1's three pods among web's gone pods", func(st domain.ClusterState) bool {
			s, _ := st.FindByName(ns, "web")
			return len(s.GonePods) >= 3
		})
		web, _ = st.FindByName(ns, "web")
	}
	gone := slices.Sorted(slices.Values(web.GonePods))
	if !slices.Equal(gone, v1Pods) {
		t.Errorf("web's gone pods %v, want revision 1's %v", gone, v1Pods)
	}
	if api, _ := st.FindByName(ns, "api"); len(api.GonePods) != 0 {
		t.Errorf("api lost no pod, its gone pods are %v", api.GonePods)
	}
	revs, err := w.Revisions(ns, "web")
	if err != nil || len(revs) != 2 || revs[0].Number != 2 || !revs[0].Current || revs[1].Image != "web:v1" {
		t.Fatalf("Revisions = %+v, %v", revs, err)
	}
	if _, err := w.Revisions(ns, "nope"); err == nil {
		t.Fatal("Revisions of a missing service succeeded")
	}

	// Deleting a Deployment removes its service.
	if err := client.AppsV1().Deployments(ns).Delete(ctx, "api", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	awaitState(t, states, 30*time.Second, "api gone", func(st domain.ClusterState) bool {
		_, ok := st.FindByName(ns, "api")
		return !ok
	})
}

func TestWatcherSelectorAndWarningEvents(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the sandbox")
	}
	env := sandbox.Shared(t)
	ns := env.NewNamespace(t)
	client := env.Client(t)
	env.CreateDeployment(t, ns, "cart", "cart:v1", 1)
	env.CreateDeployment(t, ns, "gateway", "gateway:v1", 1)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w, err := NewWatcher(client, WatchOptions{Namespaces: []string{ns}, Selector: "app=cart"})
	if err != nil {
		t.Fatal(err)
	}
	w.Start(ctx)
	if !w.WaitForSync(ctx) {
		t.Fatal("no sync")
	}
	states := w.Subscribe(ctx)
	d, err := client.AppsV1().Deployments(ns).Get(ctx, "cart", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// One Warning and one Normal event about cart, one Warning about gateway.
	mk := func(name, typ, obj string) {
		ev := eventFor(d, name, typ, obj)
		if _, err := client.CoreV1().Events(ns).Create(ctx, ev, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	mk("w1", "Warning", "cart")
	mk("n1", "Normal", "cart")
	mk("w2", "Warning", "gateway")
	st := awaitState(t, states, 30*time.Second, "the cart warning", func(st domain.ClusterState) bool {
		return len(st.Events) > 0
	})
	if len(st.Services) != 1 || st.Services[0].Name != "cart" {
		t.Fatalf("selector app=cart gave %d services", len(st.Services))
	}
	time.Sleep(300 * time.Millisecond) // let the other two events arrive if they (wrongly) would
	st = w.Build()
	if len(st.Events) != 1 || st.Events[0].Reason != "Testw1" || st.Events[0].Object != "deployment/cart" {
		t.Fatalf("events: %+v", st.Events)
	}
	if _, err := NewWatcher(client, WatchOptions{Selector: "app in ("}); err == nil {
		t.Fatal("bad selector accepted")
	}
}

func eventFor(d *appsv1.Deployment, name, typ, obj string) *corev1.Event {
	now := metav1.NewTime(time.Now())
	return &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: fmt.Sprintf("%s.%s", obj, name), Namespace: d.Namespace},
		InvolvedObject: objectRef(d, obj),
		Type:           typ, Reason: "Test" + name, Message: "test event " + name,
		FirstTimestamp: now, LastTimestamp: now, Count: 1,
	}
}

func objectRef(d *appsv1.Deployment, name string) corev1.ObjectReference {
	return corev1.ObjectReference{Kind: "Deployment", APIVersion: "apps/v1", Namespace: d.Namespace, Name: name}
}

func TestWatcherCoalescesBursts(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the sandbox")
	}
	env := sandbox.Shared(t)
	ns := env.NewNamespace(t)
	client := env.Client(t)
	env.CreateDeployment(t, ns, "web", "web:v1", 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w, err := NewWatcher(client, WatchOptions{Namespaces: []string{ns}})
	if err != nil {
		t.Fatal(err)
	}
	w.Start(ctx)
	if !w.WaitForSync(ctx) {
		t.Fatal("no sync")
	}
	d, err := client.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	states := w.Subscribe(ctx)
	<-states
	// A burst of 40 changes; a slow reader takes a state every 50 ms.
	go func() {
		for i := 0; i < 40; i++ {
			_, _ = client.CoreV1().Events(ns).Create(ctx, eventFor(d, fmt.Sprintf("b%02d", i), "Warning", "web"), metav1.CreateOptions{})
		}
	}()
	var got []domain.ClusterState
	deadline := time.After(30 * time.Second)
	for len(got) == 0 || len(got[len(got)-1].Events) < 40 {
		select {
		case st := <-states:
			got = append(got, st)
			time.Sleep(50 * time.Millisecond)
		case <-deadline:
			t.Fatalf("never saw the 40 events; %d states", len(got))
		}
	}
	for i := 1; i < len(got); i++ {
		if gap := got[i].At.Sub(got[i-1].At); gap < DefaultMinInterval-5*time.Millisecond {
			t.Fatalf("states %d and %d built %s apart, want at least %s", i-1, i, gap, DefaultMinInterval)
		}
		if len(got[i].Events) < len(got[i-1].Events) {
			t.Fatalf("an older state was delivered after a newer one")
		}
	}
	t.Logf("40 changes delivered as %d states", len(got))
}

// requestLog records the requests a client sends.
type requestLog struct {
	mu   sync.Mutex
	urls []*url.URL
	next http.RoundTripper
}

func (l *requestLog) RoundTrip(r *http.Request) (*http.Response, error) {
	l.mu.Lock()
	l.urls = append(l.urls, r.URL)
	l.mu.Unlock()
	return l.next.RoundTrip(r)
}

// The informers start with a LIST and then watch, never with the streamed watch-list
// (sendInitialEvents), which cost the API server several times the CPU at 2,000 services
// (listThenWatch).
func TestWatcherStartsWithAListThenWatches(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the sandbox")
	}
	env := sandbox.Shared(t)
	ns := env.NewNamespace(t)
	env.CreateDeployment(t, ns, "web", "web:v1", 2)
	log := &requestLog{}
	cfg := env.RESTConfig(t)
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { log.next = rt; return log }
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w, err := NewWatcher(client, WatchOptions{Namespaces: []string{ns}})
	if err != nil {
		t.Fatal(err)
	}
	w.Start(ctx)
	awaitState(t, w.Subscribe(ctx), 30*time.Second, "web with its 2 pods", func(st domain.ClusterState) bool {
		s, ok := st.FindByName(ns, "web")
		return ok && st.Synced && s.Ready == 2
	})
	// The watches open once the LISTs are in; wait for the pods' one.
	sandbox.WaitFor(t, 10*time.Second, "the pods' watch", func() (bool, string) {
		return slices.ContainsFunc(requestsTo(log, "/pods"), func(u *url.URL) bool { return u.Query().Get("watch") == "true" }), fmt.Sprint(requestsTo(log, "/pods"))
	})
	for _, kind := range []string{"/deployments", "/replicasets", "/pods", "/events"} {
		reqs := requestsTo(log, kind)
		if len(reqs) < 2 || reqs[0].Query().Get("watch") == "true" {
			t.Errorf("%s: requests %v, want a LIST first, then a watch", kind, reqs)
		}
		for _, u := range reqs {
			if u.Query().Has("sendInitialEvents") {
				t.Errorf("%s: %s asks for the streamed watch-list start", kind, u)
			}
		}
	}
}

// requestsTo are the logged requests to the namespace's resources of one kind ("/pods").
func requestsTo(l *requestLog, kind string) []*url.URL {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []*url.URL
	for _, u := range l.urls {
		if strings.HasSuffix(u.Path, kind) {
			out = append(out, u)
		}
	}
	return out
}
