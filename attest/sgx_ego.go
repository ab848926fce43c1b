//go:build cgo

package attest

import (
	"errors"
	"fmt"

	"github.com/edgelesssys/ego/attestation"
	"github.com/edgelesssys/ego/attestation/tcbstatus"
	"github.com/edgelesssys/ego/enclave"
)

// EGoEnclave is the real Enclave and ReportVerifier, backed by EGo v1.8's
// enclave package. EGo needs cgo; without cgo this type still exists but
// every method fails with ErrNotInEnclave.
//
// Outside an enclave (checked on this project's machines by
// TestEGoOutsideEnclave): GetRemoteReport and VerifyRemoteReport fail with
// OE_UNSUPPORTED, mapped here to ErrNotInEnclave; GetProductSealKey returns
// 16 zero bytes and no error, which NewSGXBackend refuses via CheckSealKey.
type EGoEnclave struct{}

// GetRemoteReport calls enclave.GetRemoteReport.
func (EGoEnclave) GetRemoteReport(reportData []byte) ([]byte, error) {
	if len(reportData) == 0 || len(reportData) > 64 {
		// EGo indexes reportData[0] unconditionally: never pass it empty.
		return nil, fmt.Errorf("%w: report data must be 1..64 bytes, got %d", ErrMalformed, len(reportData))
	}
	r, err := enclave.GetRemoteReport(reportData)
	if err != nil {
		return nil, egoError("GetRemoteReport", err)
	}
	return r, nil
}

// GetProductSealKey calls enclave.GetProductSealKey.
func (EGoEnclave) GetProductSealKey() (key, keyInfo []byte, err error) {
	key, keyInfo, err = enclave.GetProductSealKey()
	if err != nil {
		return nil, nil, egoError("GetProductSealKey", err)
	}
	return key, keyInfo, nil
}

// VerifyRemoteReport calls enclave.VerifyRemoteReport. A report whose TCB
// level is not up to date is returned without error, with its TCBStatus
// set, so that the policy (sgx.allowed_tcb_statuses) decides.
func (EGoEnclave) VerifyRemoteReport(report []byte) (Report, error) {
	r, err := enclave.VerifyRemoteReport(report)
	if err != nil && !errors.Is(err, attestation.ErrTCBLevelInvalid) {
		return Report{}, egoError("VerifyRemoteReport", err)
	}
	tcb := TCBUnknown
	if r.TCBStatus <= tcbstatus.Unknown {
		tcb = TCBStatus(r.TCBStatus)
	}
	return Report{
		Data:            r.Data,
		SecurityVersion: r.SecurityVersion,
		Debug:           r.Debug,
		UniqueID:        r.UniqueID,
		SignerID:        r.SignerID,
		ProductID:       r.ProductID,
		TCBStatus:       tcb,
	}, nil
}

// egoError maps EGo's OE_UNSUPPORTED (a plain errors.New string, the only
// way to recognise it) to ErrNotInEnclave.
func egoError(op string, err error) error {
	if err.Error() == "OE_UNSUPPORTED" {
		return fmt.Errorf("%w: ego %s: %w", ErrNotInEnclave, op, err)
	}
	return fmt.Errorf("attest: ego %s: %w", op, err)
}
