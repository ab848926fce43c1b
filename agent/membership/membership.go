package membership

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/wmsr/wmsr/attest"
)

// Delegate receives what the membership layer learns, in memberlist's
// style. Its methods are called from a single goroutine, one at a time and
// in the order the events were decided, so an implementation can keep
// simple state. They should return quickly: while one runs, received
// attestations queue up (and are dropped beyond Config.QueueSize). They may
// call Member and Members, but must not call Close, which waits for them.
//
// For each member id the calls alternate: NotifyAdmitted when a record
// becomes usable (admitted, and memberlist sees its node alive gossiping
// exactly that claim), NotifyDead when it stops being usable. A member
// that restarts under a higher epoch therefore yields NotifyDead for the
// old epoch (when the failure detector notices, or when the new epoch shows
// up, whichever comes first) and NotifyAdmitted for the new one.
type Delegate interface {
	// NotifyAdmitted: m's record was admitted and its node is alive with
	// that claim: the first time, after a restart under a higher epoch, or
	// when a member reported dead turns out alive after all (a refuted
	// suspicion; then m is the same record as before). m is a copy.
	NotifyAdmitted(m attest.Member)
	// NotifyDead: the member reported by NotifyAdmitted is no longer
	// usable: the failure detector declared its node dead, or it left, and
	// it stayed so for Config.DeadDelay; or it now gossips (or has
	// attested) a higher epoch.
	NotifyDead(id attest.MemberID)
	// NotifyRejected: an attestation for member id failed admission (the
	// Admitter refused it, e.g. another CA or a stale epoch, or its claim
	// does not match what the node named after id gossips). id is the one
	// the attestation claims, which is all that is known about the sender.
	// Repeats of a refused attestation (byte for byte) are reported once
	// (while the reason holds).
	NotifyRejected(id attest.MemberID, err error)
}

// ErrClosed is returned by Join and Leave after Close.
var ErrClosed = errors.New("membership: closed")

// ErrMetaMismatch is wrapped (with attest.ErrStale for an older epoch) by
// the rejection of an attestation whose claim contradicts the metadata that
// the node named after its member id gossips: an older epoch than the node
// now runs, or the same epoch with other keys.
var ErrMetaMismatch = errors.New("membership: attestation does not match the gossiped node metadata")

// Info describes a peer as this agent currently sees it.
type Info struct {
	ID attest.MemberID
	// Epoch is the epoch the node gossips or, for a member known only
	// from an attestation, the epoch of its admitted record.
	Epoch attest.Epoch
	// Addr is the node's host:port, or "" if memberlist has not seen it.
	Addr string
	// Alive is memberlist's view: alive or suspect, or dead (or left) for
	// less than Config.DeadDelay.
	Alive bool
	// Admitted: a record for exactly this epoch (and claim) is admitted,
	// so Member(ID) returns it.
	Admitted bool
}

// Stats counts what the membership layer did, for metrics.
type Stats struct {
	Admitted    uint64 // attestations admitted (new records)
	Rejected    uint64 // attestations refused (NotifyRejected calls)
	Malformed   uint64 // frames or attestations that failed to decode
	Dropped     uint64 // received messages dropped because the queue was full
	SendDropped uint64 // attestation sends dropped because too many were pending
	SendErrors  uint64 // attestation sends that failed
	Conflicts   uint64 // another process claims a member id (ours or a peer's)
}

type counters struct {
	admitted, rejected, malformed, dropped, sendDropped, sendErrors, conflicts atomic.Uint64
}

// Membership is one agent's view of its fleet: a memberlist node named
// after its member id, plus the admitted record of every peer. Create it
// with New, connect it with Join, stop it with Leave (optional) and Close.
// All methods are safe for concurrent use.
type Membership struct {
	cfg      Config
	log      *slog.Logger
	now      func() time.Time
	self     nodeMeta
	selfName string
	selfMeta []byte
	// Our attestation, framed: plain, and asking for a reply.
	selfFrame, selfAskFrame []byte

	ml *memberlist.Memberlist

	// Inbound: memberlist's callbacks hand work to the worker (run) through
	// these without blocking. Node events are coalesced per node name
	// (bounded by the cluster: memberlist only reports nodes it accepted);
	// messages go through a bounded channel.
	evMu   sync.Mutex
	events map[string]nodeEvent
	kick   chan struct{}
	inbox  chan []byte

	// Outbound: attestation sends, coalesced per node, served by sendLoop
	// (a send can block up to TCPTimeout on a dying node, which must not
	// stall admission).
	outMu   sync.Mutex
	outbox  map[string]sendReq
	outKick chan struct{}

	// peers is written only by the worker goroutine, under mu; the worker
	// reads it without locking, others under RLock.
	mu    sync.RWMutex
	peers map[attest.MemberID]*peer
	// dying holds, by node name, deaths reported by memberlist that wait
	// out Config.DeadDelay (owned by the worker), and dyingTimer fires at
	// the earliest.
	dying      map[string]pendingDeath
	dyingTimer *time.Timer
	// refused holds the SHA-256 of attestations refused recently (owned
	// by the worker), so that their repeats (a rogue's every push/pull)
	// are neither verified nor reported again. The whole encoding is
	// hashed, not just the claim: a forged copy of a genuine claim must
	// not mask the genuine one. A refusal for contradicting a node's
	// metadata holds only while the node gossips that metadata, which is
	// recorded with it; the zero nodeMeta marks a refusal by the Admitter,
	// which never becomes an admission (epochs and clocks only move
	// forward). Cleared when full.
	refused map[[32]byte]nodeMeta

	// conflicts holds, by node name, the address of the latest other
	// process that claimed a peer's name while memberlist still held that
	// name at another address (a member restarted at a new address before
	// its old process was declared dead). memberlist refuses it then, and
	// learns of it again only from its next push/pull; reclaim pulls its
	// state as soon as the old process is dead. Bounded by the node names
	// memberlist holds.
	conflictMu sync.Mutex
	conflicts  map[string]string

	stats counters

	stopped atomic.Bool
	stop    chan struct{}
	wg      sync.WaitGroup

	life      sync.Mutex // serialises Join's start, Leave and Close
	closed    bool
	closeOnce sync.Once
	closeErr  error
}

// nodeEvent is the latest memberlist state of a node (copied: memberlist
// owns the *Node it passes).
type nodeEvent struct {
	node  memberlist.Node
	alive bool
}

type pendingDeath struct {
	ev  nodeEvent
	due time.Time
}

type sendReq struct {
	node memberlist.Node
	ask  bool // ask the peer to send its attestation back
}

// peer is what this agent knows of one member id.
type peer struct {
	id attest.MemberID
	// From memberlist.
	known bool
	node  memberlist.Node
	alive bool
	meta  nodeMeta
	// From admission.
	rec       *attest.Member
	recDigest [32]byte
	// What the Delegate has been told.
	reported      bool
	reportedEpoch attest.Epoch
}

// New validates cfg, starts memberlist (listening, not yet joined) and the
// worker goroutines. Self must be admissible under cfg.Admitter at
// cfg.Now: an agent that its own policy refuses would be refused by every
// peer.
func New(cfg Config) (*Membership, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.Keyring = cloneKeys(cfg.Keyring)
	if _, err := cfg.Admitter.Admit(cfg.Self, nil, cfg.Now()); err != nil {
		return nil, fmt.Errorf("%w: Self: not admissible under the Admitter's policy: %w", ErrConfig, err)
	}
	enc, err := cfg.Self.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("%w: Self: %w", ErrConfig, err)
	}
	frame, err := encodeMessage(message{Type: msgAttestation, Body: enc})
	if err != nil {
		return nil, fmt.Errorf("%w: Self: %w", ErrConfig, err)
	}
	ask, err := encodeMessage(message{Type: msgAttestation, Flags: flagReply, Body: enc})
	if err != nil {
		return nil, fmt.Errorf("%w: Self: %w", ErrConfig, err)
	}
	self := metaOf(&cfg.Self.Claim)
	m := &Membership{
		cfg:          cfg,
		now:          cfg.Now,
		self:         self,
		selfName:     nodeName(cfg.Fleet, self.ID),
		selfMeta:     encodeMeta(self),
		selfFrame:    frame,
		selfAskFrame: ask,
		events:       make(map[string]nodeEvent),
		kick:         make(chan struct{}, 1),
		inbox:        make(chan []byte, cfg.QueueSize),
		outbox:       make(map[string]sendReq),
		outKick:      make(chan struct{}, 1),
		peers:        make(map[attest.MemberID]*peer),
		dying:        make(map[string]pendingDeath),
		refused:      make(map[[32]byte]nodeMeta),
		conflicts:    make(map[string]string),
		stop:         make(chan struct{}),
	}
	m.log = cfg.Logger.With("fleet", cfg.Fleet, "member", uint64(self.ID), "epoch", uint64(self.Epoch))

	mc, err := m.memberlistConfig()
	if err != nil {
		return nil, err
	}
	if cfg.Keyring == nil {
		m.log.Warn("membership: gossip is NOT encrypted (Config.Keyring is nil): anyone on the network can join, " +
			"inject gossip and declare members dead; member identities still come only from attestation")
	}
	ml, err := memberlist.Create(mc)
	if err != nil {
		return nil, fmt.Errorf("membership: starting memberlist on %s: %w",
			net.JoinHostPort(cfg.BindAddr, strconv.Itoa(cfg.BindPort)), err)
	}
	m.ml = ml
	m.wg.Add(3)
	go m.run()
	go m.sendLoop()
	go m.reconnectLoop()
	m.log.Info("membership: started", "node", m.selfName, "addr", m.Addr(), "encrypted", cfg.Keyring != nil)
	return m, nil
}

func (m *Membership) memberlistConfig() (*memberlist.Config, error) {
	c := &m.cfg
	mc := memberlist.DefaultLANConfig()
	mc.Name = m.selfName
	mc.Label = labelPrefix + c.Fleet
	mc.BindAddr, mc.BindPort = c.BindAddr, c.BindPort
	mc.AdvertiseAddr, mc.AdvertisePort = c.AdvertiseAddr, c.AdvertisePort
	mc.ProbeInterval, mc.ProbeTimeout = c.ProbeInterval, c.ProbeTimeout
	mc.IndirectChecks = c.IndirectChecks
	mc.SuspicionMult, mc.SuspicionMaxTimeoutMult = c.SuspicionMult, c.SuspicionMaxTimeoutMult
	mc.GossipInterval, mc.GossipNodes = c.GossipInterval, c.GossipNodes
	mc.RetransmitMult = c.RetransmitMult
	mc.GossipToTheDeadTime = c.GossipToTheDeadTime
	mc.PushPullInterval = c.PushPullInterval
	mc.TCPTimeout = c.TCPTimeout
	mc.DeadNodeReclaimTime = c.DeadNodeReclaimTime
	if c.Keyring != nil {
		kr, err := memberlist.NewKeyring(c.Keyring[1:], c.Keyring[0])
		if err != nil {
			return nil, fmt.Errorf("%w: Keyring: %w", ErrConfig, err)
		}
		mc.Keyring = kr
		mc.GossipVerifyIncoming, mc.GossipVerifyOutgoing = true, true
	}
	// Our frames are versioned themselves; announcing the version to
	// memberlist also makes it refuse to merge with nodes that speak none.
	mc.DelegateProtocolVersion, mc.DelegateProtocolMin, mc.DelegateProtocolMax = msgVersion, msgVersion, msgVersion
	h := &hooks{m: m}
	mc.Delegate, mc.Events, mc.Conflict, mc.Alive = h, h, h, h
	mc.Logger = newMemberlistLogger(m.log)
	return mc, nil
}

// Join contacts the seeds (host:port, as returned by Addr) one after the
// other and syncs state with each that answers; it returns how many did.
// It fails if none did or ctx ended first. Each seed attempt is bounded by
// Config.TCPTimeout; one under way when ctx ends may still complete in the
// background (Close waits for it).
func (m *Membership) Join(ctx context.Context, seeds []string) (int, error) {
	if len(seeds) == 0 {
		return 0, errors.New("membership: join: no seeds")
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("membership: join: %w", err)
	}
	m.life.Lock()
	if m.closed {
		m.life.Unlock()
		return 0, ErrClosed
	}
	m.wg.Add(1)
	m.life.Unlock()

	type result struct {
		n    int
		errs []error
	}
	done := make(chan result, 1)
	go func() {
		defer m.wg.Done()
		var r result
		for _, s := range seeds {
			if err := ctx.Err(); err != nil {
				r.errs = append(r.errs, err)
				break
			}
			n, err := m.ml.Join([]string{s})
			r.n += n
			if err != nil {
				r.errs = append(r.errs, fmt.Errorf("seed %s: %w", s, err))
			}
		}
		done <- r
	}()
	select {
	case r := <-done:
		if r.n == 0 {
			return 0, fmt.Errorf("membership: join: no seed answered: %w", errors.Join(r.errs...))
		}
		if len(r.errs) > 0 {
			m.log.Warn("membership: some seeds did not answer", "joined", r.n, "err", errors.Join(r.errs...))
		}
		return r.n, nil
	case <-ctx.Done():
		return 0, fmt.Errorf("membership: join: %w", ctx.Err())
	}
}

// Addr returns the host:port other agents pass to Join: the advertised
// address, with the port the OS chose if Config.BindPort was 0.
func (m *Membership) Addr() string {
	return m.ml.LocalNode().Address()
}

// Members returns every peer (not this agent) known from memberlist or
// from an admitted attestation, sorted by id.
func (m *Membership) Members() []Info {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]Info, 0, len(m.peers))
	for _, p := range m.peers {
		in := Info{ID: p.id, Alive: p.known && p.alive}
		if p.known {
			in.Epoch = p.meta.Epoch
			in.Addr = p.node.Address()
			in.Admitted = p.rec != nil && p.rec.Epoch == p.meta.Epoch && p.recDigest == p.meta.Digest
		} else if p.rec != nil {
			in.Epoch, in.Admitted = p.rec.Epoch, true
		}
		out = append(out, in)
	}
	slices.SortFunc(out, func(a, b Info) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return out
}

// Member returns a copy of the newest admitted record of id, whether or
// not its node is currently alive (use Members or the Delegate for
// liveness): it is what stale epochs are judged against.
func (m *Membership) Member(id attest.MemberID) (attest.Member, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	p, ok := m.peers[id]
	if !ok || p.rec == nil {
		return attest.Member{}, false
	}
	return cloneMember(p.rec), true
}

// Stats returns the counters.
func (m *Membership) Stats() Stats {
	s := &m.stats
	return Stats{
		Admitted:    s.admitted.Load(),
		Rejected:    s.rejected.Load(),
		Malformed:   s.malformed.Load(),
		Dropped:     s.dropped.Load(),
		SendDropped: s.sendDropped.Load(),
		SendErrors:  s.sendErrors.Load(),
		Conflicts:   s.conflicts.Load(),
	}
}

// Leave tells the cluster this agent is leaving, so that peers report it
// dead at once instead of after the failure detector's timeout, and waits
// up to timeout (0: no limit) for that to be broadcast. The node keeps
// running until Close.
func (m *Membership) Leave(timeout time.Duration) error {
	m.life.Lock()
	defer m.life.Unlock()
	if m.closed {
		return ErrClosed
	}
	if err := m.ml.Leave(timeout); err != nil {
		return fmt.Errorf("membership: leave: %w", err)
	}
	return nil
}

// Close stops memberlist without a leave message (peers detect the failure;
// call Leave first for a graceful exit) and waits for this package's
// goroutines, including a Join under way. It is idempotent.
func (m *Membership) Close() error {
	m.closeOnce.Do(func() {
		m.life.Lock()
		m.closed = true
		m.life.Unlock()
		m.stopped.Store(true)
		if err := m.ml.Shutdown(); err != nil {
			m.closeErr = fmt.Errorf("membership: shutting down memberlist: %w", err)
		}
		close(m.stop)
		m.wg.Wait()
		m.log.Info("membership: closed")
	})
	return m.closeErr
}

// maxRefused bounds Membership.refused.
const maxRefused = 1024

// note is one Delegate call, decided under mu and made after releasing it
// (so that the Delegate may call Member and Members).
type note struct {
	kind   noteKind
	id     attest.MemberID
	member attest.Member // noteAdmitted: a copy of the record
	err    error         // noteRejected
}

type noteKind uint8

const (
	noteAdmitted noteKind = iota + 1
	noteDead
	noteRejected
)

// run is the worker: it applies node events and received attestations to
// the peer table, one at a time, and calls the Delegate. Events are applied
// before each message, so that a node's metadata (which memberlist merges
// before handing over the push/pull user state) is known when its
// attestation is checked.
func (m *Membership) run() {
	defer m.wg.Done()
	defer func() {
		if m.dyingTimer != nil {
			m.dyingTimer.Stop()
		}
	}()
	for {
		m.applyEvents()
		var due <-chan time.Time
		if m.dyingTimer != nil {
			due = m.dyingTimer.C
		}
		select {
		case <-m.stop:
			return
		case <-m.kick:
		case <-due:
			m.dyingTimer = nil
		case b := <-m.inbox:
			m.applyEvents()
			m.handleMessage(b)
		}
	}
}

// applyEvents applies the pending node events: alive ones at once, deaths
// once they have lasted Config.DeadDelay without the node coming back.
func (m *Membership) applyEvents() {
	var evs map[string]nodeEvent
	m.evMu.Lock()
	if len(m.events) > 0 {
		evs, m.events = m.events, make(map[string]nodeEvent)
	}
	m.evMu.Unlock()
	now := time.Now()
	for name, ev := range evs {
		switch {
		case ev.alive:
			delete(m.dying, name)
			m.applyEvent(ev)
		case m.cfg.DeadDelay > 0:
			d, ok := m.dying[name]
			if !ok {
				d.due = now.Add(m.cfg.DeadDelay)
			}
			d.ev = ev
			m.dying[name] = d
		default:
			m.applyEvent(ev)
		}
	}
	if len(m.dying) == 0 {
		return
	}
	var next time.Time
	for name, d := range m.dying {
		if !now.Before(d.due) {
			delete(m.dying, name)
			m.applyEvent(d.ev)
		} else if next.IsZero() || d.due.Before(next) {
			next = d.due
		}
	}
	if m.dyingTimer != nil {
		m.dyingTimer.Stop()
		m.dyingTimer = nil
	}
	if !next.IsZero() {
		m.dyingTimer = time.NewTimer(next.Sub(now))
	}
}

func (m *Membership) applyEvent(ev nodeEvent) {
	id, err := parseNodeName(m.cfg.Fleet, ev.node.Name)
	if err != nil {
		m.log.Debug("membership: ignoring node", "node", ev.node.Name, "err", err)
		return
	}
	var meta nodeMeta
	if ev.alive {
		if meta, err = decodeMeta(ev.node.Meta); err != nil {
			m.log.Warn("membership: ignoring node with bad metadata", "node", ev.node.Name, "err", err)
			return
		}
		if meta.ID != id {
			m.log.Warn("membership: ignoring node whose metadata names another member", "node", ev.node.Name, "meta_id", uint64(meta.ID))
			return
		}
	}
	m.mu.Lock()
	p := m.peerLocked(id)
	p.known, p.node = true, ev.node
	if ev.alive {
		if !p.alive {
			m.log.Info("membership: node alive", "node", ev.node.Name, "addr", ev.node.Address(), "peer_epoch", uint64(meta.Epoch))
		}
		p.alive, p.meta = true, meta
	} else if p.alive {
		// memberlist does not say whether it failed or left: the State of
		// the Node it passes is not maintained.
		p.alive = false
		m.log.Info("membership: node dead or left", "node", ev.node.Name, "addr", ev.node.Address())
	}
	notes := m.syncLocked(p, nil)
	ask := p.rec == nil || p.rec.Epoch != p.meta.Epoch || p.recDigest != p.meta.Digest
	m.mu.Unlock()
	m.emit(notes)
	if ev.alive {
		// A node that joined or changed (restarted) gets our attestation;
		// if we lack its own for the epoch it gossips, we ask for it.
		m.queueSend(ev.node, ask)
	} else {
		m.reclaim(ev.node)
	}
}

// reclaim: when a node is reported dead and another process claimed its
// name at another address meanwhile, push/pull with that process once
// memberlist lets a dead name be reclaimed.
func (m *Membership) reclaim(dead memberlist.Node) {
	m.conflictMu.Lock()
	addr, ok := m.conflicts[dead.Name]
	delete(m.conflicts, dead.Name)
	m.conflictMu.Unlock()
	if !ok || addr == dead.Address() {
		return
	}
	m.life.Lock()
	if m.closed {
		m.life.Unlock()
		return
	}
	m.wg.Add(1)
	m.life.Unlock()
	go func() {
		defer m.wg.Done()
		select {
		case <-m.stop:
			return
		case <-time.After(m.cfg.DeadNodeReclaimTime):
		}
		if _, err := m.ml.Join([]string{addr}); err != nil {
			m.log.Debug("membership: contacting the new process of a dead node failed", "node", dead.Name, "addr", addr, "err", err)
			return
		}
		m.log.Info("membership: synced with the new process of a dead node", "node", dead.Name, "addr", addr)
	}()
}

// reconnectLoop: every PushPullInterval, push/pull with one member that
// memberlist holds dead or left, at its last address (as Serf does).
// memberlist never contacts a dead node again, so a restarted member with
// no seeds to join (or whose seeds are gone) would otherwise never be seen
// again. A member that is really gone costs one failed dial per interval.
func (m *Membership) reconnectLoop() {
	defer m.wg.Done()
	tick := time.NewTicker(m.cfg.PushPullInterval)
	defer tick.Stop()
	var next int
	for {
		select {
		case <-m.stop:
			return
		case <-tick.C:
		}
		m.mu.RLock()
		var addrs []string
		for _, p := range m.peers {
			if p.known && !p.alive {
				addrs = append(addrs, p.node.Address())
			}
		}
		m.mu.RUnlock()
		if len(addrs) == 0 {
			continue
		}
		slices.Sort(addrs)
		addr := addrs[next%len(addrs)]
		next++
		if _, err := m.ml.Join([]string{addr}); err != nil {
			m.log.Debug("membership: reconnecting to a dead member failed", "addr", addr, "err", err)
		} else {
			m.log.Info("membership: reconnected to a dead member's address", "addr", addr)
		}
	}
}

// handleMessage decodes, checks and admits one received attestation.
func (m *Membership) handleMessage(b []byte) {
	msg, err := decodeMessage(b)
	if err != nil {
		m.malformed("membership: dropping undecodable message", err)
		return
	}
	att, err := attest.ParseAttestation(msg.Body)
	if err != nil {
		m.malformed("membership: dropping undecodable attestation", err)
		return
	}
	id, d := att.Claim.ID, att.Claim.Digest()
	if id == m.self.ID {
		m.selfAttestation(&att, d)
		return
	}
	p := m.peers[id] // the worker is the only writer: no lock needed to read
	if p != nil && msg.Flags&flagReply != 0 && p.known && p.alive {
		m.queueSend(p.node, false)
	}
	if p != nil && p.rec != nil && p.rec.Epoch == att.Claim.Epoch && p.recDigest == d {
		return // the admitted record again (every push/pull carries it)
	}
	h := sha256.Sum256(msg.Body)
	if why, ok := m.refused[h]; ok && (why == nodeMeta{} || p != nil && p.meta == why) {
		m.log.Debug("membership: refused attestation repeated", "peer", uint64(id), "peer_epoch", uint64(att.Claim.Epoch))
		return
	}
	var why nodeMeta // the metadata a refusal depends on, if any
	if p != nil && p.known {
		why = p.meta
		switch c := &att.Claim; {
		case c.Epoch < p.meta.Epoch:
			err = fmt.Errorf("%w: %w: member %d gossips epoch %d, the attestation is for epoch %d",
				ErrMetaMismatch, attest.ErrStale, id, p.meta.Epoch, c.Epoch)
		case c.Epoch == p.meta.Epoch && d != p.meta.Digest:
			err = fmt.Errorf("%w: member %d epoch %d: the attested claim (keys) differs from the gossiped one",
				ErrMetaMismatch, id, c.Epoch)
		}
		// A higher epoch than gossiped is admitted: the attestation of a
		// restarted node can overtake the gossip of its new metadata. It
		// is reported (NotifyAdmitted) once the metadata catches up.
	}
	var prev *attest.Member
	if p != nil {
		prev = p.rec
	}
	var rec attest.Member
	if err == nil {
		why = nodeMeta{}
		rec, err = m.cfg.Admitter.Admit(att, prev, m.now())
	}
	if err != nil {
		if len(m.refused) >= maxRefused {
			clear(m.refused)
		}
		m.refused[h] = why
		m.stats.rejected.Add(1)
		m.log.Warn("membership: attestation rejected", "peer", uint64(id), "peer_epoch", uint64(att.Claim.Epoch), "err", err)
		m.emit([]note{{kind: noteRejected, id: id, err: err}})
		return
	}
	m.mu.Lock()
	p = m.peerLocked(id)
	p.rec, p.recDigest = &rec, d
	notes := m.syncLocked(p, nil)
	m.mu.Unlock()
	m.stats.admitted.Add(1)
	m.log.Info("membership: attestation admitted", "peer", uint64(id), "peer_epoch", uint64(rec.Epoch),
		"backend", rec.Backend.String(), "hardware", rec.Hardware)
	m.emit(notes)
}

// selfAttestation handles an attestation for our own member id: normally
// our own echoed back, otherwise another process holds (or held) our id.
func (m *Membership) selfAttestation(att *attest.Attestation, d [32]byte) {
	switch {
	case d == m.self.Digest:
	case att.Claim.Epoch >= m.self.Epoch:
		m.stats.conflicts.Add(1)
		m.log.Error("membership: CONFLICT: another claim of this agent's member id at the same or a higher epoch "+
			"is in circulation; this process is a stale incarnation, or the id is configured twice",
			"other_epoch", uint64(att.Claim.Epoch))
	default:
		m.log.Warn("membership: received an old attestation of this agent's member id (a replay)",
			"other_epoch", uint64(att.Claim.Epoch))
	}
}

// syncLocked reconciles what the Delegate was told about p with what is
// now known, and returns the calls to make. A record is usable when it is
// admitted and memberlist sees its node alive gossiping exactly its claim.
func (m *Membership) syncLocked(p *peer, notes []note) []note {
	live := p.rec != nil && p.known && p.alive && p.meta.Epoch == p.rec.Epoch && p.meta.Digest == p.recDigest
	switch {
	case live && (!p.reported || p.reportedEpoch != p.rec.Epoch):
		p.reported, p.reportedEpoch = true, p.rec.Epoch
		notes = append(notes, note{kind: noteAdmitted, id: p.id, member: cloneMember(p.rec)})
	case !live && p.reported:
		p.reported = false
		notes = append(notes, note{kind: noteDead, id: p.id})
	}
	return notes
}

func (m *Membership) emit(notes []note) {
	d := m.cfg.Delegate
	for _, n := range notes {
		switch n.kind {
		case noteAdmitted:
			m.log.Info("membership: member usable", "peer", uint64(n.id), "peer_epoch", uint64(n.member.Epoch))
			if d != nil {
				d.NotifyAdmitted(n.member)
			}
		case noteDead:
			m.log.Info("membership: member no longer usable", "peer", uint64(n.id))
			if d != nil {
				d.NotifyDead(n.id)
			}
		case noteRejected:
			if d != nil {
				d.NotifyRejected(n.id, n.err)
			}
		}
	}
}

func (m *Membership) peerLocked(id attest.MemberID) *peer {
	p, ok := m.peers[id]
	if !ok {
		p = &peer{id: id}
		m.peers[id] = p
	}
	return p
}

func (m *Membership) malformed(msg string, err error) {
	m.stats.malformed.Add(1)
	m.log.Warn(msg, "err", err)
}

// queueSend schedules sending our attestation to node. Requests coalesce
// per node (the attestation does not change), so the pending set is
// bounded by the cluster; beyond QueueSize they are dropped and counted.
func (m *Membership) queueSend(node memberlist.Node, ask bool) {
	m.outMu.Lock()
	r, ok := m.outbox[node.Name]
	switch {
	case ok:
		r.node, r.ask = node, r.ask || ask
		m.outbox[node.Name] = r
	case len(m.outbox) >= m.cfg.QueueSize:
		m.outMu.Unlock()
		if n := m.stats.sendDropped.Add(1); n&(n-1) == 0 {
			m.log.Warn("membership: too many pending attestation sends, dropping", "node", node.Name, "dropped_total", n)
		}
		return
	default:
		m.outbox[node.Name] = sendReq{node: node, ask: ask}
	}
	m.outMu.Unlock()
	select {
	case m.outKick <- struct{}{}:
	default:
	}
}

// sendLoop sends our attestation over memberlist's reliable (TCP) channel:
// any size fits, unlike a gossip packet, and SGX quotes are several KiB.
func (m *Membership) sendLoop() {
	defer m.wg.Done()
	for {
		select {
		case <-m.stop:
			return
		case <-m.outKick:
		}
		m.outMu.Lock()
		reqs := m.outbox
		m.outbox = make(map[string]sendReq)
		m.outMu.Unlock()
		for _, r := range reqs {
			if m.stopped.Load() {
				return
			}
			frame := m.selfFrame
			if r.ask {
				frame = m.selfAskFrame
			}
			if err := m.ml.SendReliable(&r.node, frame); err != nil {
				m.stats.sendErrors.Add(1)
				m.log.Debug("membership: sending attestation failed", "node", r.node.Name, "addr", r.node.Address(), "err", err)
			}
		}
	}
}

// hooks implements memberlist's delegate interfaces. memberlist calls them
// from its network goroutines, some while holding its node lock, so they
// only copy, validate cheaply and hand over: they never block and never
// call back into memberlist.
type hooks struct{ m *Membership }

var (
	_ memberlist.Delegate         = (*hooks)(nil)
	_ memberlist.EventDelegate    = (*hooks)(nil)
	_ memberlist.ConflictDelegate = (*hooks)(nil)
	_ memberlist.AliveDelegate    = (*hooks)(nil)
)

// NodeMeta gossips our id, epoch and claim digest.
func (h *hooks) NodeMeta(limit int) []byte {
	if len(h.m.selfMeta) > limit {
		h.m.log.Error("membership: node metadata exceeds memberlist's limit", "size", len(h.m.selfMeta), "limit", limit)
		return nil
	}
	return bytes.Clone(h.m.selfMeta)
}

// NotifyMsg receives a user message (our attestation frames, sent with
// SendReliable).
func (h *hooks) NotifyMsg(b []byte) { h.m.enqueue(b) }

// GetBroadcasts: nothing is broadcast by gossip; attestations are too big
// for gossip packets and are sent point to point.
func (h *hooks) GetBroadcasts(overhead, limit int) [][]byte { return nil }

// LocalState carries our attestation in every push/pull, which happens on
// join and every PushPullInterval: the exchange's anti-entropy.
func (h *hooks) LocalState(join bool) []byte { return bytes.Clone(h.m.selfFrame) }

// MergeRemoteState receives the peer's LocalState.
func (h *hooks) MergeRemoteState(b []byte, join bool) { h.m.enqueue(b) }

func (h *hooks) NotifyJoin(n *memberlist.Node)   { h.m.noteEvent(n, true) }
func (h *hooks) NotifyUpdate(n *memberlist.Node) { h.m.noteEvent(n, true) }
func (h *hooks) NotifyLeave(n *memberlist.Node)  { h.m.noteEvent(n, false) }

// NotifyConflict: two processes claim one node name, i.e. one member id
// (memberlist keeps the first and ignores the other).
func (h *hooks) NotifyConflict(existing, other *memberlist.Node) {
	m := h.m
	m.stats.conflicts.Add(1)
	msg := "membership: CONFLICT: two processes claim the same member id"
	if existing.Name == m.selfName {
		msg = "membership: CONFLICT: another process claims this agent's member id"
	}
	m.log.Error(msg, "node", existing.Name, "existing_addr", existing.Address(), "other_addr", other.Address())
	if existing.Name != m.selfName {
		m.conflictMu.Lock()
		m.conflicts[existing.Name] = other.Address()
		m.conflictMu.Unlock()
	}
}

// NotifyAlive keeps out of memberlist any node that is not of our fleet or
// whose metadata does not decode or names another member than its node
// name: such a node could never be admitted, and dropping it here keeps it
// out of probing and gossip.
func (h *hooks) NotifyAlive(n *memberlist.Node) error {
	id, err := parseNodeName(h.m.cfg.Fleet, n.Name)
	if err != nil {
		return err
	}
	meta, err := decodeMeta(n.Meta)
	if err != nil {
		return fmt.Errorf("node %s: %w", n.Name, err)
	}
	if meta.ID != id {
		return fmt.Errorf("%w: node %s gossips metadata of member %d", ErrMalformed, n.Name, meta.ID)
	}
	return nil
}

func (m *Membership) noteEvent(n *memberlist.Node, alive bool) {
	if m.stopped.Load() || n.Name == m.selfName {
		return
	}
	c := *n
	c.Addr = slices.Clone(n.Addr)
	c.Meta = slices.Clone(n.Meta)
	m.evMu.Lock()
	m.events[n.Name] = nodeEvent{node: c, alive: alive}
	m.evMu.Unlock()
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

func (m *Membership) enqueue(b []byte) {
	if m.stopped.Load() {
		return
	}
	if len(b) > maxMessageSize {
		m.malformed("membership: dropping oversized message", fmt.Errorf("%w: %d bytes, limit %d", ErrMalformed, len(b), maxMessageSize))
		return
	}
	select {
	case m.inbox <- bytes.Clone(b):
	default:
		if n := m.stats.dropped.Add(1); n&(n-1) == 0 {
			m.log.Warn("membership: receive queue full, dropping an attestation message (the next push/pull recovers it)",
				"dropped_total", n)
		}
	}
}

func cloneMember(r *attest.Member) attest.Member {
	c := *r
	c.SignKey = bytes.Clone(r.SignKey)
	c.KexKey = bytes.Clone(r.KexKey)
	c.Measurement = bytes.Clone(r.Measurement)
	c.Attestation = bytes.Clone(r.Attestation)
	return c
}

func cloneKeys(keys [][]byte) [][]byte {
	if keys == nil {
		return nil
	}
	out := make([][]byte, len(keys))
	for i, k := range keys {
		out[i] = bytes.Clone(k)
	}
	return out
}
