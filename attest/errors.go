package attest

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error returned by this package wraps exactly one
// of them (test with errors.Is), so that callers can branch on the cause and
// count rejected envelopes by Reason without parsing messages.
var (
	// ErrTruncated: the input ends before the length its header announces.
	ErrTruncated = errors.New("attest: truncated")
	// ErrTooLarge: the input, or a length it announces, exceeds a fixed bound
	// (MaxEnvelopeSize, MaxPayloadSize, evidence or statement limits).
	ErrTooLarge = errors.New("attest: too large")
	// ErrMalformed: the input is structurally invalid (unknown suite, reserved
	// bits set, zero counter, trailing bytes, ...).
	ErrMalformed = errors.New("attest: malformed")
	// ErrVersion: the wire version is not one this build understands.
	ErrVersion = errors.New("attest: unsupported version")
	// ErrUnknownSender: the sender (or this sender at this epoch) has not been
	// admitted, or has been removed (quarantined).
	ErrUnknownSender = errors.New("attest: sender not admitted")
	// ErrStale: the envelope or attestation belongs to an epoch older than the
	// one currently admitted for that member. After a restart a member comes
	// back under a new epoch, so everything it signed before is stale. On a
	// laned unicast stream (ReceiverConfig.LanedUnicast) it also marks an
	// envelope of a lane older than the stream's current one (abandoned
	// when the sender started a new lane), and Sender.StartLane refuses
	// with it to go back to a lane at or below the current one.
	ErrStale = errors.New("attest: stale epoch")
	// ErrMisrouted: the envelope is addressed to another member, or to a
	// channel this receiver has not subscribed to.
	ErrMisrouted = errors.New("attest: misrouted")
	// ErrSuite: the authenticator suite or encryption flag does not match what
	// the receiver expects for this stream.
	ErrSuite = errors.New("attest: suite not allowed")
	// ErrForged: the authenticator (signature or MAC) does not verify, or the
	// ciphertext does not decrypt under the stream key.
	ErrForged = errors.New("attest: forged")
	// ErrReplay: the counter is not fresh: a duplicate, a replay, or a late
	// delivery of a counter at or below the last accepted one.
	ErrReplay = errors.New("attest: replayed counter")
	// ErrOutOfOrder: on a sequential (unicast) stream the counter is ahead of
	// the expected one: an earlier envelope was lost or reordered and must be
	// delivered (retransmitted) first. Recipe's receivers accept only cnt ==
	// expected. On a laned stream: ahead within the current lane, or beyond
	// sequence 1 of a higher lane.
	ErrOutOfOrder = errors.New("attest: counter ahead of expected")
	// ErrEquivocation: two authentic envelopes share (sender, epoch, stream,
	// counter) but differ in content. Returned as *EquivocationError, which
	// carries the Evidence.
	ErrEquivocation = errors.New("attest: equivocation")
	// ErrInvalidValue: a float payload holds NaN or ±Inf, or has a length
	// that is not a whole number of float64s.
	ErrInvalidValue = errors.New("attest: invalid value")
	// ErrCounterExhausted: a sender used every counter of its epoch; it must
	// restart under a new epoch. On a laned stream: every sequence number
	// of the current lane (Sender.StartLane opens the next).
	ErrCounterExhausted = errors.New("attest: counter exhausted")
	// ErrStreamInUse: a second Sender was requested for a stream that already
	// has one in this epoch; two senders would reuse counters and so
	// equivocate.
	ErrStreamInUse = errors.New("attest: stream already has a sender")

	// ErrNotInEnclave: the sgx backend is not running inside an SGX enclave
	// (EGo reports OE_UNSUPPORTED outside one).
	ErrNotInEnclave = errors.New("attest: not running inside an SGX enclave")
	// ErrZeroSealKey: the enclave returned an all-zero seal key, which is what
	// EGo v1.8 does, without an error, outside an enclave.
	ErrZeroSealKey = errors.New("attest: all-zero seal key")
	// ErrAttestation: an attestation (SGX report or fleet-CA statement) does
	// not verify or does not bind the claimed keys.
	ErrAttestation = errors.New("attest: attestation invalid")
	// ErrPolicy: a valid attestation is not allowed by the admission policy.
	ErrPolicy = errors.New("attest: rejected by policy")
	// ErrPolicyFile: the policy file cannot be decoded or fails validation.
	ErrPolicyFile = errors.New("attest: invalid policy file")
	// ErrInvalidKey: a public key is malformed, non-canonical or of small
	// order, or a symmetric key has the wrong length.
	ErrInvalidKey = errors.New("attest: invalid key")
)

// Reason classifies a rejection for metrics (e.g. a counter labelled
// reason="forged"). The zero value ReasonNone means "no error".
type Reason uint8

// Reasons, one per sentinel error that a receive path can return.
const (
	ReasonNone Reason = iota
	ReasonTruncated
	ReasonTooLarge
	ReasonMalformed
	ReasonVersion
	ReasonUnknownSender
	ReasonStale
	ReasonMisrouted
	ReasonSuite
	ReasonForged
	ReasonReplay
	ReasonOutOfOrder
	ReasonEquivocation
	ReasonInvalidValue
	ReasonOther
	numReasons
)

// String returns a stable, metric-label-safe name ("forged", "replay", ...).
func (r Reason) String() string {
	switch r {
	case ReasonNone:
		return "none"
	case ReasonTruncated:
		return "truncated"
	case ReasonTooLarge:
		return "too_large"
	case ReasonMalformed:
		return "malformed"
	case ReasonVersion:
		return "version"
	case ReasonUnknownSender:
		return "unknown_sender"
	case ReasonStale:
		return "stale"
	case ReasonMisrouted:
		return "misrouted"
	case ReasonSuite:
		return "suite"
	case ReasonForged:
		return "forged"
	case ReasonReplay:
		return "replay"
	case ReasonOutOfOrder:
		return "out_of_order"
	case ReasonEquivocation:
		return "equivocation"
	case ReasonInvalidValue:
		return "invalid_value"
	case ReasonOther:
		return "other"
	}
	return fmt.Sprintf("reason(%d)", uint8(r))
}

// Reasons returns every Reason except ReasonNone, so that a caller can
// pre-register one metric series per reason.
func Reasons() []Reason {
	rs := make([]Reason, 0, numReasons-1)
	for r := ReasonNone + 1; r < numReasons; r++ {
		rs = append(rs, r)
	}
	return rs
}

// ReasonOf maps an error returned by this package to its Reason. nil maps to
// ReasonNone and an error wrapping none of the receive-path sentinels to
// ReasonOther.
func ReasonOf(err error) Reason {
	if err == nil {
		return ReasonNone
	}
	// Equivocation first: it is the most specific and must never be
	// under-counted as something milder.
	for _, c := range [...]struct {
		err error
		r   Reason
	}{
		{ErrEquivocation, ReasonEquivocation},
		{ErrForged, ReasonForged},
		{ErrReplay, ReasonReplay},
		{ErrOutOfOrder, ReasonOutOfOrder},
		{ErrStale, ReasonStale},
		{ErrUnknownSender, ReasonUnknownSender},
		{ErrMisrouted, ReasonMisrouted},
		{ErrSuite, ReasonSuite},
		{ErrVersion, ReasonVersion},
		{ErrTooLarge, ReasonTooLarge},
		{ErrTruncated, ReasonTruncated},
		{ErrMalformed, ReasonMalformed},
		{ErrInvalidValue, ReasonInvalidValue},
	} {
		if errors.Is(err, c.err) {
			return c.r
		}
	}
	return ReasonOther
}

// EquivocationError is returned when a receiver sees two authentic envelopes
// for the same slot with different content. Feed Evidence to the fleet
// configuration log so that the sender is quarantined.
type EquivocationError struct {
	Evidence Evidence
	slot     Slot
}

func (e *EquivocationError) Error() string {
	return fmt.Sprintf("attest: equivocation by member %d epoch %d on %v at counter %d",
		e.slot.Sender, e.slot.Epoch, e.slot.Stream, e.slot.Counter)
}

// Slot returns the slot the sender equivocated on.
func (e *EquivocationError) Slot() Slot { return e.slot }

// Unwrap makes errors.Is(err, ErrEquivocation) hold.
func (e *EquivocationError) Unwrap() error { return ErrEquivocation }
