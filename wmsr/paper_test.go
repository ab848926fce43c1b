package wmsr

// Tests of the claims of the W-MSR papers that are local to one update,
// one test per claim, in the manner of etcd's raft_paper_test.go: each test
// names the claim and where it is stated. Claims about whole runs
// (convergence under robustness, necessity) are tested by the simulator in
// wmsr/sim.

import (
	"math"
	"slices"
	"testing"

	"pgregory.net/rapid"
)

// genAttacked draws a normal node's view: own and its normal neighbours'
// values in [-100, 100], plus at most f adversarial values (any float64,
// NaN and ±Inf included) at arbitrary positions. It returns the view, f and
// the range [lo, hi] of own and the normal values.
func genAttacked(t *rapid.T) (own float64, vals []float64, f int, lo, hi float64) {
	f = rapid.IntRange(0, 5).Draw(t, "f")
	normal := rapid.Float64Range(-100, 100)
	own = normal.Draw(t, "own")
	vals = rapid.SliceOfN(normal, 0, 40).Draw(t, "normal")
	lo, hi = own, own
	for _, v := range vals {
		lo, hi = min(lo, v), max(hi, v)
	}
	bad := rapid.OneOf(
		rapid.Float64(),
		rapid.SampledFrom([]float64{math.NaN(), math.Inf(1), math.Inf(-1), math.MaxFloat64, -math.MaxFloat64}),
		rapid.Float64Range(-200, 200),
	)
	for a := rapid.IntRange(0, f).Draw(t, "adversaries"); a > 0; a-- {
		at := rapid.IntRange(0, len(vals)).Draw(t, "at")
		vals = slices.Insert(vals, at, bad.Draw(t, "bad"))
	}
	return own, vals, f, lo, hi
}

// roundingSlack bounds the float64 rounding of a mean of k terms of
// magnitude ≤ big (see TestUpdateRange).
func roundingSlack(k int, big float64) float64 { return float64(k+2) * 0x1p-52 * big }

// Safety lemma (LeBlanc et al. 2013, the lemma behind the sufficiency of
// robustness; lemma_1.v of Tekriwal et al.): if at most F of a normal
// node's in-neighbours are adversarial, its next value lies in the range
// [m(t), M(t)] of the normal values, whatever the adversaries send. Per
// node: within the range of own and its normal neighbours' values.
func TestSafetyLemma(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		own, vals, f, lo, hi := genAttacked(t)
		got := Update(own, vals, f)
		slack := roundingSlack(len(vals), max(math.Abs(lo), math.Abs(hi)))
		if !(got >= lo-slack && got <= hi+slack) {
			t.Fatalf("Update = %v outside the normal range [%v, %v]", got, lo, hi)
		}
	})
}

// The same lemma for any weights bounded below by α (Sec. III-B): the next
// value is a convex combination of own and kept values, and every kept
// value lies in the normal range.
func TestSafetyLemmaWeighted(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		own, vals, f, lo, hi := genAttacked(t)
		u, err := NewWeighted(0.01, Lazy(0.5))
		if err != nil {
			t.Fatal(err)
		}
		got, err := u.Update(own, vals, f)
		if err != nil {
			t.Skip(err) // more than 50 kept values would break α
		}
		slack := roundingSlack(len(vals), max(math.Abs(lo), math.Abs(hi)))
		if !(got >= lo-slack && got <= hi+slack) {
			t.Fatalf("weighted update = %v outside the normal range [%v, %v]", got, lo, hi)
		}
	})
}

// The kept values themselves lie in the normal range: this is the heart of
// the lemma (a kept value above own has F removed values at or above it,
// one of them normal).
func TestKeptValuesInNormalRange(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		own, vals, f, lo, hi := genAttacked(t)
		for _, j := range keptIndices(own, vals, f, nil) {
			if !(vals[j] >= lo && vals[j] <= hi) {
				t.Fatalf("kept vals[%d] = %v outside the normal range [%v, %v]", j, vals[j], lo, hi)
			}
		}
	})
}

// The rule (Sec. III-B; definitions.v): of the values strictly above own
// the F largest are removed, or all if fewer than F; likewise below; values
// equal to own are never removed; and here, non-finite values are always
// removed and take a part of the budget on their side (NaN and +Inf above,
// −Inf below), as a huge finite report would. The kept set, summed in
// order, gives Update's result bit for bit.
func TestRemovalRule(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		own, vals, f := genUpdateInput(t, 40)
		if math.IsNaN(own) {
			t.Skip("a NaN own compares with nothing")
		}
		kept := keptIndices(own, vals, f, nil)
		isKept := make([]bool, len(vals))
		for _, j := range kept {
			isKept[j] = true
		}
		var above, below, remAbove, remBelow, nfAbove, nfBelow int
		for i, v := range vals {
			finite := !math.IsNaN(v) && !math.IsInf(v, 0)
			switch {
			case !finite:
				if isKept[i] {
					t.Fatalf("non-finite vals[%d] = %v kept", i, v)
				}
				if math.IsInf(v, -1) {
					nfBelow++
				} else {
					nfAbove++
				}
			case v == own:
				if !isKept[i] {
					t.Fatalf("vals[%d] = %v equal to own removed", i, v)
				}
			case v > own:
				above++
				if !isKept[i] {
					remAbove++
				}
			default:
				below++
				if !isKept[i] {
					remBelow++
				}
			}
		}
		fHi, fLo := max(f-nfAbove, 0), max(f-nfBelow, 0)
		if remAbove != min(fHi, above) || remBelow != min(fLo, below) {
			t.Fatalf("removed %d of %d finite above and %d of %d below, want min(f=%d less %d and %d non-finite, ·)",
				remAbove, above, remBelow, below, f, nfAbove, nfBelow)
		}
		// Every removed value above is ≥ every kept value above (the F
		// largest go), and likewise below.
		for i, v := range vals {
			for _, j := range kept {
				if !isKept[i] && v > own && vals[j] > own && v < vals[j] {
					t.Fatalf("removed %v above own while keeping larger %v", v, vals[j])
				}
				if !isKept[i] && v < own && vals[j] < own && v > vals[j] {
					t.Fatalf("removed %v below own while keeping smaller %v", v, vals[j])
				}
			}
		}
		sum := own
		for _, j := range kept {
			sum += vals[j]
		}
		if want, got := sum/float64(1+len(kept)), Update(own, vals, f); !sameFloat(got, want) {
			t.Fatalf("Update = %v, mean of own and kept in order = %v", got, want)
		}
	})
}

// F = 0 removes nothing finite (Sec. III-B): W-MSR degenerates to linear
// averaging, the rule one malicious node can steer anywhere (the paper's
// motivation). A single adversarial value moves the average as far as it
// likes.
func TestLinearAveragingIsNotResilient(t *testing.T) {
	vals := []float64{1, 1, 1e9}
	if got := Update(1, vals, 0); got < 1e8 {
		t.Fatalf("F=0: Update = %v, want the adversary to drag it", got)
	}
	if got := Update(1, vals, 1); got != 1 {
		t.Fatalf("F=1: Update = %v, want 1", got)
	}
}

// The f-fraction local scope trims ⌊f·d_i⌋ on each side (Sec. II-B).
func TestFractionScopeBudget(t *testing.T) {
	for _, c := range []struct {
		f    Fraction
		d, b int
	}{{0, 10, 0}, {0.1, 10, 1}, {0.1, 9, 0}, {0.25, 8, 2}, {0.49, 100, 49}} {
		if got := c.f.F(0, c.d); got != c.b {
			t.Errorf("Fraction(%v).F(d=%d) = %d, want %d", float64(c.f), c.d, got, c.b)
		}
	}
}
