package attest

import (
	"crypto/cipher"
	"fmt"
	"math"
	"slices"
	"sync"
)

// Sender seals envelopes on one stream: it owns the stream's send counter
// (Recipe: one send counter per directed pair, starting at 1), so that each
// counter is used for exactly one envelope. That, together with the counter
// living only in the member's (enclave) memory for one epoch, is the
// non-equivocation guarantee. A Sender is safe for concurrent use; sealing
// is serialised so that counters go out in order.
type Sender struct {
	id     *Identity
	stream Stream
	suite  Suite
	mac    *macState   // SuiteHMACSHA256
	aead   cipher.AEAD // encrypted streams

	mu      sync.Mutex
	counter uint64 // last used (after StartLane: seq 0 of the new lane)
	laned   bool   // StartLane was called: seq must stay within its lane
}

// NewUnicastSender returns the sender for the directed pair from id to peer
// (at peer's current epoch, from its admitted record). suite is
// SuiteEd25519 (transferable) or SuiteHMACSHA256 or SuiteHMACSHA256T128
// (cheap, pairwise key);
// encrypt adds AES-256-GCM under the pairwise encryption key. When peer
// restarts (new epoch), create a new Sender for the new record: the pair,
// its keys and its counters are new.
func NewUnicastSender(id *Identity, peer *Member, suite Suite, encrypt bool) (*Sender, error) {
	if suite.authLen() == 0 {
		return nil, fmt.Errorf("%w: unknown suite %d", ErrSuite, suite)
	}
	s := &Sender{id: id, stream: To(peer.ID, peer.Epoch), suite: suite}
	if suite.Pairwise() || encrypt {
		k, err := id.OutboundKey(peer)
		if err != nil {
			return nil, err
		}
		if suite.Pairwise() {
			s.mac = newMACState(k.mac[:])
		}
		if encrypt {
			if s.aead, err = newAEAD(k.enc[:]); err != nil {
				return nil, err
			}
		}
	} else if err := peer.validate(); err != nil {
		return nil, err
	}
	if err := id.reserve(s.stream); err != nil {
		return nil, err
	}
	return s, nil
}

// NewBroadcastSender returns the sender for id's values on a broadcast
// channel. Broadcast is always Ed25519: a MAC key shared by a whole channel
// would let every member forge every other, and transferable signatures are
// what lets neighbours relay values and expose a sender that tells each of
// them something different. groupKey, if not nil, encrypts payloads with
// AES-256-GCM (its distribution is the caller's concern).
func NewBroadcastSender(id *Identity, channel uint64, groupKey []byte) (*Sender, error) {
	s := &Sender{id: id, stream: Channel(channel), suite: SuiteEd25519}
	if groupKey != nil {
		var err error
		if s.aead, err = newAEAD(groupKey); err != nil {
			return nil, err
		}
	}
	if err := id.reserve(s.stream); err != nil {
		return nil, err
	}
	return s, nil
}

// Stream returns the stream this sender seals on.
func (s *Sender) Stream() Stream { return s.stream }

// Counter returns the last counter used (0 before the first Seal). After
// StartLane(lane) and before the next Seal it is LanedCounter(lane, 0):
// every counter up to it is spent.
func (s *Sender) Counter() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counter
}

// Lane returns the stream's current lane (0 until StartLane).
func (s *Sender) Lane() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return LaneOf(s.counter)
}

// StartLane opens lane on a unicast stream: the next envelope is sealed
// under LanedCounter(lane, 1), and a laned receiver
// (ReceiverConfig.LanedUnicast) that accepts it abandons whatever of the
// lower lanes it has not received yet. lane must be above the current
// lane: going back, or starting the current lane again, would reuse or
// reorder counters and is refused with ErrStale. A lane above MaxLane
// saturates to MaxLane; once the stream is in MaxLane, StartLane(MaxLane
// or above) returns nil and the stream simply continues in it (correct,
// but no fresh start). Broadcast streams have no lanes (ErrMalformed).
//
// From the first StartLane on, Seal keeps sequence numbers within their
// lane: a lane's last one is MaxLaneSeq, after which Seal returns
// ErrCounterExhausted until the next StartLane.
func (s *Sender) StartLane(lane uint64) error {
	if s.stream.Broadcast {
		return fmt.Errorf("%w: %v is a broadcast stream, lanes are for unicast streams", ErrMalformed, s.stream)
	}
	lane = min(lane, MaxLane)
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := LaneOf(s.counter)
	switch {
	case lane == MaxLane && cur == MaxLane:
		s.laned = true
		return nil // saturated: continue in MaxLane
	case lane <= cur:
		return fmt.Errorf("%w: lane %d of %v, the stream is at lane %d", ErrStale, lane, s.stream, cur)
	}
	s.counter = LanedCounter(lane, 0)
	s.laned = true
	return nil
}

// Seal appends an envelope carrying payload (at most MaxPayloadSize bytes)
// and kind to dst, under the next counter. Retransmit the returned bytes
// as they are; never seal the same content again for a retransmission (it
// would get a new counter, which a sequential receiver sees as a gap).
func (s *Sender) Seal(dst []byte, kind uint8, payload []byte) ([]byte, error) {
	if len(payload) > MaxPayloadSize {
		return dst, fmt.Errorf("%w: payload is %d bytes, limit %d", ErrTooLarge, len(payload), MaxPayloadSize)
	}
	n := len(payload)
	if s.aead != nil {
		n += gcmTagSize
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.counter == math.MaxUint64 || (s.laned && SeqOf(s.counter) == MaxLaneSeq) {
		return dst, fmt.Errorf("%w: %v at counter %d", ErrCounterExhausted, s.stream, s.counter)
	}
	s.counter++
	start := len(dst)
	dst = slices.Grow(dst, HeaderSize+n+s.suite.authLen())
	dst = appendHeader(dst, s.suite, s.aead != nil, kind, s.id.claim.ID, s.id.claim.Epoch, s.stream, s.counter, n)
	if s.aead != nil {
		// Encrypt-then-authenticate: the header is the AEAD's associated
		// data and the authenticator covers the ciphertext, so
		// signatures and evidence verify without the decryption key.
		hdr := dst[start : start+HeaderSize]
		nonce := nonceFor(hdr)
		dst = s.aead.Seal(dst, nonce[:], payload, hdr)
	} else {
		dst = append(dst, payload...)
	}
	signed := dst[start:]
	if s.suite.Pairwise() {
		return append(dst, s.mac.tag(signed, s.suite)...), nil
	}
	return append(dst, s.id.sign(signed)...), nil
}
