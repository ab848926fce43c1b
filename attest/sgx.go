package attest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
)

// Enclave is the part of EGo's enclave API the sgx backend uses to attest
// itself. EGoEnclave is the real one; attesttest provides a fake.
type Enclave interface {
	// GetRemoteReport returns an SGX remote report (quote) carrying
	// reportData (at most 64 bytes). Outside an enclave EGo fails with
	// OE_UNSUPPORTED.
	GetRemoteReport(reportData []byte) ([]byte, error)
	// GetProductSealKey returns the seal key derived from SignerID and
	// ProductID. Outside an enclave EGo v1.8 returns 16 zero bytes and no
	// error, which is why the backend checks it (CheckSealKey).
	GetProductSealKey() (key, keyInfo []byte, err error)
}

// ReportVerifier verifies an SGX remote report's signature chain and
// returns its parsed content, which the caller must then check against a
// policy (Admitter does). EGoEnclave verifies with enclave.VerifyRemoteReport,
// which works only inside an enclave: members verify each other from their
// own enclaves.
type ReportVerifier interface {
	VerifyRemoteReport(report []byte) (Report, error)
}

// Report is a verified SGX report, mirroring EGo's attestation.Report
// without importing it, so the core of this package builds without cgo.
type Report struct {
	Data            []byte // report data (64 bytes, zero padded)
	SecurityVersion uint   // ISVSVN
	Debug           bool
	UniqueID        []byte // MRENCLAVE
	SignerID        []byte // MRSIGNER
	ProductID       []byte // ISVPRODID, 16 bytes (little-endian uint16 in the first two)
	TCBStatus       TCBStatus
}

// TCBStatus mirrors EGo's tcbstatus.Status (same values and names).
type TCBStatus uint8

// TCB levels, as in github.com/edgelesssys/ego/attestation/tcbstatus.
const (
	TCBUpToDate TCBStatus = iota
	TCBOutOfDate
	TCBRevoked
	TCBConfigurationNeeded
	TCBOutOfDateConfigurationNeeded
	TCBSWHardeningNeeded
	TCBConfigurationAndSWHardeningNeeded
	TCBUnknown
)

// String returns the EGo name ("UpToDate", "SWHardeningNeeded", ...), which
// is also the spelling used in policy files.
func (s TCBStatus) String() string {
	switch s {
	case TCBUpToDate:
		return "UpToDate"
	case TCBOutOfDate:
		return "OutOfDate"
	case TCBRevoked:
		return "Revoked"
	case TCBConfigurationNeeded:
		return "ConfigurationNeeded"
	case TCBOutOfDateConfigurationNeeded:
		return "OutOfDateConfigurationNeeded"
	case TCBSWHardeningNeeded:
		return "SWHardeningNeeded"
	case TCBConfigurationAndSWHardeningNeeded:
		return "ConfigurationAndSWHardeningNeeded"
	case TCBUnknown:
		return "Unknown"
	}
	return fmt.Sprintf("TCBStatus(%d)", uint8(s))
}

func parseTCBStatus(s string) (TCBStatus, bool) {
	for t := TCBUpToDate; t <= TCBUnknown; t++ {
		if t.String() == s {
			return t, true
		}
	}
	return 0, false
}

// CheckSealKey refuses an all-zero (or empty) seal key. EGo v1.8 returns 16
// zero bytes, without an error, when asked for a seal key outside an
// enclave; anything "sealed" with it would be readable by anyone. The sgx
// backend calls this at start-up, and other code that seals data should too.
func CheckSealKey(key []byte) error {
	if !allZero(key) {
		return nil
	}
	return fmt.Errorf("%w (%d bytes): not inside an SGX enclave, refusing to run", ErrZeroSealKey, len(key))
}

// SGXBackend keeps the member's keys inside an SGX enclave (the whole agent
// runs in EGo) and attests them with a remote report whose report data is
// the claim digest (hash of id, epoch and public keys). Keys are never
// sealed: a restarted enclave generates new keys under a new epoch and must
// be admitted again, so counters of an older epoch can never be reused even
// though SGX has no persistent monotonic counters (removed in SDK 2.8).
//
// This backend compiles and its non-enclave behaviour is tested, but it has
// never been run on SGX hardware (see the package documentation).
type SGXBackend struct {
	id  *Identity
	enc Enclave
}

// NewSGXBackend checks that it runs in an enclave (a non-zero product seal
// key) and generates fresh keys for member id at epoch inside it. Pass
// EGoEnclave{} in production. rnd is crypto/rand if nil.
func NewSGXBackend(id MemberID, epoch Epoch, enc Enclave, rnd io.Reader) (*SGXBackend, error) {
	key, _, err := enc.GetProductSealKey()
	if err != nil {
		return nil, fmt.Errorf("attest: sgx: product seal key: %w", err)
	}
	if err := CheckSealKey(key); err != nil {
		return nil, fmt.Errorf("attest: sgx: %w", err)
	}
	clear(key)
	ident, err := newIdentity(id, epoch, rnd)
	if err != nil {
		return nil, err
	}
	return &SGXBackend{id: ident, enc: enc}, nil
}

// Kind returns BackendSGX.
func (b *SGXBackend) Kind() BackendKind { return BackendSGX }

// Protection reports hardware protection.
func (b *SGXBackend) Protection() Protection { return Protection{HardwareProtected: true} }

// Identity returns the keys of this epoch.
func (b *SGXBackend) Identity() *Identity { return b.id }

// Attest returns a remote report whose report data is the claim digest
// followed by 32 zero bytes.
func (b *SGXBackend) Attest() (Attestation, error) {
	c := b.id.Claim()
	data := reportData(&c)
	rep, err := b.enc.GetRemoteReport(data[:])
	if err != nil {
		return Attestation{}, fmt.Errorf("attest: sgx: remote report: %w", err)
	}
	return Attestation{Backend: BackendSGX, Claim: c, Evidence: rep}, nil
}

func reportData(c *Claim) [64]byte {
	var d [64]byte
	dig := c.Digest()
	copy(d[:], dig[:])
	return d
}

// verifySGX verifies a's report with v, checks that it binds a's claim, and
// applies the policy.
func verifySGX(a *Attestation, p *SGXPolicy, v ReportVerifier) (Report, error) {
	if v == nil {
		return Report{}, fmt.Errorf("%w: no SGX report verifier configured", ErrAttestation)
	}
	r, err := v.VerifyRemoteReport(a.Evidence)
	if err != nil {
		return Report{}, fmt.Errorf("%w: sgx report: %w", ErrAttestation, err)
	}
	want := reportData(&a.Claim)
	if !bytes.Equal(r.Data, want[:]) {
		return Report{}, fmt.Errorf("%w: sgx report data does not bind the claimed id, epoch and keys", ErrAttestation)
	}
	if err := p.check(&r); err != nil {
		return Report{}, err
	}
	return r, nil
}

// check applies the policy. EGo's rule: verify either the UniqueID or the
// tuple (SignerID, ProductID, SecurityVersion), and Debug; policies may
// require both.
func (p *SGXPolicy) check(r *Report) error {
	if len(p.UniqueIDs) > 0 {
		ok := false
		for _, u := range p.UniqueIDs {
			if bytes.Equal(u, r.UniqueID) {
				ok = true
				break
			}
		}
		if !ok {
			return fmt.Errorf("%w: sgx.unique_ids: UniqueID %x is not listed", ErrPolicy, r.UniqueID)
		}
	}
	if p.SignerID != nil {
		if !bytes.Equal(p.SignerID, r.SignerID) {
			return fmt.Errorf("%w: sgx.signer_id: SignerID %x does not match", ErrPolicy, r.SignerID)
		}
		if len(r.ProductID) < 2 || !allZero(r.ProductID[2:]) {
			return fmt.Errorf("%w: sgx.product_id: malformed ProductID %x", ErrPolicy, r.ProductID)
		}
		if pid := binary.LittleEndian.Uint16(r.ProductID); pid != p.ProductID {
			return fmt.Errorf("%w: sgx.product_id: ProductID %d, want %d", ErrPolicy, pid, p.ProductID)
		}
		if r.SecurityVersion < p.MinSecurityVersion {
			return fmt.Errorf("%w: sgx.min_security_version: SecurityVersion %d, want at least %d", ErrPolicy, r.SecurityVersion, p.MinSecurityVersion)
		}
	}
	if r.Debug && !p.AllowDebug {
		return fmt.Errorf("%w: sgx.allow_debug: debug enclave (its memory is readable by the host)", ErrPolicy)
	}
	for _, t := range p.AllowedTCB {
		if t == r.TCBStatus {
			return nil
		}
	}
	return fmt.Errorf("%w: sgx.allowed_tcb_statuses: TCB status %v is not allowed", ErrPolicy, r.TCBStatus)
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}
