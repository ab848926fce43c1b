package attest

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"hash"

	"filippo.io/edwards25519"
	voied25519 "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
)

const (
	hmacSize = sha256.Size
	// KeySize is the size of pairwise MAC and encryption keys and of
	// broadcast group keys (AES-256).
	KeySize = 32
)

// verifyEd25519, verifyExpanded (a key decoded once) and OpenBatch's
// batches apply the only Ed25519 verification rule used anywhere in this
// package: single envelopes, batches and equivocation evidence.
//
// It implements ZIP-215 (cofactored verification, non-canonical point
// encodings accepted, s < L required). The reason is consistency, which is
// a safety property here: batch verification is only sound with the
// cofactored equation, and if some receivers (batching) used different
// rules from others (single, or a third party checking evidence), a
// Byzantine sender could craft one signature that half the fleet accepts
// and half rejects — a split view, i.e. exactly the equivocation this
// package exists to prevent. RFC 8032 signers (crypto/ed25519) produce
// signatures valid under both rules.
//
// The implementation is curve25519-voi's, with its ZIP-215 preset. Against
// ed25519consensus (the same rule, used before), measured in one run of
// BenchmarkEd25519Verify: 0.62× the time per verification, 0.52× with a
// receiver's cached expanded key (the sender's point decoded once, at
// admission), 0.38× per signature in batches of six. The tests check it
// against ed25519consensus on the ZIP-215 edge cases (every small-order
// and non-canonical encoding of A and R) and on genuine, corrupted and
// non-canonical signatures, in single, expanded and batch form: the rule
// did not change with the implementation.
func verifyEd25519(pub ed25519.PublicKey, msg, sig []byte) bool {
	return len(pub) == ed25519.PublicKeySize && voied25519.VerifyWithOptions(voied25519.PublicKey(pub), msg, sig, zip215)
}

// verifyExpanded is verifyEd25519 with the key decoded once (see
// expandSignKey).
func verifyExpanded(pub *voied25519.ExpandedPublicKey, msg, sig []byte) bool {
	return voied25519.VerifyExpandedWithOptions(pub, msg, sig, zip215)
}

// zip215 selects the ZIP-215 rule for every voi call; never nil, so the
// voi calls that panic on bad options cannot.
var zip215 = &voied25519.Options{Verify: voied25519.VerifyOptionsZIP_215}

// expandSignKey decodes an admitted member's Ed25519 key once, for
// verifyExpanded and batches.
func expandSignKey(pub ed25519.PublicKey) (*voied25519.ExpandedPublicKey, error) {
	x, err := voied25519.NewExpandedPublicKey(voied25519.PublicKey(pub))
	if err != nil {
		return nil, fmt.Errorf("%w: ed25519 public key: %v", ErrInvalidKey, err)
	}
	return x, nil
}

// checkSignKey rejects Ed25519 public keys that are malformed, encoded
// non-canonically, or of small order. Under cofactored verification a
// small-order key verifies forged signatures on any message, so a member
// admitted with one could be framed by anyone; refusing such keys at
// admission keeps evidence meaningful.
func checkSignKey(pub []byte) error {
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: ed25519 public key is %d bytes, want %d", ErrInvalidKey, len(pub), ed25519.PublicKeySize)
	}
	p, err := new(edwards25519.Point).SetBytes(pub)
	if err != nil {
		return fmt.Errorf("%w: ed25519 public key is not a curve point", ErrInvalidKey)
	}
	if subtle.ConstantTimeCompare(p.Bytes(), pub) != 1 {
		return fmt.Errorf("%w: ed25519 public key is not canonically encoded", ErrInvalidKey)
	}
	if new(edwards25519.Point).MultByCofactor(p).Equal(edwards25519.NewIdentityPoint()) == 1 {
		return fmt.Errorf("%w: ed25519 public key has small order", ErrInvalidKey)
	}
	return nil
}

// PairKey holds the keys of one directed pair (sender → receiver, each at
// its epoch): a MAC key for SuiteHMACSHA256 and an AES-256-GCM key for
// optional confidentiality. It is derived inside the member's backend from
// attested key-exchange keys (see Identity.OutboundKey) and never leaves
// memory: it has no exported fields and no encoding.
type PairKey struct {
	from, to pairEnd
	mac      [KeySize]byte
	enc      [KeySize]byte
}

type pairEnd struct {
	id    MemberID
	epoch Epoch
}

// From returns the sender of the directed pair and its epoch.
func (k *PairKey) From() (MemberID, Epoch) { return k.from.id, k.from.epoch }

// To returns the receiver of the directed pair and its epoch.
func (k *PairKey) To() (MemberID, Epoch) { return k.to.id, k.to.epoch }

// macState computes HMAC-SHA256 under one key. It keeps one hmac.Hash and
// resets it, which lets crypto/hmac restore the precomputed inner and outer
// pad states instead of rehashing them: two SHA-256 blocks saved per
// message, and no allocation. Not safe for concurrent use.
type macState struct {
	h   hash.Hash
	sum [hmacSize]byte
}

func newMACState(key []byte) *macState {
	return &macState{h: hmac.New(sha256.New, key)}
}

// compute returns the MAC of msg; the slice is valid until the next call.
func (m *macState) compute(msg []byte) []byte {
	m.h.Reset()
	m.h.Write(msg)
	return m.h.Sum(m.sum[:0])
}

// tag returns the authenticator of msg under suite s (a pairwise suite):
// the MAC, truncated for SuiteHMACSHA256T128.
func (m *macState) tag(msg []byte, s Suite) []byte { return m.compute(msg)[:s.authLen()] }

// verify reports, in constant time, whether tag is msg's authenticator
// under suite s.
func (m *macState) verify(msg, tag []byte, s Suite) bool {
	return s.Pairwise() && len(tag) == s.authLen() && hmac.Equal(m.tag(msg, s), tag)
}

// newAEAD returns AES-256-GCM under key.
func newAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("%w: encryption key is %d bytes, want %d", ErrInvalidKey, len(key), KeySize)
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidKey, err)
	}
	return cipher.NewGCM(b)
}

// nonceFor derives the GCM nonce from the envelope header. The header holds
// (sender, epoch, stream, counter), which an honest sender never repeats, so
// nonces are unique per key even when a broadcast group key is shared by
// many senders, with no random number generator in the core and no nonce
// bytes on the wire. Two distinct headers collide on the 96-bit nonce with
// probability about q²/2^97 for q envelopes under one key: below 2^-32
// even for 2^32 envelopes.
func nonceFor(header []byte) [12]byte {
	var in [len(nonceLabel) + HeaderSize]byte
	copy(in[:], nonceLabel)
	copy(in[len(nonceLabel):], header)
	sum := sha256.Sum256(in[:])
	var n [12]byte
	copy(n[:], sum[:12])
	return n
}

// Domain-separation labels. Every Ed25519 message signed with a member's
// identity key starts with a distinct prefix: envelopes with the version
// byte 0x01, certificate requests with csrLabel ('w' = 0x77), so no
// signature can be replayed from one context into another.
const (
	nonceLabel     = "wmsr/attest/v1/gcm-nonce\x00"
	pairSalt       = "wmsr/attest/v1/pairwise"
	claimLabel     = "wmsr/attest/v1/claim\x00"
	csrLabel       = "wmsr/attest/v1/csr\x00"
	statementLabel = "wmsr/attest/v1/ca-statement\x00"
)
