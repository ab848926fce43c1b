package agent

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

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
// The envelopes of a bundle differ only in the receiver, its epoch, the
// counter and the authenticator, so the bundle holds the rest once:
//
//	magic(2)="wb" version(1)=2 count(1)
//	suite(1) kind(1) sender(8) epoch(8) length(2, big-endian) payload
//	count × ( receiver(8) receiver-epoch(8) counter(8) authenticator )
//
// all big-endian. Every entry has the same size, so the authenticator's
// length follows from the bundle's; each envelope is rebuilt exactly
// (attest.Envelope.AppendBinary: attest's encoding is canonical), so what a
// receiver authenticates, and any evidence it keeps, are the bytes the
// sender sealed. For a scalar value and six out-neighbours that is 377
// bytes where six whole envelopes took 586: on a drone's radio link the
// bundle is the bulk of the traffic. Envelopes are unicast and not
// encrypted.
const (
	bundleHeader  = 4
	bundleCommon  = 1 + 1 + 8 + 8 + 2
	bundleEntry   = 8 + 8 + 8 // before the authenticator
	bundleVersion = 2
	// MaxBundle bounds the envelopes of a bundle (the out-degree an HMAC
	// agent may have).
	MaxBundle = 255
)

// ErrBundle is wrapped by DecodeBundle's errors.
var ErrBundle = errors.New("agent: malformed envelope bundle")

// AppendBundle appends the bundle of envs, sealed envelopes of one value
// for different receivers, to dst.
func AppendBundle(dst []byte, envs [][]byte) ([]byte, error) {
	if len(envs) == 0 || len(envs) > MaxBundle {
		return dst, fmt.Errorf("%w: %d envelopes, want 1..%d", ErrBundle, len(envs), MaxBundle)
	}
	var first attest.Envelope
	for i, raw := range envs {
		e, err := attest.Parse(raw)
		if err != nil {
			return dst, fmt.Errorf("%w: envelope %d: %w", ErrBundle, i, err)
		}
		if e.Stream.Broadcast || e.Encrypted {
			return dst, fmt.Errorf("%w: envelope %d is broadcast or encrypted", ErrBundle, i)
		}
		if i == 0 {
			first = e
			dst = append(dst, 'w', 'b', bundleVersion, byte(len(envs)), byte(e.Suite), e.Kind)
			dst = binary.BigEndian.AppendUint64(dst, uint64(e.Sender))
			dst = binary.BigEndian.AppendUint64(dst, uint64(e.Epoch))
			dst = binary.BigEndian.AppendUint16(dst, uint16(len(e.Payload)))
			dst = append(dst, e.Payload...)
		} else if e.Suite != first.Suite || e.Kind != first.Kind || e.Sender != first.Sender || e.Epoch != first.Epoch || !bytes.Equal(e.Payload, first.Payload) {
			return dst, fmt.Errorf("%w: envelope %d is not the same value as envelope 0", ErrBundle, i)
		}
		dst = binary.BigEndian.AppendUint64(dst, e.Stream.Dest)
		dst = binary.BigEndian.AppendUint64(dst, uint64(e.Stream.DestEpoch))
		dst = binary.BigEndian.AppendUint64(dst, e.Counter)
		dst = append(dst, e.Auth...)
	}
	return dst, nil
}

// bundle is a bundle's structure, checked.
type bundle struct {
	common  attest.Envelope // Stream, Counter and Auth unset
	entries []byte
	count   int
	size    int // of one entry
}

func parseBundle(b []byte) (bundle, error) {
	if len(b) < bundleHeader+bundleCommon || b[0] != 'w' || b[1] != 'b' {
		return bundle{}, fmt.Errorf("%w: no bundle header", ErrBundle)
	}
	if b[2] != bundleVersion {
		return bundle{}, fmt.Errorf("%w: version %d", ErrBundle, b[2])
	}
	bd := bundle{count: int(b[3])}
	if bd.count == 0 {
		return bundle{}, fmt.Errorf("%w: empty", ErrBundle)
	}
	c := b[bundleHeader:]
	bd.common = attest.Envelope{
		Suite: attest.Suite(c[0]), Kind: c[1],
		Sender: attest.MemberID(binary.BigEndian.Uint64(c[2:])), Epoch: attest.Epoch(binary.BigEndian.Uint64(c[10:])),
	}
	n := int(binary.BigEndian.Uint16(c[18:]))
	if len(c) < bundleCommon+n {
		return bundle{}, fmt.Errorf("%w: payload of %d bytes, %d left", ErrBundle, n, len(c)-bundleCommon)
	}
	bd.common.Payload = c[bundleCommon : bundleCommon+n]
	bd.entries = c[bundleCommon+n:]
	if len(bd.entries)%bd.count != 0 || len(bd.entries)/bd.count <= bundleEntry {
		return bundle{}, fmt.Errorf("%w: %d bytes of entries for %d envelopes", ErrBundle, len(bd.entries), bd.count)
	}
	bd.size = len(bd.entries) / bd.count
	return bd, nil
}

// envelope appends the i-th envelope to dst, and returns its receiver.
func (bd *bundle) envelope(dst []byte, i int) ([]byte, attest.MemberID, error) {
	e := bd.entries[i*bd.size : (i+1)*bd.size]
	env := bd.common
	env.Stream = attest.To(attest.MemberID(binary.BigEndian.Uint64(e)), attest.Epoch(binary.BigEndian.Uint64(e[8:])))
	env.Counter = binary.BigEndian.Uint64(e[16:])
	env.Auth = e[bundleEntry:]
	dst = slices.Grow(dst, attest.HeaderSize+len(env.Payload)+len(env.Auth))
	out, err := env.AppendBinary(dst)
	if err == nil && env.Stream.DestEpoch == 0 {
		err = fmt.Errorf("receiver epoch 0")
	}
	if err != nil {
		return dst, 0, fmt.Errorf("%w: envelope %d: %w", ErrBundle, i, err)
	}
	return out, attest.MemberID(env.Stream.Dest), nil
}

// DecodeBundle calls fn with each envelope of b, rebuilt, in order, until
// fn returns false. It checks the whole bundle first, so a malformed
// bundle yields an error and no call. The envelopes passed to fn share one
// buffer: fn must copy what it keeps.
func DecodeBundle(b []byte, fn func(env []byte) bool) error {
	bd, err := parseBundle(b)
	if err != nil {
		return err
	}
	var buf []byte
	for i := range bd.count {
		if buf, _, err = bd.envelope(buf[:0], i); err != nil {
			return err
		}
	}
	for i := range bd.count {
		buf, _, _ = bd.envelope(buf[:0], i)
		if !fn(buf) {
			return nil
		}
	}
	return nil
}

// BundleEnvelope appends to dst the envelope of bundle b addressed to id
// (the first, if a bundle names id twice), rebuilt, or returns an error
// wrapping ErrBundle if b is malformed and ErrNotForMe if none is for id.
func BundleEnvelope(dst, b []byte, id attest.MemberID) ([]byte, error) {
	bd, err := parseBundle(b)
	if err != nil {
		return dst, err
	}
	for i := range bd.count {
		if attest.MemberID(binary.BigEndian.Uint64(bd.entries[i*bd.size:])) == id {
			out, _, err := bd.envelope(dst, i)
			return out, err
		}
	}
	return dst, fmt.Errorf("%w: no envelope for %d in the bundle", ErrNotForMe, id)
}

// ErrNotForMe: a bundle holds no envelope for this agent.
var ErrNotForMe = errors.New("agent: misrouted bundle")
