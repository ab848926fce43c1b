package attest

import (
	"crypto/ed25519"
	"encoding/binary"
	"fmt"
)

// MemberID identifies an agent (or a recipe/ replica) in the fleet.
type MemberID uint64

// Epoch numbers the incarnations of a member. Keys and counters live only in
// (enclave) memory and are never sealed to disk, so every restart is a new
// epoch with fresh keys that must be admitted again; counters of an older
// epoch can then never be accepted (Recipe's recovery by reconfiguration,
// as in CCF).
type Epoch uint64

// Suite selects the authenticator of an envelope.
type Suite uint8

const (
	// SuiteEd25519 signs envelopes with the sender's attested Ed25519 key.
	// Signatures are transferable: any party that knows the sender's member
	// record can verify them, and two of them for one slot are evidence of
	// equivocation that anyone can check offline. The default for neighbour
	// values.
	SuiteEd25519 Suite = 1
	// SuiteHMACSHA256 authenticates envelopes with HMAC-SHA256 under a
	// pairwise key per directed pair that only the two attested members can
	// derive (Recipe's auth(k, <msg, cnt>)). Far cheaper than Ed25519 but
	// not transferable: only the receiver can check it.
	SuiteHMACSHA256 Suite = 2
	// SuiteHMACSHA256T128 is SuiteHMACSHA256 with the MAC truncated to its
	// first 16 bytes: HMAC-SHA-256-128 (RFC 4868; RFC 2104, Sec. 5 allows
	// truncation to half the output). A forgery then succeeds with
	// probability 2⁻¹²⁸ per attempt, far below anything an attacker can
	// try against a fleet's receivers, and every envelope is 16 bytes
	// shorter: what an agent's value bundle, one MAC per out-neighbour,
	// is mostly made of. What `wmsr-agent --suite hmac` uses.
	SuiteHMACSHA256T128 Suite = 3
)

// Pairwise reports whether s authenticates with the pairwise MAC key of a
// directed pair (the HMAC suites): cheap, and checkable only by the
// receiver.
func (s Suite) Pairwise() bool { return s == SuiteHMACSHA256 || s == SuiteHMACSHA256T128 }

// String returns "ed25519", "hmac-sha256" or "hmac-sha256-128".
func (s Suite) String() string {
	switch s {
	case SuiteEd25519:
		return "ed25519"
	case SuiteHMACSHA256:
		return "hmac-sha256"
	case SuiteHMACSHA256T128:
		return "hmac-sha256-128"
	}
	return fmt.Sprintf("suite(%d)", uint8(s))
}

// AuthSize returns the authenticator length of s in bytes, or 0 for an
// unknown suite.
func (s Suite) AuthSize() int { return s.authLen() }

// authLen returns the authenticator length of s, or 0 for an unknown suite.
func (s Suite) authLen() int {
	switch s {
	case SuiteEd25519:
		return ed25519.SignatureSize
	case SuiteHMACSHA256:
		return hmacSize
	case SuiteHMACSHA256T128:
		return hmacSize / 2
	}
	return 0
}

// Wire format, version 1. All integers are big-endian and fixed-width, so
// every envelope has exactly one encoding: the decoder needs no
// canonicalisation and the authenticator covers the bytes as sent.
//
//	off  size  field
//	  0     1  version (1)
//	  1     1  suite (1 = Ed25519, 2 = HMAC-SHA256, 3 = HMAC-SHA-256-128)
//	  2     1  flags (bit 0: broadcast, bit 1: AES-256-GCM encrypted; others 0)
//	  3     1  kind (application payload type, opaque to this package)
//	  4     8  sender member id
//	 12     8  sender epoch
//	 20     8  destination: receiver member id, or channel id if broadcast
//	 28     8  receiver epoch (unicast), 0 (broadcast)
//	 36     8  counter (>= 1)
//	 44     2  payload length n
//	 46     n  payload (ciphertext || 16-byte tag if encrypted)
//	 46+n   a  authenticator over bytes [0, 46+n): 64 (Ed25519) or 32 (HMAC)
//
// This is Recipe's wire form auth(k, <msg, cnt>), msg, cnt with the
// identities and epochs made explicit. Both epochs are on the wire because
// a directed pair in the model is a pair of incarnations: when either end
// restarts, the pair, its keys and its counters are new, and an envelope
// for an older incarnation must be recognisably stale rather than look
// like a second message under a used counter.
const (
	// Version1 is the only wire version this build reads and writes.
	Version1 = 1
	// HeaderSize is the fixed size of the header.
	HeaderSize = 46
	// MaxPayloadSize bounds the plaintext payload. Larger application data
	// (raft snapshots) must be chunked by the caller.
	MaxPayloadSize = 32 << 10
	// MaxEnvelopeSize bounds a whole envelope; anything longer is rejected
	// before it is parsed.
	MaxEnvelopeSize = HeaderSize + MaxPayloadSize + gcmTagSize + ed25519.SignatureSize

	flagBroadcast = 1 << 0
	flagEncrypted = 1 << 1
	flagsKnown    = flagBroadcast | flagEncrypted

	gcmTagSize = 16
)

// Stream names one ordered flow of envelopes from a sender: either to one
// receiver incarnation (unicast: one counter per directed pair, strictly
// sequential, as in the Recipe model) or to a channel (broadcast: one
// counter per sender and channel, receivers accept strictly increasing
// counters).
type Stream struct {
	Broadcast bool
	// Dest is the receiver's MemberID (unicast) or the channel id
	// (broadcast).
	Dest uint64
	// DestEpoch is the receiver's epoch (unicast); 0 for broadcast.
	DestEpoch Epoch
}

// To returns the unicast stream to member id at epoch.
func To(id MemberID, epoch Epoch) Stream { return Stream{Dest: uint64(id), DestEpoch: epoch} }

// Channel returns the broadcast stream on channel ch.
func Channel(ch uint64) Stream { return Stream{Broadcast: true, Dest: ch} }

// String returns "member N@E" or "channel N".
func (s Stream) String() string {
	if s.Broadcast {
		return fmt.Sprintf("channel %d", s.Dest)
	}
	return fmt.Sprintf("member %d@%d", s.Dest, s.DestEpoch)
}

// Slot is what non-equivocation is about: an honest sender issues at most
// one envelope per slot.
type Slot struct {
	Sender  MemberID
	Epoch   Epoch
	Stream  Stream
	Counter uint64
}

// Envelope is a parsed, not yet authenticated envelope. Its Payload and Auth
// alias the buffer given to Parse.
type Envelope struct {
	Suite     Suite
	Encrypted bool
	Kind      uint8
	Sender    MemberID
	Epoch     Epoch
	Stream    Stream
	Counter   uint64
	// Payload is the payload as on the wire: ciphertext and tag if
	// Encrypted.
	Payload []byte
	// Auth is the signature or MAC.
	Auth []byte

	raw []byte
}

// Slot returns the envelope's (sender, epoch, stream, counter).
func (e *Envelope) Slot() Slot {
	return Slot{Sender: e.Sender, Epoch: e.Epoch, Stream: e.Stream, Counter: e.Counter}
}

// Signed returns the bytes the authenticator covers (header and payload).
func (e *Envelope) Signed() []byte { return e.raw[:HeaderSize+len(e.Payload)] }

// Raw returns the whole envelope as parsed.
func (e *Envelope) Raw() []byte { return e.raw }

// AppendBinary appends the encoding of e to dst. For an envelope returned by
// Parse the result equals Raw(): the encoding is canonical.
func (e *Envelope) AppendBinary(dst []byte) ([]byte, error) {
	if e.Suite.authLen() == 0 {
		return dst, fmt.Errorf("%w: unknown suite %d", ErrMalformed, e.Suite)
	}
	if len(e.Auth) != e.Suite.authLen() {
		return dst, fmt.Errorf("%w: %v authenticator is %d bytes, want %d", ErrMalformed, e.Suite, len(e.Auth), e.Suite.authLen())
	}
	if e.Counter == 0 {
		return dst, fmt.Errorf("%w: counter 0", ErrMalformed)
	}
	if e.Stream.Broadcast != (e.Stream.DestEpoch == 0) {
		return dst, fmt.Errorf("%w: receiver epoch %d on %v", ErrMalformed, e.Stream.DestEpoch, e.Stream)
	}
	if len(e.Payload) > maxWirePayload(e.Encrypted) {
		return dst, fmt.Errorf("%w: payload %d bytes", ErrTooLarge, len(e.Payload))
	}
	dst = appendHeader(dst, e.Suite, e.Encrypted, e.Kind, e.Sender, e.Epoch, e.Stream, e.Counter, len(e.Payload))
	dst = append(dst, e.Payload...)
	return append(dst, e.Auth...), nil
}

func maxWirePayload(encrypted bool) int {
	if encrypted {
		return MaxPayloadSize + gcmTagSize
	}
	return MaxPayloadSize
}

// appendHeader appends the HeaderSize-byte header. The caller guarantees n fits.
func appendHeader(dst []byte, suite Suite, encrypted bool, kind uint8, sender MemberID, epoch Epoch, st Stream, counter uint64, n int) []byte {
	var flags byte
	if st.Broadcast {
		flags |= flagBroadcast
	}
	if encrypted {
		flags |= flagEncrypted
	}
	dst = append(dst, Version1, byte(suite), flags, kind)
	dst = binary.BigEndian.AppendUint64(dst, uint64(sender))
	dst = binary.BigEndian.AppendUint64(dst, uint64(epoch))
	dst = binary.BigEndian.AppendUint64(dst, st.Dest)
	dst = binary.BigEndian.AppendUint64(dst, uint64(st.DestEpoch))
	dst = binary.BigEndian.AppendUint64(dst, counter)
	return binary.BigEndian.AppendUint16(dst, uint16(n))
}

// Parse decodes raw strictly without checking the authenticator: exactly
// one version, a known suite, no reserved bits, a counter of at least 1,
// bounded lengths and no trailing bytes. It never panics and does not
// allocate on success; the returned Envelope aliases raw. Errors wrap ErrTruncated,
// ErrTooLarge, ErrVersion or ErrMalformed.
func Parse(raw []byte) (Envelope, error) {
	if len(raw) == 0 {
		return Envelope{}, fmt.Errorf("%w: empty envelope", ErrTruncated)
	}
	if raw[0] != Version1 {
		return Envelope{}, fmt.Errorf("%w: envelope version %d", ErrVersion, raw[0])
	}
	// Bound the input before looking further, so an oversized datagram
	// costs nothing.
	if len(raw) > MaxEnvelopeSize {
		return Envelope{}, fmt.Errorf("%w: envelope is %d bytes, limit %d", ErrTooLarge, len(raw), MaxEnvelopeSize)
	}
	if len(raw) < HeaderSize {
		return Envelope{}, fmt.Errorf("%w: envelope is %d bytes, header needs %d", ErrTruncated, len(raw), HeaderSize)
	}
	suite := Suite(raw[1])
	alen := suite.authLen()
	if alen == 0 {
		return Envelope{}, fmt.Errorf("%w: unknown suite %d", ErrMalformed, raw[1])
	}
	flags := raw[2]
	if flags&^flagsKnown != 0 {
		return Envelope{}, fmt.Errorf("%w: reserved flag bits %#02x", ErrMalformed, flags&^flagsKnown)
	}
	e := Envelope{
		Suite:     suite,
		Encrypted: flags&flagEncrypted != 0,
		Kind:      raw[3],
		Sender:    MemberID(binary.BigEndian.Uint64(raw[4:])),
		Epoch:     Epoch(binary.BigEndian.Uint64(raw[12:])),
		Stream: Stream{
			Broadcast: flags&flagBroadcast != 0,
			Dest:      binary.BigEndian.Uint64(raw[20:]),
			DestEpoch: Epoch(binary.BigEndian.Uint64(raw[28:])),
		},
		Counter: binary.BigEndian.Uint64(raw[36:]),
	}
	if e.Stream.Broadcast != (e.Stream.DestEpoch == 0) {
		// Exactly one encoding per stream: broadcast has no receiver
		// epoch, unicast always has one (epochs start at 1).
		return Envelope{}, fmt.Errorf("%w: receiver epoch %d on %v", ErrMalformed, e.Stream.DestEpoch, e.Stream)
	}
	if e.Counter == 0 {
		// Counters start at 1 (Recipe model); 0 would alias the
		// "nothing accepted yet" state of a receiver.
		return Envelope{}, fmt.Errorf("%w: counter 0", ErrMalformed)
	}
	n := int(binary.BigEndian.Uint16(raw[44:]))
	if n > maxWirePayload(e.Encrypted) {
		return Envelope{}, fmt.Errorf("%w: payload length %d, limit %d", ErrTooLarge, n, maxWirePayload(e.Encrypted))
	}
	if e.Encrypted && n < gcmTagSize {
		return Envelope{}, fmt.Errorf("%w: encrypted payload of %d bytes is shorter than the tag", ErrMalformed, n)
	}
	want := HeaderSize + n + alen
	if len(raw) < want {
		return Envelope{}, fmt.Errorf("%w: envelope is %d bytes, header announces %d", ErrTruncated, len(raw), want)
	}
	if len(raw) > want {
		return Envelope{}, fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(raw)-want)
	}
	e.Payload = raw[HeaderSize : HeaderSize+n : HeaderSize+n]
	e.Auth = raw[HeaderSize+n : want : want]
	e.raw = raw[:want:want]
	return e, nil
}
