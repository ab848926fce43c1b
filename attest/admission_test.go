package attest_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wmsr/wmsr/attest"
	"github.com/wmsr/wmsr/attest/attesttest"
)

func TestSoftBackendSaysNoHardwareProtection(t *testing.T) {
	b, err := attest.NewSoftBackend(1, 1, [32]byte{}, attesttest.Rand(1))
	if err != nil {
		t.Fatal(err)
	}
	p := b.Protection()
	if p.HardwareProtected || !strings.HasPrefix(p.Warning, "NO HARDWARE PROTECTION") || b.Kind() != attest.BackendSoft {
		t.Fatalf("soft backend protection = %+v", p)
	}
	if _, err := b.Attest(); !errors.Is(err, attest.ErrAttestation) {
		t.Fatalf("attest without statement: %v", err)
	}
}

func TestSoftAdmission(t *testing.T) {
	f := attesttest.NewFleet(1)
	b, m, err := f.Join(5, 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.ID != 5 || m.Epoch != 3 || m.Backend != attest.BackendSoft || m.Hardware ||
		!bytes.Equal(m.Measurement, f.BinaryHash[:]) || !bytes.Equal(m.SignKey, b.Identity().Claim().SignKey) {
		t.Fatalf("member %+v", m)
	}

	// The record round-trips, and anyone can re-verify it offline from
	// the embedded attestation.
	enc, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var back attest.Member
	if err := back.UnmarshalBinary(enc); err != nil {
		t.Fatal(err)
	}
	att, err := attest.ParseAttestation(back.Attestation)
	if err != nil {
		t.Fatal(err)
	}
	again, err := f.Admitter.Admit(att, nil, f.Now)
	if err != nil {
		t.Fatal(err)
	}
	if re, _ := again.MarshalBinary(); !bytes.Equal(re, enc) {
		t.Fatal("re-admission produced a different record")
	}
	for n := range enc {
		if err := back.UnmarshalBinary(enc[:n]); err == nil {
			t.Fatalf("truncated record (%d bytes) accepted", n)
		}
	}
	if err := back.UnmarshalBinary(append(bytes.Clone(enc), 0)); !errors.Is(err, attest.ErrMalformed) {
		t.Fatalf("trailing byte: %v", err)
	}
}

func TestAdmissionRefusals(t *testing.T) {
	f := attesttest.NewFleet(2)
	b, m, err := f.Join(1, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	att, _ := b.Attest()

	// Stale: the same or an older epoch than the admitted one.
	if _, err := f.Admitter.Admit(att, &m, f.Now); !errors.Is(err, attest.ErrStale) {
		t.Fatalf("same epoch: %v", err)
	}
	// Expired statement.
	if _, err := f.Admitter.Admit(att, nil, f.Now.Add(48*time.Hour)); !errors.Is(err, attest.ErrAttestation) {
		t.Fatalf("expired: %v", err)
	}
	// Claim swapped for another key pair: the statement no longer matches.
	other, _ := attest.NewSoftBackend(1, 2, f.BinaryHash, attesttest.Rand(99))
	swapped := att
	swapped.Claim = other.Identity().Claim()
	if _, err := f.Admitter.Admit(swapped, nil, f.Now); !errors.Is(err, attest.ErrAttestation) {
		t.Fatalf("swapped claim: %v", err)
	}
	// A statement from an untrusted CA.
	rogue, _ := attest.NewFleetCA(ed25519.NewKeyFromSeed(make([]byte, 32)))
	st, err := rogue.Issue(other.CertRequest(), f.Now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Install(st); err != nil {
		t.Fatal(err)
	}
	ratt, _ := other.Attest()
	if _, err := f.Admitter.Admit(ratt, nil, f.Now); !errors.Is(err, attest.ErrPolicy) {
		t.Fatalf("rogue CA: %v", err)
	}
	// A binary the policy does not list.
	odd, _ := attest.NewSoftBackend(3, 1, [32]byte{1}, attesttest.Rand(3))
	st, _ = f.CA.Issue(odd.CertRequest(), f.Now.Add(time.Hour))
	_ = odd.Install(st)
	oatt, _ := odd.Attest()
	if _, err := f.Admitter.Admit(oatt, nil, f.Now); !errors.Is(err, attest.ErrPolicy) {
		t.Fatalf("unlisted binary: %v", err)
	}
	// allowed_ids.
	p := *f.Policy
	p.AllowedIDs = []attest.MemberID{7}
	a, err := attest.NewAdmitter(&p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Admit(att, nil, f.Now); !errors.Is(err, attest.ErrPolicy) || !strings.Contains(err.Error(), "allowed_ids") {
		t.Fatalf("allowed_ids: %v", err)
	}
	// A policy without sgx refuses sgx attestations.
	sgxAtt := att
	sgxAtt.Backend = attest.BackendSGX
	if _, err := f.Admitter.Admit(sgxAtt, nil, f.Now); !errors.Is(err, attest.ErrPolicy) {
		t.Fatalf("sgx under soft-only policy: %v", err)
	}
	// A tampered statement signature.
	tampered := att
	tampered.Evidence = bytes.Clone(att.Evidence)
	tampered.Evidence[len(tampered.Evidence)-1] ^= 1
	if _, err := f.Admitter.Admit(tampered, nil, f.Now); !errors.Is(err, attest.ErrAttestation) {
		t.Fatalf("tampered statement: %v", err)
	}
}

func TestFleetCARefusesRequestWithoutPossession(t *testing.T) {
	f := attesttest.NewFleet(3)
	b, _ := attest.NewSoftBackend(1, 1, f.BinaryHash, attesttest.Rand(4))
	req := b.CertRequest()
	req.Claim.Epoch = 2 // the proof no longer covers the request
	if _, err := f.CA.Issue(req, f.Now); !errors.Is(err, attest.ErrForged) {
		t.Fatalf("bad proof: %v", err)
	}
	other, _ := attest.NewSoftBackend(1, 1, f.BinaryHash, attesttest.Rand(5))
	st, _ := f.CA.Issue(other.CertRequest(), f.Now)
	if err := b.Install(st); !errors.Is(err, attest.ErrAttestation) {
		t.Fatalf("installing another member's statement: %v", err)
	}
}

func TestAttestationEncoding(t *testing.T) {
	f := attesttest.NewFleet(4)
	b, _, err := f.Join(1, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	att, _ := b.Attest()
	enc, err := att.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	back, err := attest.ParseAttestation(enc)
	if err != nil {
		t.Fatal(err)
	}
	if re, _ := back.MarshalBinary(); !bytes.Equal(re, enc) {
		t.Fatal("attestation does not round-trip")
	}
	for n := range enc {
		if _, err := attest.ParseAttestation(enc[:n]); err == nil {
			t.Fatalf("truncated attestation (%d bytes) accepted", n)
		}
	}
	st, err := attest.ParseStatement(att.Evidence)
	if err != nil {
		t.Fatal(err)
	}
	if re, _ := st.MarshalBinary(); !bytes.Equal(re, att.Evidence) {
		t.Fatal("statement does not round-trip")
	}
}

func TestHashBinary(t *testing.T) {
	h, err := attest.HashBinary(strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	// SHA-256 of the empty string.
	if h[0] != 0xe3 || h[31] != 0x55 {
		t.Fatalf("%x", h)
	}
}
