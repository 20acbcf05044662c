package simulator

import (
	"os"
	"strings"
	"testing"
	"time"
)

// A healthy pod logs its requests, a bad one its 5xx too, and a crash pod panics at once (its
// status reports restarts from the start) and then every CrashEvery: its log becomes the
// previous container's and a new one starts.
func TestLogsByBehaviour(t *testing.T) {
	now := time.Date(2026, 3, 14, 10, 0, 0, 0, time.UTC)
	l := NewLogs(t.TempDir(), func() time.Time { return now })
	for _, p := range []Pod{{Namespace: "shop", Name: "web-1", Image: "web:v1"}, {Namespace: "shop", Name: "web-2", Image: "web:v2-bad"},
		{Namespace: "shop", Name: "web-3", Image: "web:v3-crash"}} {
		if isNew, err := l.Upsert(p); err != nil || !isNew {
			t.Fatalf("upsert %s: %v %v", p.Name, isNew, err)
		}
	}
	if _, prev := l.Files("shop", "web-3"); !fileHas(t, prev, "panic: runtime error") {
		t.Error("a new crash pod has no previous container's log with its panic")
	}
	for range 11 {
		now = now.Add(time.Second)
		l.Tick()
	}
	read := func(path string) string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	cur, _ := l.Files("shop", "web-1")
	if s := read(cur); !strings.Contains(s, "stdout F INFO GET /api/items/") || strings.Contains(s, " 500 ") ||
		!strings.HasPrefix(s, "2026-03-14T10:00:00Z stdout F starting web-1") {
		t.Errorf("healthy:\n%s", s)
	}
	cur, _ = l.Files("shop", "web-2")
	if s := read(cur); !strings.Contains(s, "stderr F ERROR POST /api/checkout 500") {
		t.Errorf("bad:\n%s", s)
	}
	cur, prev := l.Files("shop", "web-3")
	if s := read(prev); !strings.Contains(s, "panic: runtime error") || !strings.Contains(s, "starting web-3") {
		t.Errorf("crash, previous container:\n%s", s)
	}
	if s := read(cur); !strings.Contains(s, "restart 2 after a crash") || strings.Contains(s, "panic") {
		t.Errorf("crash, current container:\n%s", s)
	}
	if !l.Delete("shop", "web-3") {
		t.Error("delete of a known pod")
	}
	if _, err := os.Stat(cur); !os.IsNotExist(err) {
		t.Errorf("logs of a deleted pod still there: %v", err)
	}
}

func fileHas(t *testing.T, path, want string) bool {
	t.Helper()
	b, err := os.ReadFile(path)
	return err == nil && strings.Contains(string(b), want)
}
