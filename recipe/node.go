package recipe

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"slices"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/wmsr/wmsr/attest"
)

// NodeConfig configures a Node.
type NodeConfig struct {
	// ID and Epoch name this incarnation; its raft ID is RaftID(ID, Epoch).
	ID    attest.MemberID
	Epoch attest.Epoch
	// Codec is the message layer: a *Layer (Recipe) or *Plain (vanilla).
	Codec Codec
	// Admitter verifies member records and join attestations against the
	// fleet policy (Recipe's initialisation: nobody gets a channel without
	// attestation).
	Admitter *attest.Admitter
	// Genesis are the records of the initial voters (identical on every
	// initial replica), or nil for a replica that joins a running cluster.
	Genesis []attest.Member
	// Now is the time genesis records are verified at; it is written into
	// the log so that every replica, now or later, verifies alike.
	Now time.Time
	// ElectionTick and HeartbeatTick are raft's (defaults 10 and 1).
	ElectionTick, HeartbeatTick int
	// SnapshotEvery takes a snapshot every this many applied entries
	// (default 1000), keeping CompactKeep entries behind it for slow
	// followers (default 100).
	SnapshotEvery, CompactKeep uint64
	// JoinRetryTicks is how often a joining replica repeats its join
	// request (default 10).
	JoinRetryTicks int
	// MaxSizePerMsg and MaxInflightMsgs are raft's (defaults 64 KiB, 256).
	MaxSizePerMsg   uint64
	MaxInflightMsgs int
	Logger          *slog.Logger
	// Trace, if set, sees every applied entry (checkers, metrics).
	Trace func(raftpb.Entry)
}

// Result completes a request made with Propose or Read.
type Result struct {
	Req   uint64
	Index uint64 // raft index (revision) of the write, or read index
	Err   error
	// Reads only.
	Key   string
	Value []byte
	Found bool
}

type pendingRead struct {
	req   uint64
	key   string
	index uint64
}

// Node is one replica of the configuration log: etcd raft's RawNode with
// MemoryStorage, the configuration Store, and a Codec, stepped by the
// caller (Tick, Receive, Propose, Read, Advance). Like the Layer it does no
// I/O and reads no clock, so the same code runs in the deterministic
// simulation and behind the TCP transport. Not safe for concurrent use.
type Node struct {
	cfg     NodeConfig
	raftID  uint64
	rn      *raft.RawNode
	storage *raft.MemoryStorage
	codec   Codec
	store   *Store
	cs      raftpb.ConfState
	log     *slog.Logger

	reads      map[uint64]string // req → key, awaiting a read index
	ready      []pendingRead     // read index known, awaiting apply
	results    []Result
	out        []Frame
	snapReport []raftpb.Message

	lastSnap uint64

	// Joining.
	joinAtt   []byte
	joinVia   []attest.MemberID
	joinTicks int
	// Joins proposed on behalf of others: member → epoch, and when.
	proposed   map[attest.MemberID]attest.Epoch
	proposedAt map[attest.MemberID]uint64
	ticks      uint64
	now        time.Time
}

// NewNode builds a replica. With Genesis it bootstraps the initial
// configuration; without, it waits to be admitted (Join) and receives its
// state by snapshot.
func NewNode(cfg NodeConfig) (*Node, error) {
	if cfg.Codec == nil || cfg.Admitter == nil {
		return nil, fmt.Errorf("%w: node needs a codec and an admitter", ErrMalformed)
	}
	if cfg.ElectionTick == 0 {
		cfg.ElectionTick = 10
	}
	if cfg.HeartbeatTick == 0 {
		cfg.HeartbeatTick = 1
	}
	if cfg.SnapshotEvery == 0 {
		cfg.SnapshotEvery = 1000
	}
	if cfg.CompactKeep == 0 {
		cfg.CompactKeep = 100
	}
	if cfg.JoinRetryTicks == 0 {
		cfg.JoinRetryTicks = 10
	}
	if cfg.MaxSizePerMsg == 0 {
		cfg.MaxSizePerMsg = 64 << 10
	}
	if cfg.MaxInflightMsgs == 0 {
		cfg.MaxInflightMsgs = 256
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Epoch == 0 || cfg.Epoch > MaxEpoch || cfg.ID > MaxMemberID {
		return nil, fmt.Errorf("%w: member %d epoch %d out of range", ErrMalformed, cfg.ID, cfg.Epoch)
	}
	n := &Node{
		cfg:        cfg,
		raftID:     RaftID(cfg.ID, cfg.Epoch),
		storage:    raft.NewMemoryStorage(),
		codec:      cfg.Codec,
		store:      NewStore(),
		log:        cfg.Logger,
		reads:      make(map[uint64]string),
		proposed:   make(map[attest.MemberID]attest.Epoch),
		proposedAt: make(map[attest.MemberID]uint64),
		now:        cfg.Now,
	}
	rc := &raft.Config{
		ID:              n.raftID,
		ElectionTick:    cfg.ElectionTick,
		HeartbeatTick:   cfg.HeartbeatTick,
		Storage:         n.storage,
		MaxSizePerMsg:   cfg.MaxSizePerMsg,
		MaxInflightMsgs: cfg.MaxInflightMsgs,
		CheckQuorum:     true,
		PreVote:         true,
		ReadOnlyOption:  raft.ReadOnlySafe,
		Logger:          &raft.DefaultLogger{Logger: log.New(io.Discard, "", 0)},
	}
	rn, err := raft.NewRawNode(rc)
	if err != nil {
		return nil, fmt.Errorf("recipe: raft: %w", err)
	}
	n.rn = rn
	if cfg.Genesis != nil {
		peers := make([]raft.Peer, 0, len(cfg.Genesis))
		for _, rec := range cfg.Genesis {
			m, err := n.verify(rec.Attestation, nil, cfg.Now)
			if err != nil {
				return nil, fmt.Errorf("recipe: genesis member %d: %w", rec.ID, err)
			}
			if err := n.codec.SetMember(m); err != nil {
				return nil, err
			}
			peers = append(peers, raft.Peer{ID: RaftID(m.ID, m.Epoch), Context: admissionContext(cfg.Now, m.Attestation)})
		}
		if err := rn.Bootstrap(peers); err != nil {
			return nil, fmt.Errorf("recipe: bootstrap: %w", err)
		}
	}
	return n, nil
}

// admissionContext is the context of an admission configuration change:
// the verification time and the attestation, so that every replica
// re-verifies the attestation identically when it applies the change.
func admissionContext(now time.Time, att []byte) []byte {
	b := binary.BigEndian.AppendUint64(nil, uint64(now.Unix()))
	return append(b, att...)
}

func parseAdmissionContext(b []byte) (time.Time, []byte, error) {
	if len(b) < 8 {
		return time.Time{}, nil, fmt.Errorf("%w: admission context of %d bytes", ErrMalformed, len(b))
	}
	return time.Unix(int64(binary.BigEndian.Uint64(b)), 0), b[8:], nil
}

// verify admits an encoded attestation (prev is the current record of the
// member, whose epoch the new one must exceed).
func (n *Node) verify(attBytes []byte, prev *attest.Member, now time.Time) (attest.Member, error) {
	att, err := attest.ParseAttestation(attBytes)
	if err != nil {
		return attest.Member{}, err
	}
	if uint64(att.Claim.ID) > MaxMemberID || att.Claim.Epoch > MaxEpoch {
		return attest.Member{}, fmt.Errorf("%w: member %d epoch %d out of range", ErrRefused, att.Claim.ID, att.Claim.Epoch)
	}
	return n.cfg.Admitter.Admit(att, prev, now)
}

// SetTime sets the time at which this replica verifies join requests it
// proposes (the process driver passes the wall clock; the time is then
// recorded in the log entry). The simulation keeps the genesis time.
func (n *Node) SetTime(t time.Time) { n.now = t }

// RaftID returns this replica's raft ID.
func (n *Node) RaftID() uint64 { return n.raftID }

// Store returns the configuration state (read-only for callers).
func (n *Node) Store() *Store { return n.store }

// Status returns raft's status.
func (n *Node) Status() raft.BasicStatus { return n.rn.BasicStatus() }

// Leader returns the raft ID of the known leader (0 if none).
func (n *Node) Leader() uint64 { return n.rn.BasicStatus().Lead }

// IsVoter reports whether this incarnation is in the configuration.
func (n *Node) IsVoter() bool {
	return slices.Contains(n.cs.Voters, n.raftID) || slices.Contains(n.cs.VotersOutgoing, n.raftID)
}

// ConfState returns the current raft configuration.
func (n *Node) ConfState() raftpb.ConfState { return n.cs }

// Tick advances raft's and the codec's logical clocks.
func (n *Node) Tick() {
	n.ticks++
	n.rn.Tick()
	n.codec.Tick()
	if n.joinAtt != nil && !n.IsVoter() {
		n.joinTicks++
		if n.joinTicks >= n.cfg.JoinRetryTicks {
			n.joinTicks = 0
			n.sendJoin()
		}
	}
}

// Receive processes one frame from the transport. Rejected frames change
// nothing; the error says why (attest.ReasonOf classifies it).
func (n *Node) Receive(frame []byte) error {
	if len(frame) == 0 {
		return fmt.Errorf("%w: empty frame", ErrMalformed)
	}
	switch frame[0] {
	case frameJoin:
		return n.onJoin(frame[1:])
	case frameMembers:
		return n.onMembers(frame[1:])
	}
	msgs, err := n.codec.Receive(frame)
	for _, m := range msgs {
		if serr := n.rn.Step(m); serr != nil && !errors.Is(serr, raft.ErrStepPeerNotFound) && !errors.Is(serr, raft.ErrStepLocalMsg) {
			n.log.Debug("recipe: step", "err", serr)
		}
	}
	return err
}

// Propose submits a command; its Result (with the same req) comes from
// Advance once the entry is applied here. A proposal lost before it is
// committed (leader change, no leader) yields no Result: callers time out.
func (n *Node) Propose(req uint64, cmd Command) error {
	if err := cmd.validate(); err != nil {
		return err
	}
	p := proposal{Origin: n.raftID, Req: req, Cmd: cmd}
	if err := n.rn.Propose(p.marshal()); err != nil {
		if errors.Is(err, raft.ErrProposalDropped) {
			return fmt.Errorf("%w: %w", ErrNotLeader, err)
		}
		return fmt.Errorf("recipe: propose: %w", err)
	}
	return nil
}

// Read starts a linearizable read of key (raft ReadIndex, etcd's
// ReadOnlySafe: the leader confirms its leadership with a heartbeat round
// before answering), completed by a Result once this replica has applied
// up to the read index.
func (n *Node) Read(req uint64, key string) {
	n.reads[req] = key
	var ctx [8]byte
	binary.BigEndian.PutUint64(ctx[:], req)
	n.rn.ReadIndex(ctx[:])
}

// Join makes this (empty) replica ask via for admission of its
// attestation, repeating every JoinRetryTicks until it is a voter.
func (n *Node) Join(attestation []byte, via []attest.MemberID) {
	n.joinAtt = slices.Clone(attestation)
	n.joinVia = slices.Clone(via)
	n.sendJoin()
}

func (n *Node) sendJoin() {
	for _, id := range n.joinVia {
		if id == n.cfg.ID {
			continue
		}
		n.out = append(n.out, Frame{To: id, Data: append([]byte{frameJoin}, n.joinAtt...)})
	}
}

// frameMembers carries the current member records to a joining replica.
// They need no channel: each record holds its attestation, which the
// joiner re-verifies against its policy, so a relay can at worst withhold
// or serve outdated records (stale epochs, refused by attest).
const frameMembers = 'M'

// onJoin handles a join request (Recipe's recovery): verify the
// attestation against the policy and the admitted record (the epoch must
// be higher, so a replica restarted from an old disk, or replaying an old
// attestation, is refused), then propose the configuration change that
// replaces the old incarnation by the new one, and answer with the member
// records the joiner needs to open our envelopes.
func (n *Node) onJoin(attBytes []byte) error {
	att, err := attest.ParseAttestation(attBytes)
	if err != nil {
		return err
	}
	id, epoch := att.Claim.ID, att.Claim.Epoch
	var prev *attest.Member
	if m, ok := n.store.Member(id); ok {
		if m.Epoch == epoch && m.Claim.Digest() == att.Claim.Digest() {
			// Already admitted: the joiner just lacks our records.
			n.sendMembers(id)
			return nil
		}
		prev = &m
	}
	now := n.now
	if _, err := n.verify(attBytes, prev, now); err != nil {
		return fmt.Errorf("%w: member %d epoch %d: %w", ErrRefused, id, epoch, err)
	}
	n.sendMembers(id)
	if n.proposed[id] >= epoch && n.ticks-n.proposedAt[id] < uint64(2*n.cfg.ElectionTick) {
		return nil // in flight; retried if it does not commit in time
	}
	cc := raftpb.ConfChangeV2{Context: admissionContext(now, attBytes)}
	newID := RaftID(id, epoch)
	if prev != nil {
		old := RaftID(prev.ID, prev.Epoch)
		if slices.Contains(n.cs.Voters, old) {
			cc.Changes = append(cc.Changes, raftpb.ConfChangeSingle{Type: raftpb.ConfChangeRemoveNode, NodeID: old})
		}
	}
	cc.Changes = append(cc.Changes, raftpb.ConfChangeSingle{Type: raftpb.ConfChangeAddNode, NodeID: newID})
	if err := n.rn.ProposeConfChange(cc); err != nil {
		return fmt.Errorf("recipe: propose admission of member %d: %w", id, err)
	}
	n.proposed[id], n.proposedAt[id] = epoch, n.ticks
	return nil
}

func (n *Node) sendMembers(to attest.MemberID) {
	b := []byte{frameMembers}
	for _, m := range n.store.Members() {
		enc, err := m.MarshalBinary()
		if err != nil {
			continue
		}
		b = binary.BigEndian.AppendUint32(b, uint32(len(enc)))
		b = append(b, enc...)
	}
	n.out = append(n.out, Frame{To: to, Data: b})
}

func (n *Node) onMembers(b []byte) error {
	for len(b) >= 4 {
		l := int(binary.BigEndian.Uint32(b))
		if l > len(b)-4 {
			return fmt.Errorf("%w: member list", ErrMalformed)
		}
		var rec attest.Member
		if err := rec.UnmarshalBinary(b[4 : 4+l]); err != nil {
			return err
		}
		b = b[4+l:]
		if rec.ID == n.cfg.ID {
			continue
		}
		m, err := n.verify(rec.Attestation, nil, n.now)
		if err != nil {
			n.log.Debug("recipe: member record refused", "member", rec.ID, "err", err)
			continue
		}
		if err := n.codec.SetMember(m); err != nil && !errors.Is(err, attest.ErrStale) {
			n.log.Debug("recipe: member record", "member", rec.ID, "err", err)
		}
	}
	return nil
}

// Advance processes everything raft has ready — persist to storage, send,
// apply, complete reads — and returns the frames to transmit and the
// completed requests.
func (n *Node) Advance() ([]Frame, []Result) {
	for n.rn.HasReady() {
		rd := n.rn.Ready()
		if !raft.IsEmptySnap(rd.Snapshot) {
			n.applySnapshot(rd.Snapshot)
		}
		if len(rd.Entries) > 0 {
			if err := n.storage.Append(rd.Entries); err != nil {
				n.log.Error("recipe: append", "err", err)
			}
		}
		if !raft.IsEmptyHardState(rd.HardState) {
			_ = n.storage.SetHardState(rd.HardState)
			// A new term starts fresh lanes before this Ready's
			// messages are sealed (Recipe's view change).
			if ts, ok := n.codec.(termSetter); ok {
				ts.SetTerm(rd.HardState.Term)
			}
		}
		n.sendMsgs(rd.Messages)
		for _, e := range rd.CommittedEntries {
			n.applyEntry(e)
		}
		for _, rs := range rd.ReadStates {
			if len(rs.RequestCtx) != 8 {
				continue
			}
			req := binary.BigEndian.Uint64(rs.RequestCtx)
			if key, ok := n.reads[req]; ok {
				delete(n.reads, req)
				n.ready = append(n.ready, pendingRead{req: req, key: key, index: rs.Index})
			}
		}
		n.rn.Advance(rd)
		for _, m := range n.snapReport {
			status := raft.SnapshotFinish
			if m.Reject {
				status = raft.SnapshotFailure
			}
			n.rn.ReportSnapshot(m.To, status)
		}
		n.snapReport = n.snapReport[:0]
	}
	n.completeReads()
	n.maybeSnapshot(false)
	frames := append(n.out, n.codec.Frames()...)
	n.out = nil
	res := n.results
	n.results = nil
	return frames, res
}

// termSetter is implemented by codecs whose channels follow raft's term
// (*Layer: one lane per term); Plain has none.
type termSetter interface{ SetTerm(term uint64) }

func (n *Node) sendMsgs(msgs []raftpb.Message) {
	for _, m := range msgs {
		err := n.codec.Send([]raftpb.Message{m})
		if m.Type == raftpb.MsgSnap {
			// The layer delivers what it sealed (retransmitting until
			// acknowledged), so a sealed snapshot is as good as sent;
			// one dropped before sealing is a failure raft must retry.
			n.snapReport = append(n.snapReport, raftpb.Message{To: m.To, Reject: err != nil})
		}
	}
}

func (n *Node) completeReads() {
	keep := n.ready[:0]
	for _, r := range n.ready {
		if n.store.Applied() < r.index {
			keep = append(keep, r)
			continue
		}
		rec, ok := n.store.Get(r.key)
		n.results = append(n.results, Result{Req: r.req, Index: r.index, Key: r.key, Value: rec.Value, Found: ok})
	}
	n.ready = keep
}

func (n *Node) applySnapshot(s raftpb.Snapshot) {
	if err := n.storage.ApplySnapshot(s); err != nil {
		n.log.Error("recipe: apply snapshot", "err", err)
		return
	}
	if err := n.store.restore(s.Data); err != nil {
		n.log.Error("recipe: restore snapshot", "err", err)
		return
	}
	n.store.applied = s.Metadata.Index
	n.cs = s.Metadata.ConfState
	n.lastSnap = s.Metadata.Index
	for _, m := range n.store.Members() {
		if err := n.codec.SetMember(m); err != nil && !errors.Is(err, attest.ErrStale) {
			n.log.Debug("recipe: member from snapshot", "member", m.ID, "err", err)
		}
	}
}

func (n *Node) applyEntry(e raftpb.Entry) {
	if n.cfg.Trace != nil {
		n.cfg.Trace(e)
	}
	switch e.Type {
	case raftpb.EntryNormal:
		if len(e.Data) == 0 {
			n.store.applied = e.Index
			return
		}
		var p proposal
		err := p.unmarshal(e.Data)
		if err == nil {
			err = n.store.apply(e.Index, &p.Cmd)
		} else {
			n.store.applied = e.Index
		}
		if p.Origin == n.raftID {
			n.results = append(n.results, Result{Req: p.Req, Index: e.Index, Err: err})
		}
	case raftpb.EntryConfChange:
		var cc raftpb.ConfChange
		if err := cc.Unmarshal(e.Data); err != nil {
			n.log.Error("recipe: conf change", "err", err)
			return
		}
		n.applyConfChange(e.Index, cc.AsV2())
	case raftpb.EntryConfChangeV2:
		var cc raftpb.ConfChangeV2
		if err := cc.Unmarshal(e.Data); err != nil {
			n.log.Error("recipe: conf change", "err", err)
			return
		}
		n.applyConfChange(e.Index, cc)
	}
}

// applyConfChange applies an admission (Recipe's initialisation for
// genesis members, recovery for restarted ones) after re-verifying its
// attestation with the time recorded in the entry, so that every replica
// decides alike. A change that fails verification, or whose raft changes
// do not match what the attestation justifies, is applied as a no-op (raft
// ignores changes to node 0, as etcd does for refused changes).
func (n *Node) applyConfChange(index uint64, cc raftpb.ConfChangeV2) {
	n.store.applied = index
	if cc.LeaveJoint() {
		n.cs = *n.rn.ApplyConfChange(cc)
		return
	}
	refuse := func(why error) {
		n.log.Warn("recipe: configuration change refused", "index", index, "err", why)
		n.cs = *n.rn.ApplyConfChange(raftpb.ConfChangeV2{Changes: []raftpb.ConfChangeSingle{{Type: raftpb.ConfChangeAddNode, NodeID: 0}}})
	}
	if len(cc.Context) == 0 {
		// Removal by an operator: allowed, it grants nothing.
		for _, c := range cc.Changes {
			if c.Type != raftpb.ConfChangeRemoveNode {
				refuse(fmt.Errorf("%w: %v without attestation", ErrRefused, c.Type))
				return
			}
		}
		n.cs = *n.rn.ApplyConfChange(cc)
		for _, c := range cc.Changes {
			id, e := MemberOf(c.NodeID)
			if m, ok := n.store.Member(id); ok && m.Epoch == e {
				n.codec.RemoveMember(id)
			}
		}
		return
	}
	now, att, err := parseAdmissionContext(cc.Context)
	if err != nil {
		refuse(err)
		return
	}
	a, err := attest.ParseAttestation(att)
	if err != nil {
		refuse(err)
		return
	}
	var prev *attest.Member
	if m, ok := n.store.Member(a.Claim.ID); ok {
		prev = &m
	}
	m, err := n.verify(att, prev, now)
	if err != nil {
		refuse(err)
		return
	}
	// The raft changes must be exactly: add the new incarnation, and
	// remove the previous one if it is a voter.
	want := []raftpb.ConfChangeSingle{}
	if prev != nil {
		if old := RaftID(prev.ID, prev.Epoch); slices.Contains(n.cs.Voters, old) {
			want = append(want, raftpb.ConfChangeSingle{Type: raftpb.ConfChangeRemoveNode, NodeID: old})
		}
	}
	want = append(want, raftpb.ConfChangeSingle{Type: raftpb.ConfChangeAddNode, NodeID: RaftID(m.ID, m.Epoch)})
	if !slices.Equal(want, cc.Changes) {
		refuse(fmt.Errorf("%w: changes %v do not match admission of member %d epoch %d", ErrRefused, cc.Changes, m.ID, m.Epoch))
		return
	}
	n.cs = *n.rn.ApplyConfChange(cc)
	n.store.admit(index, m)
	if err := n.codec.SetMember(m); err != nil {
		n.log.Warn("recipe: admitted member", "member", m.ID, "err", err)
	}
	if prev != nil {
		// Make the newcomer's state transfer a snapshot rather than a
		// replay of the whole log.
		n.maybeSnapshot(true)
	}
}

// maybeSnapshot snapshots the store and compacts the log.
func (n *Node) maybeSnapshot(force bool) {
	applied := n.store.Applied()
	if applied <= n.lastSnap || (!force && applied-n.lastSnap < n.cfg.SnapshotEvery) {
		return
	}
	data, err := n.store.Marshal()
	if err != nil {
		n.log.Error("recipe: snapshot", "err", err)
		return
	}
	if _, err := n.storage.CreateSnapshot(applied, &n.cs, data); err != nil {
		if !errors.Is(err, raft.ErrSnapOutOfDate) {
			n.log.Error("recipe: snapshot", "err", err)
		}
		return
	}
	n.lastSnap = applied
	compact := applied
	if !force && applied > n.cfg.CompactKeep {
		compact = applied - n.cfg.CompactKeep
	}
	if fi, _ := n.storage.FirstIndex(); compact > fi {
		if err := n.storage.Compact(compact); err != nil && !errors.Is(err, raft.ErrCompacted) {
			n.log.Error("recipe: compact", "err", err)
		}
	}
}
