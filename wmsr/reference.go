package wmsr

import (
	"math"
	"slices"
)

// ReferenceUpdate is the deliberately obvious W-MSR step, kept as the oracle
// the fast Update is tested against bit for bit. It sorts, and allocates.
//
// The rule (LeBlanc et al., IEEE JSAC 2013, Sec. III-B; definitions.v of the
// Coq development of Tekriwal et al., arXiv 2202.13833): the node keeps its
// own value; of the neighbour values strictly greater than own it removes the
// f largest (all of them if there are fewer than f), likewise the f smallest
// of those strictly smaller; values equal to own are never removed. The next
// value is the uniform average of own and the kept values,
// x' = (own + Σ kept) / (1 + |kept|).
//
// Which copy of a repeated value is removed changes nothing in exact
// arithmetic but changes floating-point rounding, so the rule is pinned down:
// among equal values at a removal threshold, the ones latest in vals are
// removed, and the sum runs over own first, then the kept values in the
// order of vals. Update follows the same convention.
//
// A non-finite neighbour value (NaN, ±Inf) is never averaged in: it is
// treated as a faulty report and removed before trimming, without consuming
// any of the f removals (a NaN has no place in the order, and an infinite
// one would make the mean infinite). This is stricter than the paper, which
// assumes real values, and never weakens its guarantees: dropping a value a
// malicious node sent is always allowed, since the safety argument only
// needs the kept values to lie in [m(t), M(t)] (the removed ones need not).
func ReferenceUpdate(own float64, vals []float64, f int) float64 {
	type iv struct {
		v float64
		i int
	}
	var above, below []iv
	keep := make([]bool, len(vals))
	for i, v := range vals {
		switch {
		case math.IsNaN(v) || math.IsInf(v, 0):
		case v > own:
			above = append(above, iv{v, i})
		case v < own:
			below = append(below, iv{v, i})
		default:
			keep[i] = true
		}
	}
	// Largest first; among equals, latest first: those are removed first.
	slices.SortFunc(above, func(a, b iv) int {
		if a.v != b.v {
			if a.v > b.v {
				return -1
			}
			return 1
		}
		return b.i - a.i
	})
	slices.SortFunc(below, func(a, b iv) int {
		if a.v != b.v {
			if a.v < b.v {
				return -1
			}
			return 1
		}
		return b.i - a.i
	})
	for k, e := range above {
		keep[e.i] = k >= f
	}
	for k, e := range below {
		keep[e.i] = k >= f
	}
	sum, cnt := own, 1
	for i, v := range vals {
		if keep[i] {
			sum += v
			cnt++
		}
	}
	return sum / float64(cnt)
}
