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
