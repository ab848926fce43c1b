package agent_test

import (
	"bytes"
	"errors"
	"math"
	"slices"
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

func TestRoundStateRoundTrip(t *testing.T) {
	for _, rs := range []agent.RoundState{
		{Round: 3, State: []float64{1.5}},
		{Round: 9, State: []float64{1, -2, 3.25}},
		{Round: math.MaxUint64, State: make([]float64, agent.MaxDim)},
	} {
		p, err := agent.AppendRoundState(nil, rs)
		if err != nil || len(p) != agent.RoundStateSize(len(rs.State)) {
			t.Fatalf("%+v: %x, %v", rs, p, err)
		}
		got, err := agent.DecodeRoundState(p, nil)
		if err != nil || got.Round != rs.Round || !slices.Equal(got.State, rs.State) {
			t.Fatalf("%+v: decoded %+v, %v", rs, got, err)
		}
	}
	for _, st := range [][]float64{nil, make([]float64, agent.MaxDim+1)} {
		if _, err := agent.AppendRoundState(nil, agent.RoundState{State: st}); !errors.Is(err, agent.ErrPayload) {
			t.Fatalf("dimension %d: %v", len(st), err)
		}
	}
	if out, err := agent.AppendRoundState([]byte{7}, agent.RoundState{State: []float64{1, math.Inf(1)}}); !errors.Is(err, attest.ErrInvalidValue) || !bytes.Equal(out, []byte{7}) {
		t.Fatalf("Inf: %x, %v", out, err)
	}
	// Dimension 1 under version 2 is not canonical.
	p := []byte{2, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0}
	if _, err := agent.DecodeRoundState(p, nil); !errors.Is(err, agent.ErrPayload) {
		t.Fatalf("v2 dim 1: %v", err)
	}
}

// FuzzDecodeRoundState: never panics, accepts only canonical payloads with
// finite values, and re-encodes what it accepts to the same bytes.
func FuzzDecodeRoundState(f *testing.F) {
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 7, 0x40, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18})
	f.Add([]byte{2, 0, 0, 0, 0, 0, 0, 0, 7, 2, 0x40, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{2})
	f.Fuzz(func(t *testing.T, p []byte) {
		rs, err := agent.DecodeRoundState(p, nil)
		if err != nil {
			if !errors.Is(err, agent.ErrPayload) && !errors.Is(err, attest.ErrInvalidValue) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		for _, v := range rs.State {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("accepted non-finite %v", v)
			}
		}
		out, err := agent.AppendRoundState(nil, rs)
		if err != nil || !bytes.Equal(out, p) {
			t.Fatalf("re-encoding %+v: %x, %v; input %x", rs, out, err, p)
		}
	})
}

// bundleEnvelopes seals one value from member 1 for members 2, 3 and 4
// (HMAC pairwise envelopes, as an HMAC agent's Begin does), with 32-byte
// tags.
func bundleEnvelopes(t tb, payload []byte) [][]byte {
	return bundleEnvelopesSuite(t, payload, attest.SuiteHMACSHA256)
}

func bundleEnvelopesSuite(t tb, payload []byte, suite attest.Suite) [][]byte {
	t.Helper()
	tf := newTestFleet(t, 93, 1, 2, 3, 4)
	var envs [][]byte
	for _, id := range []attest.MemberID{2, 3, 4} {
		rec := tf.record[id]
		s, err := attest.NewUnicastSender(tf.backends[1].Identity(), &rec, suite, false)
		if err != nil {
			t.Fatal(err)
		}
		env, err := s.Seal(nil, agent.KindRoundValue, payload)
		if err != nil {
			t.Fatal(err)
		}
		envs = append(envs, env)
	}
	return envs
}

// A bundle holds one value's envelopes for several receivers, smaller
// than the envelopes side by side, and gives back each exactly.
func TestBundleRoundTrip(t *testing.T) {
	p, _ := agent.AppendRoundState(nil, agent.RoundState{Round: 7, State: []float64{1.5}})
	envs := bundleEnvelopes(t, p)
	b, err := agent.AppendBundle(nil, envs)
	if err != nil {
		t.Fatal(err)
	}
	// The layout of payload.go: a 9-byte head (ids, epoch and length are
	// one-byte varints here), the payload, and per receiver its id, epoch
	// and counter (one byte each) and a 32-byte MAC (SuiteHMACSHA256).
	if want := 9 + len(p) + 3*(3+32); len(b) != want {
		t.Fatalf("bundle of %d bytes for a %d-byte payload, want %d", len(b), len(p), want)
	}
	if whole := len(envs[0]) * 3; len(b) >= whole/2 {
		t.Fatalf("bundle of %d bytes for %d bytes of envelopes", len(b), whole)
	}
	// With 16-byte tags (SuiteHMACSHA256T128, what --suite hmac picks):
	// for six receivers 9 + 17 + 6·19 = 140 bytes, as payload.go says.
	short := bundleEnvelopesSuite(t, p, attest.SuiteHMACSHA256T128)
	sb, err := agent.AppendBundle(nil, short)
	if err != nil {
		t.Fatal(err)
	}
	if want := 9 + len(p) + 3*(3+16); len(sb) != want || len(p) != 17 {
		t.Fatalf("T128 bundle of %d bytes for a %d-byte payload, want %d (payload 17)", len(sb), len(p), want)
	}
	for i, id := range []attest.MemberID{2, 3, 4} {
		if one, err := agent.BundleEnvelope(nil, sb, id); err != nil || !bytes.Equal(one, short[i]) {
			t.Fatalf("T128 envelope for %d: %v", id, err)
		}
	}
	var got [][]byte
	if err := agent.DecodeBundle(b, func(e []byte) bool { got = append(got, bytes.Clone(e)); return true }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || !bytes.Equal(got[0], envs[0]) || !bytes.Equal(got[2], envs[2]) {
		t.Fatalf("decoded %x", got)
	}
	for i, id := range []attest.MemberID{2, 3, 4} {
		if one, err := agent.BundleEnvelope(nil, b, id); err != nil || !bytes.Equal(one, envs[i]) {
			t.Fatalf("envelope for %d: %x, %v", id, one, err)
		}
	}
	if _, err := agent.BundleEnvelope(nil, b, 9); !errors.Is(err, agent.ErrNotForMe) {
		t.Fatalf("envelope for a member not in the bundle: %v", err)
	}
	calls := 0
	if err := agent.DecodeBundle(b, func([]byte) bool { calls++; return false }); err != nil || calls != 1 {
		t.Fatalf("early stop: %d calls, %v", calls, err)
	}
	for name, bad := range map[string][]byte{
		"empty":     {},
		"magic":     append([]byte{'x'}, b[1:]...),
		"version":   append([]byte{'w', 'b', 1}, b[3:]...),
		"count 0":   append([]byte{'w', 'b', 2, 0}, b[4:]...),
		"count":     append([]byte{'w', 'b', 2, 4}, b[4:]...),
		"short":     b[:len(b)-1],
		"trailing":  append(bytes.Clone(b), 0),
		"suite":     append([]byte{'w', 'b', 2, 3, 9}, b[5:]...),
		"no header": b[:10],
	} {
		calls := 0
		if err := agent.DecodeBundle(bad, func([]byte) bool { calls++; return true }); !errors.Is(err, agent.ErrBundle) || calls != 0 {
			t.Errorf("%s: %v after %d calls", name, err, calls)
		}
	}
	other, _ := agent.AppendRoundState(nil, agent.RoundState{Round: 7, State: []float64{2.5}})
	mixed := append(bundleEnvelopes(t, other)[:1], envs[1])
	if _, err := agent.AppendBundle(nil, mixed); !errors.Is(err, agent.ErrBundle) {
		t.Fatalf("two values in one bundle: %v", err)
	}
	for _, bad := range [][][]byte{nil, {{}}, {envs[0][:20]}} {
		if _, err := agent.AppendBundle(nil, bad); !errors.Is(err, agent.ErrBundle) {
			t.Fatalf("AppendBundle(%x): %v", bad, err)
		}
	}
}

// FuzzDecodeBundle: never panics, calls back only for well-formed bundles,
// and what it accepts re-encodes to the same bytes.
func FuzzDecodeBundle(f *testing.F) {
	p, _ := agent.AppendRoundState(nil, agent.RoundState{Round: 7, State: []float64{1.5, -2}})
	for _, suite := range []attest.Suite{attest.SuiteHMACSHA256, attest.SuiteHMACSHA256T128} {
		envs := bundleEnvelopesSuite(f, p, suite)
		for n := 1; n <= len(envs); n++ {
			b, err := agent.AppendBundle(nil, envs[:n])
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var envs [][]byte
		err := agent.DecodeBundle(b, func(e []byte) bool { envs = append(envs, bytes.Clone(e)); return true })
		if err != nil {
			if !errors.Is(err, agent.ErrBundle) || envs != nil {
				t.Fatalf("%v after %d envelopes", err, len(envs))
			}
			return
		}
		out, err := agent.AppendBundle(nil, envs)
		if err != nil || !bytes.Equal(out, b) {
			t.Fatalf("re-encoding: %x, %v; input %x", out, err, b)
		}
	})
}
