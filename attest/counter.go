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
