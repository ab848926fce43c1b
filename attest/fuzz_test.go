package attest_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/wmsr/wmsr/attest"
)

// FuzzParse: Parse never panics, and whatever it accepts re-encodes to the
// same bytes (one encoding per envelope) within the size bound. Seed corpus:
// testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	for _, raw := range sample(f) {
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		e, err := attest.Parse(raw)
		if err != nil {
			if attest.ReasonOf(err) == attest.ReasonOther {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		if len(raw) > attest.MaxEnvelopeSize {
			t.Fatalf("accepted %d bytes", len(raw))
		}
		re, err := e.AppendBinary(nil)
		if err != nil || !bytes.Equal(re, raw) {
			t.Fatalf("not canonical: %v", err)
		}
	})
}

// FuzzParseEvidence: ParseEvidence never panics, and accepted evidence
// re-encodes identically.
func FuzzParseEvidence(f *testing.F) {
	_, ns := newNodes(f, 21, 1)
	good := mustSeal(f, broadcast(f, ns[0], valueChannel, nil), 1, []byte("a"))
	ev, err := attest.NewEvidence(good, forgeSameSlot(f, ns[0], nil, good, []byte("b")))
	if err != nil {
		f.Fatal(err)
	}
	enc, err := ev.MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(enc)
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := attest.ParseEvidence(b)
		if err != nil {
			return
		}
		re, err := ev.MarshalBinary()
		if err != nil || !bytes.Equal(re, b) {
			t.Fatalf("not canonical: %v", err)
		}
	})
}

// FuzzParsePolicy: ParsePolicy never panics and every error wraps
// ErrPolicyFile.
func FuzzParsePolicy(f *testing.F) {
	f.Add([]byte(goodPolicy))
	f.Add([]byte(`{"version":1,"soft":{"ca_public_keys":[],"binary_hashes":null}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := attest.ParsePolicy(b)
		if err != nil {
			if !errors.Is(err, attest.ErrPolicyFile) || p != nil {
				t.Fatalf("bad error %v", err)
			}
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("parsed policy does not validate: %v", err)
		}
	})
}

// FuzzDecodeValues: decoded values are always finite and re-encode to the
// input.
func FuzzDecodeValues(f *testing.F) {
	f.Add([]byte{0x3f, 0xf0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0x7f, 0xf8, 0, 0, 0, 0, 0, 1}) // NaN
	f.Fuzz(func(t *testing.T, b []byte) {
		vs, err := attest.DecodeValues(nil, b)
		if err != nil {
			return
		}
		re, err := attest.AppendValues(nil, vs)
		if err != nil || !bytes.Equal(re, b) {
			t.Fatalf("round trip: %v", err)
		}
	})
}
