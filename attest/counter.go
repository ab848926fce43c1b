package attest

import (
	"fmt"
	"math"
)

// SeqCounter is the receive counter of one directed pair in Recipe's model
// (proofs/recipe_protocols.spthy): it starts so that 1 is expected, accepts
// only cnt == expected, and then increments. This is what yields the model's
// lemmas on the receive side: nothing before an accepted counter was lost,
// nothing is reordered, nothing is accepted twice.
//
// The zero value expects counter 1. SeqCounter is pure state: it does no
// cryptography and reads no clock.
type SeqCounter struct {
	last uint64 // last accepted counter; 0 = none yet
}

// Expected returns the only counter Accept will take next. It returns 0 once
// math.MaxUint64 has been accepted: the stream is exhausted.
func (c *SeqCounter) Expected() uint64 {
	if c.last == math.MaxUint64 {
		return 0
	}
	return c.last + 1
}

// Check reports whether cnt would be accepted, without changing state:
// ErrReplay for cnt at or below the last accepted counter, ErrOutOfOrder
// for cnt beyond the expected one (something before it is missing).
func (c *SeqCounter) Check(cnt uint64) error {
	switch {
	case cnt <= c.last:
		return fmt.Errorf("%w: counter %d, already accepted up to %d", ErrReplay, cnt, c.last)
	case cnt != c.last+1:
		return fmt.Errorf("%w: counter %d, expected %d", ErrOutOfOrder, cnt, c.last+1)
	}
	return nil
}

// Accept checks cnt and, if it is the expected counter, consumes it.
func (c *SeqCounter) Accept(cnt uint64) error {
	if err := c.Check(cnt); err != nil {
		return err
	}
	c.last = cnt
	return nil
}

// Lanes. A laned unicast stream splits its 64-bit counter into a lane (the
// high 64-LaneShift bits) and a sequence number within the lane (the low
// LaneShift bits): counter = lane<<LaneShift | seq, seq from 1. The sender
// opens a higher lane with Sender.StartLane, its next counter being
// seq 1 of that lane; a receiver configured with
// ReceiverConfig.LanedUnicast (LaneCounter) accepts the next seq of its
// current lane, or seq 1 of any higher lane, which abandons the rest of the
// lower one. This is Recipe's view change: the channels of a new view (here
// a raft term, recipe.Layer.SetTerm) start fresh, so an old view's channel
// stuck behind a lost or unacknowledged envelope blocks nothing.
//
// The wire format is unchanged: a lane is just a region of the counter
// space, so the numeric order of counters is the order of the stream
// (older lanes below newer ones), and slots (Slot: sender, epoch, stream,
// counter), cumulative acknowledgements and equivocation evidence work
// as on any stream.
//
// A lane holds MaxLaneSeq envelopes (2^40-1, beyond any run of one
// incarnation); lanes run from 0 (the lane of a stream that never called
// StartLane) to MaxLane (2^24-1). StartLane beyond MaxLane saturates: the
// stream stays in MaxLane, which is correct but starts nothing fresh.
const (
	// LaneShift is the number of low counter bits that hold the sequence
	// number within a lane.
	LaneShift = 40
	// MaxLane is the highest lane.
	MaxLane = 1<<(64-LaneShift) - 1
	// MaxLaneSeq is the highest sequence number within a lane.
	MaxLaneSeq = 1<<LaneShift - 1
)

// LaneOf returns the lane of a laned counter.
func LaneOf(counter uint64) uint64 { return counter >> LaneShift }

// SeqOf returns the sequence number within its lane of a laned counter.
func SeqOf(counter uint64) uint64 { return counter & MaxLaneSeq }

// LanedCounter returns the counter of seq in lane (lane saturates at
// MaxLane, seq is taken modulo 2^LaneShift).
func LanedCounter(lane, seq uint64) uint64 {
	return min(lane, MaxLane)<<LaneShift | seq&MaxLaneSeq
}

// LaneCounter is the receive counter of a laned unicast stream
// (ReceiverConfig.LanedUnicast). Within a lane it is SeqCounter, Recipe's
// rule: only the next sequence number. Across lanes:
//
//   - seq 1 of any lane above the current one is accepted and makes that
//     lane current: the rest of the lower lane is abandoned (the sender
//     abandoned it first, by starting the new lane);
//   - any counter of a lane below the current one is ErrStale;
//   - seq > 1 of a higher lane is ErrOutOfOrder: seq 1 of that lane, and
//     what follows, must come first (retransmission fills it);
//   - seq 0 of a higher lane is never sealed: ErrMalformed.
//
// So the Tamarin model's lemmas hold with one weakening: no reordering and
// no duplicates on the whole stream (accepted counters strictly increase),
// and no loss within a lane (accepting seq s > 1 of lane L means seq
// 1..s-1 of L were accepted before), while the tail of an abandoned lane
// may be lost — the fresh start.
//
// The zero value expects counter 1 (seq 1 of lane 0) or seq 1 of any lane.
type LaneCounter struct {
	last uint64 // last accepted counter; 0 = none yet
}

// Last returns the last accepted counter (0 if none).
func (c *LaneCounter) Last() uint64 { return c.last }

// Lane returns the current lane: that of the last accepted counter.
func (c *LaneCounter) Lane() uint64 { return LaneOf(c.last) }

// Expected returns the next counter of the current lane (seq 1 of any
// higher lane is accepted too). It returns 0 once the current lane is
// exhausted (only a higher lane can follow).
func (c *LaneCounter) Expected() uint64 {
	if SeqOf(c.last) == MaxLaneSeq {
		return 0
	}
	return c.last + 1
}

// Check reports whether cnt would be accepted, without changing state.
func (c *LaneCounter) Check(cnt uint64) error {
	lane, seq, cur := LaneOf(cnt), SeqOf(cnt), LaneOf(c.last)
	switch {
	case lane < cur:
		return fmt.Errorf("%w: counter %d is in lane %d, the stream moved on to lane %d", ErrStale, cnt, lane, cur)
	case cnt <= c.last:
		return fmt.Errorf("%w: counter %d, already accepted up to %d", ErrReplay, cnt, c.last)
	case lane == cur:
		if cnt != c.last+1 {
			return fmt.Errorf("%w: counter %d, expected %d", ErrOutOfOrder, cnt, c.last+1)
		}
	case seq == 0:
		return fmt.Errorf("%w: counter %d is sequence 0 of lane %d, which is never sealed", ErrMalformed, cnt, lane)
	case seq != 1:
		return fmt.Errorf("%w: counter %d is sequence %d of new lane %d, expected sequence 1 first", ErrOutOfOrder, cnt, seq, lane)
	}
	return nil
}

// Accept checks cnt and, if it is acceptable, consumes it (switching lanes
// if cnt starts a higher one).
func (c *LaneCounter) Accept(cnt uint64) error {
	if err := c.Check(cnt); err != nil {
		return err
	}
	c.last = cnt
	return nil
}

// MonoCounter is the receive counter of one broadcast stream (a neighbour's
// value channel). A W-MSR agent wants the freshest value, not every value,
// so it accepts any strictly higher counter and reports the gap as
// omissions: from the receiver's point of view a dropped or superseded
// value is an omission fault of the sender, which W-MSR tolerates, while a
// counter at or below the last one is refused, so old values cannot be
// replayed and values are never taken out of order.
//
// The zero value has accepted nothing.
type MonoCounter struct {
	last uint64
}

// Last returns the last accepted counter (0 if none).
func (c *MonoCounter) Last() uint64 { return c.last }

// Check reports whether cnt would be accepted and how many counters it
// skips, without changing state.
func (c *MonoCounter) Check(cnt uint64) (omitted uint64, err error) {
	if cnt <= c.last {
		return 0, fmt.Errorf("%w: counter %d, already at %d", ErrReplay, cnt, c.last)
	}
	return cnt - c.last - 1, nil
}

// Accept checks cnt and, if it is higher than the last accepted counter,
// consumes it, returning the number of skipped counters.
func (c *MonoCounter) Accept(cnt uint64) (omitted uint64, err error) {
	omitted, err = c.Check(cnt)
	if err == nil {
		c.last = cnt
	}
	return omitted, err
}

// window remembers the last few accepted envelopes of a stream, indexed by
// counter, so that a later envelope for an already used counter can be told
// apart: identical bytes are a harmless duplicate (ErrReplay), different
// bytes are equivocation, and the remembered envelope is the first half of
// the evidence. Buffers are reused, so steady-state recording does not
// allocate. Counters older than the window are reported as replays only.
type window struct {
	slots []windowSlot
}

type windowSlot struct {
	counter uint64 // 0 = empty
	raw     []byte
}

func newWindow(n int) window { return window{slots: make([]windowSlot, n)} }

func (w *window) record(counter uint64, raw []byte) {
	if len(w.slots) == 0 {
		return
	}
	s := &w.slots[counter%uint64(len(w.slots))]
	s.counter = counter
	s.raw = append(s.raw[:0], raw...)
}

func (w *window) lookup(counter uint64) ([]byte, bool) {
	if len(w.slots) == 0 {
		return nil, false
	}
	s := &w.slots[counter%uint64(len(w.slots))]
	if s.counter != counter || counter == 0 {
		return nil, false
	}
	return s.raw, true
}
