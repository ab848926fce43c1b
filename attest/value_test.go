package attest_test

import (
	"math"
	"testing"

	"github.com/wmsr/wmsr/attest"
)

func TestValueRoundTrip(t *testing.T) {
	for _, v := range []float64{0, math.Copysign(0, -1), 1.5, -3e300, math.SmallestNonzeroFloat64, math.MaxFloat64} {
		b, err := attest.AppendValue(nil, v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := attest.DecodeValue(b)
		if err != nil || math.Float64bits(got) != math.Float64bits(v) {
			t.Fatalf("%v -> %v, %v", v, got, err)
		}
	}
	vs := []float64{1, 2, 3, 4, 5, 6, 7, 8}
	b, err := attest.AppendValues(nil, vs)
	if err != nil || len(b) != 64 {
		t.Fatalf("%d bytes, %v", len(b), err)
	}
	got, err := attest.DecodeValues(nil, b)
	if err != nil || len(got) != 8 || got[7] != 8 {
		t.Fatalf("%v %v", got, err)
	}
}

// TestNaNPayloadsRejected: NaN and Inf never enter or leave the wire as
// values, including inside envelopes that authenticate correctly (a
// Byzantine but attested sender).
func TestNaNPayloadsRejected(t *testing.T) {
	bad := []float64{math.NaN(), math.Inf(1), math.Inf(-1), math.Float64frombits(0x7ff8000000000001)}
	for _, v := range bad {
		if _, err := attest.AppendValue(nil, v); attest.ReasonOf(err) != attest.ReasonInvalidValue {
			t.Fatalf("encode %v: %v", v, err)
		}
		if _, err := attest.AppendValues(nil, []float64{1, v}); attest.ReasonOf(err) != attest.ReasonInvalidValue {
			t.Fatalf("encode [1 %v]: %v", v, err)
		}
	}
	_, ns := newNodes(t, 61, 2)
	s := broadcast(t, ns[0], valueChannel, nil)
	for _, v := range bad {
		raw := make([]byte, 0, 16)
		raw = append(raw, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0) // 1.0
		raw = append(raw, byte(math.Float64bits(v)>>56), byte(math.Float64bits(v)>>48), byte(math.Float64bits(v)>>40),
			byte(math.Float64bits(v)>>32), byte(math.Float64bits(v)>>24), byte(math.Float64bits(v)>>16),
			byte(math.Float64bits(v)>>8), byte(math.Float64bits(v)))
		msg, err := ns[1].r.Open(mustSeal(t, s, 0, raw))
		if err != nil {
			t.Fatal(err) // authentic: the envelope layer does not read values
		}
		dst := []float64{42}
		dst, err = attest.DecodeValues(dst, msg.Payload)
		wantReason(t, err, attest.ReasonInvalidValue)
		if len(dst) != 1 {
			t.Fatalf("dst grew on error: %v", dst)
		}
		_, err = attest.DecodeValue(msg.Payload[8:])
		wantReason(t, err, attest.ReasonInvalidValue)
	}
	for _, p := range [][]byte{nil, make([]byte, 7), make([]byte, 9), make([]byte, attest.MaxPayloadSize+8)} {
		_, err := attest.DecodeValues(nil, p)
		wantReason(t, err, attest.ReasonInvalidValue)
	}
	if _, err := attest.AppendValues(nil, nil); attest.ReasonOf(err) != attest.ReasonInvalidValue {
		t.Fatal("empty vector accepted")
	}
}
