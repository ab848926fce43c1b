package agent

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/wmsr/wmsr/attest"
	"github.com/wmsr/wmsr/wmsr"
)

// ErrConfig is wrapped by every error Config.Validate returns.
var ErrConfig = errors.New("agent: invalid configuration")

// DefaultValueChannel is the attest broadcast channel neighbour values are
// sealed on.
const DefaultValueChannel = 1

// DefaultMaxEvidence bounds the equivocation evidence an engine keeps in
// memory (further evidence is still counted, logged and handed to the
// delegate, just not retained).
const DefaultMaxEvidence = 64

// Config configures an Engine and its Runner. Start from DefaultConfig and
// set ID, Neighbours and Initial.
type Config struct {
	// ID is this agent.
	ID attest.MemberID
	// Neighbours are the in-neighbours whose values this agent uses, in a
	// fixed order (the order of wmsr.DelayBuffer slots). Non-empty, no
	// duplicates, not ID.
	Neighbours []attest.MemberID
	// Channel is the attest broadcast channel of values.
	Channel uint64

	// Initial is the agent's state before round 0: one value for scalar
	// consensus (an altitude, a clock offset), or a vector of up to MaxDim
	// coordinates (a rendezvous point), trimmed coordinate by coordinate
	// (see wmsr.UpdateVec for what that guarantees). All finite. Its
	// length is the state's dimension; every agent of a fleet must use the
	// same one (a neighbour's value of another dimension is "bad_payload").
	Initial []float64

	// DP, if not nil, makes the agent a double integrator driven by the
	// DP-MSR controller (wmsr.DP: second-order dynamics, positions
	// exchanged and trimmed, velocities private) instead of first-order
	// W-MSR. Its sampling period T is in the units the caller chooses
	// (usually Period in seconds).
	DP *wmsr.DP
	// Velocity is the initial velocity under DP (default zero); same
	// dimension as Initial.
	Velocity []float64

	// Suite authenticates values: attest.SuiteEd25519 (the default, also
	// for 0) signs one broadcast envelope per round, transferable, so that
	// equivocation evidence convinces anyone; attest.SuiteHMACSHA256T128
	// (what `--suite hmac` picks) or attest.SuiteHMACSHA256 (a 32-byte tag)
	// seals one envelope per out-neighbour under the pair's key (derived
	// from attested keys) and sends them as one bundle: a hundred times
	// cheaper to check, but the evidence it yields convinces only its
	// receiver.
	Suite attest.Suite
	// OutNeighbours are the agents that hear this one (required with the
	// HMAC suites: a pairwise key per receiver).
	OutNeighbours []attest.MemberID

	// Unauthenticated sends values without attest envelopes: no
	// signature, no counter, no sender authentication. Any process that
	// can publish on the fabric can then impersonate any agent. It exists
	// only as the baseline that measures what signing costs
	// (BENCHMARKS.md); wmsr-agent has no setting for it.
	Unauthenticated bool

	// Scope is the W-MSR trimming budget: wmsr.Total(F) (F-total or
	// F-local with one F for all), wmsr.Local (per node; Node indexes it)
	// or wmsr.Fraction (⌊f·d⌋ for in-degree d = len(Neighbours)).
	Scope wmsr.Scope
	// Node is this agent's index for per-node scopes (wmsr.Local).
	Node int

	// D is the delay bound of the bounded-delay variant: at the end of
	// round t a neighbour's newest value is used if it was sealed for a
	// round in t−D … t; otherwise the neighbour counts as an omission.
	// D = 0 uses only values of the current round. Envelopes for rounds
	// before t−D are rejected as "stale_round", after t+1 as
	// "future_round".
	D int

	// Period is the round length; round t runs on the shared clock from
	// Epoch + t·Period to Epoch + (t+1)·Period, when the agent updates.
	Period time.Duration
	// Epoch is the shared start of round 0 (every agent of a fleet must
	// use the same Epoch and Period). The zero time is the Unix epoch.
	Epoch time.Time
	// PublishTimeout bounds each Publish; 0 means Period/2.
	PublishTimeout time.Duration

	// MaxEvidence bounds the equivocation evidence kept (Engine.Evidence).
	MaxEvidence int
	// KeepEquivocators, if true, keeps accepting envelopes from a
	// neighbour after it was caught equivocating. By default the engine
	// stops accepting from it (local quarantine; its later envelopes are
	// rejected as "quarantined" and it counts as an omission) until the
	// fleet configuration log decides.
	KeepEquivocators bool

	// Logger receives the engine's logs (default: discarded).
	Logger *slog.Logger
}

// DefaultConfig returns defaults for a fleet on a LAN: F-total with F = 1,
// D = 2, 100 ms rounds from the Unix epoch.
func DefaultConfig() Config {
	return Config{
		Channel:     DefaultValueChannel,
		Scope:       wmsr.Total(1),
		D:           2,
		Period:      100 * time.Millisecond,
		Epoch:       time.Unix(0, 0),
		MaxEvidence: DefaultMaxEvidence,
	}
}

// F returns the number of values this agent trims on each side.
func (c *Config) F() int { return c.Scope.F(c.Node, len(c.Neighbours)) }

// fLive is F for the live in-degree d: a neighbour declared dead is out of
// the in-neighbour set, and a fraction scope trims ⌊f·d⌋ of what is left.
func (c *Config) fLive(d int) int { return c.Scope.F(c.Node, d) }

// Validate reports the first problem with c, wrapping ErrConfig.
func (c *Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...))
	}
	if len(c.Neighbours) == 0 {
		return bad("no neighbours: an agent needs at least one in-neighbour")
	}
	seen := make(map[attest.MemberID]bool, len(c.Neighbours))
	for _, n := range c.Neighbours {
		if n == c.ID {
			return bad("neighbour %d is the agent itself", n)
		}
		if seen[n] {
			return bad("neighbour %d listed twice", n)
		}
		seen[n] = true
	}
	if d := len(c.Initial); d < 1 || d > MaxDim {
		return bad("initial state has dimension %d, want 1..%d", d, MaxDim)
	}
	for i, v := range c.Initial {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return bad("initial state[%d] = %v is not finite", i, v)
		}
	}
	if c.Velocity != nil {
		if c.DP == nil {
			return bad("initial velocity without DP dynamics")
		}
		if len(c.Velocity) != len(c.Initial) {
			return bad("velocity has dimension %d, the state %d", len(c.Velocity), len(c.Initial))
		}
		for i, v := range c.Velocity {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return bad("velocity[%d] = %v is not finite", i, v)
			}
		}
	}
	if c.DP != nil {
		if _, err := wmsr.NewDP(c.DP.A, c.DP.B, c.DP.T); err != nil {
			return bad("%v", err)
		}
	}
	switch c.Suite {
	case 0, attest.SuiteEd25519:
	case attest.SuiteHMACSHA256, attest.SuiteHMACSHA256T128:
		if len(c.OutNeighbours) == 0 {
			return bad("suite %v needs the out-neighbours (one pairwise key each)", c.Suite)
		}
		if len(c.OutNeighbours) > MaxBundle {
			return bad("%d out-neighbours, at most %d with %v", len(c.OutNeighbours), MaxBundle, c.Suite)
		}
		seen := map[attest.MemberID]bool{}
		for _, n := range c.OutNeighbours {
			if n == c.ID || seen[n] {
				return bad("out-neighbour %d is the agent itself or listed twice", n)
			}
			seen[n] = true
		}
	default:
		return bad("suite %v: want ed25519 or hmac-sha256", c.Suite)
	}
	if c.Scope == nil {
		return bad("no scope (use wmsr.Total, wmsr.Local or wmsr.Fraction)")
	}
	switch s := c.Scope.(type) {
	case wmsr.Local:
		if c.Node < 0 || c.Node >= len(s) {
			return bad("node index %d outside the local scope's %d entries", c.Node, len(s))
		}
	case wmsr.Fraction:
		if !(s >= 0 && s < 0.5) {
			return bad("scope fraction %v outside [0, 1/2)", float64(s))
		}
	}
	if f := c.F(); f < 0 {
		return bad("F = %d is negative", f)
	}
	if c.D < 0 {
		return bad("delay bound D = %d is negative", c.D)
	}
	if c.Period <= 0 {
		return bad("period %v is not positive", c.Period)
	}
	if c.PublishTimeout < 0 {
		return bad("publish timeout %v is negative", c.PublishTimeout)
	}
	if c.MaxEvidence < 0 {
		return bad("MaxEvidence %d is negative", c.MaxEvidence)
	}
	return nil
}
