package podlogs

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"
)

// The ring keeps the newest lines within its bounds, oldest first.
func TestRingKeepsNewest(t *testing.T) {
	r := NewRing(3, 1<<20)
	for i := range 5 {
		r.Add(Line{Pod: "p", Text: fmt.Sprint(i)})
	}
	var got []string
	for _, l := range r.Tail(10, nil) {
		got = append(got, l.Text)
	}
	if strings.Join(got, ",") != "2,3,4" {
		t.Errorf("tail %v", got)
	}
	if odd := r.Tail(10, func(l Line) bool { return l.Text != "3" }); len(odd) != 2 || odd[1].Text != "4" {
		t.Errorf("filtered %v", odd)
	}
	r = NewRing(100, 10)
	r.Add(Line{Text: "12345"})
	r.Add(Line{Text: "67890"})
	r.Add(Line{Text: "abc"})
	if added, dropped, bytes := r.Stats(); added != 3 || dropped != 1 || bytes != 8 || r.Len() != 2 {
		t.Errorf("byte bound: added %d dropped %d bytes %d len %d", added, dropped, bytes, r.Len())
	}
}

// A reconnection from the last line's time does not repeat that line.
func TestCopyLinesSkipsSeen(t *testing.T) {
	in := "2026-03-14T10:00:00.000000001Z a\n2026-03-14T10:00:01Z b\nno timestamp\n"
	after, _ := time.Parse(time.RFC3339Nano, "2026-03-14T10:00:00.000000001Z")
	var got []string
	last, err := copyLines(strings.NewReader(in), "p", false, after, func(l Line) { got = append(got, l.Text) })
	if err != nil || strings.Join(got, ",") != "b,no timestamp" || last.Second() != 1 {
		t.Errorf("got %v last %s err %v", got, last, err)
	}
}

// A pod writing 10,000 lines a second for three seconds: the ring's memory stays bounded
// (measured on the heap after GC), and the newest lines are the ones kept.
func TestRingBoundedAt10000LinesPerSecond(t *testing.T) {
	if testing.Short() {
		t.Skip("takes 3 seconds")
	}
	const rate, seconds = 10000, 3
	ring := NewRing(DefaultRingLines, DefaultRingBytes)
	pr, pw := io.Pipe()
	go func() {
		defer pw.Close()
		start := time.Now()
		line := strings.Repeat("x", 150)
		for i := 0; i < rate*seconds; i++ {
			if i%100 == 0 {
				// Keep to the rate: 100 lines per 10 ms.
				if d := time.Until(start.Add(time.Duration(i) * time.Second / rate)); d > 0 {
					time.Sleep(d)
				}
			}
			fmt.Fprintf(pw, "%s line %d %s\n", time.Now().UTC().Format(time.RFC3339Nano), i, line)
		}
	}()
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapInuse
	}
	before := heap()
	var peak uint64
	done := make(chan struct{})
	go func() {
		defer close(done)
		copyLines(pr, "fast", false, time.Time{}, ring.Add)
	}()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	start := time.Now()
loop:
	for {
		select {
		case <-done:
			break loop
		case <-tick.C:
			if h := heap(); h > peak {
				peak = h
			}
		}
	}
	took := time.Since(start)
	added, dropped, bytes := ring.Stats()
	growth := int64(peak) - int64(before)
	t.Logf("%d lines in %s (%.0f lines/s); ring keeps %d lines, %d KiB of text, dropped %d; heap %d KiB before, peak %d KiB (+%d KiB)",
		added, took.Round(time.Millisecond), float64(added)/took.Seconds(), ring.Len(), bytes>>10, dropped, before>>10, peak>>10, growth>>10)
	if added != rate*seconds || ring.Len() != DefaultRingLines || dropped != added-DefaultRingLines {
		t.Errorf("added %d, kept %d, dropped %d", added, ring.Len(), dropped)
	}
	last := ring.Tail(1, nil)
	if len(last) != 1 || !strings.HasPrefix(last[0].Text, fmt.Sprintf("line %d ", rate*seconds-1)) {
		t.Errorf("newest line %v", last)
	}
	// 10,000 lines of about 170 bytes are 1.7 MB of text: the heap may hold that and the
	// ring's slots, and no more however long the pod writes.
	if growth > 8<<20 {
		t.Errorf("heap grew %d KiB", growth>>10)
	}
}

func BenchmarkRingAdd(b *testing.B) {
	r := NewRing(DefaultRingLines, DefaultRingBytes)
	l := Line{Pod: "p", Text: strings.Repeat("x", 150)}
	b.ReportAllocs()
	for b.Loop() {
		r.Add(l)
	}
}
