package sim

import (
	"math"
	"math/rand/v2"

	"github.com/wmsr/wmsr/graph"
	"github.com/wmsr/wmsr/wmsr"
)

// MaxViolationDetails bounds the violations a Sim keeps in detail; all of
// them are counted.
const MaxViolationDetails = 1000

// never marks a lost message's arrival round.
const never = math.MaxInt32

// roundingSlack is u = 2⁻⁵³, the unit roundoff of float64. A mean of k terms
// in [lo, hi] computed by recursive summation and one division is within
// about k·u·max(|lo|,|hi|) of the exact mean (Higham, Accuracy and Stability
// of Numerical Algorithms, §4.2), so it may leave [lo, hi] by that much
// though the exact mean cannot: ten copies of 0.1 average to
// 0.09999999999999999. The safety check allows (d+2)·u·max(|lo|,|hi|) for a
// node of in-degree d, which covers k ≤ d+1, and flags anything beyond.
const roundingSlack = 0x1p-53

// Sim is a simulation in progress. It is not safe for concurrent use.
type Sim struct {
	cfg     Config
	g       *graph.Digraph
	n       int
	off     []int32
	adj     []int32
	role    []role
	beh     []Behavior
	crashAt []int
	f       []int   // per-node trimming budget, resolved once
	normal  []int   // the normal nodes, ascending
	updates []int32 // nodes that run W-MSR: normal and crash nodes

	t      int
	x      []float64 // x(t)
	next   []float64 // x(t+1), being built
	buf    []float64 // one node's received values
	lo, hi float64   // m(t), M(t)
	last   Round

	// Lossy delivery (DropProb > 0 or Delay > 0): slot k·W + s mod W holds
	// the message sent on arc k in round s, W = Delay+1.
	lossy      bool
	rng        *rand.Rand
	slotVal    []float64
	slotSent   []int32
	slotArrive []int32
	// hullLo/hullHi hold m(s), M(s) for the last W rounds, at s mod W: with
	// delay, the invariant is the hull over the rounds a value may come from.
	hullLo, hullHi []float64

	omissions   int64
	violations  int64
	details     []Violation
	nonFinite   int64
	roundsToEps int
}

// New validates cfg, applies its defaults and returns a simulation at
// round 0.
func New(cfg Config) (*Sim, error) {
	cfg = cfg.withDefaults()
	r, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	g := cfg.Graph
	s := &Sim{
		cfg: cfg, g: g, n: g.N(),
		role: r.role, beh: r.beh, crashAt: r.crashAt,
		f:           make([]int, g.N()),
		x:           append([]float64(nil), cfg.Initial...),
		next:        append([]float64(nil), cfg.Initial...),
		roundsToEps: -1,
	}
	s.off, s.adj = g.InCSR()
	maxIn := 0
	for v := 0; v < s.n; v++ {
		d := g.InDegree(v)
		maxIn = max(maxIn, d)
		s.f[v] = cfg.Scope.F(v, d)
		switch s.role[v] {
		case roleNormal:
			s.normal = append(s.normal, v)
			s.updates = append(s.updates, int32(v))
		case roleCrash:
			s.updates = append(s.updates, int32(v))
		}
	}
	s.buf = make([]float64, 0, maxIn)
	w := cfg.Delay + 1
	s.hullLo, s.hullHi = make([]float64, w), make([]float64, w)
	if cfg.DropProb > 0 || cfg.Delay > 0 {
		s.lossy = true
		s.rng = rand.New(rand.NewPCG(cfg.Seed, 0x5eed_0f_a11_5a5e))
		m := len(s.adj) * w
		s.slotVal = make([]float64, m)
		s.slotSent = make([]int32, m)
		s.slotArrive = make([]int32, m)
		for i := range s.slotSent {
			s.slotSent[i] = -1
		}
	}
	s.measure(Round{T: 0})
	return s, nil
}

// T returns the current round t.
func (s *Sim) T() int { return s.t }

// View returns read-only access to the current state.
func (s *Sim) View() View { return View{s} }

// Last returns the statistics of the current round.
func (s *Sim) Last() Round { return s.last }

// Normal returns the normal nodes in increasing order. The slice is shared
// and must not be modified.
func (s *Sim) Normal() []int { return s.normal }

// measure computes m, M and the disagreement of x(t) into r and makes it
// the current round.
func (s *Sim) measure(r Round) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range s.normal {
		lo, hi = min(lo, s.x[v]), max(hi, s.x[v])
	}
	s.lo, s.hi = lo, hi
	w := len(s.hullLo)
	s.hullLo[s.t%w], s.hullHi[s.t%w] = lo, hi
	r.Min, r.Max, r.Disagreement = lo, hi, hi-lo
	if s.cfg.RecordValues {
		r.Values = make([]float64, len(s.normal))
		for k, v := range s.normal {
			r.Values[k] = s.x[v]
		}
	}
	if s.roundsToEps < 0 && r.Disagreement < s.cfg.Epsilon {
		s.roundsToEps = s.t
	}
	s.last = r
}

// hull returns the interval every normal x_i(t+1) must lie in: [m(t), M(t)]
// in the synchronous model (lemma_1.v), and with delay D the hull over rounds
// max(0,t−D)..t, since a value used in round t may have been sent in any of
// them.
func (s *Sim) hull() (lo, hi float64) {
	lo, hi = s.lo, s.hi
	w := len(s.hullLo)
	for back := 1; back < w && back <= s.t; back++ {
		k := (s.t - back) % w
		lo, hi = min(lo, s.hullLo[k]), max(hi, s.hullHi[k])
	}
	return lo, hi
}

// Step performs one round, t → t+1, and returns its statistics. It does not
// allocate unless RecordValues is set (or violations are being recorded).
// It ignores Config.Rounds, so a caller may step past the horizon, though
// not past MaxRounds when messages can be lost or delayed (send rounds are
// stored in 32 bits).
func (s *Sim) Step() Round {
	t := s.t
	lo, hi := s.hull()
	view := View{s}
	var r Round
	for _, v32 := range s.updates {
		v := int(v32)
		if t >= s.crashAt[v] {
			s.next[v] = s.x[v] // crashed: frozen and silent
			continue
		}
		a, b := int(s.off[v]), int(s.off[v+1])
		vals := s.buf[:0]
		for k := a; k < b; k++ {
			u := int(s.adj[k])
			val, ok := s.x[u], true
			switch s.role[u] {
			case roleAdversary:
				val = s.beh[u].Send(u, v, t, view)
			case roleCrash:
				ok = t < s.crashAt[u]
			}
			if s.lossy {
				val, ok = s.deliver(k, t, val, ok)
			}
			if ok {
				vals = append(vals, val)
			} else {
				r.Omissions++
			}
		}
		nv := wmsr.Update(s.x[v], vals, s.f[v])
		s.next[v] = nv
		if s.role[v] != roleNormal {
			continue
		}
		if math.IsNaN(nv) || math.IsInf(nv, 0) {
			s.nonFinite++
		}
		// The conversion rounds the slack before it is subtracted, so no FMA
		// makes the threshold differ between architectures. The negated
		// test also catches NaN.
		slack := float64(float64(b-a+2) * roundingSlack * max(math.Abs(lo), math.Abs(hi)))
		if !(nv >= lo-slack && nv <= hi+slack) {
			r.Violations++
			if len(s.details) < MaxViolationDetails {
				s.details = append(s.details, Violation{Round: t + 1, Node: v, Value: nv, Lo: lo, Hi: hi})
			}
		}
	}
	s.x, s.next = s.next, s.x
	s.t++
	s.omissions += int64(r.Omissions)
	s.violations += int64(r.Violations)
	r.T = s.t
	s.measure(r)
	return s.last
}

// deliver passes the message val sent on arc k in round t (ok false: none
// was sent) through the lossy network and returns what the receiver uses:
// the freshest value sent on k in rounds t−D..t that has arrived by t.
func (s *Sim) deliver(k, t int, val float64, ok bool) (float64, bool) {
	w := s.cfg.Delay + 1
	base := k * w
	slot := base + t%w
	s.slotSent[slot] = int32(t)
	s.slotArrive[slot] = never
	if ok && (s.cfg.DropProb == 0 || s.rng.Float64() >= s.cfg.DropProb) {
		arrive := t
		if w > 1 {
			arrive += s.rng.IntN(w)
		}
		s.slotArrive[slot], s.slotVal[slot] = int32(arrive), val
	}
	for back := 0; back < w && back <= t; back++ {
		sl := base + (t-back)%w
		if s.slotSent[sl] == int32(t-back) && s.slotArrive[sl] <= int32(t) {
			return s.slotVal[sl], true
		}
	}
	return 0, false
}

// Run simulates cfg to its horizon (or to agreement, with StopAtEpsilon)
// and returns the trace.
func Run(cfg Config) (*Trace, error) {
	s, err := New(cfg)
	if err != nil {
		return nil, err
	}
	rounds := make([]Round, 0, min(s.cfg.Rounds, 1<<16)+1)
	rounds = append(rounds, s.last)
	for s.t < s.cfg.Rounds && !(s.cfg.StopAtEpsilon && s.roundsToEps >= 0) {
		rounds = append(rounds, s.Step())
	}
	return s.Trace(rounds), nil
}

// Trace returns the record of the run so far, around rounds: the Rounds a
// caller stepping the simulation itself collected (the Round of New, then
// every Step's). The totals are the simulation's own.
func (s *Sim) Trace(rounds []Round) *Trace {
	return &Trace{
		Nodes:            append([]int(nil), s.normal...),
		Epsilon:          s.cfg.Epsilon,
		Rounds:           rounds,
		RoundsToEpsilon:  s.roundsToEps,
		Omissions:        s.omissions,
		Violations:       s.violations,
		ViolationDetails: append([]Violation(nil), s.details...),
		NonFinite:        s.nonFinite,
	}
}
