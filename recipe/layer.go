package recipe

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/wmsr/wmsr/attest"
)

// Raft IDs are incarnations: one per (member, epoch). A restarted replica
// is a new raft voter (Recipe's recovery by reconfiguration), so its raft
// ID must differ from every earlier one of the same member, and any
// replica can map a raft ID back to the attested identity that must have
// sent it.
const (
	epochBits = 24
	// MaxEpoch is the largest epoch a raft ID can carry.
	MaxEpoch = 1<<epochBits - 1
	// MaxMemberID is the largest member id a raft ID can carry.
	MaxMemberID = 1<<(64-epochBits) - 1
)

// RaftID returns the raft node ID of member id at epoch e.
func RaftID(id attest.MemberID, e attest.Epoch) uint64 {
	return uint64(id)<<epochBits | uint64(e)
}

// MemberOf is the inverse of RaftID.
func MemberOf(raftID uint64) (attest.MemberID, attest.Epoch) {
	return attest.MemberID(raftID >> epochBits), attest.Epoch(raftID & MaxEpoch)
}

// Frame is one unit handed to the transport: the bytes for member To (at
// whatever address the transport knows for it). Frames are self-contained
// and idempotent for the receiver, so a transport may lose, duplicate or
// reorder them.
type Frame struct {
	To   attest.MemberID
	Data []byte
}

// Frame types: the first byte of every frame.
const (
	frameEnvelope = 'E' // an attest envelope (Recipe)
	framePlain    = 'P' // a bare raftpb.Message (vanilla control)
	frameJoin     = 'J' // a join request: an encoded attest.Attestation
)

// Envelope kinds (attest.Envelope.Kind), opaque to attest.
const (
	kindRaft     = 1 // the last (or only) chunk of a raft message
	kindRaftMore = 2 // a chunk with more to follow
	kindAck      = 3 // a signed acknowledgement vector (broadcast)
)

// AckChannel is the attest broadcast channel carrying acknowledgement
// vectors.
const AckChannel = 0x7265636970650001 // "recipe" 0001

// payloadHeader is the piggybacked acknowledgement in every raft envelope.
const payloadHeader = 8

// chunkSize is the raft bytes per envelope; larger messages (snapshots,
// big appends) are split into consecutive chunks, which the sequential
// stream delivers contiguously.
const chunkSize = attest.MaxPayloadSize - payloadHeader

// LayerConfig configures a Layer.
type LayerConfig struct {
	// Identity is this replica's attested identity for its current epoch
	// (from its attest.Backend). Its keys never leave memory.
	Identity *attest.Identity
	// Suite authenticates unicast envelopes: attest.SuiteHMACSHA256
	// (Recipe's pairwise MAC, the default) or attest.SuiteEd25519.
	Suite attest.Suite
	// Encrypt adds AES-256-GCM under the pairwise key (confidentiality).
	Encrypt bool
	// RetransmitTicks is how many ticks without acknowledgement progress
	// pass before the unacknowledged envelopes of a peer are sent again
	// (default 2).
	RetransmitTicks int
	// Window is how many unacknowledged envelopes are retransmitted at
	// once, and how far ahead of the expected counter a receiver stashes
	// envelopes that arrive early (default 64).
	Window int
	// MaxUnacked bounds the retransmit buffer per peer (default 4096
	// envelopes). When it is full, further raft messages to that peer are
	// dropped before sealing: no counter is consumed, so the stream has no
	// gap, and raft retries as it does for any loss.
	MaxUnacked int
	// NoLanes keeps every stream in lane 0: one sequence per pair of
	// incarnations, the behaviour before lanes (SetTerm and message terms
	// then start nothing). For comparisons, and for a cluster whose other
	// replicas predate lanes: their receivers accept only the next counter
	// and would wait forever at the first envelope of a new lane.
	NoLanes bool
	// Logger receives rejections at debug level (default: discard).
	Logger *slog.Logger
}

// Stats counts what a Layer did. Rejected is indexed by attest.Reason.
type Stats struct {
	Sealed, Opened, Retransmitted, AcksSent uint64
	Stashed                                 uint64 // early envelopes kept until their turn
	DroppedUnknown, DroppedBackpressure     uint64
	Impersonations                          uint64
	// LanesStarted counts lanes started on our streams (one per peer and
	// new term), Abandoned the unacknowledged envelopes they discarded
	// from retransmit buffers, and LaneSwitches the times a peer's stream
	// to us moved to a higher lane, abandoning the rest of the lower one.
	LanesStarted, Abandoned, LaneSwitches uint64
	Rejected                              map[attest.Reason]uint64
}

// Layer is the pure, deterministic Recipe step for one replica incarnation
// (Recipe §4, "normal operation"): it seals every outgoing raftpb.Message
// into an attest envelope on the directed pair's stream (one counter per
// directed pair, HMAC under the pairwise key), opens incoming envelopes
// accepting only the next counter, and keeps each sent envelope until the
// peer acknowledges it, retransmitting the unacknowledged ones, because
// etcd raft never retransmits a message itself and a sequential receiver
// would otherwise wait forever behind a lost counter.
//
// Each stream is laned by raft term (Recipe's view change, SetTerm): a new
// term starts a fresh lane of the stream, discarding what the old term
// left unacknowledged, and the peer's receiver takes the new lane's first
// envelope at once, abandoning the old lane's tail (attest.LaneCounter).
//
// A Layer does no I/O and reads no clock: time advances by Tick, and
// frames to send are collected with Frames. It is not safe for concurrent
// use; the caller serialises calls (like raft.RawNode).
type Layer struct {
	cfg   LayerConfig
	self  *attest.Identity
	recv  *attest.Receiver
	acks  *attest.Sender // broadcast acknowledgement vectors
	peers map[attest.MemberID]*peerState
	now   uint64
	term  uint64 // highest raft term given to SetTerm: our streams' lane
	out   []Frame
	stats Stats
	log   *slog.Logger
}

// peerState is one peer incarnation: the send side of our stream to it and
// the receive side of its stream to us.
type peerState struct {
	m    attest.Member
	raft uint64 // RaftID(m.ID, m.Epoch)
	send *attest.Sender

	// Send side.
	unacked  []sealedFrame // ascending counters, all > acked
	acked    uint64        // highest counter the peer acknowledged
	lastXmit uint64        // tick of the last (re)transmission or ack progress

	// Receive side.
	recvd   uint64            // highest counter accepted from the peer
	ackOwed bool              // recvd not yet conveyed to the peer
	early   map[uint64][]byte // authentic envelopes ahead of the expected counter
	partial []byte            // raft message being reassembled from chunks
}

type sealedFrame struct {
	counter uint64
	data    []byte // frameEnvelope || envelope
}

// NewLayer returns the layer of the replica whose keys are cfg.Identity.
// Add peers with SetMember as their records are applied from the log.
func NewLayer(cfg LayerConfig) (*Layer, error) {
	if cfg.Identity == nil {
		return nil, fmt.Errorf("%w: no identity", ErrMalformed)
	}
	if cfg.Suite == 0 {
		cfg.Suite = attest.SuiteHMACSHA256
	}
	if cfg.RetransmitTicks <= 0 {
		cfg.RetransmitTicks = 2
	}
	if cfg.Window <= 0 {
		cfg.Window = 64
	}
	if cfg.MaxUnacked <= 0 {
		cfg.MaxUnacked = 4096
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	acks, err := attest.NewBroadcastSender(cfg.Identity, AckChannel, nil)
	if err != nil {
		return nil, fmt.Errorf("recipe: ack channel: %w", err)
	}
	recv := attest.NewReceiver(cfg.Identity, attest.ReceiverConfig{LanedUnicast: true})
	if err := recv.Subscribe(AckChannel, nil); err != nil {
		return nil, fmt.Errorf("recipe: ack channel: %w", err)
	}
	return &Layer{
		cfg:   cfg,
		self:  cfg.Identity,
		recv:  recv,
		acks:  acks,
		peers: make(map[attest.MemberID]*peerState),
		stats: Stats{Rejected: make(map[attest.Reason]uint64)},
		log:   cfg.Logger,
	}, nil
}

// RaftID returns this replica's raft ID.
func (l *Layer) RaftID() uint64 { return RaftID(l.self.ID(), l.self.Epoch()) }

// SetMember admits (or re-admits at a newer epoch) a peer, from a record
// applied from the configuration log (Recipe's initialisation: keys are
// derived only for attested records). A newer epoch replaces the peer
// wholesale: new pairwise keys, new counters in both directions, and the
// old retransmit buffer is discarded, since the old incarnation is gone.
// Re-applying the current record is a no-op.
func (l *Layer) SetMember(m attest.Member) error {
	if m.ID == l.self.ID() {
		return nil
	}
	if p := l.peers[m.ID]; p != nil && p.m.Epoch == m.Epoch {
		return nil
	}
	if err := l.recv.AddMember(m); err != nil {
		return fmt.Errorf("recipe: admit member %d epoch %d: %w", m.ID, m.Epoch, err)
	}
	send, err := attest.NewUnicastSender(l.self, &m, l.cfg.Suite, l.cfg.Encrypt)
	if err != nil {
		return fmt.Errorf("recipe: stream to member %d epoch %d: %w", m.ID, m.Epoch, err)
	}
	p := &peerState{m: m, raft: RaftID(m.ID, m.Epoch), send: send, lastXmit: l.now}
	l.peers[m.ID] = p
	l.startLane(p, termLane(l.term))
	return nil
}

// SetTerm tells the layer raft's current term (Node calls it from each
// Ready's HardState, before sending that Ready's messages). When the term
// rises, every stream to a peer starts a fresh lane, the term's
// (termLane; Recipe's view change: the channels of a new view start
// fresh): the envelopes of older lanes still awaiting acknowledgement are
// discarded, not retransmitted, and the next envelope is sequence 1 of the
// new lane, which the peer accepts even if the old lane is stuck behind a
// lost envelope or a full buffer. For raft the discarded envelopes are
// lost messages, which it tolerates; they belong to a term this replica
// has left. A term that does not rise changes nothing.
func (l *Layer) SetTerm(term uint64) {
	if term <= l.term {
		return
	}
	l.term = term
	for _, id := range l.sortedPeers() {
		l.startLane(l.peers[id], termLane(term))
	}
}

// termLane is the lane of raft term t: 2t. A pre-vote for term t, sent or
// granted while the sender's own term is still below t, opens lane 2t-1
// (Layer.send): so it starts fresh too, and when the election succeeds the
// lane of term t is fresh again. Terms from attest.MaxLane/2 on share the
// last lane (no fresh start, still correct).
func termLane(t uint64) uint64 {
	if t > attest.MaxLane/2 {
		return attest.MaxLane
	}
	return 2 * t
}

// Term returns the highest term given to SetTerm.
func (l *Layer) Term() uint64 { return l.term }

// startLane moves p's stream to lane, if that is higher than its lane,
// discarding the unacknowledged envelopes of its older lanes.
func (l *Layer) startLane(p *peerState, lane uint64) {
	lane = min(lane, attest.MaxLane)
	if l.cfg.NoLanes || lane <= p.send.Lane() {
		return
	}
	if err := p.send.StartLane(lane); err != nil {
		// Cannot happen: lane is above the current one and the stream
		// is unicast. Stay in the current lane, which is correct.
		l.log.Warn("recipe: start lane", "member", p.m.ID, "lane", lane, "err", err)
		return
	}
	l.stats.LanesStarted++
	l.stats.Abandoned += uint64(len(p.unacked))
	p.unacked = nil
	p.lastXmit = l.now
}

// RemoveMember forgets a peer (removed or quarantined): its envelopes are
// rejected and nothing more is sent to it.
func (l *Layer) RemoveMember(id attest.MemberID) {
	l.recv.RemoveMember(id)
	delete(l.peers, id)
}

// Member returns the admitted record of id, if any.
func (l *Layer) Member(id attest.MemberID) (attest.Member, bool) {
	p := l.peers[id]
	if p == nil {
		return attest.Member{}, false
	}
	return p.m, true
}

// Stats returns a copy of the counters.
func (l *Layer) Stats() Stats {
	s := l.stats
	s.Rejected = make(map[attest.Reason]uint64, len(l.stats.Rejected))
	for k, v := range l.stats.Rejected {
		s.Rejected[k] = v
	}
	return s
}

// Unacked returns the number of envelopes awaiting acknowledgement by id.
func (l *Layer) Unacked(id attest.MemberID) int {
	if p := l.peers[id]; p != nil {
		return len(p.unacked)
	}
	return 0
}

// Frames returns and clears the frames produced since the last call.
func (l *Layer) Frames() []Frame {
	f := l.out
	l.out = nil
	return f
}

// Send seals msgs (from raft's Ready) onto their peers' streams. Messages
// to unknown or stale incarnations, and to peers whose buffer is full, are
// dropped before sealing; the returned error (if any) reports the first
// such drop, for raft.RawNode.ReportUnreachable or ReportSnapshot.
func (l *Layer) Send(msgs []raftpb.Message) error {
	var first error
	for i := range msgs {
		if err := l.send(&msgs[i]); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (l *Layer) send(m *raftpb.Message) error {
	id, _ := MemberOf(m.To)
	p := l.peers[id]
	if p == nil || p.raft != m.To {
		l.stats.DroppedUnknown++
		return fmt.Errorf("%w: raft id %x", ErrUnknownPeer, m.To)
	}
	// A message of a term above the layer's opens a lane first. Under
	// Node, raft's messages carry the term SetTerm already gave, except
	// pre-votes and their grants, which carry the term a pre-candidate
	// would campaign at: they open the lane just below that term's
	// (termLane), so that an election's first round is not stuck behind
	// the old term's backlog either.
	if m.Term > l.term {
		lane := termLane(m.Term)
		if (m.Type == raftpb.MsgPreVote || m.Type == raftpb.MsgPreVoteResp) && lane < attest.MaxLane {
			lane--
		}
		l.startLane(p, lane)
	}
	if len(p.unacked) >= l.cfg.MaxUnacked {
		l.stats.DroppedBackpressure++
		return fmt.Errorf("%w: member %d has %d unacknowledged", ErrBackpressure, id, len(p.unacked))
	}
	b, err := m.Marshal()
	if err != nil {
		return fmt.Errorf("%w: marshal raft message: %w", ErrMalformed, err)
	}
	for {
		n := min(len(b), chunkSize)
		kind := uint8(kindRaft)
		if n < len(b) {
			kind = kindRaftMore
		}
		if err := l.seal(p, kind, b[:n]); err != nil {
			return err
		}
		b = b[n:]
		if len(b) == 0 {
			break
		}
	}
	return nil
}

// seal puts one chunk on p's stream with the piggybacked acknowledgement.
func (l *Layer) seal(p *peerState, kind uint8, chunk []byte) error {
	payload := make([]byte, payloadHeader, payloadHeader+len(chunk))
	binary.BigEndian.PutUint64(payload, p.recvd)
	payload = append(payload, chunk...)
	data, err := p.send.Seal([]byte{frameEnvelope}, kind, payload)
	if err != nil {
		return fmt.Errorf("recipe: seal to member %d: %w", p.m.ID, err)
	}
	p.ackOwed = false
	if len(p.unacked) == 0 {
		// The retransmit timer measures from the oldest outstanding
		// envelope.
		p.lastXmit = l.now
	}
	p.unacked = append(p.unacked, sealedFrame{counter: p.send.Counter(), data: data})
	l.stats.Sealed++
	l.out = append(l.out, Frame{To: p.m.ID, Data: data})
	return nil
}

// Tick advances the layer's clock by one raft tick: unacknowledged
// envelopes whose peer made no progress for RetransmitTicks are sent again
// (the oldest Window of them, as the very bytes first sent: resealing
// would use a new counter), and owed acknowledgements that no data
// envelope carried are sent as one signed vector.
func (l *Layer) Tick() {
	l.now++
	var owed []*peerState
	for _, id := range l.sortedPeers() {
		p := l.peers[id]
		if len(p.unacked) > 0 && l.now-p.lastXmit >= uint64(l.cfg.RetransmitTicks) {
			for _, s := range p.unacked[:min(len(p.unacked), l.cfg.Window)] {
				l.out = append(l.out, Frame{To: p.m.ID, Data: s.data})
				l.stats.Retransmitted++
			}
			p.lastXmit = l.now
		}
		if p.ackOwed {
			owed = append(owed, p)
		}
	}
	if len(owed) > 0 {
		l.sendAcks(owed)
	}
}

func (l *Layer) sortedPeers() []attest.MemberID {
	ids := make([]attest.MemberID, 0, len(l.peers))
	for id := range l.peers {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// sendAcks signs one vector of (member, epoch, counter) for every peer we
// have received from, and sends it to the peers that are owed one.
//
// Acknowledgements are state, not messages: only the latest matters. So
// they travel on a broadcast stream (attest.MonoCounter: strictly
// increasing, gaps allowed) rather than on the sequential pair stream,
// where a pure ack would consume a counter, need an ack itself, and need
// retransmission. Ed25519 makes the vector verifiable by every peer with
// one signature.
func (l *Layer) sendAcks(owed []*peerState) {
	payload := make([]byte, 0, 24*len(l.peers))
	for _, id := range l.sortedPeers() {
		p := l.peers[id]
		if p.recvd == 0 {
			continue
		}
		payload = binary.BigEndian.AppendUint64(payload, uint64(p.m.ID))
		payload = binary.BigEndian.AppendUint64(payload, uint64(p.m.Epoch))
		payload = binary.BigEndian.AppendUint64(payload, p.recvd)
	}
	data, err := l.acks.Seal([]byte{frameEnvelope}, kindAck, payload)
	if err != nil {
		l.log.Warn("recipe: sealing ack vector", "err", err)
		return
	}
	for _, p := range owed {
		l.out = append(l.out, Frame{To: p.m.ID, Data: data})
		p.ackOwed = false
	}
	l.stats.AcksSent++
}

// Receive opens one frame and returns the raft messages it completes, in
// stream order, ready for raft.RawNode.Step. A rejected frame returns an
// error wrapping the attest sentinel (classify with attest.ReasonOf) or
// ErrImpersonation / ErrMalformed; rejections change no state, so the
// caller simply drops the frame.
func (l *Layer) Receive(frame []byte) ([]raftpb.Message, error) {
	if len(frame) == 0 || frame[0] != frameEnvelope {
		return nil, l.reject(fmt.Errorf("%w: not an envelope frame", ErrMalformed))
	}
	raw := frame[1:]
	msg, err := l.recv.Open(raw)
	if err != nil {
		l.onOpenError(raw, err)
		return nil, l.reject(err)
	}
	if msg.Stream.Broadcast {
		return nil, l.onAcks(&msg)
	}
	p := l.peers[msg.Sender]
	if p == nil { // cannot happen: the receiver knows only our peers
		return nil, l.reject(fmt.Errorf("%w: member %d", ErrUnknownPeer, msg.Sender))
	}
	var out []raftpb.Message
	out, err = l.deliver(p, &msg, out)
	// Envelopes that arrived early may now be next in line.
	for err == nil && len(p.early) > 0 {
		next, ok := p.early[p.recvd+1]
		if !ok {
			break
		}
		delete(p.early, p.recvd+1)
		m, oerr := l.recv.Open(next)
		if oerr != nil {
			l.reject(oerr)
			break
		}
		out, err = l.deliver(p, &m, out)
	}
	// Drop early envelopes that can no longer be used.
	for c := range p.early {
		if c <= p.recvd {
			delete(p.early, c)
		}
	}
	return out, err
}

// onOpenError keeps the stream moving: an authentic envelope ahead of the
// expected counter is stashed (attest checks the MAC or signature before
// the counter, so ErrOutOfOrder implies authenticity); a replay means the
// sender has not seen our acknowledgement, so we owe it one.
func (l *Layer) onOpenError(raw []byte, err error) {
	env, perr := attest.Parse(raw)
	if perr != nil || env.Stream.Broadcast {
		return
	}
	p := l.peers[env.Sender]
	if p == nil || p.m.Epoch != env.Epoch {
		return
	}
	switch {
	case errors.Is(err, attest.ErrOutOfOrder):
		if l.stashable(p, env.Counter) {
			if p.early == nil {
				p.early = make(map[uint64][]byte)
			}
			if _, dup := p.early[env.Counter]; !dup {
				p.early[env.Counter] = slices.Clone(raw)
				l.stats.Stashed++
			}
		}
	case errors.Is(err, attest.ErrReplay):
		p.ackOwed = true
	}
}

// stashable reports whether an authentic envelope ahead of the expected
// counter is kept for later: within the current lane, up to Window ahead;
// in a higher lane whose sequence 1 has not arrived, its first Window
// sequence numbers, for the highest such lane only (the sender has left
// the lower ones, whose stashed envelopes are dropped). So a peer's stash
// holds at most 2×Window envelopes.
func (l *Layer) stashable(p *peerState, c uint64) bool {
	w := uint64(l.cfg.Window)
	lane, cur := attest.LaneOf(c), attest.LaneOf(p.recvd)
	if lane == cur {
		return c <= p.recvd+w
	}
	if attest.SeqOf(c) > w {
		return false
	}
	for k := range p.early {
		switch kl := attest.LaneOf(k); {
		case kl > lane:
			return false
		case kl > cur && kl < lane:
			delete(p.early, k)
		}
	}
	return true
}

func (l *Layer) reject(err error) error {
	l.stats.Rejected[attest.ReasonOf(err)]++
	if errors.Is(err, ErrImpersonation) {
		l.stats.Impersonations++
	}
	l.log.Debug("recipe: frame rejected", "reason", attest.ReasonOf(err), "err", err)
	return err
}

// deliver processes one accepted envelope of p's stream.
func (l *Layer) deliver(p *peerState, msg *attest.Message, out []raftpb.Message) ([]raftpb.Message, error) {
	l.stats.Opened++
	if attest.LaneOf(msg.Counter) > attest.LaneOf(p.recvd) {
		// The peer started a new lane (a new term): the rest of the old
		// lane is abandoned, so is a message half reassembled from it.
		// Stashed envelopes of the old lane are dropped by Receive, being
		// below the new counter.
		if p.recvd != 0 {
			l.stats.LaneSwitches++
		}
		p.partial = nil
	}
	p.recvd = msg.Counter
	p.ackOwed = true
	if len(msg.Payload) < payloadHeader {
		// Authentic but malformed: the sender's code is attested, so
		// this is a bug, not an attack; drop it.
		return out, l.reject(fmt.Errorf("%w: payload of %d bytes", ErrMalformed, len(msg.Payload)))
	}
	l.onAck(p, binary.BigEndian.Uint64(msg.Payload))
	chunk := msg.Payload[payloadHeader:]
	switch msg.Kind {
	case kindRaftMore:
		p.partial = append(p.partial, chunk...)
		return out, nil
	case kindRaft:
	default:
		return out, l.reject(fmt.Errorf("%w: envelope kind %d", ErrMalformed, msg.Kind))
	}
	b := chunk
	if p.partial != nil {
		b = append(p.partial, chunk...)
		p.partial = nil
	}
	var m raftpb.Message
	if err := m.Unmarshal(b); err != nil {
		return out, l.reject(fmt.Errorf("%w: raft message: %w", ErrMalformed, err))
	}
	// Transferable authentication at the raft level: the message must
	// come from the raft incarnation of the attested sender and be for
	// ours, or an admitted replica could vote or append as another.
	if m.From != p.raft || m.To != l.RaftID() {
		return out, l.reject(fmt.Errorf("%w: raft %x→%x in an envelope from member %d epoch %d",
			ErrImpersonation, m.From, m.To, msg.Sender, msg.Epoch))
	}
	return append(out, m), nil
}

// onAcks applies a signed acknowledgement vector.
func (l *Layer) onAcks(msg *attest.Message) error {
	if msg.Kind != kindAck || len(msg.Payload)%24 != 0 {
		return l.reject(fmt.Errorf("%w: ack vector kind %d, %d bytes", ErrMalformed, msg.Kind, len(msg.Payload)))
	}
	p := l.peers[msg.Sender]
	if p == nil {
		return nil
	}
	for b := msg.Payload; len(b) > 0; b = b[24:] {
		id := attest.MemberID(binary.BigEndian.Uint64(b))
		e := attest.Epoch(binary.BigEndian.Uint64(b[8:]))
		if id == l.self.ID() && e == l.self.Epoch() {
			l.onAck(p, binary.BigEndian.Uint64(b[16:]))
		}
	}
	return nil
}

// onAck drops the envelopes p acknowledged. An acknowledgement beyond what
// was sent is ignored: it can only come from a faulty peer, and honouring
// it would discard envelopes the peer still needs.
func (l *Layer) onAck(p *peerState, n uint64) {
	if n <= p.acked || n > p.send.Counter() {
		return
	}
	p.acked = n
	i := 0
	for i < len(p.unacked) && p.unacked[i].counter <= n {
		i++
	}
	p.unacked = slices.Delete(p.unacked, 0, i)
	if len(p.unacked) == 0 {
		p.unacked = nil
	}
	p.lastXmit = l.now
}
