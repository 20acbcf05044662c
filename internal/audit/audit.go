// Package audit is opsdeck's append-only record of every mutation: one JSON line per action in
// audit.jsonl, and beside it a snapshots/ folder holding the full object as it was before the
// action. A line is written with one write(2) on a file opened with O_APPEND and synced before
// the executor reports success, so several opsdeck processes may share one log.
package audit

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Entry is one line of the audit log. Field names are part of opsdeck's contract.
type Entry struct {
	Time         time.Time `json:"time"`
	User         string    `json:"user"`
	Context      string    `json:"context"`
	Namespace    string    `json:"namespace"`
	Service      string    `json:"service"`
	Action       string    `json:"action"`
	FromRevision int64     `json:"from_revision"`
	ToRevision   int64     `json:"to_revision"`
	FromImage    string    `json:"from_image"`
	ToImage      string    `json:"to_image"`
	Trigger      string    `json:"trigger"`
	Reason       string    `json:"reason"`
	// Result is "ok" or the error, in one line.
	Result string `json:"result"`
	// Snapshot is the path of the object saved before the action.
	Snapshot string `json:"snapshot,omitempty"`
}

// ResultOK is the Result of an action that succeeded.
const ResultOK = "ok"

// Log is an audit log file and its snapshots folder.
type Log struct {
	path string
	mu   sync.Mutex // serialises this process's writers; O_APPEND covers other processes
}

// DefaultPath is $XDG_STATE_HOME/opsdeck/audit.jsonl, or ~/.local/state/opsdeck/audit.jsonl.
func DefaultPath() (string, error) {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "opsdeck", "audit.jsonl"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("audit log: no home directory for the default path (use --audit-log): %w", err)
	}
	return filepath.Join(home, ".local", "state", "opsdeck", "audit.jsonl"), nil
}

// Open prepares the log at path (DefaultPath when empty), creating its folder. The file itself
// is created by the first write.
func Open(path string) (*Log, error) {
	if path == "" {
		p, err := DefaultPath()
		if err != nil {
			return nil, err
		}
		path = p
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("audit log %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	return &Log{path: abs}, nil
}

// Path is the absolute path of the log file.
func (l *Log) Path() string { return l.path }

// SnapshotDir is the folder beside the log where objects are saved before each action.
func (l *Log) SnapshotDir() string { return filepath.Join(filepath.Dir(l.path), "snapshots") }

// Append writes e as one JSON line and syncs the file to disk. It returns only once the line is
// durable; an error means the line may not have been recorded.
func (l *Log) Append(e Entry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	b = append(b, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	created := false
	if _, err := os.Stat(l.path); errors.Is(err, os.ErrNotExist) {
		created = true
	}
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	n, werr := f.Write(b) // one write per line: O_APPEND keeps concurrent lines whole
	if werr == nil && n != len(b) {
		werr = fmt.Errorf("short write (%d of %d bytes)", n, len(b))
	}
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return fmt.Errorf("audit log %s: %w", l.path, werr)
	}
	if created {
		if err := syncDir(filepath.Dir(l.path)); err != nil {
			return fmt.Errorf("audit log %s: %w", l.path, err)
		}
	}
	return nil
}

// Snapshot saves obj as indented JSON in SnapshotDir under a name made of the time, namespace,
// service and action, syncs it, and returns its path.
func (l *Log) Snapshot(at time.Time, namespace, service, action string, obj any) (string, error) {
	b, err := json.MarshalIndent(obj, "", "  ")
	if err != nil {
		return "", fmt.Errorf("snapshot: %w", err)
	}
	dir := l.SnapshotDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("snapshot: %w", err)
	}
	base := SnapshotName(at, namespace, service, action)
	for i := 0; ; i++ {
		name := base + ".json"
		if i > 0 {
			name = fmt.Sprintf("%s-%d.json", base, i)
		}
		p := filepath.Join(dir, name)
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, os.ErrExist) && i < 100 {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("snapshot: %w", err)
		}
		_, werr := f.Write(append(b, '\n'))
		if werr == nil {
			werr = f.Sync()
		}
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr == nil {
			werr = syncDir(dir)
		}
		if werr != nil {
			return "", fmt.Errorf("snapshot %s: %w", p, werr)
		}
		return p, nil
	}
}

// SnapshotName is the file name (without extension) of a snapshot: UTC time to the nanosecond,
// namespace, service and action, safe for any file system.
func SnapshotName(at time.Time, namespace, service, action string) string {
	ts := at.UTC().Format("20060102T150405.000000000Z")
	return strings.Join([]string{ts, clean(namespace), clean(service), clean(action)}, "_")
}

func clean(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '.':
			return r
		}
		return '-'
	}, s)
}

// Read parses every line of the log at path, for tests and tools.
func Read(path string) ([]Entry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Entry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 4<<20)
	for n := 1; sc.Scan(); n++ {
		if len(strings.TrimSpace(sc.Text())) == 0 {
			continue
		}
		var e Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return out, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		out = append(out, e)
	}
	return out, sc.Err()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
