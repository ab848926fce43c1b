package agent

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/wmsr/wmsr/attest"
)

// KindRoundValue is the attest envelope kind of a round value (the payload
// of RoundValue). Envelopes of any other kind on the value channel are
// rejected with reason "wrong_kind".
const KindRoundValue uint8 = 1

// PayloadVersion1 is the only round-value payload version.
const PayloadVersion1 = 1

// RoundValueSize is the exact size of an encoded round value:
// version(1) round(8, big-endian) value(8, attest.AppendValue).
const RoundValueSize = 1 + 8 + 8

// ErrPayload is wrapped by DecodeRoundValue for structurally bad payloads
// (wrong size or version). Non-finite values wrap attest.ErrInvalidValue
// instead, so attest.ReasonOf classifies them as "invalid_value".
var ErrPayload = errors.New("agent: malformed round-value payload")

// RoundValue is what an agent broadcasts each round: the round number it
// sealed the value for, and its value at the start of that round.
type RoundValue struct {
	Round uint64
	Value float64
}

// AppendRoundValue appends the encoding of rv to dst. It refuses NaN and
// Inf (attest.ErrInvalidValue); on error dst is returned unchanged.
func AppendRoundValue(dst []byte, rv RoundValue) ([]byte, error) {
	n := len(dst)
	dst = append(dst, PayloadVersion1)
	dst = binary.BigEndian.AppendUint64(dst, rv.Round)
	out, err := attest.AppendValue(dst, rv.Value)
	if err != nil {
		return dst[:n], err
	}
	return out, nil
}

// DecodeRoundValue decodes a payload written by AppendRoundValue, strictly:
// exactly RoundValueSize bytes, version 1, a finite value.
func DecodeRoundValue(p []byte) (RoundValue, error) {
	if len(p) != RoundValueSize {
		return RoundValue{}, fmt.Errorf("%w: %d bytes, want %d", ErrPayload, len(p), RoundValueSize)
	}
	if p[0] != PayloadVersion1 {
		return RoundValue{}, fmt.Errorf("%w: version %d", ErrPayload, p[0])
	}
	v, err := attest.DecodeValue(p[9:])
	if err != nil {
		return RoundValue{}, err
	}
	return RoundValue{Round: binary.BigEndian.Uint64(p[1:9]), Value: v}, nil
}

// PayloadVersion2 is the round-state payload of a vector state (dimension
// 2 to MaxDim): a rendezvous point, a position with its velocity kept
// private. A scalar state is always sent as version 1, so that a version-2
// payload of dimension 1 is never canonical and is refused.
const PayloadVersion2 = 2

// MaxDim bounds the dimension of an agent's state: positions in 3-D and a
// few more coordinates, not arbitrary vectors (an envelope is small).
const MaxDim = 16

// RoundState is RoundValue for a state of any dimension 1..MaxDim.
type RoundState struct {
	Round uint64
	State []float64
}

// RoundStateSize returns the encoded size of a state of dimension dim.
func RoundStateSize(dim int) int {
	if dim == 1 {
		return RoundValueSize
	}
	return 1 + 8 + 1 + 8*dim
}

// AppendRoundState appends the encoding of rs to dst: version 1 for a
// scalar state, else version(1)=2 round(8) dim(1) values(8 each). It
// refuses a dimension outside 1..MaxDim (ErrPayload) and NaN or Inf
// (attest.ErrInvalidValue); on error dst is returned unchanged.
func AppendRoundState(dst []byte, rs RoundState) ([]byte, error) {
	d := len(rs.State)
	if d < 1 || d > MaxDim {
		return dst, fmt.Errorf("%w: dimension %d outside 1..%d", ErrPayload, d, MaxDim)
	}
	if d == 1 {
		return AppendRoundValue(dst, RoundValue{Round: rs.Round, Value: rs.State[0]})
	}
	n := len(dst)
	out := append(dst, PayloadVersion2)
	out = binary.BigEndian.AppendUint64(out, rs.Round)
	out = append(out, byte(d))
	var err error
	for _, v := range rs.State {
		if out, err = attest.AppendValue(out, v); err != nil {
			return dst[:n], err
		}
	}
	return out, nil
}

// DecodeRoundState decodes a payload written by AppendRoundState, strictly
// (canonical form only, finite values). The state is appended to
// buf[:0], so a caller that keeps buf decodes without allocating.
func DecodeRoundState(p []byte, buf []float64) (RoundState, error) {
	if len(p) > 0 && p[0] == PayloadVersion1 {
		rv, err := DecodeRoundValue(p)
		if err != nil {
			return RoundState{}, err
		}
		return RoundState{Round: rv.Round, State: append(buf[:0], rv.Value)}, nil
	}
	if len(p) < 10 {
		return RoundState{}, fmt.Errorf("%w: %d bytes", ErrPayload, len(p))
	}
	if p[0] != PayloadVersion2 {
		return RoundState{}, fmt.Errorf("%w: version %d", ErrPayload, p[0])
	}
	d := int(p[9])
	if d < 2 || d > MaxDim {
		return RoundState{}, fmt.Errorf("%w: dimension %d outside 2..%d", ErrPayload, d, MaxDim)
	}
	if len(p) != RoundStateSize(d) {
		return RoundState{}, fmt.Errorf("%w: %d bytes, want %d for dimension %d", ErrPayload, len(p), RoundStateSize(d), d)
	}
	st := buf[:0]
	for i := range d {
		v, err := attest.DecodeValue(p[10+8*i : 18+8*i])
		if err != nil {
			return RoundState{}, err
		}
		st = append(st, v)
	}
	return RoundState{Round: binary.BigEndian.Uint64(p[1:9]), State: st}, nil
}

// A bundle carries, in one fabric message, one pairwise envelope per
// out-neighbour: with SuiteHMACSHA256 a value is authenticated under each
// receiver's pairwise key (a key shared by a whole channel would let every
// member forge every other), and the fabric broadcasts the bundle; each
// receiver opens the envelope addressed to it.
//
//	magic(2)="wb" version(1)=1 count(1) then count × (length(2, big-endian) envelope)
const (
	bundleHeader  = 4
	bundleVersion = 1
	// MaxBundle bounds the envelopes of a bundle (the out-degree an HMAC
	// agent may have).
	MaxBundle = 255
)

// ErrBundle is wrapped by DecodeBundle's errors.
var ErrBundle = errors.New("agent: malformed envelope bundle")

// AppendBundle appends the bundle of envs to dst.
func AppendBundle(dst []byte, envs [][]byte) ([]byte, error) {
	if len(envs) > MaxBundle {
		return dst, fmt.Errorf("%w: %d envelopes, at most %d", ErrBundle, len(envs), MaxBundle)
	}
	for i, e := range envs {
		if len(e) == 0 || len(e) > 0xffff {
			return dst, fmt.Errorf("%w: envelope %d of %d bytes", ErrBundle, i, len(e))
		}
	}
	dst = append(dst, 'w', 'b', bundleVersion, byte(len(envs)))
	for _, e := range envs {
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(e)))
		dst = append(dst, e...)
	}
	return dst, nil
}

// DecodeBundle calls fn with each envelope of b (aliasing b), in order,
// until fn returns false. It checks the whole bundle's structure first, so
// a malformed bundle yields an error and no call.
func DecodeBundle(b []byte, fn func(env []byte) bool) error {
	if len(b) < bundleHeader || b[0] != 'w' || b[1] != 'b' {
		return fmt.Errorf("%w: no bundle header", ErrBundle)
	}
	if b[2] != bundleVersion {
		return fmt.Errorf("%w: version %d", ErrBundle, b[2])
	}
	n, rest := int(b[3]), b[bundleHeader:]
	if n == 0 {
		return fmt.Errorf("%w: empty", ErrBundle)
	}
	for i := 0; i < n; i++ {
		if len(rest) < 2 {
			return fmt.Errorf("%w: envelope %d truncated", ErrBundle, i)
		}
		l := int(binary.BigEndian.Uint16(rest))
		if l == 0 || len(rest) < 2+l {
			return fmt.Errorf("%w: envelope %d of %d bytes, %d left", ErrBundle, i, l, len(rest)-2)
		}
		rest = rest[2+l:]
	}
	if len(rest) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrBundle, len(rest))
	}
	rest = b[bundleHeader:]
	for range n {
		l := int(binary.BigEndian.Uint16(rest))
		if !fn(rest[2 : 2+l]) {
			return nil
		}
		rest = rest[2+l:]
	}
	return nil
}
