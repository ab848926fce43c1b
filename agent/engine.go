package agent

import (
	"errors"
	"fmt"
	"log/slog"
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
)

// RejectReasons returns every reason label an Engine can report, so that
// metrics can pre-register one series per reason.
func RejectReasons() []string {
	var out []string
	for _, r := range attest.Reasons() {
		out = append(out, r.String())
	}
	return append(out, ReasonStaleRound, ReasonFutureRound, ReasonBadPayload, ReasonWrongKind, ReasonQuarantined)
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
	// Min, Max and Disagreement (Max − Min) are over own and the used
	// values: the spread this agent saw, before trimming.
	Min, Max, Disagreement float64
	// Accepted and Rejected count the envelopes delivered since the
	// previous End (by reason); CounterGaps sums attest's Omitted over
	// the accepted ones.
	Accepted    int
	Rejected    map[string]int
	CounterGaps uint64
	// Evidence is the number of new equivocation proofs since the
	// previous End.
	Evidence int
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

// pending is a value sealed for a round the engine has not begun yet.
type pending struct {
	have  bool
	round uint64
	value float64
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
	index  map[attest.MemberID]int
	buf    *wmsr.DelayBuffer
	early  []pending
	quar   map[attest.MemberID]bool

	value   float64
	round   uint64
	started bool // Begin was called at least once
	open    bool // between Begin and End

	accepted    int
	rejected    map[string]int
	gaps        uint64
	newEvidence int

	evidence      []attest.Evidence
	evidenceSeen  map[string]bool
	evidenceTotal uint64

	scratch []float64
}

// NewEngine returns an engine for cfg.ID, sealing with self (whose ID must
// be cfg.ID) and accepting the neighbours' envelopes according to their
// admitted member records, which members must include (records of other
// members are ignored: their envelopes are "unknown_sender").
func NewEngine(cfg Config, self *attest.Identity, members []attest.Member) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if self == nil || self.ID() != cfg.ID {
		return nil, fmt.Errorf("%w: identity is not member %d", ErrConfig, cfg.ID)
	}
	if cfg.MaxEvidence == 0 {
		cfg.MaxEvidence = DefaultMaxEvidence
	}
	cfg.Neighbours = append([]attest.MemberID(nil), cfg.Neighbours...)
	e := &Engine{
		cfg:          cfg,
		log:          cfg.Logger,
		index:        make(map[attest.MemberID]int, len(cfg.Neighbours)),
		buf:          wmsr.NewDelayBuffer(len(cfg.Neighbours)),
		early:        make([]pending, len(cfg.Neighbours)),
		quar:         map[attest.MemberID]bool{},
		value:        cfg.Initial,
		rejected:     map[string]int{},
		evidenceSeen: map[string]bool{},
		scratch:      make([]float64, 0, len(cfg.Neighbours)),
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	for i, n := range cfg.Neighbours {
		e.index[n] = i
	}
	var err error
	if e.sender, err = attest.NewBroadcastSender(self, cfg.Channel, nil); err != nil {
		return nil, fmt.Errorf("agent: value sender: %w", err)
	}
	e.recv = attest.NewReceiver(self, attest.ReceiverConfig{})
	if err := e.recv.Subscribe(cfg.Channel, nil); err != nil {
		return nil, fmt.Errorf("agent: value channel: %w", err)
	}
	added := map[attest.MemberID]bool{}
	for _, m := range members {
		if _, ok := e.index[m.ID]; !ok {
			continue
		}
		if err := e.recv.AddMember(m); err != nil {
			return nil, fmt.Errorf("agent: member %d: %w", m.ID, err)
		}
		added[m.ID] = true
	}
	for _, n := range cfg.Neighbours {
		if !added[n] {
			return nil, fmt.Errorf("%w: no member record for neighbour %d", ErrConfig, n)
		}
	}
	return e, nil
}

// Config returns the engine's configuration.
func (e *Engine) Config() Config {
	c := e.cfg
	c.Neighbours = append([]attest.MemberID(nil), c.Neighbours...)
	return c
}

// Value returns the agent's current value.
func (e *Engine) Value() float64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.value
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
// current value sealed for round t. t must be higher than the previous
// round, and the previous round must have ended.
func (e *Engine) Begin(t uint64) ([]byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.open {
		return nil, fmt.Errorf("%w: Begin(%d) before End(%d)", ErrRound, t, e.round)
	}
	if e.started && t <= e.round {
		return nil, fmt.Errorf("%w: Begin(%d) after round %d", ErrRound, t, e.round)
	}
	payload, err := AppendRoundValue(make([]byte, 0, RoundValueSize), RoundValue{Round: t, Value: e.value})
	if err != nil {
		return nil, err // cannot happen: the value is always finite
	}
	env, err := e.sender.Seal(nil, KindRoundValue, payload)
	if err != nil {
		return nil, fmt.Errorf("agent: seal round %d: %w", t, err)
	}
	e.round, e.started, e.open = t, true, true
	for k := range e.early {
		p := &e.early[k]
		switch {
		case !p.have:
		case p.round <= t:
			e.buf.Observe(k, int(p.round), p.value)
			p.have = false
		case p.round > t+1:
			// Delivered before the first Begin, for a round this far
			// ahead: a future_round value, dropped.
			p.have = false
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
	if env, err := attest.Parse(d.Envelope); err == nil {
		o.Sender = env.Sender
		if e.quar[env.Sender] {
			o.Reason, o.Err = ReasonQuarantined, fmt.Errorf("agent: member %d is quarantined", env.Sender)
			return o
		}
	}
	msg, err := e.recv.Open(d.Envelope)
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
	rv, err := DecodeRoundValue(msg.Payload)
	if err != nil {
		o.Reason, o.Err = ReasonBadPayload, err
		if errors.Is(err, attest.ErrInvalidValue) {
			o.Reason = attest.ReasonInvalidValue.String()
		}
		return o
	}
	o.Round, o.Value = rv.Round, rv.Value
	k, ok := e.index[msg.Sender]
	if !ok { // cannot happen: only neighbours are members of the receiver
		o.Reason, o.Err = attest.ReasonUnknownSender.String(), fmt.Errorf("agent: %d is not a neighbour", msg.Sender)
		return o
	}
	if e.started {
		if e.round >= uint64(e.cfg.D) && rv.Round < e.round-uint64(e.cfg.D) {
			o.Reason, o.Err = ReasonStaleRound, fmt.Errorf("agent: value for round %d at round %d with D = %d", rv.Round, e.round, e.cfg.D)
			return o
		}
		if rv.Round > e.round+1 {
			o.Reason, o.Err = ReasonFutureRound, fmt.Errorf("agent: value for round %d at round %d", rv.Round, e.round)
			return o
		}
	}
	o.Accepted = true
	if e.started && rv.Round <= e.round {
		e.buf.Observe(k, int(rv.Round), rv.Value)
		return o
	}
	// Sealed for a round not begun yet (a neighbour whose clock runs a
	// little ahead): hold the newest until Begin of that round, so that it
	// does not hide this neighbour's value for the current round.
	if p := &e.early[k]; !p.have || rv.Round >= p.round {
		*p = pending{have: true, round: rv.Round, value: rv.Value}
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

// End closes round t (the round begun last) and applies W-MSR to the
// agent's value and the neighbours' newest values sealed within the last
// D rounds, trimming Config.F on each side. It returns the new value and
// the round's report.
func (e *Engine) End(t uint64) (float64, RoundReport, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.open || t != e.round {
		return e.value, RoundReport{}, fmt.Errorf("%w: End(%d) but the open round is %d (open: %v)", ErrRound, t, e.round, e.open)
	}
	e.open = false
	vals, omitted := e.buf.Values(int(t), e.cfg.D, e.scratch[:0])
	e.scratch = vals
	own := e.value
	f := e.cfg.F()
	next := wmsr.Update(own, vals, f)
	lo, hi := own, own
	for _, v := range vals {
		lo, hi = min(lo, v), max(hi, v)
	}
	rep := RoundReport{
		Round: t, Own: own, Value: next, F: f,
		Used: len(vals), Omissions: omitted,
		Min: lo, Max: hi, Disagreement: hi - lo,
		Accepted: e.accepted, Rejected: e.rejected, CounterGaps: e.gaps,
		Evidence: e.newEvidence,
	}
	e.value = next
	e.accepted, e.gaps, e.newEvidence = 0, 0, 0
	e.rejected = map[string]int{}
	return next, rep, nil
}
