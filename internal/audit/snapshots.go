package audit

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// SnapshotFile is one saved snapshot, as its file name describes it.
type SnapshotFile struct {
	// ID is the file name without ".json": the name `opsdeck rollback --to-snapshot` takes.
	ID        string
	Path      string
	Time      time.Time
	Namespace string
	Service   string
	Action    string
}

// parseSnapshotName reads a name made by SnapshotName (with an optional "-N" after the action
// when two snapshots share a nanosecond).
func parseSnapshotName(id string) (SnapshotFile, bool) {
	parts := strings.Split(id, "_")
	if len(parts) != 4 {
		return SnapshotFile{}, false
	}
	t, err := time.Parse("20060102T150405.000000000Z", parts[0])
	if err != nil {
		return SnapshotFile{}, false
	}
	return SnapshotFile{ID: id, Time: t, Namespace: parts[1], Service: parts[2], Action: parts[3]}, true
}

// Snapshots lists the snapshots saved for a service, newest first.
func (l *Log) Snapshots(namespace, service string) ([]SnapshotFile, error) {
	dir := l.SnapshotDir()
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("snapshots: %w", err)
	}
	ns, svc := clean(namespace), clean(service)
	var out []SnapshotFile
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".json") {
			continue
		}
		f, ok := parseSnapshotName(strings.TrimSuffix(name, ".json"))
		if !ok || f.Namespace != ns || f.Service != svc {
			continue
		}
		f.Path = filepath.Join(dir, name)
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Time.Equal(out[j].Time) {
			return out[i].Time.After(out[j].Time)
		}
		return out[i].ID > out[j].ID
	})
	return out, nil
}

// ReadSnapshot reads the snapshot id of a service. An unknown id is an error that lists the
// service's snapshot IDs, newest first.
func (l *Log) ReadSnapshot(namespace, service, id string) (SnapshotFile, []byte, error) {
	id = strings.TrimSuffix(filepath.Base(id), ".json")
	all, err := l.Snapshots(namespace, service)
	if err != nil {
		return SnapshotFile{}, nil, err
	}
	for _, f := range all {
		if f.ID == id {
			b, err := os.ReadFile(f.Path)
			if err != nil {
				return f, nil, fmt.Errorf("snapshot %s: %w", id, err)
			}
			return f, b, nil
		}
	}
	if len(all) == 0 {
		return SnapshotFile{}, nil, fmt.Errorf("snapshot %q not found: %s/%s has no snapshots in %s", id, namespace, service, l.SnapshotDir())
	}
	ids := make([]string, 0, len(all))
	for i, f := range all {
		if i == 10 {
			ids = append(ids, fmt.Sprintf("and %d older", len(all)-10))
			break
		}
		ids = append(ids, f.ID)
	}
	return SnapshotFile{}, nil, fmt.Errorf("snapshot %q not found for %s/%s; its snapshots, newest first: %s", id, namespace, service, strings.Join(ids, ", "))
}
