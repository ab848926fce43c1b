package agent

import (
	"sync"
	"sync/atomic"
)

// DefaultInboxCapacity holds several rounds of envelopes from a typical
// in-neighbourhood (tens of neighbours), so a round engine that is late by
// a round loses nothing, while a stuck one costs at most this many
// envelopes of memory.
const DefaultInboxCapacity = 1024

// Inbox is the bounded queue between a fabric's network goroutines and the
// round engine. Put never blocks: when the queue is full it evicts the
// oldest envelope and counts it, because a newer value supersedes an older
// one. Fabric implementations embed it to share one drop policy.
type Inbox struct {
	// mu serialises producers (so eviction and insertion are one step)
	// and Close; consumers read the channel without it.
	mu     sync.Mutex
	ch     chan Delivery
	closed bool

	received atomic.Uint64
	dropped  atomic.Uint64
}

// NewInbox returns an inbox holding up to capacity deliveries
// (DefaultInboxCapacity if capacity <= 0).
func NewInbox(capacity int) *Inbox {
	if capacity <= 0 {
		capacity = DefaultInboxCapacity
	}
	return &Inbox{ch: make(chan Delivery, capacity)}
}

// C returns the receive channel; it is closed by Close.
func (q *Inbox) C() <-chan Delivery { return q.ch }

// Cap returns the capacity.
func (q *Inbox) Cap() int { return cap(q.ch) }

// Put enqueues d without blocking, evicting the oldest queued delivery if
// the inbox is full. It reports false if the inbox is closed (d is then
// counted as dropped).
func (q *Inbox) Put(d Delivery) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		q.dropped.Add(1)
		return false
	}
	for {
		select {
		case q.ch <- d:
			q.received.Add(1)
			return true
		default:
		}
		// Full: evict one. A consumer may have emptied a slot meanwhile,
		// in which case nothing is evicted and the send is retried.
		select {
		case <-q.ch:
			q.dropped.Add(1)
		default:
		}
	}
}

// Received returns how many deliveries were enqueued.
func (q *Inbox) Received() uint64 { return q.received.Load() }

// Dropped returns how many deliveries were evicted or arrived after Close.
func (q *Inbox) Dropped() uint64 { return q.dropped.Load() }

// Close closes the channel; later Puts are dropped. Idempotent.
func (q *Inbox) Close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.closed {
		q.closed = true
		close(q.ch)
	}
}
