package attest

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// Evidence of equivocation: two authentic envelopes from one sender for the
// same slot (sender, epoch, stream, counter) with different content. An
// honest sender's counter advances on every envelope it seals and lives
// only in (enclave) memory for one epoch, so it never produces such a pair;
// the pair therefore proves that the sender's keys were used outside the
// protocol — a compromised TEE, a compromised soft host, or a broken
// backend — and the member should be quarantined.
//
// What it proves depends on the suite:
//
//   - Ed25519 (the default for neighbour values): self-contained and
//     transferable. Anyone holding the sender's member record (its public
//     key for that epoch, from the configuration log) can check it offline
//     with VerifyEvidence, with no trust in whoever reports it: only the
//     holder of the signing key could have produced both signatures.
//   - HMAC-SHA256: not transferable. The MAC key is shared by the two ends
//     of the directed pair, so the pair of envelopes proves only that one
//     of those two produced both. VerifyEvidenceHMAC checks it for a party
//     that holds the pairwise key — in practice only the receiver itself,
//     which thereby learns that the sender equivocated (it knows it did not
//     forge them) and can stop accepting from it, but cannot convince the
//     rest of the fleet without trusting the receiver's own attestation.
//     Equivocation toward *different* receivers is invisible in HMAC mode
//     altogether, since each directed pair has its own key and counter;
//     that is why broadcast neighbour values use Ed25519.
//
// The two envelopes are held in canonical order (First < Second,
// bytewise), so equal evidence has equal encodings and the configuration
// log can deduplicate it.
type Evidence struct {
	First, Second []byte
}

const (
	evidenceVersion = 1
	// MaxEvidenceSize bounds an encoded Evidence.
	MaxEvidenceSize = 1 + 2*(2+MaxEnvelopeSize)
)

// NewEvidence builds evidence from two raw envelopes, checking that both
// parse, share suite and slot, and differ in signed content. It does not
// verify the authenticators (VerifyEvidence does). The inputs are copied.
func NewEvidence(a, b []byte) (Evidence, error) {
	if bytes.Compare(a, b) > 0 {
		a, b = b, a
	}
	ev := Evidence{First: bytes.Clone(a), Second: bytes.Clone(b)}
	if _, _, _, err := ev.parse(); err != nil {
		return Evidence{}, err
	}
	return ev, nil
}

// parse checks the structural conditions and returns both envelopes and
// the common slot.
func (ev *Evidence) parse() (Envelope, Envelope, Slot, error) {
	a, err := Parse(ev.First)
	if err != nil {
		return Envelope{}, Envelope{}, Slot{}, fmt.Errorf("evidence, first envelope: %w", err)
	}
	b, err := Parse(ev.Second)
	if err != nil {
		return Envelope{}, Envelope{}, Slot{}, fmt.Errorf("evidence, second envelope: %w", err)
	}
	if bytes.Compare(ev.First, ev.Second) >= 0 {
		return Envelope{}, Envelope{}, Slot{}, fmt.Errorf("%w: evidence envelopes not in canonical order", ErrMalformed)
	}
	if a.Slot() != b.Slot() {
		return Envelope{}, Envelope{}, Slot{}, fmt.Errorf("%w: evidence envelopes are for different slots", ErrMalformed)
	}
	if a.Suite != b.Suite {
		return Envelope{}, Envelope{}, Slot{}, fmt.Errorf("%w: evidence envelopes use different suites", ErrMalformed)
	}
	if bytes.Equal(a.Signed(), b.Signed()) {
		// Same content, different authenticator bytes: a re-signature or
		// a malleated copy of one message is a duplicate, not
		// equivocation.
		return Envelope{}, Envelope{}, Slot{}, fmt.Errorf("%w: evidence envelopes carry the same content", ErrMalformed)
	}
	return a, b, a.Slot(), nil
}

// Slot returns the slot the sender equivocated on.
func (ev *Evidence) Slot() (Slot, error) {
	_, _, s, err := ev.parse()
	return s, err
}

// Suite returns the authenticator suite of the evidence.
func (ev *Evidence) Suite() (Suite, error) {
	a, _, _, err := ev.parse()
	return a.Suite, err
}

// MarshalBinary encodes the evidence:
//
//	version(1)=1 len(2) first len(2) second
func (ev *Evidence) MarshalBinary() ([]byte, error) {
	if _, _, _, err := ev.parse(); err != nil {
		return nil, err
	}
	b := make([]byte, 0, 5+len(ev.First)+len(ev.Second))
	b = append(b, evidenceVersion)
	b = binary.BigEndian.AppendUint16(b, uint16(len(ev.First)))
	b = append(b, ev.First...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(ev.Second)))
	return append(b, ev.Second...), nil
}

// ParseEvidence decodes evidence strictly (structure, canonical order, same
// slot, different content); it does not verify authenticators.
func ParseEvidence(b []byte) (Evidence, error) {
	if len(b) > MaxEvidenceSize {
		return Evidence{}, fmt.Errorf("%w: evidence is %d bytes, limit %d", ErrTooLarge, len(b), MaxEvidenceSize)
	}
	r := reader{b: b}
	if v := r.u8(); r.err == nil && v != evidenceVersion {
		return Evidence{}, fmt.Errorf("%w: evidence version %d", ErrVersion, v)
	}
	first := r.bytes(int(r.u16()))
	second := r.bytes(int(r.u16()))
	if err := r.done(); err != nil {
		return Evidence{}, fmt.Errorf("evidence: %w", err)
	}
	ev := Evidence{First: bytes.Clone(first), Second: bytes.Clone(second)}
	if _, _, _, err := ev.parse(); err != nil {
		return Evidence{}, err
	}
	return ev, nil
}

// VerifyEvidence checks Ed25519 evidence against the sender's member record
// (from the configuration log), offline: both envelopes must be signed by
// sender's key for its epoch. It returns the slot. Any third party can run
// it; a nil error is a proof that sender equivocated.
func VerifyEvidence(ev Evidence, sender *Member) (Slot, error) {
	a, b, slot, err := ev.parse()
	if err != nil {
		return Slot{}, err
	}
	if a.Suite != SuiteEd25519 {
		return Slot{}, fmt.Errorf("%w: %v evidence is not transferable; use VerifyEvidenceHMAC with the pairwise key", ErrSuite, a.Suite)
	}
	if slot.Sender != sender.ID || slot.Epoch != sender.Epoch {
		return Slot{}, fmt.Errorf("%w: evidence is about member %d epoch %d, record is member %d epoch %d",
			ErrMalformed, slot.Sender, slot.Epoch, sender.ID, sender.Epoch)
	}
	if err := checkSignKey(sender.SignKey); err != nil {
		return Slot{}, err
	}
	if !verifyEd25519(sender.SignKey, a.Signed(), a.Auth) || !verifyEd25519(sender.SignKey, b.Signed(), b.Auth) {
		return Slot{}, fmt.Errorf("%w: evidence signature does not verify under member %d's key", ErrForged, sender.ID)
	}
	return slot, nil
}

// VerifyEvidenceHMAC checks HMAC-mode evidence with the pairwise key of the
// directed pair. As explained on Evidence, success proves only that one of
// the pair's two members produced both envelopes.
func VerifyEvidenceHMAC(ev Evidence, key *PairKey) (Slot, error) {
	a, b, slot, err := ev.parse()
	if err != nil {
		return Slot{}, err
	}
	if !a.Suite.Pairwise() {
		return Slot{}, fmt.Errorf("%w: evidence uses %v, not HMAC", ErrSuite, a.Suite)
	}
	if key.from != (pairEnd{slot.Sender, slot.Epoch}) || slot.Stream.Broadcast ||
		key.to != (pairEnd{MemberID(slot.Stream.Dest), slot.Stream.DestEpoch}) {
		return Slot{}, fmt.Errorf("%w: pairwise key is not the key of this evidence's directed pair", ErrMalformed)
	}
	m := newMACState(key.mac[:])
	if !m.verify(a.Signed(), a.Auth, a.Suite) || !m.verify(b.Signed(), b.Auth, b.Suite) {
		return Slot{}, fmt.Errorf("%w: evidence MAC does not verify", ErrForged)
	}
	return slot, nil
}
