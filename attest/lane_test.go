package attest_test

import (
	"errors"
	"math"
	"testing"

	"github.com/wmsr/wmsr/attest"
)

// TestSenderStartLane: StartLane moves the next counter to seq 1 of the new
// lane, refuses going back or restarting the current lane, refuses
// broadcast streams, saturates at MaxLane, and keeps seq within its lane.
func TestSenderStartLane(t *testing.T) {
	L := attest.LanedCounter
	_, ns := newNodes(t, 41, 2)
	s := unicast(t, ns[0], ns[1], attest.SuiteHMACSHA256, false)
	counterOf := func(env []byte) uint64 {
		t.Helper()
		e, err := attest.Parse(env)
		if err != nil {
			t.Fatal(err)
		}
		return e.Counter
	}
	if c := counterOf(mustSeal(t, s, 0, nil)); c != 1 || s.Lane() != 0 {
		t.Fatalf("counter %d lane %d before any lane", c, s.Lane())
	}
	if err := s.StartLane(3); err != nil {
		t.Fatal(err)
	}
	if s.Lane() != 3 || s.Counter() != L(3, 0) {
		t.Fatalf("lane %d counter %x", s.Lane(), s.Counter())
	}
	if c := counterOf(mustSeal(t, s, 0, nil)); c != L(3, 1) {
		t.Fatalf("first counter of lane 3: %x", c)
	}
	if c := counterOf(mustSeal(t, s, 0, nil)); c != L(3, 2) {
		t.Fatalf("second counter of lane 3: %x", c)
	}
	for _, lane := range []uint64{0, 2, 3} {
		if err := s.StartLane(lane); !errors.Is(err, attest.ErrStale) {
			t.Fatalf("StartLane(%d) at lane 3: %v", lane, err)
		}
	}
	if c := counterOf(mustSeal(t, s, 0, nil)); c != L(3, 3) {
		t.Fatalf("a refused StartLane changed the stream: %x", c)
	}
	if err := broadcast(t, ns[0], valueChannel, nil).StartLane(1); !errors.Is(err, attest.ErrMalformed) {
		t.Fatalf("StartLane on a broadcast stream: %v", err)
	}

	// The end of a lane: Seal refuses, the next lane continues.
	attest.SetCounterForTest(s, L(3, attest.MaxLaneSeq-1))
	if c := counterOf(mustSeal(t, s, 0, nil)); c != L(3, attest.MaxLaneSeq) {
		t.Fatalf("%x", c)
	}
	if _, err := s.Seal(nil, 0, nil); !errors.Is(err, attest.ErrCounterExhausted) {
		t.Fatalf("sealing past the end of a lane: %v", err)
	}
	if err := s.StartLane(4); err != nil {
		t.Fatal(err)
	}
	if c := counterOf(mustSeal(t, s, 0, nil)); c != L(4, 1) {
		t.Fatalf("%x", c)
	}

	// Saturation: beyond MaxLane the stream goes to MaxLane, then stays
	// there (no fresh start, but no error and no reuse).
	if err := s.StartLane(math.MaxUint64); err != nil {
		t.Fatal(err)
	}
	if c := counterOf(mustSeal(t, s, 0, nil)); c != L(attest.MaxLane, 1) {
		t.Fatalf("%x", c)
	}
	if err := s.StartLane(attest.MaxLane + 7); err != nil {
		t.Fatalf("saturated StartLane: %v", err)
	}
	if c := counterOf(mustSeal(t, s, 0, nil)); c != L(attest.MaxLane, 2) {
		t.Fatalf("saturated StartLane restarted the lane: %x", c)
	}
	if err := s.StartLane(5); !errors.Is(err, attest.ErrStale) {
		t.Fatalf("going back from MaxLane: %v", err)
	}

	// A sender that never starts a lane keeps the whole 64-bit space, as
	// before lanes existed (LossyUnicast and plain streams).
	plain := unicast(t, ns[1], ns[0], attest.SuiteHMACSHA256, false)
	attest.SetCounterForTest(plain, attest.MaxLaneSeq)
	if c := counterOf(mustSeal(t, plain, 0, nil)); c != attest.MaxLaneSeq+1 {
		t.Fatalf("%x", c)
	}
}

// TestLanedUnicastReceiver: a receiver with LanedUnicast takes seq 1 of a
// new lane while the old lane is stuck behind a lost envelope, refuses the
// old lane from then on, fills the new lane in order, and still detects
// equivocation with evidence, in the new lane and in the abandoned one; a
// receiver without it is unchanged.
func TestLanedUnicastReceiver(t *testing.T) {
	_, ns := newNodes(t, 42, 2)
	a, b := ns[0], ns[1]
	s := unicast(t, a, b, attest.SuiteHMACSHA256, false)
	var old [][]byte
	for _, p := range []string{"o1", "o2", "o3", "o4", "o5"} {
		old = append(old, mustSeal(t, s, 0, []byte(p)))
	}
	if err := s.StartLane(2); err != nil {
		t.Fatal(err)
	}
	fresh := [][]byte{mustSeal(t, s, 0, []byte("n1")), mustSeal(t, s, 0, []byte("n2"))}

	laned := attest.NewReceiver(b.id(), attest.ReceiverConfig{LanedUnicast: true})
	strict := b.r // the default: one sequence for the whole stream
	if err := laned.AddMember(a.m); err != nil {
		t.Fatal(err)
	}
	for _, r := range []*attest.Receiver{laned, strict} {
		for _, e := range old[:3] {
			if _, err := r.Open(e); err != nil {
				t.Fatal(err)
			}
		}
		_, err := r.Open(old[4])
		wantReason(t, err, attest.ReasonOutOfOrder)
	}
	// old[3] is lost: the old lane is stuck. The strict receiver waits
	// for it; the laned one does not.
	_, err := strict.Open(fresh[0])
	wantReason(t, err, attest.ReasonOutOfOrder)
	_, err = laned.Open(fresh[1]) // the new lane's seq 2 before its seq 1
	wantReason(t, err, attest.ReasonOutOfOrder)
	msg, err := laned.Open(fresh[0])
	if err != nil || string(msg.Payload) != "n1" || msg.Counter != attest.LanedCounter(2, 1) || msg.Omitted != 0 {
		t.Fatalf("%+v %v", msg, err)
	}
	if msg, err := laned.Open(fresh[1]); err != nil || string(msg.Payload) != "n2" {
		t.Fatalf("%+v %v", msg, err)
	}
	// The abandoned lane is stale now, also what was never received.
	for _, e := range old {
		_, err := laned.Open(e)
		wantReason(t, err, attest.ReasonStale)
	}
	_, err = laned.Open(fresh[0])
	wantReason(t, err, attest.ReasonReplay)
	// Equivocation: a second envelope for a slot still in the evidence
	// window (counter 3 of lane 0 is; 1 and 2 share their window slots
	// with the new lane's 1 and 2) is caught, whether its lane is current
	// or abandoned.
	for _, e := range [][]byte{fresh[1], old[2]} {
		_, err := laned.Open(forgeSameSlot(t, a, b, e, []byte("two-faced")))
		var eq *attest.EquivocationError
		if !errors.As(err, &eq) {
			t.Fatalf("equivocation not detected: %v", err)
		}
	}

	// LossyUnicast takes precedence over LanedUnicast.
	lossy := attest.NewReceiver(b.id(), attest.ReceiverConfig{LossyUnicast: true, LanedUnicast: true})
	if err := lossy.AddMember(a.m); err != nil {
		t.Fatal(err)
	}
	if msg, err := lossy.Open(fresh[1]); err != nil || msg.Omitted != attest.LanedCounter(2, 2)-1 {
		t.Fatalf("%+v %v", msg, err)
	}
}
