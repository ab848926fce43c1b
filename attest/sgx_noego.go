//go:build !cgo

package attest

import "fmt"

// EGoEnclave is the real Enclave and ReportVerifier. This build has no cgo,
// which EGo requires, so every method fails with ErrNotInEnclave.
type EGoEnclave struct{}

// GetRemoteReport always fails: built without cgo.
func (EGoEnclave) GetRemoteReport([]byte) ([]byte, error) { return nil, errNoCgo() }

// GetProductSealKey always fails: built without cgo.
func (EGoEnclave) GetProductSealKey() (key, keyInfo []byte, err error) { return nil, nil, errNoCgo() }

// VerifyRemoteReport always fails: built without cgo.
func (EGoEnclave) VerifyRemoteReport([]byte) (Report, error) { return Report{}, errNoCgo() }

func errNoCgo() error {
	return fmt.Errorf("%w: built without cgo, EGo unavailable", ErrNotInEnclave)
}
