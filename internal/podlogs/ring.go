package podlogs

import (
	"strings"
	"sync"
)

// Ring keeps the newest lines within a line count and a byte budget, whatever the rate they
// arrive at: a pod writing 10,000 lines a second costs the same memory as a quiet one. Lines
// longer than MaxLine bytes are cut. It is safe for concurrent use: streams add, a view reads.
type Ring struct {
	mu       sync.Mutex
	lines    []Line
	start, n int
	bytes    int
	maxBytes int
	maxLine  int
	dropped  uint64
	added    uint64
}

// Default bounds of a ring.
const (
	DefaultRingLines = 10000
	DefaultRingBytes = 4 << 20
	MaxLine          = 4 << 10
)

// NewRing keeps at most lines lines and maxBytes bytes of text.
func NewRing(lines, maxBytes int) *Ring {
	if lines <= 0 {
		lines = DefaultRingLines
	}
	if maxBytes <= 0 {
		maxBytes = DefaultRingBytes
	}
	return &Ring{lines: make([]Line, lines), maxBytes: maxBytes, maxLine: MaxLine}
}

// Add appends a line, dropping the oldest ones as needed.
func (r *Ring) Add(l Line) {
	if len(l.Text) > r.maxLine {
		l.Text = l.Text[:r.maxLine] + "…"
	}
	l.Text = strings.Clone(l.Text) // do not pin the reader's buffer
	r.mu.Lock()
	defer r.mu.Unlock()
	r.added++
	for r.n > 0 && (r.n == len(r.lines) || r.bytes+len(l.Text) > r.maxBytes) {
		r.bytes -= len(r.lines[r.start].Text)
		r.lines[r.start] = Line{}
		r.start = (r.start + 1) % len(r.lines)
		r.n--
		r.dropped++
	}
	r.lines[(r.start+r.n)%len(r.lines)] = l
	r.n++
	r.bytes += len(l.Text)
}

// Len is the number of lines kept.
func (r *Ring) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

// Stats are the lines added and dropped so far, and the bytes of text kept.
func (r *Ring) Stats() (added, dropped uint64, bytes int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.added, r.dropped, r.bytes
}

// Tail returns up to n of the newest lines that match keep (all when keep is nil), oldest
// first.
func (r *Ring) Tail(n int, keep func(Line) bool) []Line {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Line
	for i := r.n - 1; i >= 0 && len(out) < n; i-- {
		l := r.lines[(r.start+i)%len(r.lines)]
		if keep == nil || keep(l) {
			out = append(out, l)
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// Reset forgets every line.
func (r *Ring) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	clear(r.lines)
	r.start, r.n, r.bytes = 0, 0, 0
}
