package attest

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// BackendKind names the trust anchor of a member's keys.
type BackendKind uint8

const (
	// BackendSoft: keys in ordinary process memory, vouched for by an
	// operator-run fleet CA. No hardware protection.
	BackendSoft BackendKind = 1
	// BackendSGX: keys generated inside an SGX enclave (EGo), vouched for
	// by an SGX remote report that binds them.
	BackendSGX BackendKind = 2
)

// String returns "soft" or "sgx" (the names used in policy files and
// metrics).
func (k BackendKind) String() string {
	switch k {
	case BackendSoft:
		return "soft"
	case BackendSGX:
		return "sgx"
	}
	return fmt.Sprintf("backend(%d)", uint8(k))
}

// Protection says what protects a backend's keys and counters. Agents log
// it at start-up and export HardwareProtected as a metric (0 or 1), so that
// a fleet running without hardware protection is visible, not silent.
type Protection struct {
	// HardwareProtected is true only when keys and counters are inside a
	// TEE and the attestation is rooted in the hardware vendor.
	HardwareProtected bool
	// Warning is empty for hardware-protected backends; otherwise it states
	// plainly what is not protected.
	Warning string
}

// SoftWarning is the Protection.Warning of the soft backend.
const SoftWarning = "NO HARDWARE PROTECTION: soft backend keys and counters live in ordinary process memory; " +
	"anyone with root on this host, or code execution in this process, can read the keys, " +
	"sign two different values under one counter (equivocate), and impersonate this member " +
	"until the fleet CA statement expires or the member is removed"

// Backend is the trust anchor of a member: it generated the member's
// Identity (keys exist only in its memory) and can prove, to admission,
// which keys those are.
type Backend interface {
	// Kind names the backend.
	Kind() BackendKind
	// Protection says what protects the keys; see SoftWarning.
	Protection() Protection
	// Identity returns the keys of this epoch.
	Identity() *Identity
	// Attest returns the attestation that admission verifies: an SGX
	// report binding the claim, or a fleet-CA statement.
	Attest() (Attestation, error)
}

// Attestation is what a member presents to be admitted: its claim (id,
// epoch, public keys) and backend-specific evidence that binds it — the SGX
// remote report (whose report data holds Claim.Digest) or the encoded
// fleet-CA Statement.
type Attestation struct {
	Backend  BackendKind
	Claim    Claim
	Evidence []byte
}

const attestationVersion = 1

// MarshalBinary encodes the attestation:
//
//	version(1)=1 backend(1) id(8) epoch(8) signkey(32) kexkey(32)
//	evidence-len(4) evidence
func (a *Attestation) MarshalBinary() ([]byte, error) {
	if len(a.Claim.SignKey) != 32 || len(a.Claim.KexKey) != 32 {
		return nil, fmt.Errorf("%w: attestation claim keys have wrong sizes", ErrInvalidKey)
	}
	if 2+16+64+4+len(a.Evidence) > MaxAttestationSize {
		return nil, fmt.Errorf("%w: attestation evidence %d bytes", ErrTooLarge, len(a.Evidence))
	}
	b := make([]byte, 0, 2+16+64+4+len(a.Evidence))
	b = append(b, attestationVersion, byte(a.Backend))
	b = binary.BigEndian.AppendUint64(b, uint64(a.Claim.ID))
	b = binary.BigEndian.AppendUint64(b, uint64(a.Claim.Epoch))
	b = append(b, a.Claim.SignKey...)
	b = append(b, a.Claim.KexKey...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(a.Evidence)))
	return append(b, a.Evidence...), nil
}

// ParseAttestation decodes an attestation strictly. It checks structure
// and keys only; Admitter.Admit verifies it.
func ParseAttestation(b []byte) (Attestation, error) {
	if len(b) > MaxAttestationSize {
		return Attestation{}, fmt.Errorf("%w: attestation %d bytes", ErrTooLarge, len(b))
	}
	r := reader{b: b}
	if v := r.u8(); r.err == nil && v != attestationVersion {
		return Attestation{}, fmt.Errorf("%w: attestation version %d", ErrVersion, v)
	}
	a := Attestation{Backend: BackendKind(r.u8())}
	a.Claim.ID = MemberID(r.u64())
	a.Claim.Epoch = Epoch(r.u64())
	a.Claim.SignKey = bytes.Clone(r.bytes(32))
	a.Claim.KexKey = bytes.Clone(r.bytes(32))
	a.Evidence = bytes.Clone(r.bytes(int(r.u32())))
	if err := r.done(); err != nil {
		return Attestation{}, fmt.Errorf("attestation: %w", err)
	}
	if a.Backend != BackendSoft && a.Backend != BackendSGX {
		return Attestation{}, fmt.Errorf("%w: attestation backend %d", ErrMalformed, a.Backend)
	}
	if err := a.Claim.validate(); err != nil {
		return Attestation{}, fmt.Errorf("attestation: %w", err)
	}
	return a, nil
}
