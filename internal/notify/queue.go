package notify

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/opsdeck/opsdeck/internal/domain"
)

// Queue delivers batches of alerts to a Notifier in the background, one at a time and in order
// (a resolution never overtakes the alert it resolves), so that a slow or dead receiver never
// delays whoever raises alerts. It holds at most Size batches; when full, a new batch is dropped
// and counted, never waited for.
type Queue struct {
	n       Notifier
	ch      chan []domain.Alert
	timeout time.Duration
	log     *slog.Logger

	dropped, sent, failed atomic.Uint64
}

// DefaultQueueSize is how many batches a Queue holds.
const DefaultQueueSize = 64

// DeliveryTimeout bounds one batch's delivery, retries included.
const DeliveryTimeout = 30 * time.Second

// NewQueue makes a queue of size batches (DefaultQueueSize when 0) in front of n; Run delivers.
func NewQueue(n Notifier, size int, log *slog.Logger) *Queue {
	if size <= 0 {
		size = DefaultQueueSize
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Queue{n: n, ch: make(chan []domain.Alert, size), timeout: DeliveryTimeout, log: log}
}

// Enqueue adds a batch without waiting; it reports false, and counts the batch as dropped,
// when the queue is full.
func (q *Queue) Enqueue(batch []domain.Alert) bool {
	if len(batch) == 0 {
		return true
	}
	select {
	case q.ch <- batch:
		return true
	default:
		n := q.dropped.Add(1)
		q.log.Warn("notification dropped: the queue is full (receivers too slow or down)",
			"alerts", len(batch), "dropped_total", n)
		return false
	}
}

// Run delivers queued batches until ctx ends.
func (q *Queue) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case batch := <-q.ch:
			sctx, cancel := context.WithTimeout(ctx, q.timeout)
			err := q.n.Notify(sctx, batch)
			cancel()
			if err != nil {
				q.failed.Add(1)
				q.log.Error("notification failed", "error", err.Error(), "failed_total", q.failed.Load(), "dropped_total", q.dropped.Load())
				continue
			}
			q.sent.Add(1)
		}
	}
}

// Stats are a queue's counts of batches since it started.
type Stats struct {
	Sent, Failed, Dropped uint64
	Queued                int
}

// Stats returns the counts so far.
func (q *Queue) Stats() Stats {
	return Stats{Sent: q.sent.Load(), Failed: q.failed.Load(), Dropped: q.dropped.Load(), Queued: len(q.ch)}
}
