package agent_test

import (
	"bytes"
	"errors"
	"math"
	"testing"

	"github.com/wmsr/wmsr/agent"
	"github.com/wmsr/wmsr/attest"
)

func TestRoundValueRoundTrip(t *testing.T) {
	for _, rv := range []agent.RoundValue{{0, 0}, {1, -1.5}, {math.MaxUint64, math.MaxFloat64}, {42, math.SmallestNonzeroFloat64}} {
		p, err := agent.AppendRoundValue([]byte{0xee}, rv)
		if err != nil || len(p) != 1+agent.RoundValueSize || p[0] != 0xee {
			t.Fatalf("%+v: %x, %v", rv, p, err)
		}
		got, err := agent.DecodeRoundValue(p[1:])
		if err != nil || got != rv {
			t.Fatalf("%+v: decoded %+v, %v", rv, got, err)
		}
	}
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		dst := []byte{1, 2}
		out, err := agent.AppendRoundValue(dst, agent.RoundValue{Round: 1, Value: v})
		if !errors.Is(err, attest.ErrInvalidValue) || !bytes.Equal(out, dst) {
			t.Fatalf("%v: %x, %v", v, out, err)
		}
	}
	if _, err := agent.DecodeRoundValue(make([]byte, agent.RoundValueSize)); !errors.Is(err, agent.ErrPayload) {
		t.Fatalf("version 0: %v", err)
	}
}

// FuzzDecodeRoundValue: the decoder never panics, accepts only canonical
// 17-byte version-1 payloads with finite values, and re-encodes what it
// accepts to the same bytes. Seeds are in testdata/fuzz.
func FuzzDecodeRoundValue(f *testing.F) {
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 7, 0x40, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, p []byte) {
		rv, err := agent.DecodeRoundValue(p)
		if err != nil {
			if !errors.Is(err, agent.ErrPayload) && !errors.Is(err, attest.ErrInvalidValue) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		if math.IsNaN(rv.Value) || math.IsInf(rv.Value, 0) {
			t.Fatalf("accepted non-finite %v", rv.Value)
		}
		out, err := agent.AppendRoundValue(nil, rv)
		if err != nil || !bytes.Equal(out, p) {
			t.Fatalf("re-encoding %+v: %x, %v; input %x", rv, out, err, p)
		}
	})
}
