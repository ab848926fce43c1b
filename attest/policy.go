package attest

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
)

// Policy says which attestations admission accepts. It is usually read
// from a JSON file with ParsePolicy:
//
//	{
//	  "version": 1,
//	  "allowed_ids": [1, 2, 3],
//	  "sgx": {
//	    "unique_ids": ["<64 hex digits: MRENCLAVE>"],
//	    "signer_id": "<64 hex digits: MRSIGNER>",
//	    "product_id": 1,
//	    "min_security_version": 2,
//	    "allow_debug": false,
//	    "allowed_tcb_statuses": ["UpToDate"]
//	  },
//	  "soft": {
//	    "ca_public_keys": ["<64 hex digits: Ed25519 key>"],
//	    "binary_hashes": ["<64 hex digits: SHA-256 of the agent binary>"]
//	  }
//	}
//
// A backend whose section is absent is not admitted at all. allowed_ids is
// optional (absent: any id). In "sgx", give unique_ids, or signer_id with
// product_id (and min_security_version), or both; allowed_tcb_statuses
// defaults to ["UpToDate"].
type Policy struct {
	// AllowedIDs, if not empty, lists the member ids that may be admitted.
	AllowedIDs []MemberID
	// SGX admits sgx members; nil refuses them.
	SGX *SGXPolicy
	// Soft admits soft members; nil refuses them.
	Soft *SoftPolicy
}

// SGXPolicy constrains SGX reports.
type SGXPolicy struct {
	// UniqueIDs, if not empty, lists the allowed MRENCLAVE values.
	UniqueIDs [][]byte
	// SignerID, if not nil, is the required MRSIGNER; ProductID and
	// MinSecurityVersion then apply too.
	SignerID           []byte
	ProductID          uint16
	MinSecurityVersion uint
	// AllowDebug admits debug enclaves, whose memory the host can read.
	// Never set it in production.
	AllowDebug bool
	// AllowedTCB lists the acceptable TCB levels.
	AllowedTCB []TCBStatus
}

// SoftPolicy constrains fleet-CA statements.
type SoftPolicy struct {
	// CAKeys are the trusted fleet CA keys (several, to allow rotation).
	CAKeys []ed25519.PublicKey
	// BinaryHashes are the allowed SHA-256 hashes of the agent binary.
	BinaryHashes [][32]byte
}

// Validate checks that the policy is complete and not vacuous: an sgx
// section that pins neither UniqueID nor SignerID would admit any enclave.
func (p *Policy) Validate() error {
	if p.SGX == nil && p.Soft == nil {
		return fmt.Errorf("%w: neither sgx nor soft is configured: nothing could be admitted", ErrPolicyFile)
	}
	if s := p.SGX; s != nil {
		if len(s.UniqueIDs) == 0 && s.SignerID == nil {
			return fmt.Errorf("%w: sgx: give unique_ids or signer_id (with product_id), or any enclave would be admitted", ErrPolicyFile)
		}
		for i, u := range s.UniqueIDs {
			if len(u) != 32 {
				return fmt.Errorf("%w: sgx.unique_ids[%d]: %d bytes, want 32", ErrPolicyFile, i, len(u))
			}
		}
		if s.SignerID != nil && len(s.SignerID) != 32 {
			return fmt.Errorf("%w: sgx.signer_id: %d bytes, want 32", ErrPolicyFile, len(s.SignerID))
		}
		if len(s.AllowedTCB) == 0 {
			return fmt.Errorf("%w: sgx.allowed_tcb_statuses: empty", ErrPolicyFile)
		}
	}
	if s := p.Soft; s != nil {
		if len(s.CAKeys) == 0 {
			return fmt.Errorf("%w: soft.ca_public_keys: at least one CA key is required", ErrPolicyFile)
		}
		for i, k := range s.CAKeys {
			if err := checkSignKey(k); err != nil {
				return fmt.Errorf("%w: soft.ca_public_keys[%d]: %w", ErrPolicyFile, i, err)
			}
		}
		if len(s.BinaryHashes) == 0 {
			return fmt.Errorf("%w: soft.binary_hashes: at least one binary hash is required", ErrPolicyFile)
		}
	}
	return nil
}

// The JSON shapes. Pointers tell "absent" from "zero".
type policyJSON struct {
	Version    *int      `json:"version"`
	AllowedIDs []uint64  `json:"allowed_ids"`
	SGX        *sgxJSON  `json:"sgx"`
	Soft       *softJSON `json:"soft"`
}

type sgxJSON struct {
	UniqueIDs          []string `json:"unique_ids"`
	SignerID           *string  `json:"signer_id"`
	ProductID          *uint16  `json:"product_id"`
	MinSecurityVersion *uint16  `json:"min_security_version"`
	AllowDebug         bool     `json:"allow_debug"`
	AllowedTCB         []string `json:"allowed_tcb_statuses"`
}

type softJSON struct {
	CAKeys       []string `json:"ca_public_keys"`
	BinaryHashes []string `json:"binary_hashes"`
}

// policyShape lists the allowed keys at each level. encoding/json matches
// keys case-insensitively and keeps the last of duplicate keys; for a
// security policy both are traps ("Signer_ID" silently accepted, or a
// second "unique_ids" overriding the first), so the shape is checked first,
// exactly. Keep it in step with policyJSON.
func policyShape() *shape {
	leaf := &shape{}
	list := &shape{elem: leaf}
	return &shape{fields: map[string]*shape{
		"version":     leaf,
		"allowed_ids": list,
		"sgx": {fields: map[string]*shape{
			"unique_ids":           list,
			"signer_id":            leaf,
			"product_id":           leaf,
			"min_security_version": leaf,
			"allow_debug":          leaf,
			"allowed_tcb_statuses": list,
		}},
		"soft": {fields: map[string]*shape{
			"ca_public_keys": list,
			"binary_hashes":  list,
		}},
	}}
}

// ParsePolicy decodes and validates a JSON policy strictly: unknown,
// misspelt (including wrong case) or duplicate fields, nulls, wrong types,
// bad hex, trailing data and vacuous rules are errors that wrap
// ErrPolicyFile and name the offending field.
func ParsePolicy(data []byte) (*Policy, error) {
	if err := checkShape(data, policyShape()); err != nil {
		return nil, err
	}
	var raw policyJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return nil, jsonError(err)
	}
	if raw.Version == nil {
		return nil, fmt.Errorf("%w: version: required (use 1)", ErrPolicyFile)
	}
	if *raw.Version != 1 {
		return nil, fmt.Errorf("%w: version: %d is not supported (use 1)", ErrPolicyFile, *raw.Version)
	}
	p := &Policy{}
	if raw.AllowedIDs != nil && len(raw.AllowedIDs) == 0 {
		return nil, fmt.Errorf("%w: allowed_ids: empty list would admit nobody; omit it to allow any id", ErrPolicyFile)
	}
	for _, id := range raw.AllowedIDs {
		p.AllowedIDs = append(p.AllowedIDs, MemberID(id))
	}
	if s := raw.SGX; s != nil {
		sp := &SGXPolicy{AllowDebug: s.AllowDebug}
		var err error
		if sp.UniqueIDs, err = hexList("sgx.unique_ids", s.UniqueIDs, 32); err != nil {
			return nil, err
		}
		if s.SignerID != nil {
			if sp.SignerID, err = hexField("sgx.signer_id", *s.SignerID, 32); err != nil {
				return nil, err
			}
			if s.ProductID == nil {
				return nil, fmt.Errorf("%w: sgx.product_id: required with signer_id", ErrPolicyFile)
			}
			sp.ProductID = *s.ProductID
			if s.MinSecurityVersion != nil {
				sp.MinSecurityVersion = uint(*s.MinSecurityVersion)
			}
		} else if s.ProductID != nil || s.MinSecurityVersion != nil {
			return nil, fmt.Errorf("%w: sgx.product_id, sgx.min_security_version: only meaningful with signer_id", ErrPolicyFile)
		}
		if s.AllowedTCB == nil {
			sp.AllowedTCB = []TCBStatus{TCBUpToDate}
		} else if len(s.AllowedTCB) == 0 {
			return nil, fmt.Errorf("%w: sgx.allowed_tcb_statuses: empty list would admit nobody", ErrPolicyFile)
		}
		for i, name := range s.AllowedTCB {
			t, ok := parseTCBStatus(name)
			if !ok {
				return nil, fmt.Errorf("%w: sgx.allowed_tcb_statuses[%d]: unknown TCB status %q", ErrPolicyFile, i, name)
			}
			sp.AllowedTCB = append(sp.AllowedTCB, t)
		}
		p.SGX = sp
	}
	if s := raw.Soft; s != nil {
		sp := &SoftPolicy{}
		keys, err := hexList("soft.ca_public_keys", s.CAKeys, ed25519.PublicKeySize)
		if err != nil {
			return nil, err
		}
		for _, k := range keys {
			sp.CAKeys = append(sp.CAKeys, ed25519.PublicKey(k))
		}
		hashes, err := hexList("soft.binary_hashes", s.BinaryHashes, 32)
		if err != nil {
			return nil, err
		}
		for _, h := range hashes {
			sp.BinaryHashes = append(sp.BinaryHashes, [32]byte(h))
		}
		p.Soft = sp
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p, nil
}

func hexField(field, s string, n int) ([]byte, error) {
	if len(s) != 2*n {
		return nil, fmt.Errorf("%w: %s: want %d hex digits, got %d characters", ErrPolicyFile, field, 2*n, len(s))
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: not hex: %w", ErrPolicyFile, field, err)
	}
	return b, nil
}

func hexList(field string, ss []string, n int) ([][]byte, error) {
	if ss != nil && len(ss) == 0 {
		return nil, fmt.Errorf("%w: %s: empty list; omit the field instead", ErrPolicyFile, field)
	}
	var out [][]byte
	for i, s := range ss {
		b, err := hexField(field+"["+strconv.Itoa(i)+"]", s, n)
		if err != nil {
			return nil, err
		}
		if slices.ContainsFunc(out, func(o []byte) bool { return bytes.Equal(o, b) }) {
			return nil, fmt.Errorf("%w: %s[%d]: duplicate entry", ErrPolicyFile, field, i)
		}
		out = append(out, b)
	}
	return out, nil
}

// jsonError turns encoding/json errors into ErrPolicyFile errors that name
// the field.
func jsonError(err error) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "(top level)"
		}
		return fmt.Errorf("%w: %s: want %v, got JSON %s", ErrPolicyFile, field, te.Type, te.Value)
	case errors.As(err, &se):
		return fmt.Errorf("%w: JSON syntax error at byte %d: %w", ErrPolicyFile, se.Offset, err)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: unexpected end of JSON", ErrPolicyFile)
	}
	return fmt.Errorf("%w: %w", ErrPolicyFile, err)
}

// shape describes the keys allowed in a JSON document: an object (fields),
// an array (elem), or a scalar (neither).
type shape struct {
	fields map[string]*shape
	elem   *shape
}

// checkShape walks data token by token and rejects unknown or duplicate
// keys (compared exactly, not case-insensitively), nulls, and anything
// after the top-level value. Type mismatches are left to json.Decode,
// which reports them with the field path.
func checkShape(data []byte, s *shape) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := walkShape(dec, "", s); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: trailing data after the policy object", ErrPolicyFile)
	}
	return nil
}

func walkShape(dec *json.Decoder, path string, s *shape) error {
	tok, err := dec.Token()
	if err != nil {
		return jsonError(err)
	}
	name := path
	if name == "" {
		name = "(top level)"
	}
	switch tok {
	case nil:
		return fmt.Errorf("%w: %s: null is not allowed; omit the field instead", ErrPolicyFile, name)
	case json.Delim('{'):
		seen := map[string]bool{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return jsonError(err)
			}
			key := kt.(string) // object keys are always strings
			field := key
			if path != "" {
				field = path + "." + key
			}
			if seen[key] {
				return fmt.Errorf("%w: %s: duplicate field", ErrPolicyFile, field)
			}
			seen[key] = true
			var sub *shape
			if s != nil && s.fields != nil {
				var ok bool
				if sub, ok = s.fields[key]; !ok {
					return fmt.Errorf("%w: %s: unknown field", ErrPolicyFile, field)
				}
			}
			if err := walkShape(dec, field, sub); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil { // '}'
			return jsonError(err)
		}
		return nil
	case json.Delim('['):
		var sub *shape
		if s != nil {
			sub = s.elem
		}
		for i := 0; dec.More(); i++ {
			if err := walkShape(dec, path+"["+strconv.Itoa(i)+"]", sub); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil { // ']'
			return jsonError(err)
		}
		return nil
	}
	return nil
}
