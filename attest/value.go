package attest

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Value payloads. W-MSR sorts and trims neighbour values; a NaN compares
// false with everything and an Inf survives trimming arithmetic badly, so
// one malicious NaN could poison a whole round. Values are therefore
// checked where they enter and leave the wire: a payload is n ≥ 1 IEEE-754
// float64s, big-endian, 8 bytes each, all finite.

// AppendValue appends the encoding of a single finite value.
func AppendValue(dst []byte, v float64) ([]byte, error) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return dst, fmt.Errorf("%w: %v", ErrInvalidValue, v)
	}
	return binary.BigEndian.AppendUint64(dst, math.Float64bits(v)), nil
}

// DecodeValue decodes a payload holding exactly one finite value.
func DecodeValue(p []byte) (float64, error) {
	if len(p) != 8 {
		return 0, fmt.Errorf("%w: value payload is %d bytes, want 8", ErrInvalidValue, len(p))
	}
	v := math.Float64frombits(binary.BigEndian.Uint64(p))
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%w: %v", ErrInvalidValue, v)
	}
	return v, nil
}

// AppendValues appends the encoding of vs (1 to MaxPayloadSize/8 finite
// values). On error dst is returned unchanged.
func AppendValues(dst []byte, vs []float64) ([]byte, error) {
	if len(vs) == 0 || len(vs) > MaxPayloadSize/8 {
		return dst, fmt.Errorf("%w: %d values (want 1..%d)", ErrInvalidValue, len(vs), MaxPayloadSize/8)
	}
	for i, v := range vs {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return dst, fmt.Errorf("%w: element %d is %v", ErrInvalidValue, i, v)
		}
	}
	for _, v := range vs {
		dst = binary.BigEndian.AppendUint64(dst, math.Float64bits(v))
	}
	return dst, nil
}

// DecodeValues decodes a payload of finite values, appending them to dst.
// On error dst is returned unchanged.
func DecodeValues(dst []float64, p []byte) ([]float64, error) {
	if len(p) == 0 || len(p)%8 != 0 || len(p) > MaxPayloadSize {
		return dst, fmt.Errorf("%w: value payload is %d bytes, want a positive multiple of 8 up to %d", ErrInvalidValue, len(p), MaxPayloadSize)
	}
	n := len(dst)
	for i := 0; i < len(p); i += 8 {
		v := math.Float64frombits(binary.BigEndian.Uint64(p[i:]))
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return dst[:n], fmt.Errorf("%w: element %d is %v", ErrInvalidValue, i/8, v)
		}
		dst = append(dst, v)
	}
	return dst, nil
}
