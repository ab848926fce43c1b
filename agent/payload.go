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
//	magic(2)="wb" version(1)=3 count(1)
//	suite(1) kind(1) sender(uv) epoch(uv) length(uv) payload
//	count × ( receiver(uv) receiver-epoch(uv) counter(uv) authenticator )
//
// where uv is an unsigned varint (encoding/binary) in its shortest form,
// which the decoder requires, so a bundle has one encoding; the
// authenticator's length is the suite's. Each envelope is rebuilt exactly
// (attest.Envelope.AppendBinary: attest's encoding is canonical), so what a
// receiver authenticates, and any evidence it keeps, are the bytes the
// sender sealed. Member ids, epochs and per-pair counters are small, so
// varints take 1–3 bytes where attest's fixed fields take 8: for a scalar
// value and six out-neighbours a bundle is 140 bytes with
// attest.SuiteHMACSHA256T128 (what `--suite hmac` picks; 146 once counters
// pass 127) and 236 with SuiteHMACSHA256's 32-byte tags, where version 2
// (fixed fields, 32-byte tags) took 377 and six whole envelopes 586. On a drone's radio
// link the bundle is the bulk of the traffic, and on one machine a
// broker copies it once per subscriber. Envelopes are unicast and not
// encrypted. Agents on the HMAC suite upgrade together: a bundle of
// another version is refused as malformed, naming its version.
const (
	bundleHeader  = 4
	bundleVersion = 3
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
			dst = binary.AppendUvarint(dst, uint64(e.Sender))
			dst = binary.AppendUvarint(dst, uint64(e.Epoch))
			dst = binary.AppendUvarint(dst, uint64(len(e.Payload)))
			dst = append(dst, e.Payload...)
		} else if e.Suite != first.Suite || e.Kind != first.Kind || e.Sender != first.Sender || e.Epoch != first.Epoch || !bytes.Equal(e.Payload, first.Payload) {
			return dst, fmt.Errorf("%w: envelope %d is not the same value as envelope 0", ErrBundle, i)
		}
		dst = binary.AppendUvarint(dst, e.Stream.Dest)
		dst = binary.AppendUvarint(dst, uint64(e.Stream.DestEpoch))
		dst = binary.AppendUvarint(dst, e.Counter)
		dst = append(dst, e.Auth...)
	}
	return dst, nil
}

// uvarint reads a shortest-form unsigned varint from the front of b.
func uvarint(b []byte) (v uint64, rest []byte, ok bool) {
	v, n := binary.Uvarint(b)
	// A longer form of v than AppendUvarint writes would give a second
	// encoding of the same bundle.
	if n <= 0 || n != uvarintLen(v) {
		return 0, b, false
	}
	return v, b[n:], true
}

func uvarintLen(v uint64) int {
	n := 1
	for ; v >= 0x80; v >>= 7 {
		n++
	}
	return n
}

// bundle is a bundle's structure, checked.
type bundle struct {
	common  attest.Envelope // Stream, Counter and Auth unset
	entries []byte
	count   int
}

func parseBundle(b []byte) (bundle, error) {
	if len(b) < bundleHeader+2 || b[0] != 'w' || b[1] != 'b' {
		return bundle{}, fmt.Errorf("%w: no bundle header", ErrBundle)
	}
	if b[2] != bundleVersion {
		return bundle{}, fmt.Errorf("%w: version %d", ErrBundle, b[2])
	}
	bd := bundle{count: int(b[3])}
	if bd.count == 0 {
		return bundle{}, fmt.Errorf("%w: empty", ErrBundle)
	}
	bd.common = attest.Envelope{Suite: attest.Suite(b[4]), Kind: b[5]}
	if bd.common.Suite.AuthSize() == 0 {
		return bundle{}, fmt.Errorf("%w: unknown suite %d", ErrBundle, b[4])
	}
	c := b[bundleHeader+2:]
	sender, c, ok1 := uvarint(c)
	epoch, c, ok2 := uvarint(c)
	n, c, ok3 := uvarint(c)
	if !ok1 || !ok2 || !ok3 {
		return bundle{}, fmt.Errorf("%w: bad sender, epoch or length", ErrBundle)
	}
	if uint64(len(c)) < n {
		return bundle{}, fmt.Errorf("%w: payload of %d bytes, %d left", ErrBundle, n, len(c))
	}
	bd.common.Sender, bd.common.Epoch = attest.MemberID(sender), attest.Epoch(epoch)
	bd.common.Payload, bd.entries = c[:n], c[n:]
	rest := bd.entries
	for i := range bd.count {
		var err error
		if _, rest, err = bd.entry(rest); err != nil {
			return bundle{}, fmt.Errorf("%w: entry %d: %w", ErrBundle, i, err)
		}
	}
	if len(rest) != 0 {
		return bundle{}, fmt.Errorf("%w: %d bytes after %d entries", ErrBundle, len(rest), bd.count)
	}
	return bd, nil
}

// entry reads the entry at the front of b into an envelope.
func (bd *bundle) entry(b []byte) (attest.Envelope, []byte, error) {
	to, b, ok1 := uvarint(b)
	toEpoch, b, ok2 := uvarint(b)
	counter, b, ok3 := uvarint(b)
	if !ok1 || !ok2 || !ok3 {
		return attest.Envelope{}, nil, errors.New("bad receiver, epoch or counter")
	}
	if toEpoch == 0 {
		return attest.Envelope{}, nil, errors.New("receiver epoch 0")
	}
	size := bd.common.Suite.AuthSize()
	if len(b) < size {
		return attest.Envelope{}, nil, fmt.Errorf("authenticator of %d bytes, %d left", size, len(b))
	}
	env := bd.common
	env.Stream = attest.To(attest.MemberID(to), attest.Epoch(toEpoch))
	env.Counter = counter
	env.Auth = b[:size]
	return env, b[size:], nil
}

// rebuild appends env, an entry of bd, as a whole envelope to dst.
func rebuild(dst []byte, env *attest.Envelope) ([]byte, error) {
	dst = slices.Grow(dst, attest.HeaderSize+len(env.Payload)+len(env.Auth))
	out, err := env.AppendBinary(dst)
	if err != nil {
		return dst, err
	}
	return out, nil
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
	rest := bd.entries
	for i := range bd.count {
		var env attest.Envelope
		env, rest, _ = bd.entry(rest)
		if buf, err = rebuild(buf[:0], &env); err != nil {
			return fmt.Errorf("%w: envelope %d: %w", ErrBundle, i, err)
		}
	}
	rest = bd.entries
	for range bd.count {
		var env attest.Envelope
		env, rest, _ = bd.entry(rest)
		buf, _ = rebuild(buf[:0], &env)
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
	rest := bd.entries
	for i := range bd.count {
		var env attest.Envelope
		env, rest, _ = bd.entry(rest)
		if attest.MemberID(env.Stream.Dest) == id {
			out, err := rebuild(dst, &env)
			if err != nil {
				return dst, fmt.Errorf("%w: envelope %d: %w", ErrBundle, i, err)
			}
			return out, nil
		}
	}
	return dst, fmt.Errorf("%w: no envelope for %d in the bundle", ErrNotForMe, id)
}

// ErrNotForMe: a bundle holds no envelope for this agent.
var ErrNotForMe = errors.New("agent: misrouted bundle")
