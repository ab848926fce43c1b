package attest_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/wmsr/wmsr/attest"
)

func TestEvidenceEncodingAndOfflineVerification(t *testing.T) {
	_, ns := newNodes(t, 51, 2)
	good := mustSeal(t, broadcast(t, ns[0], valueChannel, nil), 3, []byte("x=1"))
	evil := forgeSameSlot(t, ns[0], nil, good, []byte("x=9"))

	ev1, err := attest.NewEvidence(good, evil)
	if err != nil {
		t.Fatal(err)
	}
	ev2, _ := attest.NewEvidence(evil, good)
	enc1, _ := ev1.MarshalBinary()
	enc2, _ := ev2.MarshalBinary()
	if !bytes.Equal(enc1, enc2) {
		t.Fatal("evidence encoding depends on argument order")
	}

	// A third party with only the encoded evidence and the member record
	// (as stored in the configuration log) verifies it.
	rec, _ := ns[0].m.MarshalBinary()
	var m attest.Member
	if err := m.UnmarshalBinary(rec); err != nil {
		t.Fatal(err)
	}
	back, err := attest.ParseEvidence(enc1)
	if err != nil {
		t.Fatal(err)
	}
	slot, err := attest.VerifyEvidence(back, &m)
	if err != nil {
		t.Fatal(err)
	}
	if slot.Sender != 1 || slot.Epoch != 1 || slot.Counter != 1 {
		t.Fatalf("slot %+v", slot)
	}
	if s, _ := back.Slot(); s != slot {
		t.Fatalf("Slot() = %+v", s)
	}

	// Against another member's record, or with a tampered envelope: no.
	if _, err := attest.VerifyEvidence(back, &ns[1].m); !errors.Is(err, attest.ErrMalformed) {
		t.Fatalf("wrong member: %v", err)
	}
	wrongKey := ns[0].m
	wrongKey.SignKey = ns[1].m.SignKey
	if _, err := attest.VerifyEvidence(back, &wrongKey); !errors.Is(err, attest.ErrForged) {
		t.Fatalf("wrong key: %v", err)
	}
	tampered := bytes.Clone(enc1)
	tampered[len(tampered)-1] ^= 1
	if ev, err := attest.ParseEvidence(tampered); err != nil {
		t.Fatal(err)
	} else if _, err := attest.VerifyEvidence(ev, &m); !errors.Is(err, attest.ErrForged) {
		t.Fatalf("tampered: %v", err)
	}
	for n := range enc1 {
		if _, err := attest.ParseEvidence(enc1[:n]); err == nil {
			t.Fatalf("truncated evidence (%d bytes) accepted", n)
		}
	}
}

func TestNotEvidence(t *testing.T) {
	_, ns := newNodes(t, 52, 2)
	s := broadcast(t, ns[0], valueChannel, nil)
	a, b := mustSeal(t, s, 0, []byte("a")), mustSeal(t, s, 0, []byte("b"))
	for name, pair := range map[string][2][]byte{
		"different counters": {a, b},
		"same envelope":      {a, a},
	} {
		if _, err := attest.NewEvidence(pair[0], pair[1]); !errors.Is(err, attest.ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Same content with a different signature (malleated or re-signed) is
	// a duplicate, not equivocation.
	dup := bytes.Clone(a)
	dup[len(dup)-1] ^= 1
	if _, err := attest.NewEvidence(a, dup); !errors.Is(err, attest.ErrMalformed) {
		t.Errorf("same content: %v", err)
	}
	// Non-canonical order in an encoding is refused.
	ev, _ := attest.NewEvidence(a, forgeSameSlot(t, ns[0], nil, a, []byte("z")))
	swapped := attest.Evidence{First: ev.Second, Second: ev.First}
	if _, err := swapped.MarshalBinary(); !errors.Is(err, attest.ErrMalformed) {
		t.Errorf("non-canonical: %v", err)
	}
}

// TestHMACEvidence: equivocation on an HMAC stream is detected by the
// receiver, and its evidence verifies only with the pairwise key — which
// both ends hold, so it cannot convince a third party.
func TestHMACEvidence(t *testing.T) {
	for _, suite := range []attest.Suite{attest.SuiteHMACSHA256, attest.SuiteHMACSHA256T128} {
		t.Run(suite.String(), func(t *testing.T) { testHMACEvidence(t, suite) })
	}
}

func testHMACEvidence(t *testing.T, suite attest.Suite) {
	_, ns := newNodes(t, 53, 2)
	s := unicast(t, ns[0], ns[1], suite, false)
	good := mustSeal(t, s, 0, []byte("a"))
	evil := forgeSameSlot(t, ns[0], ns[1], good, []byte("b"))
	if _, err := ns[1].r.Open(good); err != nil {
		t.Fatal(err)
	}
	_, err := ns[1].r.Open(evil)
	var eq *attest.EquivocationError
	if !errors.As(err, &eq) {
		t.Fatalf("err = %v", err)
	}
	if _, err := attest.VerifyEvidence(eq.Evidence, &ns[0].m); !errors.Is(err, attest.ErrSuite) {
		t.Fatalf("HMAC evidence must not verify as transferable: %v", err)
	}
	k, err := ns[1].id().InboundKey(&ns[0].m)
	if err != nil {
		t.Fatal(err)
	}
	if from, fe := k.From(); from != 1 || fe != 1 {
		t.Fatalf("key from %d@%d", from, fe)
	}
	if _, err := attest.VerifyEvidenceHMAC(eq.Evidence, k); err != nil {
		t.Fatal(err)
	}
	// The reverse direction's key is a different key.
	rk, _ := ns[1].id().OutboundKey(&ns[0].m)
	if _, err := attest.VerifyEvidenceHMAC(eq.Evidence, rk); !errors.Is(err, attest.ErrMalformed) {
		t.Fatalf("reverse key: %v", err)
	}
	if got, _ := eq.Evidence.Suite(); got != suite {
		t.Fatalf("suite %v, want %v", got, suite)
	}
}

// TestEquivocationOutsideWindowIsReplay documents the window's limit.
func TestEquivocationOutsideWindowIsReplay(t *testing.T) {
	_, ns := newNodes(t, 54, 2)
	r := attest.NewReceiver(ns[1].id(), attest.ReceiverConfig{EvidenceWindow: 2})
	if err := r.AddMember(ns[0].m); err != nil {
		t.Fatal(err)
	}
	if err := r.Subscribe(valueChannel, nil); err != nil {
		t.Fatal(err)
	}
	s := broadcast(t, ns[0], valueChannel, nil)
	first := mustSeal(t, s, 0, []byte("0"))
	if _, err := r.Open(first); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := r.Open(mustSeal(t, s, 0, []byte{byte(i)})); err != nil {
			t.Fatal(err)
		}
	}
	_, err := r.Open(forgeSameSlot(t, ns[0], nil, first, []byte("other")))
	wantReason(t, err, attest.ReasonReplay)
}
