package attest_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/wmsr/wmsr/attest"
	"github.com/wmsr/wmsr/attest/attesttest"
)

func TestUnicastRoundTrip(t *testing.T) {
	_, ns := newNodes(t, 1, 2)
	for _, tc := range []struct {
		suite   attest.Suite
		encrypt bool
	}{
		{attest.SuiteEd25519, false},
		{attest.SuiteHMACSHA256, false},
		{attest.SuiteHMACSHA256, true},
		{attest.SuiteHMACSHA256T128, false},
		{attest.SuiteHMACSHA256T128, true},
		{attest.SuiteEd25519, true},
	} {
		t.Run(tc.suite.String(), func(t *testing.T) {
			_, ns := newNodes(t, 1, 2)
			s := unicast(t, ns[0], ns[1], tc.suite, tc.encrypt)
			for i := 1; i <= 3; i++ {
				payload := []byte{byte(i), 'x'}
				env := mustSeal(t, s, 9, payload)
				if tc.encrypt && bytes.Contains(env, []byte{byte(i), 'x'}) {
					t.Fatalf("plaintext visible in encrypted envelope")
				}
				msg, err := ns[1].r.Open(env)
				if err != nil {
					t.Fatalf("open %d: %v", i, err)
				}
				if msg.Counter != uint64(i) || msg.Sender != 1 || msg.Kind != 9 || !bytes.Equal(msg.Payload, payload) || msg.Suite != tc.suite {
					t.Fatalf("got %+v", msg)
				}
			}
		})
	}
	_ = ns
}

func TestBroadcastOmissionsAndReplay(t *testing.T) {
	_, ns := newNodes(t, 2, 3)
	s := broadcast(t, ns[0], valueChannel, nil)
	var envs [][]byte
	for i := 0; i < 5; i++ {
		envs = append(envs, mustSeal(t, s, 1, []byte{byte(i)}))
	}
	r := ns[1].r
	if m, err := r.Open(envs[0]); err != nil || m.Omitted != 0 {
		t.Fatalf("first: %+v %v", m, err)
	}
	m, err := r.Open(envs[3])
	if err != nil || m.Omitted != 2 || m.Counter != 4 {
		t.Fatalf("skip: %+v %v", m, err)
	}
	_, err = r.Open(envs[1]) // late: superseded
	wantReason(t, err, attest.ReasonReplay)
	_, err = r.Open(envs[3]) // duplicate
	wantReason(t, err, attest.ReasonReplay)
	if m, err := r.Open(envs[4]); err != nil || m.Omitted != 0 {
		t.Fatalf("next: %+v %v", m, err)
	}
	// Another receiver sees all of them in order.
	for i, e := range envs {
		if _, err := ns[2].r.Open(e); err != nil {
			t.Fatalf("node 3, env %d: %v", i, err)
		}
	}
}

func TestEquivocationDetectedWithEvidence(t *testing.T) {
	_, ns := newNodes(t, 3, 3)
	s := broadcast(t, ns[0], valueChannel, nil)
	good := mustSeal(t, s, 1, []byte("v=1"))
	evil := forgeSameSlot(t, ns[0], nil, good, []byte("v=2"))
	if _, err := ns[1].r.Open(good); err != nil {
		t.Fatal(err)
	}
	_, err := ns[1].r.Open(evil)
	var eq *attest.EquivocationError
	if !errors.As(err, &eq) || !errors.Is(err, attest.ErrEquivocation) {
		t.Fatalf("err = %v, want equivocation", err)
	}
	wantReason(t, err, attest.ReasonEquivocation)
	slot, err := attest.VerifyEvidence(eq.Evidence, &ns[0].m)
	if err != nil {
		t.Fatal(err)
	}
	if slot.Sender != 1 || slot.Counter != 1 || slot.Stream != attest.Channel(valueChannel) {
		t.Fatalf("slot %+v", slot)
	}
}

// TestForgeryRejected flips every bit of authentic envelopes of each suite:
// no flip may be accepted (any rejection reason is fine; flips in the
// authenticator or payload must be ErrForged).
func TestForgeryRejected(t *testing.T) {
	for _, tc := range []struct {
		suite   attest.Suite
		encrypt bool
	}{{attest.SuiteEd25519, false}, {attest.SuiteHMACSHA256, false}, {attest.SuiteHMACSHA256, true}, {attest.SuiteHMACSHA256T128, false}, {attest.SuiteHMACSHA256T128, true}} {
		_, ns := newNodes(t, 31, 2)
		env := mustSeal(t, unicast(t, ns[0], ns[1], tc.suite, tc.encrypt), 1, []byte("payload"))
		for bit := 0; bit < 8*len(env); bit++ {
			bad := bytes.Clone(env)
			bad[bit/8] ^= 1 << (bit % 8)
			_, err := ns[1].r.Open(bad)
			if err == nil {
				t.Fatalf("%v: flipped bit %d accepted", tc.suite, bit)
			}
			if bit/8 >= attest.HeaderSize {
				wantReason(t, err, attest.ReasonForged)
			}
		}
		if _, err := ns[1].r.Open(env); err != nil {
			t.Fatalf("%v: original rejected after forgeries: %v", tc.suite, err)
		}
	}
}

// TestWrongKeyRejected: an envelope made with keys that are not the
// admitted ones for the claimed sender (an impostor with its own, even
// certified, keys) is forged.
func TestWrongKeyRejected(t *testing.T) {
	f, ns := newNodes(t, 32, 2)
	for _, suite := range []attest.Suite{attest.SuiteEd25519, attest.SuiteHMACSHA256, attest.SuiteHMACSHA256T128} {
		// Member 1 with a different key pair, certified but not the
		// admitted one.
		imp, _, err := f.Join(1, 1, nil)
		if err != nil {
			t.Fatal(err)
		}
		s, err := attest.NewUnicastSender(imp.Identity(), &ns[1].m, suite, false)
		if err != nil {
			t.Fatal(err)
		}
		_, err = ns[1].r.Open(mustSeal(t, s, 0, []byte("hi")))
		wantReason(t, err, attest.ReasonForged)
	}
	// HMAC under the pairwise key of another pair (1→3 presented to 2).
	_, ns3 := newNodes(t, 32, 3)
	env := mustSeal(t, unicast(t, ns3[0], ns3[2], attest.SuiteHMACSHA256, false), 0, nil)
	e, _ := attest.Parse(env)
	e.Stream = attest.To(2, 1)
	moved, _ := e.AppendBinary(nil)
	_, err := ns3[1].r.Open(moved)
	wantReason(t, err, attest.ReasonForged)
}

// TestSequentialReplayReorderDuplicate is Recipe's receive rule on a
// directed pair: only cnt == expected.
func TestSequentialReplayReorderDuplicate(t *testing.T) {
	_, ns := newNodes(t, 33, 2)
	s := unicast(t, ns[0], ns[1], attest.SuiteHMACSHA256, false)
	e1, e2, e3 := mustSeal(t, s, 0, []byte{1}), mustSeal(t, s, 0, []byte{2}), mustSeal(t, s, 0, []byte{3})
	r := ns[1].r
	_, err := r.Open(e2) // reordered: 1 missing
	wantReason(t, err, attest.ReasonOutOfOrder)
	if _, err := r.Open(e1); err != nil {
		t.Fatal(err)
	}
	_, err = r.Open(e1) // duplicate
	wantReason(t, err, attest.ReasonReplay)
	if _, err := r.Open(e2); err != nil { // retransmitted, now in order
		t.Fatal(err)
	}
	if _, err := r.Open(e3); err != nil {
		t.Fatal(err)
	}
	for _, e := range [][]byte{e1, e2, e3} { // replays
		_, err = r.Open(e)
		wantReason(t, err, attest.ReasonReplay)
	}
}

// TestEpochChangeAfterRestart: a restarted member comes back under a new
// epoch with new keys; everything from the old epoch is stale, and the new
// epoch's counters start at 1 again.
func TestEpochChangeAfterRestart(t *testing.T) {
	f, ns := newNodes(t, 34, 2)
	oldS := unicast(t, ns[0], ns[1], attest.SuiteEd25519, false)
	old1, old2 := mustSeal(t, oldS, 0, []byte("a")), mustSeal(t, oldS, 0, []byte("b"))
	oldB := broadcast(t, ns[0], valueChannel, nil)
	oldV := mustSeal(t, oldB, 0, []byte("v"))
	if _, err := ns[1].r.Open(old1); err != nil {
		t.Fatal(err)
	}

	// Restart: member 1 at epoch 2, admitted with the old record as prev.
	b2, m2, err := f.Join(1, 2, &ns[0].m)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.Join(1, 2, &m2); !errors.Is(err, attest.ErrStale) {
		t.Fatalf("re-admitting epoch 2: %v", err)
	}
	if err := ns[1].r.AddMember(m2); err != nil {
		t.Fatal(err)
	}
	if err := ns[1].r.AddMember(ns[0].m); !errors.Is(err, attest.ErrStale) {
		t.Fatalf("going back to epoch 1: %v", err)
	}
	if err := ns[1].r.AddMember(m2); err != nil {
		t.Fatalf("re-applying the current record: %v", err)
	}
	for _, e := range [][]byte{old1, old2, oldV} {
		_, err := ns[1].r.Open(e)
		wantReason(t, err, attest.ReasonStale)
	}
	restarted := &node{b: b2, m: m2}
	newS := unicast(t, restarted, ns[1], attest.SuiteEd25519, false)
	msg, err := ns[1].r.Open(mustSeal(t, newS, 0, []byte("c")))
	if err != nil || msg.Counter != 1 || msg.Epoch != 2 {
		t.Fatalf("new epoch: %+v %v", msg, err)
	}
	// An envelope claiming an epoch not admitted yet.
	b3, _, err := f.Join(1, 3, &m2)
	if err != nil {
		t.Fatal(err)
	}
	_, err = ns[1].r.Open(mustSeal(t, unicast(t, &node{b: b3}, ns[1], attest.SuiteEd25519, false), 0, nil))
	wantReason(t, err, attest.ReasonUnknownSender)
}

// TestReceiverRestart: envelopes addressed to an earlier incarnation of the
// receiver are stale there; senders must open a new stream to the new one.
func TestReceiverRestart(t *testing.T) {
	f, ns := newNodes(t, 35, 2)
	s := unicast(t, ns[0], ns[1], attest.SuiteHMACSHA256, false)
	env := mustSeal(t, s, 0, nil)
	b2, m2, err := f.Join(2, 2, &ns[1].m)
	if err != nil {
		t.Fatal(err)
	}
	r2 := attest.NewReceiver(b2.Identity(), attest.ReceiverConfig{})
	if err := r2.AddMember(ns[0].m); err != nil {
		t.Fatal(err)
	}
	_, err = r2.Open(env)
	wantReason(t, err, attest.ReasonStale)
	// The sender opens a stream to the new incarnation: counters from 1.
	s2 := unicast(t, ns[0], &node{m: m2}, attest.SuiteHMACSHA256, false)
	if msg, err := r2.Open(mustSeal(t, s2, 0, nil)); err != nil || msg.Counter != 1 {
		t.Fatalf("%+v %v", msg, err)
	}
}

func TestRoutingAndMembership(t *testing.T) {
	_, ns := newNodes(t, 36, 3)
	to2 := mustSeal(t, unicast(t, ns[0], ns[1], attest.SuiteEd25519, false), 0, nil)
	_, err := ns[2].r.Open(to2)
	wantReason(t, err, attest.ReasonMisrouted)
	_, err = ns[1].r.Open(mustSeal(t, broadcast(t, ns[0], 99, nil), 0, nil)) // not subscribed
	wantReason(t, err, attest.ReasonMisrouted)

	ns[1].r.RemoveMember(1) // quarantined
	_, err = ns[1].r.Open(to2)
	wantReason(t, err, attest.ReasonUnknownSender)

	// A second sender on a stream that has one would reuse counters.
	if _, err := attest.NewBroadcastSender(ns[0].id(), 99, nil); !errors.Is(err, attest.ErrStreamInUse) {
		t.Fatalf("second sender: %v", err)
	}
}

func TestSuitePolicy(t *testing.T) {
	_, ns := newNodes(t, 37, 2)
	// HMAC on a broadcast channel is refused (a channel-wide MAC key would
	// let members forge each other).
	hm := mustSeal(t, unicast(t, ns[0], ns[1], attest.SuiteHMACSHA256, false), 0, nil)
	e, _ := attest.Parse(hm)
	e.Stream = attest.Channel(valueChannel)
	bc, _ := e.AppendBinary(nil)
	_, err := ns[1].r.Open(bc)
	wantReason(t, err, attest.ReasonSuite)

	// Encryption must match the subscription.
	key := bytes.Repeat([]byte{7}, attest.KeySize)
	encS := broadcast(t, ns[0], valueChannel, key)
	enc := mustSeal(t, encS, 0, []byte("secret"))
	_, err = ns[1].r.Open(enc)
	wantReason(t, err, attest.ReasonSuite)
	if err := ns[1].r.Subscribe(valueChannel, key); err != nil {
		t.Fatal(err)
	}
	if msg, err := ns[1].r.Open(enc); err != nil || string(msg.Payload) != "secret" {
		t.Fatalf("%+v %v", msg, err)
	}
	// The wrong group key does not decrypt: forged.
	if err := ns[1].r.Subscribe(valueChannel, bytes.Repeat([]byte{8}, attest.KeySize)); err != nil {
		t.Fatal(err)
	}
	_, err = ns[1].r.Open(mustSeal(t, encS, 0, []byte("secret 2")))
	wantReason(t, err, attest.ReasonForged)
	if err := ns[1].r.Subscribe(1, []byte("short")); !errors.Is(err, attest.ErrInvalidKey) {
		t.Fatalf("short key: %v", err)
	}

	// A stream keeps the suite of its first envelope.
	_, ns = newNodes(t, 38, 2)
	if _, err := ns[1].r.Open(mustSeal(t, unicast(t, ns[0], ns[1], attest.SuiteHMACSHA256, false), 0, nil)); err != nil {
		t.Fatal(err)
	}
	e2 := forgeSameSlot(t, ns[0], ns[1], mustSealAt(t, ns[0], ns[1], 2), nil)
	_, err = ns[1].r.Open(e2)
	wantReason(t, err, attest.ReasonSuite)
}

// mustSealAt builds an Ed25519 envelope from a to b at counter c.
func mustSealAt(t *testing.T, a, b *node, c uint64) []byte {
	t.Helper()
	e := attest.Envelope{Suite: attest.SuiteEd25519, Sender: a.m.ID, Epoch: a.m.Epoch,
		Stream: attest.To(b.m.ID, b.m.Epoch), Counter: c, Auth: make([]byte, 64)}
	raw, err := e.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestVerifyForRelays: a third member can authenticate a relayed Ed25519
// envelope (transferable), without consuming counters; HMAC envelopes only
// verify at their addressee.
func TestVerifyForRelays(t *testing.T) {
	_, ns := newNodes(t, 39, 3)
	ed := mustSeal(t, unicast(t, ns[0], ns[1], attest.SuiteEd25519, false), 0, nil)
	if _, err := ns[2].r.Verify(ed); err != nil {
		t.Fatalf("third party verify: %v", err)
	}
	if _, err := ns[1].r.Open(ed); err != nil {
		t.Fatalf("verify consumed the counter: %v", err)
	}
	hm := mustSeal(t, unicast(t, ns[2], ns[1], attest.SuiteHMACSHA256, false), 0, nil)
	_, err := ns[0].r.Verify(hm)
	wantReason(t, err, attest.ReasonMisrouted)
	if _, err := ns[1].r.Verify(hm); err != nil {
		t.Fatal(err)
	}
	bad := bytes.Clone(ed)
	bad[len(bad)-1] ^= 1
	_, err = ns[2].r.Verify(bad)
	wantReason(t, err, attest.ReasonForged)
}

// TestOpenBatch: batch verification gives the same verdicts as Open, and
// finds the culprit when one signature in the batch is bad.
func TestOpenBatch(t *testing.T) {
	_, ns := newNodes(t, 40, 4)
	var raws [][]byte
	for _, n := range ns[1:] {
		s := broadcast(t, n, valueChannel, nil)
		for i := 0; i < 3; i++ {
			raws = append(raws, mustSeal(t, s, 0, []byte{byte(i)}))
		}
	}
	raws[4] = bytes.Clone(raws[4])
	raws[4][len(raws[4])-1] ^= 1 // forged
	raws = append(raws, raws[0]) // duplicate
	res := ns[0].r.OpenBatch(raws, nil)
	for i, r := range res {
		switch i {
		case 4:
			wantReason(t, r.Err, attest.ReasonForged)
		case len(raws) - 1:
			wantReason(t, r.Err, attest.ReasonReplay)
		default:
			if r.Err != nil {
				t.Fatalf("%d: %v", i, r.Err)
			}
		}
	}
	if res[5].Msg.Omitted != 1 { // counter 2 of that sender was forged
		t.Fatalf("omitted %d", res[5].Msg.Omitted)
	}
	// All good: the batch path.
	_, ns = newNodes(t, 41, 3)
	raws = raws[:0]
	for _, n := range ns[1:] {
		raws = append(raws, mustSeal(t, broadcast(t, n, valueChannel, nil), 0, nil))
	}
	for i, r := range ns[0].r.OpenBatch(raws, nil) {
		if r.Err != nil {
			t.Fatalf("%d: %v", i, r.Err)
		}
	}
}

// With LossyUnicast a unicast stream skips lost counters (reporting them)
// instead of waiting for them, and still refuses replays, reordering and
// equivocation; without it the next counter is the only one accepted.
func TestLossyUnicast(t *testing.T) {
	f := attesttest.NewFleet(31)
	ba, ma, err := f.Join(1, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	bb, mb, err := f.Join(2, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := attest.NewUnicastSender(ba.Identity(), &mb, attest.SuiteHMACSHA256, false)
	if err != nil {
		t.Fatal(err)
	}
	var envs [][]byte
	for i := range 4 {
		env, err := s.Seal(nil, 1, []byte{byte(i)})
		if err != nil {
			t.Fatal(err)
		}
		envs = append(envs, env)
	}
	strict := attest.NewReceiver(bb.Identity(), attest.ReceiverConfig{})
	lossy := attest.NewReceiver(bb.Identity(), attest.ReceiverConfig{LossyUnicast: true})
	for _, r := range []*attest.Receiver{strict, lossy} {
		if err := r.AddMember(ma); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := strict.Open(envs[2]); err == nil {
		t.Fatal("the sequential receiver accepted counter 3 before 1")
	}
	m, err := lossy.Open(envs[2])
	if err != nil || m.Omitted != 2 || m.Counter != 3 {
		t.Fatalf("lossy receiver, counter 3 first: %+v, %v", m, err)
	}
	for _, i := range []int{2, 1} {
		if _, err := lossy.Open(envs[i]); !errors.Is(err, attest.ErrReplay) {
			t.Fatalf("counter %d after 3: %v, want ErrReplay", i+1, err)
		}
	}
	if m, err := lossy.Open(envs[3]); err != nil || m.Omitted != 0 {
		t.Fatalf("counter 4: %+v, %v", m, err)
	}
}

// TestTruncatedMACBoundToSuite: the suite byte is authenticated, so an
// HMAC-SHA256 envelope relabelled as HMAC-SHA-256-128 with its MAC cut to
// 16 bytes (the same first bytes a T128 sender would compute over the old
// header) is forged, and so is the reverse with the tag padded out.
func TestTruncatedMACBoundToSuite(t *testing.T) {
	_, ns := newNodes(t, 34, 2)
	full := mustSeal(t, unicast(t, ns[0], ns[1], attest.SuiteHMACSHA256, false), 1, []byte("v"))
	cut := bytes.Clone(full[:len(full)-16])
	cut[1] = byte(attest.SuiteHMACSHA256T128)
	_, err := ns[1].r.Open(cut)
	wantReason(t, err, attest.ReasonForged)

	_, ns = newNodes(t, 35, 2)
	short := mustSeal(t, unicast(t, ns[0], ns[1], attest.SuiteHMACSHA256T128, false), 1, []byte("v"))
	if len(short) != len(full)-16 {
		t.Fatalf("T128 envelope of %d bytes, full-tag one %d", len(short), len(full))
	}
	long := append(bytes.Clone(short), make([]byte, 16)...)
	long[1] = byte(attest.SuiteHMACSHA256)
	_, err = ns[1].r.Open(long)
	wantReason(t, err, attest.ReasonForged)
	if _, err := ns[1].r.Open(short); err != nil {
		t.Fatalf("the genuine T128 envelope after the forgeries: %v", err)
	}
}
