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

func TestBundleRoundTrip(t *testing.T) {
	envs := [][]byte{{1}, bytes.Repeat([]byte{2}, 300), {3, 3}}
	b, err := agent.AppendBundle(nil, envs)
	if err != nil {
		t.Fatal(err)
	}
	var got [][]byte
	if err := agent.DecodeBundle(b, func(e []byte) bool { got = append(got, e); return true }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || !bytes.Equal(got[1], envs[1]) || !bytes.Equal(got[2], envs[2]) {
		t.Fatalf("decoded %x", got)
	}
	calls := 0
	if err := agent.DecodeBundle(b, func([]byte) bool { calls++; return false }); err != nil || calls != 1 {
		t.Fatalf("early stop: %d calls, %v", calls, err)
	}
	for name, bad := range map[string][]byte{
		"empty":    {},
		"magic":    {'x', 'b', 1, 1, 0, 1, 9},
		"version":  {'w', 'b', 2, 1, 0, 1, 9},
		"count 0":  {'w', 'b', 1, 0},
		"short":    {'w', 'b', 1, 2, 0, 1, 9},
		"trailing": {'w', 'b', 1, 1, 0, 1, 9, 9},
		"zero len": {'w', 'b', 1, 1, 0, 0},
	} {
		calls := 0
		if err := agent.DecodeBundle(bad, func([]byte) bool { calls++; return true }); !errors.Is(err, agent.ErrBundle) || calls != 0 {
			t.Errorf("%s: %v after %d calls", name, err, calls)
		}
	}
	if _, err := agent.AppendBundle(nil, [][]byte{{}}); !errors.Is(err, agent.ErrBundle) {
		t.Fatalf("empty envelope: %v", err)
	}
}

// FuzzDecodeBundle: never panics, calls back only for well-formed bundles,
// and what it accepts re-encodes to the same bytes.
func FuzzDecodeBundle(f *testing.F) {
	f.Add([]byte{'w', 'b', 1, 2, 0, 1, 7, 0, 2, 8, 9})
	f.Add([]byte{'w', 'b', 1, 1, 0, 3, 1, 2})
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
