package audit

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// FuzzRead feeds the audit log reader arbitrary bytes: it never panics, returns only entries
// that were whole JSON lines, and reads back every line Append would have written.
func FuzzRead(f *testing.F) {
	f.Add([]byte(`{"time":"2026-01-02T03:04:05Z","user":"admin","namespace":"shop","service":"web","action":"deploy","result":"pending","id":"ab12"}` + "\n" +
		`{"time":"2026-01-02T03:04:06Z","user":"admin","namespace":"shop","service":"web","action":"deploy","result":"ok","id":"ab12"}` + "\n"))
	f.Add([]byte(`{"time":"2026-01-02T03:04:05Z","action":"rollback","result":"ok"}` + "\n" + `{"time":"2026-01-02T03:0`))
	f.Add([]byte("\n\n  \n"))
	f.Add([]byte(`{"result":"pending","id":""}` + "\n" + `not json` + "\n" + `{}`))
	f.Add([]byte(`{"from_revision":"3"}` + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := parse(bytes.NewReader(data), "fuzz")
		lines := bytes.Split(data, []byte("\n"))
		if len(entries) > len(lines) {
			t.Fatalf("%d entries from %d lines", len(entries), len(lines))
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Fatalf("a multi-line error: %q", err)
		}
		// Unfinished's rule: each intent at most once, never one with an outcome.
		done := map[string]bool{}
		for _, e := range entries {
			if !e.Pending() && e.ID != "" {
				done[e.ID] = true
			}
		}
		seen := map[string]bool{}
		for _, e := range entries {
			if e.Pending() && e.ID != "" && !done[e.ID] {
				seen[e.ID] = true
			}
		}
		// Round trip: what was read, written again as Append writes it, reads back the same.
		var buf bytes.Buffer
		for _, e := range entries {
			b, err := json.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			buf.Write(append(b, '\n'))
		}
		again, err := parse(&buf, "again")
		if err != nil || len(again) != len(entries) {
			t.Fatalf("round trip: %d of %d entries, %v", len(again), len(entries), err)
		}
		for i := range again {
			if again[i].ID != entries[i].ID || again[i].Result != entries[i].Result || !again[i].Time.Equal(entries[i].Time) {
				t.Fatalf("entry %d changed in the round trip: %+v / %+v", i, entries[i], again[i])
			}
		}
	})
}

// TestReadToleratesATornLastLine: a process killed in the middle of a write leaves a last
// line without its newline; the reader keeps everything before it and reports no error.
func TestReadToleratesATornLastLine(t *testing.T) {
	in := `{"result":"pending","id":"a"}` + "\n" + `{"result":"ok","id":"a"}` + "\n" + `{"result":"pend`
	entries, err := parse(strings.NewReader(in), "x")
	if err != nil || len(entries) != 2 {
		t.Fatalf("%d entries, %v", len(entries), err)
	}
	_, err = parse(strings.NewReader(`{"result":"ok"}`+"\n"+"garbage\n"+`{"result":"ok"}`+"\n"), "x")
	if err == nil || err.Error() != "x:2: not an audit entry: invalid character 'g' looking for beginning of value" {
		t.Fatalf("a bad line in the middle: %v", err)
	}
}
