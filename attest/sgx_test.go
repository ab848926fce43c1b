package attest_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/wmsr/wmsr/attest"
	"github.com/wmsr/wmsr/attest/attesttest"
)

var (
	testUnique = [32]byte{0x11, 1}
	testSigner = [32]byte{0x22, 2}
)

func goodEnclave() attesttest.EnclaveIdentity {
	return attesttest.EnclaveIdentity{
		UniqueID: testUnique, SignerID: testSigner, ProductID: 7, SecurityVersion: 3,
		TCB: attest.TCBUpToDate, SealKey: bytes.Repeat([]byte{0x5a}, 16),
	}
}

func sgxPolicy() *attest.Policy {
	return &attest.Policy{SGX: &attest.SGXPolicy{
		UniqueIDs:          [][]byte{testUnique[:]},
		SignerID:           testSigner[:],
		ProductID:          7,
		MinSecurityVersion: 3,
		AllowedTCB:         []attest.TCBStatus{attest.TCBUpToDate, attest.TCBSWHardeningNeeded},
	}}
}

func TestSGXAdmissionWithFakePlatform(t *testing.T) {
	plat := attesttest.NewFakePlatform(1)
	b, err := attest.NewSGXBackend(4, 2, plat.Enclave(goodEnclave()), attesttest.Rand(1))
	if err != nil {
		t.Fatal(err)
	}
	if p := b.Protection(); !p.HardwareProtected || p.Warning != "" || b.Kind() != attest.BackendSGX {
		t.Fatalf("protection %+v", p)
	}
	att, err := b.Attest()
	if err != nil {
		t.Fatal(err)
	}
	adm, err := attest.NewAdmitter(sgxPolicy(), plat)
	if err != nil {
		t.Fatal(err)
	}
	m, err := adm.Admit(att, nil, timeZero)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Hardware || m.Backend != attest.BackendSGX || !bytes.Equal(m.Measurement, testUnique[:]) || m.ID != 4 || m.Epoch != 2 {
		t.Fatalf("member %+v", m)
	}
}

// TestSGXPolicyChecks exercises each rule of the sgx policy with reports
// from the fake platform.
func TestSGXPolicyChecks(t *testing.T) {
	plat := attesttest.NewFakePlatform(1)
	adm, err := attest.NewAdmitter(sgxPolicy(), plat)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		tweak func(*attesttest.EnclaveIdentity)
		want  error
		field string
	}{
		{"unique id", func(e *attesttest.EnclaveIdentity) { e.UniqueID[0] ^= 1 }, attest.ErrPolicy, "sgx.unique_ids"},
		{"signer id", func(e *attesttest.EnclaveIdentity) { e.SignerID[0] ^= 1 }, attest.ErrPolicy, "sgx.signer_id"},
		{"product id", func(e *attesttest.EnclaveIdentity) { e.ProductID = 8 }, attest.ErrPolicy, "sgx.product_id"},
		{"security version", func(e *attesttest.EnclaveIdentity) { e.SecurityVersion = 2 }, attest.ErrPolicy, "sgx.min_security_version"},
		{"debug", func(e *attesttest.EnclaveIdentity) { e.Debug = true }, attest.ErrPolicy, "sgx.allow_debug"},
		{"tcb", func(e *attesttest.EnclaveIdentity) { e.TCB = attest.TCBOutOfDate }, attest.ErrPolicy, "sgx.allowed_tcb_statuses"},
		{"tcb allowed", func(e *attesttest.EnclaveIdentity) { e.TCB = attest.TCBSWHardeningNeeded }, nil, ""},
		{"newer svn", func(e *attesttest.EnclaveIdentity) { e.SecurityVersion = 9 }, nil, ""},
	} {
		id := goodEnclave()
		tc.tweak(&id)
		b, err := attest.NewSGXBackend(1, 1, plat.Enclave(id), attesttest.Rand(2))
		if err != nil {
			t.Fatal(err)
		}
		att, err := b.Attest()
		if err != nil {
			t.Fatal(err)
		}
		_, err = adm.Admit(att, nil, timeZero)
		if !errors.Is(err, tc.want) || (tc.want != nil && !strings.Contains(err.Error(), tc.field)) {
			t.Errorf("%s: err = %v, want %v naming %s", tc.name, err, tc.want, tc.field)
		}
	}
}

func TestSGXReportMustBindClaim(t *testing.T) {
	plat := attesttest.NewFakePlatform(1)
	adm, _ := attest.NewAdmitter(sgxPolicy(), plat)
	b1, _ := attest.NewSGXBackend(1, 1, plat.Enclave(goodEnclave()), attesttest.Rand(3))
	b2, _ := attest.NewSGXBackend(1, 1, plat.Enclave(goodEnclave()), attesttest.Rand(4))
	att, _ := b1.Attest()

	// A genuine report presented with somebody else's keys (a host that
	// keeps the enclave's report but substitutes keys it controls).
	att.Claim = b2.Identity().Claim()
	if _, err := adm.Admit(att, nil, timeZero); !errors.Is(err, attest.ErrAttestation) {
		t.Fatalf("unbound claim: %v", err)
	}
	// Or a later epoch with the old report.
	att, _ = b1.Attest()
	att.Claim.Epoch = 2
	if _, err := adm.Admit(att, nil, timeZero); !errors.Is(err, attest.ErrAttestation) {
		t.Fatalf("epoch not bound: %v", err)
	}
	// A report from another platform root (not Intel-signed, in effect).
	other := attesttest.NewFakePlatform(2)
	b3, _ := attest.NewSGXBackend(1, 1, other.Enclave(goodEnclave()), attesttest.Rand(5))
	att, _ = b3.Attest()
	if _, err := adm.Admit(att, nil, timeZero); !errors.Is(err, attest.ErrAttestation) {
		t.Fatalf("foreign root: %v", err)
	}
	// The sgx policy needs a verifier.
	if _, err := attest.NewAdmitter(sgxPolicy(), nil); !errors.Is(err, attest.ErrPolicyFile) {
		t.Fatalf("no verifier: %v", err)
	}
}

func TestSGXBackendRefusesZeroSealKey(t *testing.T) {
	id := goodEnclave()
	id.SealKey = nil // the fake then returns 16 zero bytes, like EGo outside an enclave
	_, err := attest.NewSGXBackend(1, 1, attesttest.NewFakePlatform(1).Enclave(id), nil)
	if !errors.Is(err, attest.ErrZeroSealKey) {
		t.Fatalf("err = %v", err)
	}
	if err := attest.CheckSealKey(nil); !errors.Is(err, attest.ErrZeroSealKey) {
		t.Fatalf("empty key: %v", err)
	}
	if err := attest.CheckSealKey([]byte{0, 0, 1}); err != nil {
		t.Fatalf("non-zero key: %v", err)
	}
}

func TestSGXBackendPropagatesReportErrors(t *testing.T) {
	e := attesttest.NewFakePlatform(1).Enclave(goodEnclave())
	b, err := attest.NewSGXBackend(1, 1, e, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.Err = attest.ErrNotInEnclave
	if _, err := b.Attest(); !errors.Is(err, attest.ErrNotInEnclave) {
		t.Fatalf("err = %v", err)
	}
}

// timeZero: sgx admission does not look at the time.
var timeZero = attesttest.NewFleet(0).Now
