package membership

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/hashicorp/memberlist"

	"github.com/wmsr/wmsr/attest"
	"github.com/wmsr/wmsr/attest/attesttest"
)

func sampleMeta() nodeMeta {
	m := nodeMeta{ID: 7, Epoch: 3}
	for i := range m.Digest {
		m.Digest[i] = byte(i)
	}
	return m
}

func TestMetaSizeAndRoundTrip(t *testing.T) {
	if MetaSize > memberlist.MetaMaxSize || MetaSize > 512 {
		t.Fatalf("MetaSize %d exceeds memberlist's limit %d", MetaSize, memberlist.MetaMaxSize)
	}
	for _, m := range []nodeMeta{sampleMeta(), {ID: 0, Epoch: 1}, {ID: ^attest.MemberID(0), Epoch: ^attest.Epoch(0)}} {
		b := encodeMeta(m)
		if len(b) != MetaSize {
			t.Fatalf("encoded %d bytes, want %d", len(b), MetaSize)
		}
		got, err := decodeMeta(b)
		if err != nil || got != m {
			t.Fatalf("round trip of %+v: got %+v, %v", m, got, err)
		}
	}
	// The metadata of a real claim binds its digest.
	f := attesttest.NewFleet(40)
	b, _, err := f.Join(3, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := b.Identity().Claim()
	if m := metaOf(&c); m.ID != 3 || m.Epoch != 2 || m.Digest != c.Digest() {
		t.Fatalf("metaOf = %+v", m)
	}
}

func TestDecodeMetaRejects(t *testing.T) {
	good := encodeMeta(sampleMeta())
	for name, b := range map[string][]byte{
		"empty":     nil,
		"short":     good[:MetaSize-1],
		"long":      append(bytes.Clone(good), 0),
		"version 0": append([]byte{0}, good[1:]...),
		"version 2": append([]byte{2}, good[1:]...),
		"epoch 0":   encodeMeta(nodeMeta{ID: 1}),
	} {
		if _, err := decodeMeta(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
}

func TestMessageRoundTripAndRejects(t *testing.T) {
	for _, msg := range []message{
		{Type: msgAttestation, Body: []byte("attestation")},
		{Type: msgAttestation, Flags: flagReply, Body: []byte{}},
		{Type: msgAttestation, Body: make([]byte, attest.MaxAttestationSize)},
	} {
		b, err := encodeMessage(msg)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeMessage(b)
		if err != nil || got.Type != msg.Type || got.Flags != msg.Flags || !bytes.Equal(got.Body, msg.Body) {
			t.Fatalf("round trip: %+v, %v", got, err)
		}
	}
	if _, err := encodeMessage(message{Type: msgAttestation, Body: make([]byte, attest.MaxAttestationSize+1)}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("oversized body encoded: %v", err)
	}
	good, _ := encodeMessage(message{Type: msgAttestation, Body: []byte("abc")})
	mut := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	for name, b := range map[string][]byte{
		"empty":         nil,
		"header only 6": good[:6],
		"version":       mut(func(b []byte) []byte { b[0] = 2; return b }),
		"type":          mut(func(b []byte) []byte { b[1] = 2; return b }),
		"flags":         mut(func(b []byte) []byte { b[2] = 0x80; return b }),
		"truncated":     good[:len(good)-1],
		"trailing":      append(bytes.Clone(good), 0),
		"length":        mut(func(b []byte) []byte { binary.BigEndian.PutUint32(b[3:], 1<<31); return b }),
		"oversized":     make([]byte, maxMessageSize+1),
	} {
		if _, err := decodeMessage(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
}

func TestNodeNames(t *testing.T) {
	for _, id := range []attest.MemberID{0, 1, 42, ^attest.MemberID(0)} {
		got, err := parseNodeName("fleet-a", nodeName("fleet-a", id))
		if err != nil || got != id {
			t.Fatalf("id %d: got %d, %v", id, got, err)
		}
	}
	for _, name := range []string{"", "fleet-a", "fleet-a-", "fleet-b-1", "fleet-a-01", "fleet-a-+1", "fleet-a--1",
		"fleet-a-1x", "fleet-a-18446744073709551616", "fleet-a- 1"} {
		if _, err := parseNodeName("fleet-a", name); !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: err = %v, want ErrMalformed", name, err)
		}
	}
}

// FuzzDecodeMeta: decodeMeta never panics, and what it accepts is exactly
// the encoding of what it returns (one encoding per value). Seed corpus:
// testdata/fuzz/FuzzDecodeMeta.
func FuzzDecodeMeta(f *testing.F) {
	f.Add(encodeMeta(sampleMeta()))
	f.Add(encodeMeta(nodeMeta{Epoch: 1}))
	f.Add([]byte{})
	f.Add([]byte{metaVersion})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMeta(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		if m.Epoch == 0 {
			t.Fatal("accepted epoch 0")
		}
		if !bytes.Equal(encodeMeta(m), b) {
			t.Fatal("not canonical")
		}
	})
}

// FuzzDecodeMessage: decodeMessage never panics, what it accepts re-encodes
// to the same bytes within the size bound, and the attestation parser
// behind it never panics either. Seed corpus: testdata/fuzz/FuzzDecodeMessage.
func FuzzDecodeMessage(f *testing.F) {
	fl := attesttest.NewFleet(41)
	b, _, err := fl.Join(1, 1, nil)
	if err != nil {
		f.Fatal(err)
	}
	att, err := b.Attest()
	if err != nil {
		f.Fatal(err)
	}
	enc, err := att.MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	for _, msg := range []message{
		{Type: msgAttestation, Body: enc},
		{Type: msgAttestation, Flags: flagReply, Body: enc},
		{Type: msgAttestation},
	} {
		frame, err := encodeMessage(msg)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(frame)
	}
	f.Add([]byte{msgVersion, msgAttestation, 0, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		msg, err := decodeMessage(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		if len(b) > maxMessageSize {
			t.Fatalf("accepted %d bytes", len(b))
		}
		re, err := encodeMessage(msg)
		if err != nil || !bytes.Equal(re, b) {
			t.Fatalf("not canonical: %v", err)
		}
		_, _ = attest.ParseAttestation(msg.Body)
	})
}
