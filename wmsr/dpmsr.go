package wmsr

import (
	"fmt"
	"math"
)

// DP is the DP-MSR controller of Dibaji and Ishii ("Resilient consensus of
// second-order agent networks: asynchronous update rules with delays",
// Automatica 81, 2017; arXiv 1701.03430) for one agent with
// double-integrator dynamics sampled with period T:
//
//	x[k+1] = x[k] + T·v[k] + (T²/2)·u[k]
//	v[k+1] = v[k] + T·u[k]
//	u[k]   = A·Σ_{j kept} (x_j[k] − x[k]) − B·v[k]
//
// where the kept neighbours are those that remain after the W-MSR trimming
// of positions around the agent's own position (the same rule, ties and
// non-finite handling as Update). Velocities are never exchanged, so an
// adversary can only lie about positions, and those lies are trimmed. A
// formation is reached by passing positions minus the agents' offsets.
// With delays, pass the positions a DelayBuffer holds.
//
// The paper derives robustness conditions on the graph for the synchronous
// update and for the partially asynchronous one with bounded delays, valid
// for gains and sampling periods that satisfy a condition of its own. We
// have not been able to re-check that condition to the constant, so we do
// not enforce it, and we do not quote the robustness constants here: see
// the paper's theorems before relying on either. What we do check
// (NonnegativeFor) is a sufficient condition derived here by the same
// route the paper takes: with z = x + c·v for a constant c > 0, one step
// writes x[k+1] and z[k+1] as combinations of x[k], z[k] and the kept
// x_j[k] whose coefficients sum to 1 (for any gains); when they are also
// non-negative, both new values lie in the range of the old ones, so the
// interval spanned by the normal agents' x and z never grows, the
// second-order analogue of the W-MSR safety invariant (NonnegativeFor
// gives the coefficients). The tests check behaviour (the invariant, and
// consensus under attack on a robust graph), not the paper's constants.
type DP struct {
	A float64 // coupling gain a > 0 per kept neighbour
	B float64 // velocity damping gain b > 0
	T float64 // sampling period T > 0
}

// NewDP returns a DP-MSR controller after checking that the gains and the
// period are positive and finite.
func NewDP(a, b, T float64) (DP, error) {
	for _, p := range []struct {
		name string
		v    float64
	}{{"coupling gain a", a}, {"damping gain b", b}, {"sampling period T", T}} {
		if !(p.v > 0) || math.IsInf(p.v, 0) {
			return DP{}, fmt.Errorf("wmsr: DP-MSR %s = %v, want positive and finite", p.name, p.v)
		}
	}
	return DP{A: a, B: b, T: T}, nil
}

// Step advances one agent by one sampling period: x, v are its position and
// velocity, pos the positions heard from its in-neighbours (in in-neighbour
// order), f the trimming budget. It returns the new position and velocity
// and the number of kept neighbours. It does not modify pos and does not
// allocate.
func (p DP) Step(x, v float64, pos []float64, f int) (x1, v1 float64, kept int) {
	t := cut{hiT: math.Inf(1), loT: math.Inf(-1), hiI: len(pos), loI: len(pos)}
	if f > 0 {
		t = findCut(x, pos, f)
	}
	var coupling float64
	for i, xj := range pos {
		if t.keeps(i, xj) {
			coupling += xj - x
			kept++
		}
	}
	// Every product is converted, which rounds it: the compiler may not
	// fuse it into an FMA, so a step gives the same bits on every platform.
	u := float64(p.A*coupling) - float64(p.B*v)
	x1 = x + float64(p.T*v) + float64(float64(p.T*p.T)/2*u)
	v1 = v + float64(p.T*u)
	return x1, v1, kept
}

// NonnegativeFor reports whether some c > 0 makes every step with at most
// maxKept kept neighbours a non-negative combination in the (x, z = x+c·v)
// coordinates, and returns such a c. Writing m for the kept count and
// β = 1 − BT/2, one step gives
//
//	x' = (1 − AT²m/2 − Tβ/c)·x + (Tβ/c)·z + (AT²/2)·Σ x_j
//	z' = (BT − AT²m/2 − Tβ/c − cATm)·x + (Tβ/c + 1 − BT)·z + (AT²/2 + cAT)·Σ x_j
//
// (each row sums to 1). All coefficients decrease in m, so it suffices to
// find c with Tβ/c ≥ 0, 1 − AT²D/2 − Tβ/c ≥ 0, Tβ/c + 1 − BT ≥ 0 and
// BT − AT²D/2 − Tβ/c − cATD ≥ 0 for D = maxKept. The last is the binding
// one: it asks roughly B² ≥ 4AD, the critical damping of the continuous
// double integrator with stiffness AD, plus sampling terms. This is our
// derivation, sufficient for the invariant, not the paper's condition.
func (p DP) NonnegativeFor(maxKept int) (c float64, ok bool) {
	A, B, T, D := p.A, p.B, p.T, float64(max(maxKept, 0))
	beta := 1 - B*T/2
	if !(beta > 0) || !(A*T*T*D < 2) {
		return 0, false
	}
	lo := T * beta / (1 - A*T*T*D/2) // from the x coefficient of x'
	hi := math.Inf(1)
	if B*T > 1 { // from the z coefficient of z'
		hi = T * beta / (B*T - 1)
	}
	if lo > hi {
		return 0, false
	}
	// Minimise g(c) = β/c + c·A·D, the last condition divided by T, over
	// [lo, hi]: g is convex with its minimum at √(β/(AD)).
	if D == 0 {
		c = max(lo, beta/B)
		if c > hi {
			c = hi
		}
	} else {
		c = min(max(math.Sqrt(beta/(A*D)), lo), hi)
	}
	if beta/c+c*A*D <= B-A*T*D/2 {
		return c, true
	}
	return 0, false
}
