package sim

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/wmsr/wmsr/graph"
	"github.com/wmsr/wmsr/wmsr"
)

// Defaults applied by Config.withDefaults to zero fields.
const (
	// DefaultRounds is the horizon when Config.Rounds is 0.
	DefaultRounds = 200
	// DefaultEpsilon is the agreement threshold when Config.Epsilon is 0.
	DefaultEpsilon = 1e-9
)

// Limits that Validate enforces. They keep one mistyped field from asking
// for gigabytes: the delivery buffers hold (MaxDelay+1) slots per arc, and
// message rounds are stored in int32.
const (
	MaxRounds = 1 << 30
	MaxDelay  = 1024
)

// Errors a caller may branch on with errors.Is.
var (
	// ErrConfig wraps every complaint of Config.Validate about the
	// configuration itself.
	ErrConfig = errors.New("invalid simulation config")
	// ErrBudget reports faulty nodes beyond the threat model's bound (F-total:
	// more than F faulty nodes; F-local: more than F_i faulty in-neighbours
	// of some normal node i). Config.AllowOverBudget lets such a run go ahead,
	// to watch the guarantees fail.
	ErrBudget = errors.New("faulty nodes exceed the threat budget")
	// ErrNotViolating reports that a pair given to SplitAttack does not
	// violate (F+1,F+1)-robustness, so the attack of necessity.v does not
	// apply to it.
	ErrNotViolating = errors.New("pair does not violate (F+1,F+1)-robustness")
)

// Adversary places a faulty node that sends what its Behavior decides
// instead of running W-MSR (LeBlanc et al. Defs. 2–3). Its own value is never
// updated.
type Adversary struct {
	Node     int
	Behavior Behavior
}

// Crash makes a node fail silently: it runs W-MSR like a normal node in
// rounds before Round and sends nothing from round Round on (Round 0: silent
// from the start). A crashed node is faulty: it counts against the threat
// budget and is excluded from m(t), M(t) and the safety check, since before
// crashing it is an honest node whose values need not stay within the hull
// of the never-faulty ones.
type Crash struct {
	Node  int
	Round int
}

// Config describes one simulation. The zero values of the optional fields
// are the synchronous, lossless model of the paper.
type Config struct {
	// Graph is the communication topology; required.
	Graph *graph.Digraph
	// Initial holds x(0), one finite value per node; required. The entries of
	// adversaries are what View.Value reports for them.
	Initial []float64
	// Scope is each normal node's trimming budget. nil means wmsr.Total(0),
	// which the budget check then rejects if any node is faulty.
	Scope wmsr.Scope
	// LocalThreat states that the adversary bound is F-local (at most
	// Scope.F(i, d_i) faulty in-neighbours of each normal node i) rather than
	// F-total (at most F faulty nodes in all). Local and Fraction scopes are
	// always checked locally; only a Total scope needs this flag to mean
	// F-local.
	LocalThreat bool
	// AllowOverBudget skips the threat-budget check, to run experiments
	// outside the theorems' hypotheses. Violations are still recorded.
	AllowOverBudget bool

	// Adversaries and Crashes name the faulty nodes; no node may appear
	// twice in either or in both.
	Adversaries []Adversary
	Crashes     []Crash

	// DropProb is the probability, independent per message, that a message
	// is lost; 0 ≤ DropProb ≤ 1.
	DropProb float64
	// Delay is the bound D on message delay: each delivered message arrives
	// 0..D rounds after it is sent (uniformly at random), and a node uses the
	// freshest value it has received from each in-neighbour among those sent
	// in the last D rounds (rounds t−D..t). No such value is an omission.
	// Delay 0 is the synchronous model.
	Delay int

	// Rounds is the horizon (number of updates); 0 means DefaultRounds.
	Rounds int
	// StopAtEpsilon ends the run at the first round whose disagreement is
	// below Epsilon.
	StopAtEpsilon bool
	// Epsilon is the agreement threshold for Trace.RoundsToEpsilon; 0 means
	// DefaultEpsilon.
	Epsilon float64
	// Seed drives message loss and delay. Behaviours carry their own seeds.
	Seed uint64
	// RecordValues keeps every normal node's value in every Round. It costs
	// 8·|normal| bytes per round.
	RecordValues bool
}

func (c Config) withDefaults() Config {
	if c.Scope == nil {
		c.Scope = wmsr.Total(0)
	}
	if c.Rounds == 0 {
		c.Rounds = DefaultRounds
	}
	if c.Epsilon == 0 {
		c.Epsilon = DefaultEpsilon
	}
	return c
}

func configErr(format string, args ...any) error {
	return fmt.Errorf("sim: %w: "+format, append([]any{ErrConfig}, args...)...)
}

// validator is implemented by behaviours with parameters to check.
type validator interface{ Validate() error }

// Validate reports the first problem with c, after defaults, as an error
// wrapping ErrConfig, or ErrBudget when the faulty nodes exceed the threat
// model (unless AllowOverBudget).
func (c Config) Validate() error {
	_, err := c.withDefaults().resolve()
	return err
}

// roles classifies nodes.
type role uint8

const (
	roleNormal role = iota
	roleAdversary
	roleCrash
)

// resolved is a validated configuration laid out per node.
type resolved struct {
	cfg     Config
	role    []role
	beh     []Behavior
	crashAt []int // first silent round; math.MaxInt for nodes that never crash
}

func (c Config) resolve() (*resolved, error) {
	g := c.Graph
	if g == nil {
		return nil, configErr("Graph is nil")
	}
	n := g.N()
	if len(c.Initial) != n {
		return nil, configErr("%d initial values for %d nodes", len(c.Initial), n)
	}
	for i, x := range c.Initial {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, configErr("initial value of node %d is %v, want finite", i, x)
		}
	}
	if err := wmsr.ValidateScope(c.Scope, n); err != nil {
		return nil, fmt.Errorf("sim: %w: %w", ErrConfig, err)
	}
	if !(c.DropProb >= 0 && c.DropProb <= 1) {
		return nil, configErr("DropProb = %v, want 0 ≤ p ≤ 1", c.DropProb)
	}
	if c.Delay < 0 || c.Delay > MaxDelay {
		return nil, configErr("Delay = %d, want 0..%d", c.Delay, MaxDelay)
	}
	if c.Rounds < 0 || c.Rounds > MaxRounds {
		return nil, configErr("Rounds = %d, want 0..%d", c.Rounds, MaxRounds)
	}
	if !(c.Epsilon > 0) || math.IsInf(c.Epsilon, 0) {
		return nil, configErr("Epsilon = %v, want positive and finite", c.Epsilon)
	}
	r := &resolved{cfg: c, role: make([]role, n), beh: make([]Behavior, n), crashAt: make([]int, n)}
	for i := range r.crashAt {
		r.crashAt[i] = math.MaxInt
	}
	for k, a := range c.Adversaries {
		if a.Node < 0 || a.Node >= n {
			return nil, configErr("adversary %d is node %d, want 0..%d", k, a.Node, n-1)
		}
		if a.Behavior == nil {
			return nil, configErr("adversary node %d has a nil Behavior", a.Node)
		}
		if v, ok := a.Behavior.(validator); ok {
			if err := v.Validate(); err != nil {
				return nil, fmt.Errorf("sim: %w: adversary node %d: %w", ErrConfig, a.Node, err)
			}
		}
		if r.role[a.Node] != roleNormal {
			return nil, configErr("node %d is an adversary twice", a.Node)
		}
		r.role[a.Node], r.beh[a.Node] = roleAdversary, a.Behavior
	}
	for k, cr := range c.Crashes {
		if cr.Node < 0 || cr.Node >= n {
			return nil, configErr("crash %d is node %d, want 0..%d", k, cr.Node, n-1)
		}
		if cr.Round < 0 {
			return nil, configErr("node %d crashes in round %d, want ≥ 0", cr.Node, cr.Round)
		}
		switch r.role[cr.Node] {
		case roleAdversary:
			return nil, configErr("node %d is both an adversary and a crash", cr.Node)
		case roleCrash:
			return nil, configErr("node %d crashes twice", cr.Node)
		}
		r.role[cr.Node], r.crashAt[cr.Node] = roleCrash, cr.Round
	}
	if !slices.Contains(r.role, roleNormal) {
		return nil, configErr("no normal node: all %d nodes are faulty", n)
	}
	if !c.AllowOverBudget {
		if err := checkBudget(g, c.Scope, c.LocalThreat, r.role); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// checkBudget checks the faulty nodes against the threat model of LeBlanc et
// al. 2013: F-total (at most F faulty nodes) for a Total scope unless
// local is set, otherwise F-local/f-fraction-local (each normal node has at
// most its own budget of faulty in-neighbours).
func checkBudget(g *graph.Digraph, s wmsr.Scope, local bool, roles []role) error {
	if t, ok := s.(wmsr.Total); ok && !local {
		faulty := 0
		for _, r := range roles {
			if r != roleNormal {
				faulty++
			}
		}
		if faulty > int(t) {
			return fmt.Errorf("sim: %w: %d faulty nodes under F-total with F = %d", ErrBudget, faulty, int(t))
		}
		return nil
	}
	for v, r := range roles {
		if r != roleNormal {
			continue
		}
		in := g.In(v)
		faulty := 0
		for _, u := range in {
			if roles[u] != roleNormal {
				faulty++
			}
		}
		if f := s.F(v, len(in)); faulty > f {
			return fmt.Errorf("sim: %w: normal node %d hears %d faulty nodes, local budget %d", ErrBudget, v, faulty, f)
		}
	}
	return nil
}
