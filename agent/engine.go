package agent

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/wmsr/wmsr/attest"
	"github.com/wmsr/wmsr/wmsr"
)

// Rejection reasons of the round engine, in addition to attest's
// (attest.Reason.String(): "forged", "replay", "unknown_sender",
// "equivocation", "invalid_value", ...). All are metric-label safe.
const (
	// ReasonStaleRound: an authentic value sealed for a round before
	// t−D, too old to be used.
	ReasonStaleRound = "stale_round"
	// ReasonFutureRound: an authentic value sealed for a round after
	// t+1; an honest neighbour on the shared clock is never that far
	// ahead.
	ReasonFutureRound = "future_round"
	// ReasonBadPayload: an authentic envelope whose payload is not a
	// version-1 RoundValue.
	ReasonBadPayload = "bad_payload"
	// ReasonWrongKind: an authentic envelope of another kind than
	// KindRoundValue.
	ReasonWrongKind = "wrong_kind"
	// ReasonQuarantined: an envelope from a neighbour this engine caught
	// equivocating (see Config.KeepEquivocators).
	ReasonQuarantined = "quarantined"
	// ReasonNotLive: an authentic value from a neighbour membership
	// declared dead (Engine.SetAlive).
	ReasonNotLive = "not_live"
)

// RejectReasons returns every reason label an Engine can report, so that
// metrics can pre-register one series per reason.
func RejectReasons() []string {
	var out []string
	for _, r := range attest.Reasons() {
		out = append(out, r.String())
	}
	return append(out, ReasonStaleRound, ReasonFutureRound, ReasonBadPayload, ReasonWrongKind, ReasonQuarantined, ReasonNotLive)
}

// ErrRound is wrapped by Begin and End when called out of order.
var ErrRound = errors.New("agent: round called out of order")

// Outcome is what Deliver did with one envelope.
type Outcome struct {
	// Sender is the member the envelope claims to come from (0 if it did
	// not parse). It is authenticated only if Accepted or the reason is
	// one checked after authentication (stale_round, future_round,
	// bad_payload, wrong_kind, invalid_value, equivocation).
	Sender attest.MemberID
	// Accepted is true if the value was taken (it may still be superseded
	// by a newer one before the update).
	Accepted bool
	// Round and Value are the decoded payload (when it decoded).
	Round uint64
	Value float64
	// Gap is attest.Message.Omitted: counters of this sender skipped since
	// its previous accepted envelope (lost or superseded values).
	Gap uint64
	// Reason is "" if Accepted, else the rejection reason (RejectReasons).
	Reason string
	// Err is the underlying error of a rejection.
	Err error
	// Evidence is set when the envelope proved its sender equivocated and
	// this evidence is new to the engine.
	Evidence *attest.Evidence
}

// RoundReport summarises one round, as returned by End and passed to
// Delegate.NotifyRound.
type RoundReport struct {
	Round uint64
	// Own is the value the agent published for the round; Value the value
	// after the update.
	Own, Value float64
	// F is the number of values trimmed on each side.
	F int
	// Used is the number of neighbour values the update used (sent within
	// the last D rounds); Omissions the number of neighbours without one.
	Used, Omissions int
	// Removed is the number of neighbours declared dead (out of the
	// in-neighbour set, not omissions).
	Removed int
	// Min and Max are over own and the used values (first coordinate);
	// Disagreement is the largest spread over the coordinates: what this
	// agent saw, before trimming.
	Min, Max, Disagreement float64
	// State is the state after the update when its dimension is above 1
	// (Value is its first coordinate).
	State []float64
	// Accepted and Rejected count the envelopes delivered since the
	// previous End (by reason); CounterGaps sums attest's Omitted over
	// the accepted ones.
	Accepted    int
	Rejected    map[string]int
	CounterGaps uint64
	// Evidence is the number of new equivocation proofs since the
	// previous End.
	Evidence int
	// Changes is the number of scheduled configuration changes
	// (Schedule) that took effect at this round's Begin.
	Changes int
	// Latency is how long after the round deadline the update completed
	// (set by the Runner; zero from the bare Engine).
	Latency time.Duration
}

// Delegate receives the engine's events (in the style of memberlist's
// delegates). The Runner calls it from its own goroutine; implementations
// must not block for long.
type Delegate interface {
	// NotifyRound is called after every update.
	NotifyRound(RoundReport)
	// NotifyEvidence is called once per new equivocation proof, e.g. to
	// publish it to the fleet configuration log for quarantine.
	NotifyEvidence(attest.Evidence)
}

// slot is what the engine holds of one in-neighbour: its newest value (the
// bounded-delay variant keeps the newest value sent within D rounds, as
// wmsr.DelayBuffer does for scalars) and one value sealed for a round not
// begun yet.
type slot struct {
	have  bool
	round uint64
	val   []float64

	early      bool
	earlyRound uint64
	earlyVal   []float64

	// dead: membership declared the neighbour dead; it is out of the
	// in-neighbour set until it is admitted or declared alive again.
	dead bool
}

// observe keeps (round, v) if it is not older than what the slot holds.
func (s *slot) observe(round uint64, v []float64) {
	if s.have && round < s.round {
		return
	}
	s.have, s.round = true, round
	s.val = append(s.val[:0], v...)
}

// Engine is the deterministic core of an agent: it seals this agent's
// value each round, authenticates and filters neighbours' envelopes, and
// applies W-MSR at the end of the round. It reads no clock and does no
// I/O; the Runner drives it on a real clock over a Fabric, and tests drive
// it directly (as etcd raft's Node is driven through Ready).
//
// A round t is Begin(t), any number of Deliver, End(t). Rounds increase
// but need not be consecutive (a Runner that fell behind skips rounds).
// Deliver may also be called between End and the next Begin. Engine is
// safe for concurrent use.
type Engine struct {
	mu     sync.Mutex
	cfg    Config
	log    *slog.Logger
	sender *attest.Sender
	recv   *attest.Receiver
	hmac   bool
	// outs holds, with SuiteHMACSHA256, the pairwise sender to each
	// out-neighbour whose record is known (replaced when it restarts under
	// a higher epoch); guarded by mu.
	outs  map[attest.MemberID]*attest.Sender
	self  *attest.Identity
	index map[attest.MemberID]int
	slots []slot
	quar  map[attest.MemberID]bool
	// known holds the newest record of every member UpdateMember was
	// given, neighbour or not, and gone every member SetAlive declared
	// dead: a Change that makes one a neighbour needs both.
	known   map[attest.MemberID]attest.Member
	gone    map[attest.MemberID]bool
	pending []Change // scheduled, ascending At
	changed int      // changes in effect since the previous End

	state    []float64
	velocity []float64 // DP only
	round    uint64
	started  bool // Begin was called at least once
	open     bool // between Begin and End

	accepted    int
	rejected    map[string]int
	gaps        uint64
	newEvidence int

	evidence      []attest.Evidence
	evidenceSeen  map[string]bool
	evidenceTotal uint64

	sealed  [][]byte // Begin's scratch (HMAC suite): this round's envelopes
	sealBuf []byte
	openBuf []byte      // deliver's scratch (HMAC suite): the envelope rebuilt
	decoded []float64   // DecodeRoundState buffer
	column  []float64   // one coordinate of the used values
	used    [][]float64 // the used neighbour states of a round
	next    []float64
}

// NewEngine returns an engine for cfg.ID, sealing with self (whose ID must
// be cfg.ID) and accepting the neighbours' envelopes according to their
// admitted member records (records of non-neighbours are ignored). A
// neighbour whose record is not known yet, because membership has not
// admitted it, is refused as "unknown_sender" (and is an omission) until
// UpdateMember gives its record. With
// cfg.Unauthenticated, self and members are not used and may be nil.
func NewEngine(cfg Config, self *attest.Identity, members []attest.Member) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if !cfg.Unauthenticated && (self == nil || self.ID() != cfg.ID) {
		return nil, fmt.Errorf("%w: identity is not member %d", ErrConfig, cfg.ID)
	}
	if cfg.MaxEvidence == 0 {
		cfg.MaxEvidence = DefaultMaxEvidence
	}
	cfg.Neighbours = slices.Clone(cfg.Neighbours)
	cfg.Initial = slices.Clone(cfg.Initial)
	dim := len(cfg.Initial)
	e := &Engine{
		cfg:          cfg,
		log:          cfg.Logger,
		index:        make(map[attest.MemberID]int, len(cfg.Neighbours)),
		slots:        make([]slot, len(cfg.Neighbours)),
		quar:         map[attest.MemberID]bool{},
		known:        map[attest.MemberID]attest.Member{},
		gone:         map[attest.MemberID]bool{},
		state:        slices.Clone(cfg.Initial),
		rejected:     map[string]int{},
		evidenceSeen: map[string]bool{},
		decoded:      make([]float64, 0, MaxDim),
		column:       make([]float64, 0, len(cfg.Neighbours)),
		used:         make([][]float64, 0, len(cfg.Neighbours)),
		next:         make([]float64, dim),
	}
	if cfg.DP != nil {
		e.velocity = make([]float64, dim)
		copy(e.velocity, cfg.Velocity)
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	for i, n := range cfg.Neighbours {
		e.index[n] = i
		e.slots[i].val = make([]float64, 0, dim)
		e.slots[i].earlyVal = make([]float64, 0, dim)
	}
	if cfg.Unauthenticated {
		return e, nil
	}
	e.self = self
	if cfg.Suite.Pairwise() {
		e.hmac, e.outs = true, map[attest.MemberID]*attest.Sender{}
		e.recv = attest.NewReceiver(self, attest.ReceiverConfig{LossyUnicast: true})
	} else {
		var err error
		if e.sender, err = attest.NewBroadcastSender(self, cfg.Channel, nil); err != nil {
			return nil, fmt.Errorf("agent: value sender: %w", err)
		}
		e.recv = attest.NewReceiver(self, attest.ReceiverConfig{})
		if err := e.recv.Subscribe(cfg.Channel, nil); err != nil {
			return nil, fmt.Errorf("agent: value channel: %w", err)
		}
	}
	for _, m := range members {
		if _, err := e.UpdateMember(m); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// UpdateMember applies a neighbour's newly admitted record, typically of a
// higher epoch after the neighbour restarted: from then on only envelopes
// of that epoch are accepted (earlier ones are "stale"), and the counters
// start afresh. With SuiteHMACSHA256 an out-neighbour's record also gives
// the pairwise key values are sealed under for it. Records of other
// members are ignored (false, nil); an older epoch than a neighbour's
// current record is refused (attest.ErrStale).
func (e *Engine) UpdateMember(m attest.Member) (bool, error) {
	if e.cfg.Unauthenticated {
		return false, nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if old, ok := e.known[m.ID]; !ok || old.Epoch < m.Epoch {
		e.known[m.ID] = m
	}
	applied := false
	if _, ok := e.index[m.ID]; ok {
		if err := e.recv.AddMember(m); err != nil {
			return false, fmt.Errorf("agent: member %d epoch %d: %w", m.ID, m.Epoch, err)
		}
		applied = true
	}
	if e.hmac && slices.Contains(e.cfg.OutNeighbours, m.ID) {
		made, err := e.outSender(m)
		if err != nil {
			return applied, err
		}
		applied = applied || made
	}
	return applied, nil
}

// outSender makes the pairwise sender for out-neighbour m (HMAC suite),
// unless one of m's epoch or a later one exists, and reports whether it
// made one. e.mu is held.
func (e *Engine) outSender(m attest.Member) (bool, error) {
	if old := e.outs[m.ID]; old != nil && old.Stream().DestEpoch >= m.Epoch {
		return false, nil // this record, or an older one
	}
	s, err := attest.NewUnicastSender(e.self, &m, e.cfg.Suite, false)
	if err != nil {
		return false, fmt.Errorf("agent: out-neighbour %d epoch %d: %w", m.ID, m.Epoch, err)
	}
	e.outs[m.ID] = s
	return true, nil
}

// SetAlive records what membership says about a neighbour. A dead
// neighbour is out of the in-neighbour set: its held value is forgotten,
// it does not count as an omission, F is computed on the live in-degree
// (for fraction scopes), and its envelopes are refused as "not_live" until
// it is declared alive again. It reports whether id is a neighbour whose
// state changed.
func (e *Engine) SetAlive(id attest.MemberID, alive bool) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if alive {
		delete(e.gone, id)
	} else {
		e.gone[id] = true
	}
	k, ok := e.index[id]
	if !ok || e.slots[k].dead == !alive {
		return false
	}
	s := &e.slots[k]
	s.dead = !alive
	if s.dead {
		s.have, s.early = false, false
	}
	return true
}

// Live returns the neighbours not declared dead, in configuration order.
func (e *Engine) Live() []attest.MemberID {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []attest.MemberID
	for k, n := range e.cfg.Neighbours {
		if !e.slots[k].dead {
			out = append(out, n)
		}
	}
	return out
}

// Config returns the engine's configuration.
func (e *Engine) Config() Config {
	c := e.cfg
	c.Neighbours = append([]attest.MemberID(nil), c.Neighbours...)
	return c
}

// Value returns the agent's current value (the first coordinate of a
// vector state).
func (e *Engine) Value() float64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.state[0]
}

// State returns a copy of the agent's current state.
func (e *Engine) State() []float64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.state)
}

// Round returns the last round begun and whether any was.
func (e *Engine) Round() (uint64, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.round, e.started
}

// Evidence returns the equivocation evidence kept (at most
// Config.MaxEvidence, oldest first), each proof once.
func (e *Engine) Evidence() []attest.Evidence {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]attest.Evidence(nil), e.evidence...)
}

// EvidenceCount returns how many distinct equivocation proofs the engine
// has seen, including those beyond Config.MaxEvidence.
func (e *Engine) EvidenceCount() uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.evidenceTotal
}

// Quarantined returns the neighbours this engine stopped accepting from
// after catching them equivocating.
func (e *Engine) Quarantined() []attest.MemberID {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []attest.MemberID
	for _, n := range e.cfg.Neighbours {
		if e.quar[n] {
			out = append(out, n)
		}
	}
	return out
}

// Begin starts round t and returns the envelope to publish: this agent's
// current state sealed for round t (with SuiteHMACSHA256, a bundle of one
// envelope per admitted out-neighbour, or nil while none is admitted). t
// must be higher than the previous round, and the previous round must have
// ended.
func (e *Engine) Begin(t uint64) ([]byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.open {
		return nil, fmt.Errorf("%w: Begin(%d) before End(%d)", ErrRound, t, e.round)
	}
	if e.started && t <= e.round {
		return nil, fmt.Errorf("%w: Begin(%d) after round %d", ErrRound, t, e.round)
	}
	e.changed += e.applyPending(t)
	var env []byte
	if e.cfg.Unauthenticated {
		env = appendPlainHeader(make([]byte, 0, plainHeaderSize+RoundStateSize(len(e.state))), e.cfg.ID)
	}
	payload, err := AppendRoundState(env, RoundState{Round: t, State: e.state})
	if err != nil {
		return nil, err // cannot happen: the state is always finite
	}
	switch {
	case e.cfg.Unauthenticated:
		env = payload
	case e.hmac:
		// One envelope per admitted out-neighbour, sealed back to back
		// in one scratch buffer, then packed (AppendBundle).
		sealed, buf := e.sealed[:0], e.sealBuf[:0]
		for _, n := range e.cfg.OutNeighbours {
			s := e.outs[n]
			if s == nil {
				continue
			}
			at := len(buf)
			if buf, err = s.Seal(buf, KindRoundValue, payload); err != nil {
				return nil, fmt.Errorf("agent: seal round %d for %d: %w", t, n, err)
			}
			sealed = append(sealed, buf[at:len(buf):len(buf)])
		}
		e.sealed, e.sealBuf = sealed[:0], buf
		if len(sealed) > 0 { // else no out-neighbour is admitted yet: nothing to send
			if env, err = AppendBundle(nil, sealed); err != nil {
				return nil, fmt.Errorf("agent: bundle for round %d: %w", t, err)
			}
		}
	default:
		if env, err = e.sender.Seal(nil, KindRoundValue, payload); err != nil {
			return nil, fmt.Errorf("agent: seal round %d: %w", t, err)
		}
	}
	e.round, e.started, e.open = t, true, true
	for k := range e.slots {
		s := &e.slots[k]
		switch {
		case !s.early:
		case s.earlyRound <= t:
			s.observe(s.earlyRound, s.earlyVal)
			s.early = false
		case s.earlyRound > t+1:
			// Delivered before the first Begin, for a round this far
			// ahead: a future_round value, dropped.
			s.early = false
		}
	}
	return env, nil
}

// Deliver processes one envelope from the fabric: authenticate it
// (attest.Receiver with a MonoCounter per neighbour), decode the round
// value, check its round against the current one, and keep it for the
// update. Every rejection is classified (Outcome.Reason) and counted in
// the next RoundReport; equivocation yields evidence (Outcome.Evidence,
// Evidence), and the sender is quarantined unless
// Config.KeepEquivocators.
func (e *Engine) Deliver(d Delivery) Outcome {
	e.mu.Lock()
	defer e.mu.Unlock()
	o := e.deliver(d)
	if o.Accepted {
		e.accepted++
		e.gaps += o.Gap
	} else {
		e.rejected[o.Reason]++
		e.log.Debug("agent: envelope rejected", "agent", e.cfg.ID, "sender", o.Sender,
			"from", d.From, "reason", o.Reason, "err", o.Err)
	}
	return o
}

func (e *Engine) deliver(d Delivery) Outcome {
	var o Outcome
	var payload []byte
	if e.cfg.Unauthenticated {
		var ok bool
		if o.Sender, payload, ok = parsePlain(d.Envelope); !ok {
			o.Reason, o.Err = attest.ReasonMalformed.String(), fmt.Errorf("agent: %d-byte unauthenticated frame", len(d.Envelope))
			return o
		}
		if _, ok := e.index[o.Sender]; !ok {
			o.Reason, o.Err = attest.ReasonUnknownSender.String(), fmt.Errorf("agent: %d is not a neighbour", o.Sender)
			return o
		}
	} else {
		raw := d.Envelope
		if e.hmac {
			var err error
			// The envelope is rebuilt into a buffer reused from one
			// delivery to the next: nothing keeps it past this call (the
			// receiver copies what it keeps for evidence, and the value
			// is decoded below), so the rebuild allocates nothing.
			raw, err = BundleEnvelope(e.openBuf[:0], d.Envelope, e.cfg.ID)
			e.openBuf = raw[:0]
			if err != nil {
				o.Reason, o.Err = attest.ReasonMalformed.String(), err
				if errors.Is(err, ErrNotForMe) {
					o.Reason = attest.ReasonMisrouted.String()
				}
				return o
			}
		}
		if env, err := attest.Parse(raw); err == nil {
			o.Sender = env.Sender
			if e.quar[env.Sender] {
				o.Reason, o.Err = ReasonQuarantined, fmt.Errorf("agent: member %d is quarantined", env.Sender)
				return o
			}
		}
		msg, err := e.recv.Open(raw)
		if err != nil {
			o.Reason, o.Err = attest.ReasonOf(err).String(), err
			var eq *attest.EquivocationError
			if errors.As(err, &eq) {
				o.Evidence = e.recordEvidence(eq)
			}
			return o
		}
		o.Sender, o.Gap = msg.Sender, msg.Omitted
		if msg.Kind != KindRoundValue {
			o.Reason, o.Err = ReasonWrongKind, fmt.Errorf("agent: envelope kind %d, want %d", msg.Kind, KindRoundValue)
			return o
		}
		payload = msg.Payload
	}
	rs, err := DecodeRoundState(payload, e.decoded)
	if err != nil {
		o.Reason, o.Err = ReasonBadPayload, err
		if errors.Is(err, attest.ErrInvalidValue) {
			o.Reason = attest.ReasonInvalidValue.String()
		}
		return o
	}
	if len(rs.State) != len(e.state) {
		o.Reason, o.Err = ReasonBadPayload, fmt.Errorf("agent: state of dimension %d, want %d", len(rs.State), len(e.state))
		return o
	}
	o.Round, o.Value = rs.Round, rs.State[0]
	k, ok := e.index[o.Sender]
	if !ok { // cannot happen: only neighbours are members of the receiver
		o.Reason, o.Err = attest.ReasonUnknownSender.String(), fmt.Errorf("agent: %d is not a neighbour", o.Sender)
		return o
	}
	s := &e.slots[k]
	if s.dead {
		o.Reason, o.Err = ReasonNotLive, fmt.Errorf("agent: neighbour %d is declared dead", o.Sender)
		return o
	}
	if e.started {
		if e.round >= uint64(e.cfg.D) && rs.Round < e.round-uint64(e.cfg.D) {
			o.Reason, o.Err = ReasonStaleRound, fmt.Errorf("agent: value for round %d at round %d with D = %d", rs.Round, e.round, e.cfg.D)
			return o
		}
		if rs.Round > e.round+1 {
			o.Reason, o.Err = ReasonFutureRound, fmt.Errorf("agent: value for round %d at round %d", rs.Round, e.round)
			return o
		}
	}
	o.Accepted = true
	if e.started && rs.Round <= e.round {
		s.observe(rs.Round, rs.State)
		return o
	}
	// Sealed for a round not begun yet (a neighbour whose clock runs a
	// little ahead): hold the newest until Begin of that round, so that it
	// does not hide this neighbour's value for the current round.
	if !s.early || rs.Round >= s.earlyRound {
		s.early, s.earlyRound = true, rs.Round
		s.earlyVal = append(s.earlyVal[:0], rs.State...)
	}
	return o
}

// recordEvidence keeps new evidence and returns it, or nil if already seen.
func (e *Engine) recordEvidence(eq *attest.EquivocationError) *attest.Evidence {
	ev := eq.Evidence
	key, err := ev.MarshalBinary()
	if err != nil || e.evidenceSeen[string(key)] {
		return nil
	}
	e.evidenceSeen[string(key)] = true
	e.evidenceTotal++
	e.newEvidence++
	if len(e.evidence) < e.cfg.MaxEvidence {
		e.evidence = append(e.evidence, ev)
	}
	slot := eq.Slot()
	if !e.cfg.KeepEquivocators {
		e.quar[slot.Sender] = true
	}
	e.log.Warn("agent: neighbour equivocated", "agent", e.cfg.ID, "sender", slot.Sender,
		"epoch", slot.Epoch, "counter", slot.Counter, "quarantined", !e.cfg.KeepEquivocators)
	return &ev
}

// End closes round t (the round begun last) and applies the update rule to
// the agent's state and the live neighbours' newest states sealed within
// the last D rounds, trimming F on each side (coordinate by coordinate):
// W-MSR, or DP-MSR when Config.DP is set. It returns the new value (first
// coordinate) and the round's report.
func (e *Engine) End(t uint64) (float64, RoundReport, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.open || t != e.round {
		return e.state[0], RoundReport{}, fmt.Errorf("%w: End(%d) but the open round is %d (open: %v)", ErrRound, t, e.round, e.open)
	}
	e.open = false
	used, omitted, live := e.used[:0], 0, 0
	D := uint64(e.cfg.D)
	for k := range e.slots {
		s := &e.slots[k]
		if s.dead {
			continue
		}
		live++
		if s.have && s.round <= t && t-s.round <= D {
			used = append(used, s.val)
		} else {
			omitted++
		}
	}
	e.used = used
	f := e.cfg.fLive(live)
	own0 := e.state[0]
	var spread, lo0, hi0 float64
	for c := range e.state {
		col := e.column[:0]
		lo, hi := e.state[c], e.state[c]
		for _, v := range used {
			col = append(col, v[c])
			lo, hi = min(lo, v[c]), max(hi, v[c])
		}
		e.column = col
		if c == 0 {
			lo0, hi0 = lo, hi
		}
		spread = max(spread, hi-lo)
		if e.cfg.DP != nil {
			e.next[c], e.velocity[c], _ = e.cfg.DP.Step(e.state[c], e.velocity[c], col, f)
		} else {
			e.next[c] = wmsr.Update(e.state[c], col, f)
		}
	}
	copy(e.state, e.next)
	rep := RoundReport{
		Round: t, Own: own0, Value: e.state[0], F: f,
		Used: len(used), Omissions: omitted, Removed: len(e.slots) - live,
		Min: lo0, Max: hi0, Disagreement: spread,
		Accepted: e.accepted, Rejected: e.rejected, CounterGaps: e.gaps,
		Evidence: e.newEvidence, Changes: e.changed,
	}
	if len(e.state) > 1 {
		rep.State = slices.Clone(e.state)
	}
	e.accepted, e.gaps, e.newEvidence, e.changed = 0, 0, 0, 0
	e.rejected = map[string]int{}
	return e.state[0], rep, nil
}

// The unauthenticated frame (Config.Unauthenticated, a benchmark baseline):
// magic(2) sender(8, big-endian) then the round-state payload.
const plainHeaderSize = 2 + 8

var plainMagic = [2]byte{'w', 'u'}

func appendPlainHeader(dst []byte, id attest.MemberID) []byte {
	dst = append(dst, plainMagic[:]...)
	return binary.BigEndian.AppendUint64(dst, uint64(id))
}

func parsePlain(b []byte) (attest.MemberID, []byte, bool) {
	if len(b) < plainHeaderSize || b[0] != plainMagic[0] || b[1] != plainMagic[1] {
		return 0, nil, false
	}
	return attest.MemberID(binary.BigEndian.Uint64(b[2:10])), b[plainHeaderSize:], true
}
