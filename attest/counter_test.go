package attest_test

import (
	"math"
	"testing"

	"github.com/wmsr/wmsr/attest"
)

func TestSeqCounter(t *testing.T) {
	var c attest.SeqCounter
	if c.Expected() != 1 {
		t.Fatal("does not start at 1")
	}
	wantReason(t, c.Accept(0), attest.ReasonReplay)
	wantReason(t, c.Accept(2), attest.ReasonOutOfOrder)
	if err := c.Accept(1); err != nil {
		t.Fatal(err)
	}
	wantReason(t, c.Accept(1), attest.ReasonReplay)
	if c.Expected() != 2 {
		t.Fatal(c.Expected())
	}
	// Near the end of the counter space: no wrap-around.
	c = attest.SeqCounter{}
	for i := uint64(1); i <= 3; i++ {
		_ = c.Accept(i)
	}
	wantReason(t, c.Accept(math.MaxUint64), attest.ReasonOutOfOrder)
}

func TestMonoCounter(t *testing.T) {
	var c attest.MonoCounter
	if o, err := c.Accept(1); o != 0 || err != nil {
		t.Fatal(o, err)
	}
	if o, err := c.Accept(5); o != 3 || err != nil {
		t.Fatal(o, err)
	}
	_, err := c.Accept(5)
	wantReason(t, err, attest.ReasonReplay)
	_, err = c.Accept(3)
	wantReason(t, err, attest.ReasonReplay)
	if o, err := c.Accept(math.MaxUint64); err != nil || o != math.MaxUint64-6 {
		t.Fatal(o, err)
	}
	_, err = c.Accept(math.MaxUint64)
	wantReason(t, err, attest.ReasonReplay)
	if c.Last() != math.MaxUint64 {
		t.Fatal(c.Last())
	}
}

func TestLaneHelpers(t *testing.T) {
	if attest.LaneShift != 40 || attest.MaxLane != 1<<24-1 || attest.MaxLaneSeq != 1<<40-1 {
		t.Fatal("lane layout changed: it is part of the wire meaning of counters")
	}
	c := attest.LanedCounter(7, 3)
	if c != 7<<40|3 || attest.LaneOf(c) != 7 || attest.SeqOf(c) != 3 {
		t.Fatal(c)
	}
	if attest.LanedCounter(attest.MaxLane+5, 1) != attest.LanedCounter(attest.MaxLane, 1) {
		t.Fatal("lane does not saturate")
	}
	if attest.LanedCounter(attest.MaxLane, attest.MaxLaneSeq) != math.MaxUint64 {
		t.Fatal("the last lane does not end the counter space")
	}
	// Numeric order is stream order: any counter of a lane is above every
	// counter of a lower lane.
	if attest.LanedCounter(3, attest.MaxLaneSeq) >= attest.LanedCounter(4, 1) {
		t.Fatal("lanes out of order")
	}
}

// TestLaneCounter checks LaneCounter's rules one by one.
func TestLaneCounter(t *testing.T) {
	L := attest.LanedCounter
	var c attest.LaneCounter
	if c.Expected() != 1 || c.Lane() != 0 || c.Last() != 0 {
		t.Fatal("zero value")
	}
	wantReason(t, c.Accept(0), attest.ReasonReplay)
	// Lane 0 is SeqCounter: the next counter only.
	wantReason(t, c.Accept(2), attest.ReasonOutOfOrder)
	if err := c.Accept(1); err != nil {
		t.Fatal(err)
	}
	wantReason(t, c.Accept(1), attest.ReasonReplay)
	if err := c.Accept(2); err != nil {
		t.Fatal(err)
	}
	// Seq 1 of a higher lane is accepted at once, abandoning lane 0's
	// tail (3, 4, ... never arrived).
	if err := c.Check(L(5, 1)); err != nil {
		t.Fatal(err)
	}
	if c.Last() != 2 {
		t.Fatal("Check changed state")
	}
	// Seq > 1 of a higher lane is out of order: seq 1 first.
	wantReason(t, c.Accept(L(5, 2)), attest.ReasonOutOfOrder)
	// Seq 0 of a higher lane is never sealed.
	wantReason(t, c.Accept(L(5, 0)), attest.ReasonMalformed)
	if err := c.Accept(L(5, 1)); err != nil {
		t.Fatal(err)
	}
	if c.Lane() != 5 || c.Expected() != L(5, 2) {
		t.Fatal(c.Lane(), c.Expected())
	}
	// The abandoned lane is stale, also counters never seen there.
	for _, old := range []uint64{1, 2, 3, L(4, 1), L(4, 9)} {
		wantReason(t, c.Accept(old), attest.ReasonStale)
	}
	// Within the new lane: sequential.
	wantReason(t, c.Accept(L(5, 1)), attest.ReasonReplay)
	wantReason(t, c.Accept(L(5, 3)), attest.ReasonOutOfOrder)
	if err := c.Accept(L(5, 2)); err != nil {
		t.Fatal(err)
	}
	// Lanes may be skipped: 6..9 never started here.
	if err := c.Accept(L(10, 1)); err != nil {
		t.Fatal(err)
	}
	// The zero value accepts seq 1 of any lane as its first counter (a
	// stream that starts in a later term).
	var d attest.LaneCounter
	wantReason(t, d.Accept(L(3, 2)), attest.ReasonOutOfOrder)
	if err := d.Accept(L(3, 1)); err != nil {
		t.Fatal(err)
	}
	// The end of a lane: only a higher lane follows.
	e := attest.LaneCounterForTest(L(2, attest.MaxLaneSeq))
	if e.Expected() != 0 {
		t.Fatal(e.Expected())
	}
	wantReason(t, e.Accept(L(3, 0)), attest.ReasonMalformed)
	if err := e.Accept(L(3, 1)); err != nil {
		t.Fatal(err)
	}
	// The end of the counter space.
	f := attest.LaneCounterForTest(math.MaxUint64)
	if f.Expected() != 0 || f.Lane() != attest.MaxLane {
		t.Fatal(f.Expected())
	}
	wantReason(t, f.Accept(math.MaxUint64), attest.ReasonReplay)
}
