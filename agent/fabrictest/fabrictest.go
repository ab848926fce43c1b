// Package fabrictest is the conformance suite of agent.Fabric: every
// implementation (MQTT now, RDMA mailboxes later) runs Run against real
// parts and must pass it.
package fabrictest

import (
	"context"
	"encoding/binary"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/wmsr/wmsr/agent"
	"github.com/wmsr/wmsr/attest"
	"github.com/wmsr/wmsr/attest/attesttest"
)

// Harness describes the fabric under test.
type Harness struct {
	// New returns a connected fabric for agent id whose Inbox holds
	// inboxCap deliveries. Run closes it.
	New func(t testing.TB, id attest.MemberID, inboxCap int) agent.Fabric
	// Restart interrupts the shared medium (restarts the broker, or
	// re-registers a peer's mailboxes) and returns once it accepts
	// connections again. Nil skips the reconnect case.
	Restart func(t testing.TB)
	// Ordered: the fabric promises per-sender order.
	Ordered bool
	// Wait bounds every wait of the suite (default 10 s).
	Wait time.Duration
}

// Run runs the conformance suite as subtests of t.
func Run(t *testing.T, h Harness) {
	if h.Wait <= 0 {
		h.Wait = 10 * time.Second
	}
	t.Run("AttestedValues", func(t *testing.T) { testAttested(t, h) })
	t.Run("AllArrive", func(t *testing.T) { testAllArrive(t, h) })
	t.Run("FullInboxCountsDrops", func(t *testing.T) { testBackPressure(t, h) })
	t.Run("Resubscribe", func(t *testing.T) { testResubscribe(t, h) })
	t.Run("Concurrent", func(t *testing.T) { testConcurrent(t, h) })
	t.Run("Close", func(t *testing.T) { testClose(t, h) })
	if h.Restart != nil {
		t.Run("Reconnect", func(t *testing.T) { testReconnect(t, h) })
	} else {
		t.Run("Reconnect", func(t *testing.T) { t.Skip("harness has no Restart") })
	}
}

func open(t testing.TB, h Harness, id attest.MemberID, inboxCap int) agent.Fabric {
	t.Helper()
	f := h.New(t, id, inboxCap)
	t.Cleanup(func() { _ = f.Close() })
	return f
}

func subscribe(t testing.TB, h Harness, f agent.Fabric, from ...attest.MemberID) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), h.Wait)
	defer cancel()
	if err := f.Subscribe(ctx, from); err != nil {
		t.Fatalf("Subscribe(%v): %v", from, err)
	}
}

func publish(t testing.TB, h Harness, f agent.Fabric, env []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), h.Wait)
	defer cancel()
	if err := f.Publish(ctx, env); err != nil {
		t.Fatalf("Publish: %v", err)
	}
}

// recv waits for one delivery, bounded by h.Wait.
func recv(t testing.TB, h Harness, f agent.Fabric) agent.Delivery {
	t.Helper()
	select {
	case d, ok := <-f.Inbox():
		if !ok {
			t.Fatal("inbox closed")
		}
		return d
	case <-time.After(h.Wait):
		t.Fatalf("no delivery within %v (stats %+v)", h.Wait, f.Stats())
	}
	panic("unreachable")
}

// msg is a test payload: sender and sequence number.
func msg(from attest.MemberID, seq uint64) []byte {
	b := binary.BigEndian.AppendUint64(nil, uint64(from))
	return binary.BigEndian.AppendUint64(b, seq)
}

func parse(t testing.TB, d agent.Delivery) (attest.MemberID, uint64) {
	t.Helper()
	if len(d.Envelope) != 16 {
		t.Fatalf("unexpected payload of %d bytes from %d", len(d.Envelope), d.From)
	}
	from := attest.MemberID(binary.BigEndian.Uint64(d.Envelope))
	if from != d.From {
		t.Fatalf("payload of %d attributed to %d", from, d.From)
	}
	return from, binary.BigEndian.Uint64(d.Envelope[8:])
}

// testAttested: real envelopes from one agent reach two neighbours, who
// authenticate them; counters stay consecutive (nothing lost on a quiet
// fabric).
func testAttested(t *testing.T, h Harness) {
	fleet := attesttest.NewFleet(5)
	a, aRec, err := fleet.Join(101, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	fa := open(t, h, 101, 0)
	snd, err := attest.NewBroadcastSender(a.Identity(), 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	type rx struct {
		f agent.Fabric
		r *attest.Receiver
	}
	var rxs []rx
	for _, id := range []attest.MemberID{102, 103} {
		b, _, err := fleet.Join(id, 1, nil)
		if err != nil {
			t.Fatal(err)
		}
		r := attest.NewReceiver(b.Identity(), attest.ReceiverConfig{})
		if err := r.AddMember(aRec); err != nil {
			t.Fatal(err)
		}
		if err := r.Subscribe(1, nil); err != nil {
			t.Fatal(err)
		}
		f := open(t, h, id, 0)
		subscribe(t, h, f, 101)
		rxs = append(rxs, rx{f, r})
	}
	const rounds = 20
	for k := range rounds {
		p, err := attest.AppendValue(nil, float64(k)+0.5)
		if err != nil {
			t.Fatal(err)
		}
		env, err := snd.Seal(nil, 1, p)
		if err != nil {
			t.Fatal(err)
		}
		publish(t, h, fa, env)
	}
	for _, x := range rxs {
		for k := range rounds {
			d := recv(t, h, x.f)
			if d.From != 101 {
				t.Fatalf("delivery attributed to %d", d.From)
			}
			m, err := x.r.Open(d.Envelope)
			if err != nil {
				t.Fatalf("round %d: Open: %v (%s)", k, err, attest.ReasonOf(err))
			}
			v, err := attest.DecodeValue(m.Payload)
			if err != nil {
				t.Fatal(err)
			}
			if h.Ordered && (v != float64(k)+0.5 || m.Omitted != 0) {
				t.Fatalf("round %d: value %v omitted %d", k, v, m.Omitted)
			}
		}
	}
}

// testAllArrive: a burst within the inbox capacity arrives completely,
// in order where promised, from two senders at once.
func testAllArrive(t *testing.T, h Harness) {
	const n = 300
	b := open(t, h, 202, 2*n)
	subscribe(t, h, b, 201, 203)
	senders := []agent.Fabric{open(t, h, 201, 0), open(t, h, 203, 0)}
	var wg sync.WaitGroup
	for i, f := range senders {
		id := []attest.MemberID{201, 203}[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s := range uint64(n) {
				if err := f.Publish(context.Background(), msg(id, s)); err != nil {
					t.Errorf("Publish: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	next := map[attest.MemberID]uint64{}
	seen := map[[2]uint64]bool{}
	for range 2 * n {
		from, seq := parse(t, recv(t, h, b))
		if seen[[2]uint64{uint64(from), seq}] {
			t.Fatalf("duplicate %d/%d", from, seq)
		}
		seen[[2]uint64{uint64(from), seq}] = true
		if h.Ordered && seq != next[from] {
			t.Fatalf("from %d: got %d, want %d (order per sender promised)", from, seq, next[from])
		}
		next[from] = seq + 1
	}
	if st := b.Stats(); st.Dropped != 0 || st.Received != 2*n {
		t.Fatalf("stats %+v, want %d received and no drops", st, 2*n)
	}
}

// testBackPressure: a receiver that does not read loses only the oldest
// envelopes, and counts every one of them.
func testBackPressure(t *testing.T, h Harness) {
	const capacity, n = 8, 200
	b := open(t, h, 302, capacity)
	subscribe(t, h, b, 301)
	a := open(t, h, 301, 0)
	for s := range uint64(n) {
		publish(t, h, a, msg(301, s))
	}
	deadline := time.Now().Add(h.Wait)
	for b.Stats().Received < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %+v of %d arrived", b.Stats(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	st := b.Stats()
	if st.Dropped != n-capacity {
		t.Fatalf("stats %+v: want %d dropped", st, n-capacity)
	}
	for i := range capacity {
		_, seq := parse(t, recv(t, h, b))
		if h.Ordered && seq != uint64(n-capacity+i) {
			t.Fatalf("kept %d, want the newest (%d)", seq, n-capacity+i)
		}
	}
	select {
	case d := <-b.Inbox():
		t.Fatalf("more than capacity queued: %v", d)
	default:
	}
}

// testResubscribe: Subscribe replaces the set.
func testResubscribe(t *testing.T, h Harness) {
	b := open(t, h, 402, 0)
	a, c := open(t, h, 401, 0), open(t, h, 403, 0)
	subscribe(t, h, b, 401)
	publish(t, h, a, msg(401, 0))
	if from, _ := parse(t, recv(t, h, b)); from != 401 {
		t.Fatalf("from %d", from)
	}
	subscribe(t, h, b, 403)
	publish(t, h, a, msg(401, 1))
	publish(t, h, c, msg(403, 0))
	if from, _ := parse(t, recv(t, h, b)); from != 403 {
		t.Fatalf("from %d after unsubscribing it", from)
	}
	// Give a stray envelope of the dropped peer time to show up.
	select {
	case d := <-b.Inbox():
		t.Fatalf("delivery from %d after unsubscribing", d.From)
	case <-time.After(100 * time.Millisecond):
	}
}

// testConcurrent: publishing, resubscribing and reading at once (run with
// -race).
func testConcurrent(t *testing.T, h Harness) {
	b := open(t, h, 502, 64)
	a := open(t, h, 501, 0)
	ctx, cancel := context.WithTimeout(context.Background(), h.Wait)
	defer cancel()
	var wg sync.WaitGroup
	for g := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s := range uint64(50) {
				_ = a.Publish(ctx, msg(501, uint64(g)<<32|s))
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 10 {
			set := []attest.MemberID{501}
			if i%2 == 1 {
				set = nil
			}
			_ = b.Subscribe(ctx, set)
		}
	}()
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-b.Inbox():
			case <-stop:
				return
			}
		}
	}()
	wg.Wait()
	close(stop)
	_ = a.Stats()
	_ = b.Stats()
}

// testClose: Close is idempotent, closes the inbox, and later calls fail
// with ErrClosed.
func testClose(t *testing.T, h Harness) {
	f := h.New(t, 601, 0)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	select {
	case _, ok := <-f.Inbox():
		if ok {
			t.Fatal("delivery after Close")
		}
	case <-time.After(h.Wait):
		t.Fatal("inbox not closed by Close")
	}
	if err := f.Publish(context.Background(), msg(601, 0)); !errors.Is(err, agent.ErrClosed) {
		t.Fatalf("Publish after Close: %v, want ErrClosed", err)
	}
	if err := f.Subscribe(context.Background(), nil); !errors.Is(err, agent.ErrClosed) {
		t.Fatalf("Subscribe after Close: %v, want ErrClosed", err)
	}
}

// testReconnect: after the medium restarts, both sides come back without
// help, the subscription is restored, and values flow again. Publish
// errors during the outage are the documented, typed ones.
func testReconnect(t *testing.T, h Harness) {
	a, b := open(t, h, 701, 0), open(t, h, 702, 0)
	subscribe(t, h, b, 701)
	publish(t, h, a, msg(701, 0))
	if _, seq := parse(t, recv(t, h, b)); seq != 0 {
		t.Fatalf("seq %d", seq)
	}
	before := b.Stats().Connects
	h.Restart(t)

	deadline := time.Now().Add(3 * h.Wait)
	for seq := uint64(1); ; seq++ {
		if time.Now().After(deadline) {
			t.Fatalf("values did not flow again after restart: sender %+v receiver %+v", a.Stats(), b.Stats())
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := a.Publish(ctx, msg(701, seq))
		cancel()
		if err != nil && !errors.Is(err, agent.ErrNotConnected) && !errors.Is(err, agent.ErrTimeout) &&
			!errors.Is(err, agent.ErrBackPressure) && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Publish during outage: untyped error %v", err)
		}
		select {
		case d := <-b.Inbox():
			if _, got := parse(t, d); got >= 1 {
				if b.Stats().Connects <= before {
					t.Fatalf("receiver did not count a reconnection: %+v", b.Stats())
				}
				return
			}
		case <-time.After(50 * time.Millisecond):
		}
	}
}
