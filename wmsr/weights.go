package wmsr

import (
	"errors"
	"fmt"
	"math"
)

// Weights assigns the weights of one weighted W-MSR step. LeBlanc et al.
// (IEEE JSAC 2013, Sec. III-B) let the weights vary with node and time
// subject to a uniform lower bound α: w_ii(t) ≥ α, w_ij(t) ≥ α for every
// kept in-neighbour j, w_ij(t) = 0 for every removed one, and each row sums
// to 1. The bound is what their convergence proofs (and the safety lemma
// here) use; Weighted checks it on every step.
type Weights interface {
	// Assign writes w[k], the weight of the kept neighbour value
	// vals[kept[k]], for every k, and returns the weight of own. kept holds
	// indices into vals (in-neighbour positions) in increasing order, and
	// len(w) == len(kept). Assign must not retain its slices.
	Assign(own float64, vals []float64, kept []int, w []float64) (self float64)
}

// WeightsFunc adapts a function to Weights.
type WeightsFunc func(own float64, vals []float64, kept []int, w []float64) float64

// Assign implements Weights.
func (f WeightsFunc) Assign(own float64, vals []float64, kept []int, w []float64) float64 {
	return f(own, vals, kept, w)
}

// Uniform gives own and every kept value the weight 1/(1+m), m kept: the
// rule Update computes. Through Weighted it is the same rule in exact
// arithmetic, but rounded differently (a weighted sum rather than a sum
// divided once), so not bit for bit equal to Update. It meets a bound α iff
// 1/(1+m) ≥ α, that is iff α ≤ 1/(1+d_max) for in-degree d_max.
type Uniform struct{}

// Assign implements Weights.
func (Uniform) Assign(_ float64, _ []float64, kept []int, w []float64) float64 {
	u := 1 / float64(1+len(kept))
	for k := range w {
		w[k] = u
	}
	return u
}

// Lazy gives own the weight β and shares 1−β equally among the kept values
// (own gets 1 when nothing is kept): a lazy W-MSR that moves only part of
// the way to the trimmed mean. For 0 < β < 1 it meets a bound α iff β ≥ α
// and (1−β)/m ≥ α for every kept count m that occurs.
type Lazy float64

// Assign implements Weights.
func (b Lazy) Assign(_ float64, _ []float64, kept []int, w []float64) float64 {
	if len(kept) == 0 {
		return 1
	}
	share := (1 - float64(b)) / float64(len(kept))
	for k := range w {
		w[k] = share
	}
	return float64(b)
}

// ErrWeights is wrapped by every error Weighted.Update returns for weights
// outside the W-MSR bounds.
var ErrWeights = errors.New("weights violate the W-MSR bounds")

// weightTol is the slack allowed on a row sum: weights are computed in
// floating point, so "sums to 1" can only be checked up to rounding. 1e-9
// is far above the rounding of any realistic row and far below any error
// that matters to convergence.
const weightTol = 1e-9

// Weighted is the W-MSR step with pluggable weights, checked against the
// lower bound α of LeBlanc et al. Sec. III-B. It keeps scratch space, so a
// Weighted is not safe for concurrent use; use one per goroutine. After the
// scratch has grown to the largest in-degree seen, Update does not
// allocate.
type Weighted struct {
	alpha   float64
	weights Weights
	kept    []int
	w       []float64
}

// NewWeighted returns a checked weighted rule. α must satisfy 0 < α ≤ 1/2:
// own and at least one kept neighbour each need weight ≥ α in a row summing
// to 1, so no larger bound can be met by a node that keeps anything.
func NewWeighted(alpha float64, w Weights) (*Weighted, error) {
	if !(alpha > 0 && alpha <= 0.5) {
		return nil, fmt.Errorf("wmsr: weight bound α = %v, want 0 < α ≤ 1/2", alpha)
	}
	if w == nil {
		return nil, errors.New("wmsr: nil Weights")
	}
	return &Weighted{alpha: alpha, weights: w}, nil
}

// Alpha returns the weight bound α.
func (u *Weighted) Alpha() float64 { return u.alpha }

// Update is one weighted W-MSR step: the same values are removed as by
// Update (ties, non-finite values: see ReferenceUpdate), then
// x' = w_ii·own + Σ_k w[k]·vals[kept[k]], summed in that order with every
// product rounded, so that the result is the same on every platform. It fails,
// wrapping ErrWeights, when a weight is below α or not finite, or when the
// weights do not sum to 1 within 1e-9; the error names the offending weight.
func (u *Weighted) Update(own float64, vals []float64, f int) (float64, error) {
	u.kept = keptIndices(own, vals, f, u.kept[:0])
	if cap(u.w) < len(u.kept) {
		u.w = make([]float64, len(u.kept), cap(u.kept))
	}
	w := u.w[:len(u.kept)]
	self := u.weights.Assign(own, vals, u.kept, w)
	if err := u.check(self, w); err != nil {
		return 0, err
	}
	// The conversions round each product before it is added: without them
	// the compiler may fuse multiply and add (it does on arm64), and the
	// same inputs would give different bits on different machines.
	x := float64(self * own)
	for k, j := range u.kept {
		x += float64(w[k] * vals[j])
	}
	return x, nil
}

func (u *Weighted) check(self float64, w []float64) error {
	if !(self >= u.alpha) || math.IsInf(self, 0) {
		return fmt.Errorf("wmsr: own weight %v, want ≥ α = %v: %w", self, u.alpha, ErrWeights)
	}
	sum := self
	for k, wk := range w {
		if !(wk >= u.alpha) || math.IsInf(wk, 0) {
			return fmt.Errorf("wmsr: weight %v of kept value %d (vals index %d), want ≥ α = %v: %w",
				wk, k, u.kept[k], u.alpha, ErrWeights)
		}
		sum += wk
	}
	if math.Abs(sum-1) > weightTol {
		return fmt.Errorf("wmsr: weights sum to %v over own and %d kept values, want 1: %w",
			sum, len(w), ErrWeights)
	}
	return nil
}

// keptIndices appends to dst the indices of the values of vals that the
// W-MSR step keeps, in increasing order.
func keptIndices(own float64, vals []float64, f int, dst []int) []int {
	t := cut{hiT: math.Inf(1), loT: math.Inf(-1), hiI: len(vals), loI: len(vals)}
	if f > 0 {
		t = findCut(own, vals, f)
	}
	for i, v := range vals {
		if t.keeps(i, v) {
			dst = append(dst, i)
		}
	}
	return dst
}
