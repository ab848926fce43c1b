package attest_test

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/wmsr/wmsr/attest"
)

// sample returns one envelope of each shape: broadcast Ed25519, unicast
// HMAC, unicast encrypted HMAC.
func sample(t testing.TB) [][]byte {
	t.Helper()
	_, ns := newNodes(t, 11, 2)
	payload := bytes.Repeat([]byte{0xab}, 64)
	return [][]byte{
		mustSeal(t, broadcast(t, ns[0], valueChannel, nil), 1, payload),
		mustSeal(t, unicast(t, ns[0], ns[1], attest.SuiteHMACSHA256, false), 2, payload),
		mustSeal(t, unicast(t, ns[1], ns[0], attest.SuiteHMACSHA256, true), 3, payload),
	}
}

func TestParseRoundTripIsCanonical(t *testing.T) {
	for _, raw := range sample(t) {
		e, err := attest.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		re, err := e.AppendBinary(nil)
		if err != nil || !bytes.Equal(re, raw) {
			t.Fatalf("re-encoding differs: %v", err)
		}
		if got := len(e.Signed()) + len(e.Auth); got != len(raw) {
			t.Fatalf("signed+auth = %d, raw = %d", got, len(raw))
		}
	}
}

func TestParseDoesNotAllocate(t *testing.T) {
	raw := sample(t)[0]
	if n := testing.AllocsPerRun(100, func() {
		if _, err := attest.Parse(raw); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("Parse allocates %v times", n)
	}
}

// TestTruncatedEnvelopes cuts every sample at every length.
func TestTruncatedEnvelopes(t *testing.T) {
	for _, raw := range sample(t) {
		for n := 0; n < len(raw); n++ {
			_, err := attest.Parse(raw[:n])
			wantReason(t, err, attest.ReasonTruncated)
		}
	}
}

func TestOversizedEnvelopes(t *testing.T) {
	raw := sample(t)[0]
	big := append(bytes.Clone(raw), make([]byte, attest.MaxEnvelopeSize)...)
	_, err := attest.Parse(big)
	wantReason(t, err, attest.ReasonTooLarge)

	// A header announcing more than MaxPayloadSize is refused before the
	// body is looked at.
	hdr := bytes.Clone(raw[:attest.HeaderSize])
	binary.BigEndian.PutUint16(hdr[44:], attest.MaxPayloadSize+1)
	_, err = attest.Parse(append(hdr, make([]byte, attest.MaxPayloadSize+1+64)...))
	wantReason(t, err, attest.ReasonTooLarge)

	// And the sender refuses to seal it.
	_, ns := newNodes(t, 12, 1)
	_, err = broadcast(t, ns[0], 1, nil).Seal(nil, 0, make([]byte, attest.MaxPayloadSize+1))
	wantReason(t, err, attest.ReasonTooLarge)
	if _, err := broadcast(t, ns[0], 2, nil).Seal(nil, 0, make([]byte, attest.MaxPayloadSize)); err != nil {
		t.Fatalf("max payload: %v", err)
	}
}

func TestMalformedEnvelopes(t *testing.T) {
	raw := sample(t)[0]
	mutate := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(raw)) }
	for name, tc := range map[string]struct {
		raw  []byte
		want attest.Reason
	}{
		"version 0":          {mutate(func(b []byte) []byte { b[0] = 0; return b }), attest.ReasonVersion},
		"version 2":          {mutate(func(b []byte) []byte { b[0] = 2; return b }), attest.ReasonVersion},
		"unknown suite":      {mutate(func(b []byte) []byte { b[1] = 9; return b }), attest.ReasonMalformed},
		"reserved flag":      {mutate(func(b []byte) []byte { b[2] |= 0x80; return b }), attest.ReasonMalformed},
		"counter zero":       {mutate(func(b []byte) []byte { clear(b[36:44]); return b }), attest.ReasonMalformed},
		"broadcast w/ epoch": {mutate(func(b []byte) []byte { b[35] = 1; return b }), attest.ReasonMalformed},
		"unicast w/o epoch":  {mutate(func(b []byte) []byte { b[2] &^= 1; return b }), attest.ReasonMalformed},
		"trailing byte":      {mutate(func(b []byte) []byte { return append(b, 0) }), attest.ReasonMalformed},
		"empty":              {nil, attest.ReasonTruncated},
	} {
		_, err := attest.Parse(tc.raw)
		if got := attest.ReasonOf(err); got != tc.want {
			t.Errorf("%s: reason %v (%v), want %v", name, got, err, tc.want)
		}
	}
}

func TestSuiteAndStreamStrings(t *testing.T) {
	for v, want := range map[string]string{
		attest.SuiteEd25519.String():         "ed25519",
		attest.SuiteHMACSHA256.String():      "hmac-sha256",
		attest.SuiteHMACSHA256T128.String():  "hmac-sha256-128",
		attest.Suite(9).String():             "suite(9)",
		attest.To(3, 2).String():             "member 3@2",
		attest.Channel(7).String():           "channel 7",
		attest.BackendSoft.String():          "soft",
		attest.BackendSGX.String():           "sgx",
		attest.TCBSWHardeningNeeded.String(): "SWHardeningNeeded",
	} {
		if v != want {
			t.Errorf("%q, want %q", v, want)
		}
	}
}

func TestReasons(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range attest.Reasons() {
		if seen[r.String()] || r == attest.ReasonNone {
			t.Fatalf("reason %v duplicated or none", r)
		}
		seen[r.String()] = true
	}
	if attest.ReasonOf(nil) != attest.ReasonNone {
		t.Fatal("nil error has a reason")
	}
	if attest.ReasonOf(attest.ErrPolicy) != attest.ReasonOther {
		t.Fatal("policy error should be 'other' on the receive path")
	}
}
