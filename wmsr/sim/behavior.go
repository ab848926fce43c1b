package sim

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/wmsr/wmsr/graph"
)

// Behavior decides what an adversary sends.
//
// Send returns the value adversary a sends to node to in round t; view is
// the state of round t, read-only. A malicious adversary (LeBlanc et al.,
// malicious model; the "mal" function of definitions.v, mal : nat -> D -> R)
// sends the same value to every receiver, so its Send ignores to; a
// Byzantine one may equivocate
// and should say so by implementing Equivocator.
//
// Send must be a pure function of its arguments and the view: the simulator
// calls it once per arc per round, in an order it does not promise, and the
// determinism of a run rests on this. Randomised behaviours therefore derive
// their draws from (seed, a, t) rather than from a stream.
type Behavior interface {
	Send(a, to, t int, view View) float64
}

// Equivocator is implemented by Byzantine behaviours, which may send
// different values to different receivers in the same round.
type Equivocator interface {
	Behavior
	Equivocates() bool
}

// IsByzantine reports whether b declares itself equivocating. The F-total
// theorem (sufficiency.v) covers malicious adversaries only; tests use this
// to pick the behaviours it promises consensus against.
func IsByzantine(b Behavior) bool {
	e, ok := b.(Equivocator)
	return ok && e.Equivocates()
}

// View is read-only access to the state of the round being simulated, for
// behaviours. Its zero value is not usable; the simulator hands one to Send.
type View struct{ s *Sim }

// Round returns t.
func (v View) Round() int { return v.s.t }

// N returns the number of nodes.
func (v View) N() int { return v.s.n }

// Graph returns the topology.
func (v View) Graph() *graph.Digraph { return v.s.g }

// Value returns x_i(t). For an adversary it is its Initial entry, which it
// never updates; for a crashed node, its value when it crashed.
func (v View) Value(i int) float64 { return v.s.x[i] }

// Normal reports whether i is normal: neither an adversary nor a crash
// (even one that has not crashed yet).
func (v View) Normal(i int) bool { return v.s.role[i] == roleNormal }

// Min returns m(t), the least value of a normal node.
func (v View) Min() float64 { return v.s.lo }

// Max returns M(t), the greatest value of a normal node.
func (v View) Max() float64 { return v.s.hi }

// Constant is a malicious adversary that always sends the same value: the
// "stubborn agent". It is also the adversary of the split attack
// (necessity.v: mal t j = 0 on S1, 1 elsewhere).
type Constant float64

// Send implements Behavior.
func (c Constant) Send(_, _, _ int, _ View) float64 { return float64(c) }

// Ramp is a malicious adversary sending Start + Slope·t: a slow drift that
// trimming must keep removing as it leaves the normal range.
type Ramp struct{ Start, Slope float64 }

// Send implements Behavior. The explicit conversion forbids fusing the
// product into an FMA, so traces are the same on every architecture.
func (r Ramp) Send(_, _, t int, _ View) float64 { return r.Start + float64(r.Slope*float64(t)) }

// Validate implements validator.
func (r Ramp) Validate() error { return finite("ramp", r.Start, r.Slope) }

// Oscillate is a malicious square wave: Hi for Period rounds, then Lo for
// Period rounds, and so on. Period 1 flips every round, the classic way to
// try to keep a network from settling.
type Oscillate struct {
	Lo, Hi float64
	Period int
}

// Send implements Behavior.
func (o Oscillate) Send(_, _, t int, _ View) float64 {
	if (t/max(o.Period, 1))%2 == 0 {
		return o.Hi
	}
	return o.Lo
}

// Validate implements validator.
func (o Oscillate) Validate() error {
	if o.Period < 1 {
		return fmt.Errorf("oscillation period %d, want ≥ 1", o.Period)
	}
	return finite("oscillation", o.Lo, o.Hi)
}

// Uniform is a malicious adversary sending, in each round, a value drawn
// uniformly from [Lo, Hi). The draw depends on (Seed, a, t) only, so every
// receiver gets the same value.
type Uniform struct {
	Lo, Hi float64
	Seed   uint64
}

// Send implements Behavior. A PCG seeded by (Seed, a, t) gives one draw; it
// lives on the stack, so the hot loop does not allocate.
func (u Uniform) Send(a, _, t int, _ View) float64 {
	var p rand.PCG
	p.Seed(u.Seed, uint64(a)<<32^uint64(uint32(t)))
	p.Uint64() // one step away from the raw seed words
	r := float64(p.Uint64()>>11) * 0x1p-53
	return u.Lo + float64((u.Hi-u.Lo)*r)
}

// Validate implements validator.
func (u Uniform) Validate() error {
	if err := finite("uniform range", u.Lo, u.Hi, u.Hi-u.Lo); err != nil {
		return err
	}
	if u.Lo > u.Hi {
		return fmt.Errorf("uniform range [%v, %v) is empty", u.Lo, u.Hi)
	}
	return nil
}

// ExtremeValue is the magnitude an Extreme adversary sends.
const ExtremeValue = 1e9

// Extreme is a malicious adversary sending huge values: +ExtremeValue when
// positive, −ExtremeValue when negative, and when zero +ExtremeValue in even
// rounds and −ExtremeValue in odd ones. One such value averaged in would
// move a node by about 10⁹/(d+1): trimming is all that stands between them.
type Extreme int

// Send implements Behavior.
func (e Extreme) Send(_, _, t int, _ View) float64 {
	switch {
	case e > 0 || (e == 0 && t%2 == 0):
		return ExtremeValue
	default:
		return -ExtremeValue
	}
}

// NonFinite is a malicious adversary sending NaN, +Inf and −Inf in turn. The
// paper's values are real numbers; wmsr.Update treats these as faulty reports
// and drops them, and the tests check that none ever reaches a normal value.
type NonFinite struct{}

// Send implements Behavior.
func (NonFinite) Send(_, _, t int, _ View) float64 {
	switch t % 3 {
	case 0:
		return math.NaN()
	case 1:
		return math.Inf(1)
	default:
		return math.Inf(-1)
	}
}

// Pull is a malicious adversary dragging the fleet toward a target: it sends
// the point of [m(t), M(t)] nearest the target. Staying inside the normal
// hull, it is never an outlier, so trimming cannot single it out; it can bias
// where the fleet agrees, but (sufficiency.v) not prevent agreement.
type Pull float64

// Send implements Behavior.
func (p Pull) Send(_, _, _ int, view View) float64 {
	return min(max(float64(p), view.Min()), view.Max())
}

// Validate implements validator.
func (p Pull) Validate() error { return finite("pull target", float64(p)) }

// Equivocate is a Byzantine (two-faced) adversary: it sends Even to
// even-numbered receivers and Odd to odd-numbered ones. Either may be
// non-finite.
type Equivocate struct{ Even, Odd float64 }

// Send implements Behavior.
func (e Equivocate) Send(_, to, _ int, _ View) float64 {
	if to%2 == 0 {
		return e.Even
	}
	return e.Odd
}

// Equivocates implements Equivocator.
func (Equivocate) Equivocates() bool { return true }

// Polarize is a Byzantine adversary that tells each receiver what pushes it
// further from the others: M(t) to receivers at or above the midpoint of
// [m(t), M(t)], m(t) to those below. Its values are within the normal hull,
// so none is an outlier; on a graph where the normal nodes are not robust
// enough it can hold two camps apart, which is why the Byzantine theorem asks
// for more than (F+1,F+1)-robustness.
type Polarize struct{}

// Send implements Behavior.
func (Polarize) Send(_, to, _ int, view View) float64 {
	lo, hi := view.Min(), view.Max()
	if view.Value(to) >= lo+(hi-lo)/2 {
		return hi
	}
	return lo
}

// Equivocates implements Equivocator.
func (Polarize) Equivocates() bool { return true }

func finite(what string, xs ...float64) error {
	for _, x := range xs {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("%s: %w", what, errNonFinite)
		}
	}
	return nil
}

var errNonFinite = errors.New("parameter is not finite")
