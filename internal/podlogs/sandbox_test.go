package podlogs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/opsdeck/opsdeck/internal/sandbox"
)

func TestMain(m *testing.M) { os.Exit(sandbox.Main(m)) }

// A pod writing 10,000 lines a second, followed through the API server into a ring: the ring
// gets the lines, keeps the newest, and the heap stays bounded.
func TestFollow10000LinesPerSecondThroughTheAPIServer(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the sandbox")
	}
	env := sandbox.Shared(t)
	ns := env.NewNamespace(t)
	env.CreateDeployment(t, ns, "loud", "loud:v1", 1)
	client := env.Client(t)
	pods, err := client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil || len(pods.Items) != 1 {
		t.Fatalf("pods: %v %d", err, len(pods.Items))
	}
	pod := pods.Items[0].Name
	file := filepath.Join(env.Dir, sandbox.PodLogsDir, ns, pod, "current.log")
	sandbox.WaitFor(t, 30*time.Second, "the pod's log file", func() (bool, string) {
		_, err := os.Stat(file)
		return err == nil, fmt.Sprint(err)
	})

	ring := NewRing(DefaultRingLines, DefaultRingBytes)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := Reader{Client: client}
	target := Target{Namespace: ns, Pod: pod, Container: "app"}
	done := make(chan error, 1)
	go func() { done <- r.Stream(ctx, target, Options{Follow: true, TailLines: 0}, ring.Add) }()

	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapInuse
	}
	before := heap()
	const rate, seconds = 10000, 3
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Follow begins at the end of the file (no tail), so the flood waits until a marker line has
	// come through: lines written before the stream is open are not part of this test.
	fmt.Fprintf(f, "%s stdout F stream open\n", time.Now().UTC().Format(time.RFC3339Nano))
	sandbox.WaitFor(t, 30*time.Second, "the marker line through the API server", func() (bool, string) {
		if len(ring.Tail(1, func(l Line) bool { return l.Text == "stream open" })) == 1 {
			return true, ""
		}
		fmt.Fprintf(f, "%s stdout F stream open\n", time.Now().UTC().Format(time.RFC3339Nano))
		return false, "not yet"
	})
	pad := strings.Repeat("x", 120)
	start := time.Now()
	var peak uint64
	for i := 0; i < rate*seconds; i += 100 {
		var b strings.Builder
		for j := i; j < i+100; j++ {
			fmt.Fprintf(&b, "%s stdout F loud line %d %s\n", time.Now().UTC().Format(time.RFC3339Nano), j, pad)
		}
		if _, err := f.WriteString(b.String()); err != nil {
			t.Fatal(err)
		}
		if d := time.Until(start.Add(time.Duration(i+100) * time.Second / rate)); d > 0 {
			time.Sleep(d)
		}
		if i%5000 == 0 {
			if h := heap(); h > peak {
				peak = h
			}
		}
	}
	f.Close()
	last := fmt.Sprintf("loud line %d ", rate*seconds-1)
	sandbox.WaitFor(t, 30*time.Second, "the last line through the API server", func() (bool, string) {
		tail := ring.Tail(1, func(l Line) bool { return strings.HasPrefix(l.Text, "loud line") })
		return len(tail) == 1 && strings.HasPrefix(tail[0].Text, last), fmt.Sprint(tail)
	})
	if h := heap(); h > peak {
		peak = h
	}
	added, dropped, bytes := ring.Stats()
	growth := int64(peak) - int64(before)
	t.Logf("%d lines in %s through the API server; ring keeps %d lines, %d KiB, dropped %d; heap %d KiB before, peak %d KiB (+%d KiB)",
		added, time.Since(start).Round(time.Millisecond), ring.Len(), bytes>>10, dropped, before>>10, peak>>10, growth>>10)
	if added < rate*seconds || ring.Len() != DefaultRingLines {
		t.Errorf("added %d, kept %d", added, ring.Len())
	}
	if growth > 16<<20 {
		t.Errorf("heap grew %d KiB following 10,000 lines a second", growth>>10)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("stream: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("the stream did not end with its context")
	}
}
