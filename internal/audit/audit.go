// Package audit is opsdeck's append-only record of every mutation: one JSON line per action in
// audit.jsonl, and beside it a snapshots/ folder holding the full object as it was before the
// action. A line is written with one write(2) on a file opened with O_APPEND and synced before
// the executor reports success, so several opsdeck processes may share one log.
package audit

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
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
	// RequestedBy names who asked for an automated action (a token's user, a webhook's signed
	// source, whoever scheduled it); User stays the kube identity that performed it.
	RequestedBy string `json:"requested_by,omitempty"`
	Reason      string `json:"reason"`
	// Result is "ok" or the error, in one line.
	Result string `json:"result"`
	// Snapshot is the path of the object saved before the action.
	Snapshot string `json:"snapshot,omitempty"`
	// ID links an action's intent line (Result "pending", written before the first API call)
	// to its outcome line. Lines written before intents existed have none.
	ID string `json:"id,omitempty"`
	// PID and Host name the process that wrote an intent, so that a process starting beside
	// it can tell an action still in flight from one whose process died.
	PID  int    `json:"pid,omitempty"`
	Host string `json:"host,omitempty"`
}

// ResultOK is the Result of an action that succeeded.
const ResultOK = "ok"

// ResultPending is the Result of an intent line: the action is about to start.
const ResultPending = "pending"

// Pending tells whether e is an intent line.
func (e Entry) Pending() bool { return e.Result == ResultPending }

// NewID returns a random identifier for an intent and its outcome.
func NewID() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return fmt.Sprintf("t%x", time.Now().UnixNano())
	}
	return hex.EncodeToString(b[:])
}

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

// Read parses every line of the log at path: intent lines (Result "pending") and outcome
// lines alike, and lines written before intents existed. A last line cut short (the process
// died in the middle of its write) is ignored; any other line that is not an entry is an error
// naming the line, returned with the entries read around it.
func Read(path string) ([]Entry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parse(f, path)
}

func parse(r io.Reader, name string) ([]Entry, error) {
	var out []Entry
	var bad error
	br := bufio.NewReaderSize(r, 64*1024)
	for n := 1; ; n++ {
		line, err := readLine(br, maxLine)
		last := err != nil // io.EOF: no newline after this line
		if len(bytes.TrimSpace(line)) > 0 {
			var e Entry
			if uerr := json.Unmarshal(line, &e); uerr != nil {
				if !last && bad == nil {
					bad = fmt.Errorf("%s:%d: not an audit entry: %w", name, n, uerr)
				}
			} else {
				out = append(out, e)
			}
		}
		if err == errLineTooLong && bad == nil {
			bad = fmt.Errorf("%s:%d: line longer than %d bytes", name, n, maxLine)
		}
		if err == io.EOF {
			return out, bad
		}
		if err != nil && err != errLineTooLong {
			return out, err
		}
	}
}

// maxLine bounds one audit line (a reason with measured values is well under 1 KiB).
const maxLine = 4 << 20

var errLineTooLong = errors.New("line too long")

// readLine reads up to and without the next newline; io.EOF when the input ended first.
// A line longer than max is skipped to its end and reported as errLineTooLong.
func readLine(br *bufio.Reader, max int) ([]byte, error) {
	var line []byte
	tooLong := false
	for {
		chunk, err := br.ReadSlice('\n')
		if !tooLong && len(line)+len(chunk) <= max+1 {
			line = append(line, chunk...)
		} else {
			tooLong, line = true, nil
		}
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case tooLong && err == nil:
			return nil, errLineTooLong
		case err == nil:
			return line[:len(line)-1], nil
		default:
			return line, err
		}
	}
}

// Unfinished returns the intent lines of the log at path that have no outcome line: actions
// whose process stopped between the two. A missing log has none.
func Unfinished(path string) ([]Entry, error) {
	entries, err := Read(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	done := map[string]bool{}
	for _, e := range entries {
		if e.ID != "" && !e.Pending() {
			done[e.ID] = true
		}
	}
	var out []Entry
	for _, e := range entries {
		if e.Pending() && e.ID != "" && !done[e.ID] {
			out = append(out, e)
			done[e.ID] = true // an intent written twice is one action
		}
	}
	return out, err
}

// Lock takes an exclusive lock beside the log (audit.jsonl.lock), held until unlock is
// called, so that two opsdeck processes starting at once do not both settle the same
// unfinished intent.
func (l *Log) Lock() (unlock func(), err error) {
	f, err := os.OpenFile(l.path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("audit log lock: %w", err)
	}
	return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Outcomes keeps the lines that record what happened: every line but the intents.
func Outcomes(entries []Entry) []Entry {
	out := make([]Entry, 0, len(entries))
	for _, e := range entries {
		if !e.Pending() {
			out = append(out, e)
		}
	}
	return out
}
