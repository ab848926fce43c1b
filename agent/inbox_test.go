package agent

import (
	"sync"
	"testing"
)

func TestInboxEvictsOldest(t *testing.T) {
	q := NewInbox(4)
	for i := range 10 {
		q.Put(Delivery{From: 1, Envelope: []byte{byte(i)}})
	}
	if q.Received() != 10 || q.Dropped() != 6 {
		t.Fatalf("received %d dropped %d, want 10 and 6", q.Received(), q.Dropped())
	}
	for want := byte(6); want < 10; want++ {
		if d := <-q.C(); d.Envelope[0] != want {
			t.Fatalf("got %d, want %d (newest kept)", d.Envelope[0], want)
		}
	}
	q.Close()
	q.Close()
	if q.Put(Delivery{}) {
		t.Fatal("Put after Close succeeded")
	}
	if _, ok := <-q.C(); ok {
		t.Fatal("channel not closed")
	}
}

// TestInboxConcurrent checks the accounting invariant under concurrent
// producers and a consumer: everything put is either consumed or dropped.
func TestInboxConcurrent(t *testing.T) {
	q := NewInbox(8)
	var consumed int
	done := make(chan struct{})
	go func() {
		for range q.C() {
			consumed++
		}
		close(done)
	}()
	var wg sync.WaitGroup
	for p := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				q.Put(Delivery{From: 1, Envelope: []byte{byte(p), byte(i)}})
			}
		}()
	}
	wg.Wait()
	q.Close()
	<-done
	if got := uint64(consumed) + q.Dropped(); got != 4000 || q.Received() != 4000 {
		t.Fatalf("consumed %d + dropped %d = %d, received %d; want 4000", consumed, q.Dropped(), got, q.Received())
	}
}
