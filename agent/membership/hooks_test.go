package membership

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/wmsr/wmsr/attest"
	"github.com/wmsr/wmsr/attest/attesttest"
)

// blockingDelegate blocks in NotifyRejected until released, to hold the
// worker.
type blockingDelegate struct {
	entered chan attest.MemberID
	release chan struct{}
}

func (d *blockingDelegate) NotifyAdmitted(attest.Member) {}
func (d *blockingDelegate) NotifyDead(attest.MemberID)   {}
func (d *blockingDelegate) NotifyRejected(id attest.MemberID, _ error) {
	select {
	case d.entered <- id:
	default: // nobody is watching any more
	}
	<-d.release
}

// TestCallbacksNeverBlock: while the Delegate holds the worker, memberlist's
// callbacks still return at once; messages beyond the queue are dropped and
// counted, and malformed or oversized ones are counted too.
func TestCallbacksNeverBlock(t *testing.T) {
	f := attesttest.NewFleet(50)
	b, _, err := f.Join(1, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	self, err := b.Attest()
	if err != nil {
		t.Fatal(err)
	}
	d := &blockingDelegate{entered: make(chan attest.MemberID, 1), release: make(chan struct{})}
	cfg := DefaultLocalConfig()
	cfg.Fleet, cfg.Self, cfg.Admitter = "q", self, f.Admitter
	cfg.Keyring = [][]byte{make([]byte, 16)}
	cfg.QueueSize = 1
	cfg.Delegate = d
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.Now = func() time.Time { return f.Now }
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	defer close(d.release) // runs before Close

	// Attestations of distinct ids from a foreign CA: each is refused.
	rogue := attesttest.NewFleet(51)
	frame := func(id attest.MemberID) []byte {
		rb, _, err := rogue.Join(id, 1, nil)
		if err != nil {
			t.Fatal(err)
		}
		att, err := rb.Attest()
		if err != nil {
			t.Fatal(err)
		}
		enc, err := att.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		fr, err := encodeMessage(message{Type: msgAttestation, Body: enc})
		if err != nil {
			t.Fatal(err)
		}
		return fr
	}
	h := &hooks{m: m}
	h.NotifyMsg(frame(2))
	select {
	case <-d.entered: // the worker is now held in NotifyRejected
	case <-time.After(10 * time.Second):
		t.Fatal("worker did not reject the first attestation")
	}
	begin := time.Now()
	h.MergeRemoteState(frame(3), false) // fills the queue
	for i := range 9 {
		h.NotifyMsg(frame(attest.MemberID(4 + i))) // dropped
	}
	if took := time.Since(begin); took > time.Second {
		t.Fatalf("callbacks took %v with the worker held", took)
	}
	if s := m.Stats(); s.Dropped != 9 {
		t.Fatalf("Stats = %+v, want 9 dropped", s)
	}
	h.NotifyMsg(make([]byte, maxMessageSize+1))
	if s := m.Stats(); s.Malformed != 1 {
		t.Fatalf("Stats = %+v, want 1 malformed (oversized)", s)
	}
	d.release <- struct{}{}
	if id := <-d.entered; id != 3 {
		t.Fatalf("second rejection for %d, want 3", id)
	}
	d.release <- struct{}{}
	h.NotifyMsg([]byte{9, 9, 9})
	deadline := time.Now().Add(10 * time.Second)
	for m.Stats().Malformed != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("Stats = %+v, want 2 malformed", m.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if s := m.Stats(); s.Rejected != 2 {
		t.Fatalf("Stats = %+v, want 2 rejected", s)
	}
}

// chanDelegate forwards every call to a channel.
type chanDelegate struct{ ch chan string }

func (d *chanDelegate) NotifyAdmitted(m attest.Member) {
	d.ch <- fmt.Sprintf("admitted %d/%d", m.ID, m.Epoch)
}
func (d *chanDelegate) NotifyDead(id attest.MemberID) { d.ch <- fmt.Sprintf("dead %d", id) }
func (d *chanDelegate) NotifyRejected(id attest.MemberID, err error) {
	d.ch <- fmt.Sprintf("rejected %d", id)
}

// TestDeadDelayAbsorbsFlaps drives the hooks directly, as memberlist
// would: a node that is reported dead and alive again within DeadDelay is
// never reported dead; one that stays dead is, once; a metadata update to
// a higher epoch ends the old record at once.
func TestDeadDelayAbsorbsFlaps(t *testing.T) {
	f := attesttest.NewFleet(52)
	b, _, err := f.Join(1, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	self, err := b.Attest()
	if err != nil {
		t.Fatal(err)
	}
	d := &chanDelegate{ch: make(chan string, 16)}
	cfg := DefaultLocalConfig()
	cfg.Fleet, cfg.Self, cfg.Admitter = "q", self, f.Admitter
	cfg.Keyring = [][]byte{make([]byte, 16)}
	cfg.DeadDelay = 300 * time.Millisecond
	cfg.Delegate = d
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.Now = func() time.Time { return f.Now }
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	h := &hooks{m: m}

	peer := func(epoch attest.Epoch) (*memberlist.Node, []byte) {
		pb, _, err := f.Join(2, epoch, nil)
		if err != nil {
			t.Fatal(err)
		}
		att, err := pb.Attest()
		if err != nil {
			t.Fatal(err)
		}
		enc, err := att.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		fr, err := encodeMessage(message{Type: msgAttestation, Body: enc})
		if err != nil {
			t.Fatal(err)
		}
		// Port 1 on loopback refuses connections: our sends fail fast.
		return &memberlist.Node{Name: "q-2", Addr: net.IPv4(127, 0, 0, 1), Port: 1, Meta: encodeMeta(metaOf(&att.Claim))}, fr
	}
	next := func(want string) {
		t.Helper()
		select {
		case got := <-d.ch:
			if got != want {
				t.Fatalf("delegate call %q, want %q", got, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no delegate call, want %q", want)
		}
	}
	quiet := func(d2 time.Duration) {
		t.Helper()
		select {
		case got := <-d.ch:
			t.Fatalf("unexpected delegate call %q", got)
		case <-time.After(d2):
		}
	}

	n1, fr1 := peer(1)
	if err := h.NotifyAlive(n1); err != nil {
		t.Fatalf("NotifyAlive: %v", err)
	}
	h.NotifyJoin(n1)
	h.MergeRemoteState(fr1, true)
	next("admitted 2/1")
	h.NotifyLeave(n1)
	h.NotifyJoin(n1) // refuted at once
	quiet(2 * cfg.DeadDelay)
	h.NotifyLeave(n1)
	next("dead 2")
	h.NotifyJoin(n1) // back, same record
	next("admitted 2/1")

	// Restart under epoch 2: the new metadata ends epoch 1 at once; the new
	// attestation makes it usable again.
	n2, fr2 := peer(2)
	h.NotifyUpdate(n2)
	next("dead 2")
	h.NotifyMsg(fr2)
	next("admitted 2/2")
	h.NotifyMsg(fr1) // a replay of epoch 1
	next("rejected 2")

	// Nodes of other fleets or with inconsistent metadata are kept out.
	for _, bad := range []*memberlist.Node{
		{Name: "other-2", Meta: n1.Meta},
		{Name: "q-3", Meta: n1.Meta},
		{Name: "q-2", Meta: n1.Meta[:10]},
	} {
		if err := h.NotifyAlive(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("NotifyAlive(%s) = %v, want ErrMalformed", bad.Name, err)
		}
	}
}
