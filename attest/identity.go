package attest

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"sync"

	voied25519 "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
)

// Claim is the public half of a member's identity for one epoch: what an
// attestation binds (via Digest) and what admission records.
type Claim struct {
	ID    MemberID
	Epoch Epoch
	// SignKey verifies the member's Ed25519 envelopes and evidence.
	SignKey ed25519.PublicKey
	// KexKey is the member's X25519 key; pairwise HMAC and encryption keys
	// are derived from it, so only attested members can obtain them.
	KexKey []byte
}

// Digest binds every field of the claim. The sgx backend puts it in the
// first 32 bytes of the SGX report data (which holds 64), and the fleet CA
// signs over it, so a verified attestation vouches for exactly this id,
// epoch and key pair.
func (c *Claim) Digest() [32]byte {
	h := sha256.New()
	h.Write([]byte(claimLabel))
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(c.ID)))
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(c.Epoch)))
	h.Write(c.SignKey)
	h.Write(c.KexKey)
	var d [32]byte
	h.Sum(d[:0])
	return d
}

// validate checks the claim's keys and epoch.
func (c *Claim) validate() error {
	if c.Epoch == 0 {
		return fmt.Errorf("%w: epoch 0 (epochs start at 1)", ErrMalformed)
	}
	if err := checkSignKey(c.SignKey); err != nil {
		return err
	}
	if len(c.KexKey) != 32 {
		return fmt.Errorf("%w: x25519 public key is %d bytes, want 32", ErrInvalidKey, len(c.KexKey))
	}
	if _, err := ecdh.X25519().NewPublicKey(c.KexKey); err != nil {
		return fmt.Errorf("%w: x25519 public key: %w", ErrInvalidKey, err)
	}
	return nil
}

func (c *Claim) equal(o *Claim) bool {
	return c.ID == o.ID && c.Epoch == o.Epoch &&
		bytes.Equal(c.SignKey, o.SignKey) && bytes.Equal(c.KexKey, o.KexKey)
}

// Identity holds a member's private keys for one epoch. It is created only
// by a Backend, lives only in (enclave) memory, and is never serialised or
// sealed: a restart must produce a new Identity under a new epoch.
//
// The signing key signs only what this package builds (envelopes and
// certificate requests, domain-separated), so it cannot be used as a
// signing oracle for other formats.
type Identity struct {
	claim    Claim
	signPriv ed25519.PrivateKey
	kexPriv  *ecdh.PrivateKey

	mu      sync.Mutex
	streams map[Stream]struct{} // streams that have a Sender this epoch
}

// newIdentity generates fresh keys from rnd (crypto/rand if nil). Seeds are
// read explicitly because since Go 1.26 crypto/ecdh ignores custom readers;
// reading them here keeps tests deterministic and the source explicit.
func newIdentity(id MemberID, epoch Epoch, rnd io.Reader) (*Identity, error) {
	if epoch == 0 {
		return nil, fmt.Errorf("%w: epoch 0 (epochs start at 1)", ErrMalformed)
	}
	if rnd == nil {
		rnd = rand.Reader
	}
	var seed [ed25519.SeedSize + 32]byte
	if _, err := io.ReadFull(rnd, seed[:]); err != nil {
		return nil, fmt.Errorf("attest: reading key seed: %w", err)
	}
	sk := ed25519.NewKeyFromSeed(seed[:ed25519.SeedSize])
	xk, err := ecdh.X25519().NewPrivateKey(seed[ed25519.SeedSize:])
	clear(seed[:])
	if err != nil {
		return nil, fmt.Errorf("attest: x25519 key: %w", err)
	}
	return &Identity{
		claim: Claim{
			ID:      id,
			Epoch:   epoch,
			SignKey: sk.Public().(ed25519.PublicKey),
			KexKey:  xk.PublicKey().Bytes(),
		},
		signPriv: sk,
		kexPriv:  xk,
		streams:  make(map[Stream]struct{}),
	}, nil
}

// ID returns the member id.
func (i *Identity) ID() MemberID { return i.claim.ID }

// Epoch returns the epoch these keys belong to.
func (i *Identity) Epoch() Epoch { return i.claim.Epoch }

// Claim returns a copy of the public claim.
func (i *Identity) Claim() Claim {
	c := i.claim
	c.SignKey = bytes.Clone(c.SignKey)
	c.KexKey = bytes.Clone(c.KexKey)
	return c
}

// sign is RFC 8032 Ed25519, deterministic, so any implementation gives the
// same bytes; curve25519-voi's takes about 0.57× the time of crypto/ed25519's
// (TestSignMatchesStdlib checks the bytes, BenchmarkEd25519Sign the time).
func (i *Identity) sign(msg []byte) []byte {
	return voied25519.Sign(voied25519.PrivateKey(i.signPriv), msg)
}

// reserve records that st now has a Sender. Two Senders on one stream would
// both start at counter 1 and so equivocate; refuse the second.
func (i *Identity) reserve(st Stream) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	if _, ok := i.streams[st]; ok {
		return fmt.Errorf("%w: %v", ErrStreamInUse, st)
	}
	i.streams[st] = struct{}{}
	return nil
}

// OutboundKey derives the key of the directed pair from this member to
// peer, which must come from admission (an attested member record).
func (i *Identity) OutboundKey(peer *Member) (*PairKey, error) {
	return i.pairKey(&i.claim, &peer.Claim, &peer.Claim)
}

// InboundKey derives the key of the directed pair from peer to this member.
func (i *Identity) InboundKey(peer *Member) (*PairKey, error) {
	return i.pairKey(&peer.Claim, &i.claim, &peer.Claim)
}

// pairKey implements Recipe's "pairwise keys per directed pair after
// attestation" without a key-distribution service: both ends compute
// X25519(own, peer) and expand it with HKDF-SHA256, binding both ids, epochs
// and key-exchange keys in the info so that each direction and each pair of
// epochs gets independent keys. A restart (new epoch) therefore yields new
// keys for every pair.
func (i *Identity) pairKey(from, to, peer *Claim) (*PairKey, error) {
	if err := peer.validate(); err != nil {
		return nil, err
	}
	pub, err := ecdh.X25519().NewPublicKey(peer.KexKey)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidKey, err)
	}
	shared, err := i.kexPriv.ECDH(pub)
	if err != nil { // low-order peer key: all-zero shared secret
		return nil, fmt.Errorf("%w: x25519: %w", ErrInvalidKey, err)
	}
	info := make([]byte, 0, 2*(8+8+32))
	for _, c := range [2]*Claim{from, to} {
		info = binary.BigEndian.AppendUint64(info, uint64(c.ID))
		info = binary.BigEndian.AppendUint64(info, uint64(c.Epoch))
		info = append(info, c.KexKey...)
	}
	okm, err := hkdf.Key(sha256.New, shared, []byte(pairSalt), string(info), 2*KeySize)
	clear(shared)
	if err != nil {
		return nil, fmt.Errorf("attest: hkdf: %w", err)
	}
	k := &PairKey{
		from: pairEnd{from.ID, from.Epoch},
		to:   pairEnd{to.ID, to.Epoch},
	}
	copy(k.mac[:], okm[:KeySize])
	copy(k.enc[:], okm[KeySize:])
	clear(okm)
	return k, nil
}

// Member is the record admission produces and recipe/ stores in the fleet
// configuration log: who the member is in this epoch, its public keys, and
// how it was attested. Attestation keeps the raw attestation so that any
// third party can re-verify the record offline against the policy.
type Member struct {
	Claim
	Backend BackendKind
	// Hardware is true only when the keys are protected by a TEE (sgx).
	Hardware bool
	// Measurement is the SGX UniqueID (MRENCLAVE) or, for soft members, the
	// binary hash certified by the fleet CA.
	Measurement []byte
	// Attestation is the encoded Attestation the record was admitted from.
	Attestation []byte
}

const (
	memberVersion      = 1
	maxMeasurementSize = 64
	// MaxAttestationSize bounds an encoded Attestation (an SGX ECDSA quote
	// with its certification data is a few KiB).
	MaxAttestationSize = 64 << 10
)

// MarshalBinary encodes the record:
//
//	version(1)=1 backend(1) hardware(1) id(8) epoch(8) signkey(32) kexkey(32)
//	measurement-len(2) measurement attestation-len(4) attestation
func (m *Member) MarshalBinary() ([]byte, error) {
	if len(m.SignKey) != ed25519.PublicKeySize || len(m.KexKey) != 32 {
		return nil, fmt.Errorf("%w: member record keys have wrong sizes", ErrInvalidKey)
	}
	if len(m.Measurement) > maxMeasurementSize {
		return nil, fmt.Errorf("%w: measurement %d bytes", ErrTooLarge, len(m.Measurement))
	}
	if len(m.Attestation) > MaxAttestationSize {
		return nil, fmt.Errorf("%w: attestation %d bytes", ErrTooLarge, len(m.Attestation))
	}
	b := make([]byte, 0, 3+16+64+2+len(m.Measurement)+4+len(m.Attestation))
	hw := byte(0)
	if m.Hardware {
		hw = 1
	}
	b = append(b, memberVersion, byte(m.Backend), hw)
	b = binary.BigEndian.AppendUint64(b, uint64(m.ID))
	b = binary.BigEndian.AppendUint64(b, uint64(m.Epoch))
	b = append(b, m.SignKey...)
	b = append(b, m.KexKey...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(m.Measurement)))
	b = append(b, m.Measurement...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(m.Attestation)))
	return append(b, m.Attestation...), nil
}

// UnmarshalBinary decodes a record written by MarshalBinary, strictly. It
// checks the keys but not the attestation (use Admitter.Admit to re-verify).
func (m *Member) UnmarshalBinary(b []byte) error {
	r := reader{b: b}
	if v := r.u8(); r.err == nil && v != memberVersion {
		return fmt.Errorf("%w: member record version %d", ErrVersion, v)
	}
	backend, hw := BackendKind(r.u8()), r.u8()
	id, epoch := MemberID(r.u64()), Epoch(r.u64())
	sk, xk := r.bytes(ed25519.PublicKeySize), r.bytes(32)
	meas := r.bytes(int(r.u16()))
	n := r.u32()
	if r.err == nil && n > MaxAttestationSize {
		return fmt.Errorf("%w: attestation %d bytes", ErrTooLarge, n)
	}
	att := r.bytes(int(n))
	if err := r.done(); err != nil {
		return fmt.Errorf("member record: %w", err)
	}
	if hw > 1 {
		return fmt.Errorf("%w: member record hardware flag %d", ErrMalformed, hw)
	}
	if backend != BackendSoft && backend != BackendSGX {
		return fmt.Errorf("%w: member record backend %d", ErrMalformed, backend)
	}
	if len(meas) > maxMeasurementSize {
		return fmt.Errorf("%w: measurement %d bytes", ErrTooLarge, len(meas))
	}
	out := Member{
		Claim:       Claim{ID: id, Epoch: epoch, SignKey: bytes.Clone(sk), KexKey: bytes.Clone(xk)},
		Backend:     backend,
		Hardware:    hw == 1,
		Measurement: bytes.Clone(meas),
		Attestation: bytes.Clone(att),
	}
	if err := out.validate(); err != nil {
		return fmt.Errorf("member record: %w", err)
	}
	*m = out
	return nil
}

// reader is a bounds-checked big-endian decoder that records the first
// error instead of panicking, which keeps the strict decoders short.
type reader struct {
	b   []byte
	err error
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.err = fmt.Errorf("%w: need %d bytes, have %d", ErrTruncated, n, len(r.b))
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u8() uint8 {
	if v := r.bytes(1); v != nil {
		return v[0]
	}
	return 0
}

func (r *reader) u16() uint16 {
	if v := r.bytes(2); v != nil {
		return binary.BigEndian.Uint16(v)
	}
	return 0
}

func (r *reader) u32() uint32 {
	if v := r.bytes(4); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

func (r *reader) u64() uint64 {
	if v := r.bytes(8); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

// done returns the first error, or ErrMalformed if bytes are left over.
func (r *reader) done() error {
	if r.err != nil {
		return r.err
	}
	if len(r.b) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(r.b))
	}
	return nil
}
