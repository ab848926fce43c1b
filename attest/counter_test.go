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
