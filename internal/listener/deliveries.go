package listener

import (
	"container/list"
	"sync"
	"time"
)

// Deliveries remembers webhook delivery ids for a while, so a replayed delivery does
// nothing. It is bounded: past its size the oldest id is forgotten first.
type Deliveries struct {
	mu    sync.Mutex
	ttl   time.Duration
	max   int
	order *list.List // of delivery, oldest first
	byID  map[string]*list.Element
	now   func() time.Time
}

type delivery struct {
	id   string
	seen time.Time
}

// NewDeliveries remembers up to max ids (default 10,000) for ttl (default 24 h).
func NewDeliveries(max int, ttl time.Duration) *Deliveries {
	if max <= 0 {
		max = 10_000
	}
	if ttl <= 0 {
		ttl = 24 * time.Hour
	}
	return &Deliveries{ttl: ttl, max: max, order: list.New(), byID: map[string]*list.Element{}, now: time.Now}
}

// Claim records id and reports true, or reports false when id was delivered within the TTL.
func (d *Deliveries) Claim(id string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	for e := d.order.Front(); e != nil && now.Sub(e.Value.(delivery).seen) > d.ttl; e = d.order.Front() {
		delete(d.byID, e.Value.(delivery).id)
		d.order.Remove(e)
	}
	if _, ok := d.byID[id]; ok {
		return false
	}
	for d.order.Len() >= d.max {
		e := d.order.Front()
		delete(d.byID, e.Value.(delivery).id)
		d.order.Remove(e)
	}
	d.byID[id] = d.order.PushBack(delivery{id: id, seen: now})
	return true
}

// Forget drops id, so a delivery that failed on opsdeck's side may be sent again.
func (d *Deliveries) Forget(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if e, ok := d.byID[id]; ok {
		delete(d.byID, id)
		d.order.Remove(e)
	}
}

// Len is the number of ids remembered.
func (d *Deliveries) Len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.order.Len()
}
