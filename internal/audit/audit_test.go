package audit

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestDefaultPathHonoursXDG(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", "/tmp/state")
	p, err := DefaultPath()
	if err != nil || p != "/tmp/state/opsdeck/audit.jsonl" {
		t.Fatalf("DefaultPath() = %q, %v", p, err)
	}
	t.Setenv("XDG_STATE_HOME", "")
	t.Setenv("HOME", "/home/sre")
	p, _ = DefaultPath()
	if p != "/home/sre/.local/state/opsdeck/audit.jsonl" {
		t.Fatalf("DefaultPath() without XDG = %q", p)
	}
}

func TestAppendWritesOneLinePerEntryWithContractFields(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(filepath.Join(dir, "sub", "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	snap, err := l.Snapshot(at, "shop", "order-service", "deploy", map[string]string{"kind": "Deployment"})
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(snap) != filepath.Join(dir, "sub", "snapshots") {
		t.Fatalf("snapshot %s not beside the log", snap)
	}
	snap2, err := l.Snapshot(at, "shop", "order-service", "deploy", 1)
	if err != nil || snap2 == snap {
		t.Fatalf("second snapshot at the same instant: %q, %v", snap2, err)
	}
	e := Entry{Time: at, User: "admin", Context: "sandbox", Namespace: "shop", Service: "order-service",
		Action: "deploy", FromRevision: 1, ToRevision: 2, FromImage: "order-service:v1", ToImage: "order-service:v2",
		Trigger: "cli", Reason: "", Result: ResultOK, Snapshot: snap}
	if err := l.Append(e); err != nil {
		t.Fatal(err)
	}
	if err := l.Append(e); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(l.Path())
	lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 lines, got %d: %q", len(lines), raw)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &m); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"time", "user", "context", "namespace", "service", "action", "from_revision",
		"to_revision", "from_image", "to_image", "trigger", "reason", "result", "snapshot"} {
		if _, ok := m[f]; !ok {
			t.Errorf("field %q missing from %s", f, lines[0])
		}
	}
	got, err := Read(l.Path())
	if err != nil || len(got) != 2 || got[0] != e {
		t.Fatalf("Read = %+v, %v", got, err)
	}
}

func TestConcurrentWritersKeepLinesWhole(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	// Two Log values on one file stand for two processes.
	a, _ := Open(path)
	b, _ := Open(path)
	var wg sync.WaitGroup
	long := strings.Repeat("x", 8000)
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			l := a
			if i%2 == 1 {
				l = b
			}
			if err := l.Append(Entry{Service: "svc", Reason: long, Result: ResultOK}); err != nil {
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	got, err := Read(path)
	if err != nil || len(got) != 40 {
		t.Fatalf("Read: %d entries, %v", len(got), err)
	}
}

func TestAppendFailsWhenTheLogCannotBeWritten(t *testing.T) {
	dir := t.TempDir()
	l, _ := Open(filepath.Join(dir, "audit.jsonl"))
	if err := os.Mkdir(l.Path(), 0o700); err != nil { // a directory where the file should be
		t.Fatal(err)
	}
	if err := l.Append(Entry{}); err == nil {
		t.Fatal("Append into a directory succeeded")
	}
}
