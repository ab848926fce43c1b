package attest_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/wmsr/wmsr/attest"
)

// goodPolicy pins an sgx enclave and one soft CA (the RFC 8032 test key).
const goodPolicy = `{
  "version": 1,
  "sgx": {"signer_id": "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00", "product_id": 1},
  "soft": {
    "ca_public_keys": ["d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"],
    "binary_hashes": ["e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"]
  }
}`

func TestParsePolicyExampleFile(t *testing.T) {
	b, err := os.ReadFile("testdata/policy-example.json")
	if err != nil {
		t.Fatal(err)
	}
	p, err := attest.ParsePolicy(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.AllowedIDs) != 4 || p.SGX.ProductID != 1 || p.SGX.MinSecurityVersion != 2 ||
		len(p.SGX.AllowedTCB) != 2 || p.SGX.AllowedTCB[1] != attest.TCBSWHardeningNeeded ||
		len(p.SGX.UniqueIDs) != 1 || len(p.Soft.CAKeys) != 1 || len(p.Soft.BinaryHashes) != 1 {
		t.Fatalf("parsed %+v %+v %+v", p, p.SGX, p.Soft)
	}
}

func TestParsePolicyDefaults(t *testing.T) {
	p, err := attest.ParsePolicy([]byte(goodPolicy))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.SGX.AllowedTCB) != 1 || p.SGX.AllowedTCB[0] != attest.TCBUpToDate || p.SGX.AllowDebug || p.AllowedIDs != nil {
		t.Fatalf("defaults: %+v", p.SGX)
	}
}

// TestParsePolicyStrict checks that each kind of mistake is refused with an
// error that names the field.
func TestParsePolicyStrict(t *testing.T) {
	const signer = `"signer_id": "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00"`
	const ca = `"ca_public_keys": ["d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"]`
	const bin = `"binary_hashes": ["e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"]`
	for _, tc := range []struct{ doc, field string }{
		{`{"version": 1, "sgx": {` + signer + `, "product_id": 1, "unique_idz": []}}`, "sgx.unique_idz: unknown field"},
		{`{"version": 1, "sgx": {"Signer_ID": "00", "product_id": 1}}`, "sgx.Signer_ID: unknown field"},
		{`{"version": 1, "version": 1, "soft": {` + ca + `, ` + bin + `}}`, "version: duplicate field"},
		{`{"version": 1, "soft": {` + ca + `, ` + bin + `, ` + bin + `}}`, "soft.binary_hashes: duplicate field"},
		{`{"version": 1, "sgx": null}`, "sgx: null"},
		{`{"version": 1, "sgx": {` + signer + `, "product_id": "1"}}`, "sgx.product_id: want uint16"},
		{`{"version": 1, "sgx": {` + signer + `, "product_id": 70000}}`, "sgx.product_id: want uint16"},
		{`{"version": 1, "sgx": {` + signer + `, "product_id": -1}}`, "sgx.product_id"},
		{`{"version": 1, "sgx": {"signer_id": "c0ffee", "product_id": 1}}`, "sgx.signer_id: want 64 hex digits"},
		{`{"version": 1, "sgx": {"unique_ids": ["zz` + strings.Repeat("0", 62) + `"]}}`, "sgx.unique_ids[0]: not hex"},
		{`{"version": 1, "sgx": {"unique_ids": []}}`, "sgx.unique_ids: empty list"},
		{`{"version": 1, "sgx": {"allow_debug": true}}`, "sgx: give unique_ids or signer_id"},
		{`{"version": 1, "sgx": {` + signer + `}}`, "sgx.product_id: required"},
		{`{"version": 1, "sgx": {"unique_ids": ["` + strings.Repeat("0", 64) + `"], "product_id": 1}}`, "only meaningful with signer_id"},
		{`{"version": 1, "sgx": {` + signer + `, "product_id": 1, "allowed_tcb_statuses": ["Fine"]}}`, `sgx.allowed_tcb_statuses[0]: unknown TCB status "Fine"`},
		{`{"version": 1, "sgx": {` + signer + `, "product_id": 1, "allowed_tcb_statuses": []}}`, "sgx.allowed_tcb_statuses: empty"},
		{`{"version": 1, "soft": {` + bin + `}}`, "soft.ca_public_keys: at least one"},
		{`{"version": 1, "soft": {` + ca + `}}`, "soft.binary_hashes: at least one"},
		{`{"version": 1, "soft": {"ca_public_keys": ["` + strings.Repeat("0", 64) + `"], ` + bin + `}}`, "soft.ca_public_keys[0]"},
		{`{"version": 1, "allowed_ids": [], "soft": {` + ca + `, ` + bin + `}}`, "allowed_ids: empty"},
		{`{"version": 1, "allowed_ids": [1.5], "soft": {` + ca + `, ` + bin + `}}`, "allowed_ids"},
		{`{"soft": {` + ca + `, ` + bin + `}}`, "version: required"},
		{`{"version": 2, "soft": {` + ca + `, ` + bin + `}}`, "version: 2 is not supported"},
		{`{"version": 1}`, "neither sgx nor soft"},
		{`{"version": 1, "soft": {` + ca + `, ` + bin + `}} {}`, "trailing data"},
		{`{"version": 1, "soft": {` + ca + `, ` + bin + `}`, "unexpected end"},
		{`{"version": 1,, }`, "syntax error"},
		{`[1]`, "(top level)"},
		{``, "unexpected end"},
	} {
		_, err := attest.ParsePolicy([]byte(tc.doc))
		if !errors.Is(err, attest.ErrPolicyFile) || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s\n  err = %v\n want mention of %q", tc.doc, err, tc.field)
		}
	}
}
