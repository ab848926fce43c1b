package attest_test

// One test per claim of the Recipe paper that this package is responsible
// for, in the style of etcd raft's raft_paper_test.go: each doc comment
// states the claim and names the part of the paper it comes from.
//
// Reference: D. Giantsidi, E. Giortamis, J. Pritzi, M. Bailleu,
// M. Kapritsos, P. Bhatotia, "Recipe: Hardware-Accelerated Replication
// Protocols", arXiv 2502.09251 (Middleware '25). The paper's protocol has
// five components: transferable authentication, initialisation, normal
// operation, view change and recovery. The election itself belongs to the
// replicated protocol (recipe/, raft); this layer provides the fresh
// channels a new view starts with (lanes).

import (
	"bytes"
	"errors"
	"sync"
	"testing"

	"github.com/wmsr/wmsr/attest"
)

// TestRecipeTransferableAuthentication: "any attested party can check who
// sent a message" — a message authenticated by one member can be verified
// by any other member, or offline by anyone holding the configuration log,
// without the sender's cooperation.
// Reference: Recipe, transferable authentication.
func TestRecipeTransferableAuthentication(t *testing.T) {
	_, ns := newNodes(t, 101, 3)
	env := mustSeal(t, unicast(t, ns[0], ns[1], attest.SuiteEd25519, false), 0, []byte("append entries"))
	// Node 3 was not the addressee; node 2 relays the envelope to it.
	e, err := ns[2].r.Verify(env)
	if err != nil {
		t.Fatal(err)
	}
	if e.Sender != 1 {
		t.Fatalf("sender %d", e.Sender)
	}
	// HMAC authentication is not transferable: it is the cheap mode for
	// pairwise channels only.
	hm := mustSeal(t, unicast(t, ns[2], ns[1], attest.SuiteHMACSHA256, false), 0, nil)
	if _, err := ns[0].r.Verify(hm); err == nil {
		t.Fatal("a third party verified an HMAC envelope")
	}
}

// TestRecipeNonEquivocation: "a sender cannot issue two different messages
// under the same counter" — the send counter advances atomically with every
// message, even under concurrency, and a second sender for the same stream
// is refused.
// Reference: Recipe, non-equivocation.
func TestRecipeNonEquivocation(t *testing.T) {
	_, ns := newNodes(t, 102, 2)
	s := broadcast(t, ns[0], valueChannel, nil)
	const workers, each = 4, 25
	var mu sync.Mutex
	counters := map[uint64]bool{}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				env, err := s.Seal(nil, 0, []byte{byte(w), byte(i)})
				if err != nil {
					t.Error(err)
					return
				}
				e, _ := attest.Parse(env)
				mu.Lock()
				if counters[e.Counter] {
					t.Errorf("counter %d issued twice", e.Counter)
				}
				counters[e.Counter] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for c := uint64(1); c <= workers*each; c++ {
		if !counters[c] {
			t.Fatalf("counter %d never issued", c)
		}
	}
	if _, err := attest.NewBroadcastSender(ns[0].id(), valueChannel, nil); !errors.Is(err, attest.ErrStreamInUse) {
		t.Fatalf("second sender on the stream: %v", err)
	}
}

// TestRecipeTwoFacedSenderIsCaught: with both properties a Byzantine sender
// is reduced to a detectable one — if it tells two receivers different
// things under one counter, relaying one envelope to the other yields
// evidence that a third party verifies offline.
// Reference: Recipe, transferable authentication + non-equivocation as the
// lower bound for transforming CFT protocols to Byzantine settings.
func TestRecipeTwoFacedSenderIsCaught(t *testing.T) {
	_, ns := newNodes(t, 103, 3)
	toA := mustSeal(t, broadcast(t, ns[0], valueChannel, nil), 1, []byte("x=0"))
	toB := forgeSameSlot(t, ns[0], nil, toA, []byte("x=100")) // a compromised key
	if _, err := ns[1].r.Open(toA); err != nil {
		t.Fatal(err)
	}
	if _, err := ns[2].r.Open(toB); err != nil {
		t.Fatal(err)
	}
	// Receiver A relays what it got to B (transferable: B can check it).
	_, err := ns[2].r.Open(toA)
	var eq *attest.EquivocationError
	if !errors.As(err, &eq) {
		t.Fatalf("relay not detected as equivocation: %v", err)
	}
	enc, _ := eq.Evidence.MarshalBinary()
	ev, err := attest.ParseEvidence(enc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := attest.VerifyEvidence(ev, &ns[0].m); err != nil {
		t.Fatalf("third party rejects the evidence: %v", err)
	}
}

// TestRecipeInitializationOnlyAttestedMembers: "after attestation, pairwise
// keys per directed pair" — only admitted (attested) members are accepted,
// both ends of a pair derive the same key, and nobody else derives it.
// Reference: Recipe, initialisation; Tamarin model, key establishment.
func TestRecipeInitializationOnlyAttestedMembers(t *testing.T) {
	f, ns := newNodes(t, 104, 2)
	out, err := ns[0].id().OutboundKey(&ns[1].m)
	if err != nil {
		t.Fatal(err)
	}
	in, err := ns[1].id().InboundKey(&ns[0].m)
	if err != nil {
		t.Fatal(err)
	}
	probe := []byte("probe")
	if !bytes.Equal(attest.MACForTest(out, probe), attest.MACForTest(in, probe)) {
		t.Fatal("the two ends of a directed pair derived different keys")
	}
	// A third party, even one certified by the fleet CA, derives a
	// different key for "the same" pair.
	outsider, _, err := f.Join(1, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	k3, _ := outsider.Identity().OutboundKey(&ns[1].m)
	if bytes.Equal(attest.MACForTest(k3, probe), attest.MACForTest(in, probe)) {
		t.Fatal("a non-admitted identity derived the pair's key")
	}
	// A member never admitted by this receiver is unknown to it.
	b9, _, err := f.Join(9, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = ns[1].r.Open(mustSeal(t, unicast(t, &node{b: b9}, ns[1], attest.SuiteEd25519, false), 0, nil))
	wantReason(t, err, attest.ReasonUnknownSender)
}

// TestRecipeReceiverAcceptsOnlyExpectedCounter: "a receiver accepts only
// cnt == expected and then increments" — so nothing before an accepted
// message was lost, nothing is reordered or duplicated.
// Reference: Recipe, normal operation; Tamarin model, receive rule.
func TestRecipeReceiverAcceptsOnlyExpectedCounter(t *testing.T) {
	_, ns := newNodes(t, 105, 2)
	s := unicast(t, ns[0], ns[1], attest.SuiteHMACSHA256, false)
	envs := make([][]byte, 4)
	for i := range envs {
		envs[i] = mustSeal(t, s, 0, []byte{byte(i)})
	}
	for _, order := range []int{3, 1, 0, 0, 2, 1, 1, 2, 3, 3} {
		_, _ = ns[1].r.Open(envs[order])
	}
	// Exactly counters 1..4 were accepted, in order: the next is 5.
	next := mustSeal(t, s, 0, nil)
	if msg, err := ns[1].r.Open(next); err != nil || msg.Counter != 5 {
		t.Fatalf("%+v %v", msg, err)
	}
}

// TestRecipeRecoveryAsNewMember: without persistent monotonic counters, a
// restarted member gets fresh keys inside the enclave and rejoins as a new
// member epoch, so its old counters can never be reused.
// Reference: Recipe, recovery (as in CCF); SGX SDK 2.8 removed monotonic
// counters.
func TestRecipeRecoveryAsNewMember(t *testing.T) {
	f, ns := newNodes(t, 106, 2)
	old := mustSeal(t, unicast(t, ns[0], ns[1], attest.SuiteEd25519, false), 0, []byte("before"))
	b2, m2, err := f.Join(1, 2, &ns[0].m)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(m2.SignKey, ns[0].m.SignKey) {
		t.Fatal("restart kept the old key")
	}
	if err := ns[1].r.AddMember(m2); err != nil {
		t.Fatal(err)
	}
	_, err = ns[1].r.Open(old)
	wantReason(t, err, attest.ReasonStale)
	fresh := mustSeal(t, unicast(t, &node{b: b2, m: m2}, ns[1], attest.SuiteEd25519, false), 0, []byte("after"))
	if msg, err := ns[1].r.Open(fresh); err != nil || msg.Counter != 1 || msg.Epoch != 2 {
		t.Fatalf("%+v %v", msg, err)
	}
}

// TestRecipeConfidentiality: "Recipe ... offers confidentiality, a feature
// absent in traditional BFT" — payloads can be encrypted under the pairwise
// key; only the addressee reads them, and tampering is detected.
// Reference: Recipe, abstract and transferable authentication layer
// (optional encryption of <msg, cnt>).
func TestRecipeConfidentiality(t *testing.T) {
	_, ns := newNodes(t, 107, 2)
	secret := []byte("setpoint=42.0")
	env := mustSeal(t, unicast(t, ns[0], ns[1], attest.SuiteHMACSHA256, true), 0, secret)
	if bytes.Contains(env, secret) {
		t.Fatal("plaintext on the wire")
	}
	msg, err := ns[1].r.Open(env)
	if err != nil || !bytes.Equal(msg.Payload, secret) {
		t.Fatalf("%q %v", msg.Payload, err)
	}
}

// TestRecipeViewChangeFreshChannels: channels of a new view start fresh,
// so that a channel stuck in the old view blocks nothing. A sender starts
// a lane per view (Sender.StartLane); a laned receiver accepts the new
// view's first message at once although the old view's channel waits for
// a lost message, and from then on refuses the old view's messages, so
// they can never be interleaved with the new view's.
// Reference: Recipe, view change (arXiv 2502.09251).
func TestRecipeViewChangeFreshChannels(t *testing.T) {
	_, ns := newNodes(t, 108, 2)
	r := attest.NewReceiver(ns[1].id(), attest.ReceiverConfig{LanedUnicast: true})
	if err := r.AddMember(ns[0].m); err != nil {
		t.Fatal(err)
	}
	s := unicast(t, ns[0], ns[1], attest.SuiteHMACSHA256, false)
	const view = 7
	if err := s.StartLane(view); err != nil {
		t.Fatal(err)
	}
	lost := mustSeal(t, s, 0, []byte("append, view 7"))
	var stuck [][]byte
	for range 5 {
		stuck = append(stuck, mustSeal(t, s, 0, []byte("heartbeat, view 7")))
	}
	for _, e := range stuck {
		_, err := r.Open(e)
		wantReason(t, err, attest.ReasonOutOfOrder) // behind the lost one
	}
	if err := s.StartLane(view + 1); err != nil {
		t.Fatal(err)
	}
	vote := mustSeal(t, s, 0, []byte("vote, view 8"))
	if msg, err := r.Open(vote); err != nil || attest.LaneOf(msg.Counter) != view+1 {
		t.Fatalf("the new view's first message waits behind the old view: %+v %v", msg, err)
	}
	for _, e := range append(stuck, lost) {
		_, err := r.Open(e)
		wantReason(t, err, attest.ReasonStale)
	}
}
