// Package attesttest provides test doubles for package attest: a fake SGX
// platform whose reports exercise the real verification and policy logic
// of the sgx backend without SGX hardware, and a Fleet helper that admits
// soft members under a throw-away fleet CA. For tests only: every key in
// here is derived from a public seed.
package attesttest

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/wmsr/wmsr/attest"
)

// FakePlatform stands in for the SGX platform and its vendor's attestation
// root: its enclaves' reports are signed by a root key derived from a seed,
// and VerifyRemoteReport checks that signature, like enclave.VerifyRemoteReport
// checks the quote's chain to Intel.
type FakePlatform struct {
	root ed25519.PrivateKey
}

// NewFakePlatform returns a platform whose root key is derived from seed.
func NewFakePlatform(seed uint64) *FakePlatform {
	var s [32]byte
	binary.BigEndian.PutUint64(s[:], seed)
	copy(s[8:], "attesttest/fake-sgx-root")
	return &FakePlatform{root: ed25519.NewKeyFromSeed(s[:])}
}

// EnclaveIdentity is what a fake enclave reports about itself.
type EnclaveIdentity struct {
	UniqueID        [32]byte
	SignerID        [32]byte
	ProductID       uint16
	SecurityVersion uint16
	Debug           bool
	TCB             attest.TCBStatus
	// SealKey is returned by GetProductSealKey; nil means 16 zero bytes,
	// as EGo returns outside an enclave.
	SealKey []byte
}

// FakeEnclave implements attest.Enclave for one enclave identity.
type FakeEnclave struct {
	platform *FakePlatform
	id       EnclaveIdentity
	// Err, if set, is returned by every method (e.g. to simulate
	// OE_UNSUPPORTED).
	Err error
}

// Enclave returns a fake enclave with identity id on p.
func (p *FakePlatform) Enclave(id EnclaveIdentity) *FakeEnclave {
	return &FakeEnclave{platform: p, id: id}
}

const magic = "attesttest fake SGX report v1\x00"

const reportSize = len(magic) + 64 + 32 + 32 + 16 + 2 + 1 + 1

// GetRemoteReport returns a fake report carrying reportData (zero-padded to
// 64 bytes, as EGo does), signed by the platform root.
func (e *FakeEnclave) GetRemoteReport(reportData []byte) ([]byte, error) {
	if e.Err != nil {
		return nil, e.Err
	}
	if len(reportData) > 64 {
		return nil, errors.New("reportData too large")
	}
	b := make([]byte, 0, reportSize+ed25519.SignatureSize)
	b = append(b, magic...)
	var data [64]byte
	copy(data[:], reportData)
	b = append(b, data[:]...)
	b = append(b, e.id.UniqueID[:]...)
	b = append(b, e.id.SignerID[:]...)
	var pid [16]byte
	binary.LittleEndian.PutUint16(pid[:], e.id.ProductID)
	b = append(b, pid[:]...)
	b = binary.BigEndian.AppendUint16(b, e.id.SecurityVersion)
	dbg := byte(0)
	if e.id.Debug {
		dbg = 1
	}
	b = append(b, dbg, byte(e.id.TCB))
	return append(b, ed25519.Sign(e.platform.root, b)...), nil
}

// GetProductSealKey returns the configured seal key (zeros if none).
func (e *FakeEnclave) GetProductSealKey() (key, keyInfo []byte, err error) {
	if e.Err != nil {
		return nil, nil, e.Err
	}
	if e.id.SealKey == nil {
		return make([]byte, 16), []byte("info"), nil
	}
	return bytes.Clone(e.id.SealKey), []byte("info"), nil
}

// VerifyRemoteReport checks a fake report's root signature and parses it.
func (p *FakePlatform) VerifyRemoteReport(report []byte) (attest.Report, error) {
	if len(report) != reportSize+ed25519.SignatureSize || !bytes.HasPrefix(report, []byte(magic)) {
		return attest.Report{}, errors.New("fake sgx: malformed report")
	}
	body, sig := report[:reportSize], report[reportSize:]
	if !ed25519.Verify(p.root.Public().(ed25519.PublicKey), body, sig) {
		return attest.Report{}, errors.New("fake sgx: report signature does not verify")
	}
	b := body[len(magic):]
	return attest.Report{
		Data:            bytes.Clone(b[:64]),
		UniqueID:        bytes.Clone(b[64:96]),
		SignerID:        bytes.Clone(b[96:128]),
		ProductID:       bytes.Clone(b[128:144]),
		SecurityVersion: uint(binary.BigEndian.Uint16(b[144:146])),
		Debug:           b[146] == 1,
		TCBStatus:       attest.TCBStatus(b[147]),
	}, nil
}

// Rand returns a deterministic reader for key generation in tests.
func Rand(seed uint64) io.Reader {
	var s [32]byte
	binary.BigEndian.PutUint64(s[:], seed)
	return rand.NewChaCha8(s)
}

// Fleet admits soft members under a throw-away fleet CA, for tests of
// packages that need admitted members (recipe/, agents).
type Fleet struct {
	CA         *attest.FleetCA
	Policy     *attest.Policy
	Admitter   *attest.Admitter
	BinaryHash [32]byte
	// Now is the time used for statements and admission.
	Now time.Time
	rnd io.Reader
}

// NewFleet returns a fleet whose keys derive from seed.
func NewFleet(seed uint64) *Fleet {
	rnd := Rand(seed)
	var caSeed [32]byte
	_, _ = io.ReadFull(rnd, caSeed[:])
	ca, err := attest.NewFleetCA(ed25519.NewKeyFromSeed(caSeed[:]))
	if err != nil {
		panic(err) // cannot happen: the key has the right size
	}
	f := &Fleet{CA: ca, BinaryHash: [32]byte{'w', 'm', 's', 'r'}, Now: time.Unix(1_700_000_000, 0), rnd: rnd}
	f.Policy = &attest.Policy{Soft: &attest.SoftPolicy{
		CAKeys:       []ed25519.PublicKey{ca.PublicKey()},
		BinaryHashes: [][32]byte{f.BinaryHash},
	}}
	if f.Admitter, err = attest.NewAdmitter(f.Policy, nil); err != nil {
		panic(err)
	}
	return f
}

// Join creates a soft member id at epoch, certifies it and admits it (prev
// is its previous record or nil).
func (f *Fleet) Join(id attest.MemberID, epoch attest.Epoch, prev *attest.Member) (*attest.SoftBackend, attest.Member, error) {
	b, err := attest.NewSoftBackend(id, epoch, f.BinaryHash, f.rnd)
	if err != nil {
		return nil, attest.Member{}, err
	}
	st, err := f.CA.Issue(b.CertRequest(), f.Now.Add(24*time.Hour))
	if err != nil {
		return nil, attest.Member{}, err
	}
	if err := b.Install(st); err != nil {
		return nil, attest.Member{}, err
	}
	att, err := b.Attest()
	if err != nil {
		return nil, attest.Member{}, err
	}
	m, err := f.Admitter.Admit(att, prev, f.Now)
	if err != nil {
		return nil, attest.Member{}, fmt.Errorf("attesttest: admit %d: %w", id, err)
	}
	return b, m, nil
}
