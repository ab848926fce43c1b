//go:build cgo

package attest_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/wmsr/wmsr/attest"
)

// TestEGoOutsideEnclave calls the real EGo v1.8 functions on this machine,
// which has no SGX, and pins what they do there: reports fail with
// OE_UNSUPPORTED (mapped to ErrNotInEnclave), and the product seal key is 16
// zero bytes with no error, which the sgx backend refuses.
func TestEGoOutsideEnclave(t *testing.T) {
	var ego attest.EGoEnclave

	_, err := ego.GetRemoteReport(make([]byte, 64))
	if !errors.Is(err, attest.ErrNotInEnclave) || !strings.Contains(err.Error(), "OE_UNSUPPORTED") {
		t.Fatalf("GetRemoteReport: %v", err)
	}
	_, err = ego.VerifyRemoteReport([]byte{1, 2, 3})
	if !errors.Is(err, attest.ErrNotInEnclave) || !strings.Contains(err.Error(), "OE_UNSUPPORTED") {
		t.Fatalf("VerifyRemoteReport: %v", err)
	}
	// EGo would index an empty slice: the adapter refuses it first.
	if _, err := ego.GetRemoteReport(nil); !errors.Is(err, attest.ErrMalformed) {
		t.Fatalf("empty report data: %v", err)
	}

	key, _, err := ego.GetProductSealKey()
	if err != nil {
		t.Fatalf("GetProductSealKey: %v (EGo v1.8 returns no error outside an enclave)", err)
	}
	if len(key) != 16 || !errors.Is(attest.CheckSealKey(key), attest.ErrZeroSealKey) {
		t.Fatalf("seal key outside an enclave = %x, want 16 zero bytes", key)
	}

	if _, err := attest.NewSGXBackend(1, 1, ego, nil); !errors.Is(err, attest.ErrZeroSealKey) {
		t.Fatalf("NewSGXBackend outside an enclave: %v", err)
	}
}
