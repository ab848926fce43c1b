package attest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"sync"
	"time"
)

// SoftBackend is the backend for machines without SGX. Keys are generated
// in ordinary process memory, and an operator-run fleet CA vouches for them
// with a signed Statement binding member id, epoch, public keys and the hash
// of the agent binary. It gives NO hardware protection (see SoftWarning and
// the package documentation for exactly what that means); Protection says
// so, and agents must log and export it.
type SoftBackend struct {
	id         *Identity
	binaryHash [32]byte

	mu   sync.Mutex
	stmt []byte // encoded Statement, once installed
}

// NewSoftBackend generates fresh keys for member id at epoch (from rnd, or
// crypto/rand if nil). binaryHash is the SHA-256 of the agent binary (see
// HashBinary); the CA certifies it and the policy may restrict it. The
// epoch must be higher than any the member was admitted with before, or
// admission will refuse it as stale.
func NewSoftBackend(id MemberID, epoch Epoch, binaryHash [32]byte, rnd io.Reader) (*SoftBackend, error) {
	ident, err := newIdentity(id, epoch, rnd)
	if err != nil {
		return nil, err
	}
	return &SoftBackend{id: ident, binaryHash: binaryHash}, nil
}

// Kind returns BackendSoft.
func (b *SoftBackend) Kind() BackendKind { return BackendSoft }

// Protection reports no hardware protection, with SoftWarning.
func (b *SoftBackend) Protection() Protection {
	return Protection{HardwareProtected: false, Warning: SoftWarning}
}

// Identity returns the keys of this epoch.
func (b *SoftBackend) Identity() *Identity { return b.id }

// CertRequest returns the request to send to the fleet CA, with a proof of
// possession of the signing key.
func (b *SoftBackend) CertRequest() CertRequest {
	r := CertRequest{Claim: b.id.Claim(), BinaryHash: b.binaryHash}
	r.Proof = b.id.sign(r.signedBytes())
	return r
}

// Install stores the CA's statement after checking that it certifies this
// backend's claim and binary (not that the CA key is trusted: admission
// does that against the policy).
func (b *SoftBackend) Install(s Statement) error {
	if !s.Claim.equal(&b.id.claim) {
		return fmt.Errorf("%w: statement certifies another claim", ErrAttestation)
	}
	if s.BinaryHash != b.binaryHash {
		return fmt.Errorf("%w: statement certifies another binary", ErrAttestation)
	}
	enc, err := s.MarshalBinary()
	if err != nil {
		return err
	}
	b.mu.Lock()
	b.stmt = enc
	b.mu.Unlock()
	return nil
}

// Attest returns the attestation carrying the installed statement.
func (b *SoftBackend) Attest() (Attestation, error) {
	b.mu.Lock()
	stmt := b.stmt
	b.mu.Unlock()
	if stmt == nil {
		return Attestation{}, fmt.Errorf("%w: no fleet CA statement installed", ErrAttestation)
	}
	return Attestation{Backend: BackendSoft, Claim: b.id.Claim(), Evidence: bytes.Clone(stmt)}, nil
}

// HashBinary returns the SHA-256 of r (the agent binary, e.g. opened from
// os.Executable by the caller: the core does no file I/O).
func HashBinary(r io.Reader) ([32]byte, error) {
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return [32]byte{}, fmt.Errorf("attest: hashing binary: %w", err)
	}
	var d [32]byte
	h.Sum(d[:0])
	return d, nil
}

// CertRequest asks the fleet CA to certify a soft member's claim.
type CertRequest struct {
	Claim      Claim
	BinaryHash [32]byte
	// Proof is the member's Ed25519 signature over the request, proving it
	// holds the private key it asks to have certified.
	Proof []byte
}

func (r *CertRequest) signedBytes() []byte {
	d := r.Claim.Digest()
	b := make([]byte, 0, len(csrLabel)+64)
	b = append(b, csrLabel...)
	b = append(b, d[:]...)
	return append(b, r.BinaryHash[:]...)
}

// FleetCA is the operator-run certificate authority for soft members. It
// only does the cryptography: deciding which ids and binaries it signs for,
// authenticating the requesting host, and keeping its private key safe are
// the operator's job. It is the root of trust of every soft member: whoever
// holds its key can admit arbitrary soft members.
type FleetCA struct {
	priv ed25519.PrivateKey
}

// NewFleetCA wraps the CA's Ed25519 private key.
func NewFleetCA(priv ed25519.PrivateKey) (*FleetCA, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("%w: CA private key is %d bytes, want %d", ErrInvalidKey, len(priv), ed25519.PrivateKeySize)
	}
	return &FleetCA{priv: priv}, nil
}

// PublicKey returns the key that policy files list under soft.ca_public_keys.
func (ca *FleetCA) PublicKey() ed25519.PublicKey {
	return ca.priv.Public().(ed25519.PublicKey)
}

// Issue verifies the request's proof of possession and keys, and returns a
// statement valid until notAfter (the caller supplies the time: no clock in
// the core).
func (ca *FleetCA) Issue(req CertRequest, notAfter time.Time) (Statement, error) {
	if err := req.Claim.validate(); err != nil {
		return Statement{}, fmt.Errorf("cert request: %w", err)
	}
	if !verifyEd25519(req.Claim.SignKey, req.signedBytes(), req.Proof) {
		return Statement{}, fmt.Errorf("%w: cert request proof of possession does not verify", ErrForged)
	}
	s := Statement{
		Claim:      req.Claim,
		BinaryHash: req.BinaryHash,
		NotAfter:   notAfter.Unix(),
		CAKey:      ca.PublicKey(),
	}
	s.Signature = ed25519.Sign(ca.priv, s.signedBytes())
	return s, nil
}

// Statement is the fleet CA's signed statement binding a soft member's id,
// epoch, public keys and binary hash, valid until NotAfter.
type Statement struct {
	Claim      Claim
	BinaryHash [32]byte
	NotAfter   int64 // Unix seconds
	CAKey      ed25519.PublicKey
	Signature  []byte
}

const (
	statementVersion = 1
	statementSize    = 1 + 16 + 64 + 32 + 8 + 32 + 64
)

// signedBytes is everything but the signature, domain-separated.
func (s *Statement) signedBytes() []byte {
	b := make([]byte, 0, len(statementLabel)+statementSize)
	b = append(b, statementLabel...)
	b = append(b, statementVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(s.Claim.ID))
	b = binary.BigEndian.AppendUint64(b, uint64(s.Claim.Epoch))
	b = append(b, s.Claim.SignKey...)
	b = append(b, s.Claim.KexKey...)
	b = append(b, s.BinaryHash[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(s.NotAfter))
	return append(b, s.CAKey...)
}

// MarshalBinary encodes the statement (fixed size, statementSize bytes).
func (s *Statement) MarshalBinary() ([]byte, error) {
	if len(s.Claim.SignKey) != 32 || len(s.Claim.KexKey) != 32 || len(s.CAKey) != 32 || len(s.Signature) != ed25519.SignatureSize {
		return nil, fmt.Errorf("%w: statement fields have wrong sizes", ErrMalformed)
	}
	b := s.signedBytes()[len(statementLabel):]
	return append(b, s.Signature...), nil
}

// ParseStatement decodes a statement strictly (structure only).
func ParseStatement(b []byte) (Statement, error) {
	if len(b) > statementSize {
		return Statement{}, fmt.Errorf("%w: statement is %d bytes, want %d", ErrTooLarge, len(b), statementSize)
	}
	r := reader{b: b}
	if v := r.u8(); r.err == nil && v != statementVersion {
		return Statement{}, fmt.Errorf("%w: statement version %d", ErrVersion, v)
	}
	var s Statement
	s.Claim.ID = MemberID(r.u64())
	s.Claim.Epoch = Epoch(r.u64())
	s.Claim.SignKey = bytes.Clone(r.bytes(32))
	s.Claim.KexKey = bytes.Clone(r.bytes(32))
	copy(s.BinaryHash[:], r.bytes(32))
	s.NotAfter = int64(r.u64())
	s.CAKey = bytes.Clone(r.bytes(32))
	s.Signature = bytes.Clone(r.bytes(ed25519.SignatureSize))
	if err := r.done(); err != nil {
		return Statement{}, fmt.Errorf("statement: %w", err)
	}
	return s, nil
}

// verify checks the CA signature against the trusted keys and the validity
// at now.
func (s *Statement) verify(trusted []ed25519.PublicKey, now time.Time) error {
	ok := false
	for _, k := range trusted {
		if bytes.Equal(k, s.CAKey) {
			ok = true
			break
		}
	}
	if !ok {
		return fmt.Errorf("%w: statement signed by a CA key the policy does not trust", ErrPolicy)
	}
	if !verifyEd25519(s.CAKey, s.signedBytes(), s.Signature) {
		return fmt.Errorf("%w: fleet CA signature does not verify", ErrAttestation)
	}
	if now.Unix() > s.NotAfter {
		return fmt.Errorf("%w: statement expired at %s", ErrAttestation, time.Unix(s.NotAfter, 0).UTC().Format(time.RFC3339))
	}
	return nil
}
