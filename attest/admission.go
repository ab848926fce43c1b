package attest

import (
	"fmt"
	"slices"
	"time"
)

// Admitter verifies attestations against a Policy and produces the Member
// records that recipe/ stores in the fleet configuration log (Recipe's
// initialisation phase: only attested members obtain a record, and only a
// record lets others derive pairwise keys with them or accept their
// envelopes).
type Admitter struct {
	policy  *Policy
	reports ReportVerifier
}

// NewAdmitter validates p. reports verifies SGX reports (EGoEnclave{} inside
// an enclave, a fake in tests); it may be nil if p admits no sgx members.
func NewAdmitter(p *Policy, reports ReportVerifier) (*Admitter, error) {
	if p == nil {
		return nil, fmt.Errorf("%w: no policy", ErrPolicyFile)
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if p.SGX != nil && reports == nil {
		return nil, fmt.Errorf("%w: policy admits sgx members but no report verifier was given", ErrPolicyFile)
	}
	return &Admitter{policy: p, reports: reports}, nil
}

// Admit verifies att and returns the member record.
//
// prev is the record currently admitted for att.Claim.ID, or nil: the new
// epoch must be strictly higher (ErrStale otherwise), because a restarted
// member holds fresh keys and must never be able to reuse the counters of
// an earlier epoch. now is the time against which fleet-CA statements are
// checked; a replicated log must pass a time that is part of the log entry,
// not each replica's clock, so that every replica decides alike. (SGX
// report verification depends on Intel collateral that changes over time:
// verify before proposing, and let the log carry the resulting record.)
func (a *Admitter) Admit(att Attestation, prev *Member, now time.Time) (Member, error) {
	c := &att.Claim
	if err := c.validate(); err != nil {
		return Member{}, fmt.Errorf("admission of member %d: %w", c.ID, err)
	}
	if len(a.policy.AllowedIDs) > 0 && !slices.Contains(a.policy.AllowedIDs, c.ID) {
		return Member{}, fmt.Errorf("%w: allowed_ids: member %d is not listed", ErrPolicy, c.ID)
	}
	if prev != nil {
		if prev.ID != c.ID {
			return Member{}, fmt.Errorf("admission: previous record is for member %d, not %d", prev.ID, c.ID)
		}
		if c.Epoch <= prev.Epoch {
			return Member{}, fmt.Errorf("%w: member %d epoch %d, already admitted at epoch %d", ErrStale, c.ID, c.Epoch, prev.Epoch)
		}
	}
	m := Member{Claim: att.Claim, Backend: att.Backend}
	switch att.Backend {
	case BackendSoft:
		if a.policy.Soft == nil {
			return Member{}, fmt.Errorf("%w: soft: the policy admits no soft members", ErrPolicy)
		}
		s, err := ParseStatement(att.Evidence)
		if err != nil {
			return Member{}, fmt.Errorf("%w: %w", ErrAttestation, err)
		}
		if !s.Claim.equal(c) {
			return Member{}, fmt.Errorf("%w: fleet CA statement certifies another claim", ErrAttestation)
		}
		if err := s.verify(a.policy.Soft.CAKeys, now); err != nil {
			return Member{}, err
		}
		if !slices.Contains(a.policy.Soft.BinaryHashes, s.BinaryHash) {
			return Member{}, fmt.Errorf("%w: soft.binary_hashes: binary %x is not listed", ErrPolicy, s.BinaryHash)
		}
		m.Measurement = s.BinaryHash[:]
	case BackendSGX:
		if a.policy.SGX == nil {
			return Member{}, fmt.Errorf("%w: sgx: the policy admits no sgx members", ErrPolicy)
		}
		r, err := verifySGX(&att, a.policy.SGX, a.reports)
		if err != nil {
			return Member{}, err
		}
		m.Hardware = true
		m.Measurement = slices.Clone(r.UniqueID)
	default:
		return Member{}, fmt.Errorf("%w: unknown backend %d", ErrAttestation, att.Backend)
	}
	enc, err := att.MarshalBinary()
	if err != nil {
		return Member{}, err
	}
	m.Attestation = enc
	m.SignKey = slices.Clone(c.SignKey)
	m.KexKey = slices.Clone(c.KexKey)
	return m, nil
}
