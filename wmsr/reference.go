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
// A non-finite neighbour value (NaN, ±Inf) is a faulty report: only an
// adversary sends one, since a normal node's value stays finite. It is never
// averaged in, and it counts as a value beyond every finite one — NaN and
// +Inf above, −Inf below — so it takes one of the f removals on its side.
// It must: an adversary sending NaN is then exactly an adversary sending a
// huge finite number, which the theorems cover. Dropping it without using
// up a removal would make it a silent adversary, and silence is not covered:
// on K₃ with f = 1, one NaN sender and normal values 1 and 1.5, each normal
// node would spend its removal on the other's value and keep its own, so
// they would never agree (TestNonFiniteTakesARemoval in wmsr/sim). Non-finite
// values beyond the f removals on a side (more than f faulty in-neighbours,
// outside every theorem) are dropped all the same.
//
// A node whose own value is not finite is not a normal node; its result is
// own, NaN or ±Inf, and carries no guarantee.
func ReferenceUpdate(own float64, vals []float64, f int) float64 {
	type iv struct {
		v float64
		i int
	}
	var above, below []iv
	keep := make([]bool, len(vals))
	for i, v := range vals {
		switch {
		case math.IsNaN(v) || math.IsInf(v, 1):
			above = append(above, iv{math.Inf(1), i})
		case math.IsInf(v, -1):
			below = append(below, iv{math.Inf(-1), i})
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
		keep[e.i] = k >= f && !math.IsInf(e.v, 0)
	}
	for k, e := range below {
		keep[e.i] = k >= f && !math.IsInf(e.v, 0)
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
