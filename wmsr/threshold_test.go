package wmsr

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/wmsr/wmsr/graph"
	"pgregory.net/rapid"
)

// The threshold kernels (threshold.go) against the oracle, directly: the
// neighbour values are laid out in x behind own and gathered through a
// shuffled neighbour list, so the gather's indexing is exercised too.

// checkTrimRound runs trimRound on own and vals with budget f and checks it
// against ReferenceUpdate bit for bit, and that it declines (ok = false)
// exactly when own or a value is not finite. It reports whether the step
// took the tie pass.
func checkTrimRound(t interface {
	Helper()
	Fatalf(string, ...any)
}, s *scratch2, rng *rand.Rand, own float64, vals []float64, f int) (tied bool) {
	t.Helper()
	d := len(vals)
	// x holds the values at shuffled positions; nb lists them in vals order.
	perm := rng.Perm(d + 1)
	x := make([]float64, d+1)
	nb := make([]int32, d)
	for i, v := range vals {
		x[perm[i]] = v
		nb[i] = int32(perm[i])
	}
	x[perm[d]] = own
	before := s.tied
	got, ok := s.trimRound(own, nb, x, f)
	finite := !math.IsNaN(own) && !math.IsInf(own, 0)
	for _, v := range vals {
		finite = finite && !math.IsNaN(v) && !math.IsInf(v, 0)
	}
	if ok != finite {
		t.Fatalf("trimRound(%v, %v, f=%d): ok = %v with all finite = %v", own, vals, f, ok, finite)
	}
	if !ok {
		return false
	}
	if want := ReferenceUpdate(own, vals, f); !sameFloat(got, want) {
		t.Fatalf("trimRound(%v, %v, f=%d) = %v (%#x), reference %v (%#x)",
			own, vals, f, got, math.Float64bits(got), want, math.Float64bits(want))
	}
	return s.tied != before
}

// TestTrimRoundMatchesReference: rapid inputs with the ties, signed zeros,
// non-finite and extreme values of genValue, every degree 0..64 and now and
// then up to gatherCap.
func TestTrimRoundMatchesReference(t *testing.T) {
	var s scratch2
	rapid.Check(t, func(rt *rapid.T) {
		pool := rapid.SliceOfN(rapid.Float64Range(-3, 3), 1, 4).Draw(rt, "pool")
		pool = append(pool, 0, 1, -1, 2, math.Copysign(0, -1))
		gen := genValue(pool)
		own := gen.Draw(rt, "own")
		if rapid.IntRange(0, 2).Draw(rt, "ownPooled") == 0 {
			own = rapid.SampledFrom(pool).Draw(rt, "ownFromPool")
		}
		maxD := 64
		if rapid.IntRange(0, 9).Draw(rt, "big") == 0 {
			maxD = gatherCap
		}
		d := rapid.IntRange(0, maxD).Draw(rt, "d")
		vals := rapid.SliceOfN(gen, d, d).Draw(rt, "vals")
		if rapid.Bool().Draw(rt, "finite") {
			for i, v := range vals {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					vals[i] = rapid.SampledFrom(pool).Draw(rt, "refill")
				}
			}
			if math.IsNaN(own) || math.IsInf(own, 0) {
				own = pool[0]
			}
		}
		f := rapid.IntRange(1, 2).Draw(rt, "f")
		checkTrimRound(rt, &s, rand.New(rand.NewPCG(uint64(d), 1)), own, vals, f)
	})
}

// TestTrimRoundSeeded runs many thousands of seeded cases of every degree
// 0..64, in families that aim at each branch: continuous values (the fast
// path), few distinct values (ties at the thresholds, the tie pass), own
// among the extremes (fewer than f values on a side), signed zeros
// around own = ±0, extreme magnitudes and subnormals (the unsigned
// interval arithmetic), and a non-finite value or own (declined). Each
// family's branch must actually be taken.
func TestTrimRoundSeeded(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 17))
	reps := 60
	if testing.Short() {
		reps = 10
	}
	negz := math.Copysign(0, -1)
	extremes := []float64{math.MaxFloat64, -math.MaxFloat64, math.SmallestNonzeroFloat64,
		-math.SmallestNonzeroFloat64, 1e300, -1e300, 1e-310, -1e-310, 0, negz}
	families := []struct {
		name    string
		draw    func() float64
		wantTie bool
	}{
		{"continuous", func() float64 { return rng.NormFloat64() }, false},
		{"few values", func() float64 { return float64(rng.IntN(4)) - 1.5 }, true},
		{"zeros", func() float64 { return []float64{0, negz, 1, -1}[rng.IntN(4)] }, true},
		{"extremes", func() float64 { return extremes[rng.IntN(len(extremes))] }, true},
		{"any bits", func() float64 {
			for {
				if v := math.Float64frombits(rng.Uint64()); !math.IsNaN(v) && !math.IsInf(v, 0) {
					return v
				}
			}
		}, false},
	}
	var s scratch2
	for _, fam := range families {
		tied := 0
		for d := 0; d <= 64; d++ {
			for range reps {
				vals := make([]float64, d)
				for i := range vals {
					vals[i] = fam.draw()
				}
				own := fam.draw()
				if d > 0 && rng.IntN(4) == 0 {
					own = vals[rng.IntN(d)] // own tied with a neighbour
				}
				for f := 1; f <= 2; f++ {
					if checkTrimRound(t, &s, rng, own, vals, f) {
						tied++
					}
				}
			}
		}
		if fam.wantTie && tied == 0 {
			t.Errorf("%s: the tie pass never ran", fam.name)
		}
	}
	// Non-finite values, of both signs and as NaN payloads with either sign
	// bit, anywhere, and as own: declined.
	nonFinite := []float64{math.NaN(), math.Inf(1), math.Inf(-1),
		math.Float64frombits(0xfff8000000000001), math.Float64frombits(0x7ff0000000000001)}
	for d := 0; d <= 20; d++ {
		for _, bad := range nonFinite {
			vals := make([]float64, d)
			for i := range vals {
				vals[i] = rng.NormFloat64()
			}
			if d > 0 {
				vals[rng.IntN(d)] = bad
				checkTrimRound(t, &s, rng, rng.NormFloat64(), vals, 1+d%2)
			}
			checkTrimRound(t, &s, rng, bad, vals, 1+d%2)
		}
	}
}

// TestTrimRoundTiesResolved pins cases where the tie pass decides which
// copy goes and the choice changes the rounded sum (see TestTieOrderMatters).
func TestTrimRoundTiesResolved(t *testing.T) {
	var s scratch2
	rng := rand.New(rand.NewPCG(1, 1))
	for _, c := range []struct {
		own  float64
		vals []float64
		f    int
	}{
		{0, []float64{1e16, 1, 1e16}, 1},
		{0, []float64{1e16, 1, 1e16, 1e16}, 2},
		{0, []float64{2e16, 1e16, 1, 1e16}, 2},
		{0, []float64{-1e16, -1, -1e16, -1e16, 5}, 2},
		{0, []float64{1e16, -1e16, 1, -1, 1e16, -1e16, 1e16, -1e16}, 2},
		{1, []float64{0, math.Copysign(0, -1), 0, 5, 3}, 2}, // ±0 tie below own
	} {
		if !checkTrimRound(t, &s, rng, c.own, c.vals, c.f) {
			t.Errorf("%v f=%d: expected the tie pass", c.vals, c.f)
		}
	}
}

// TestSelectThresholds checks select1 and select2 against sorting, for
// every degree 0..64 (group of four and remainder alike).
func TestSelectThresholds(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		d := rapid.IntRange(0, 64).Draw(t, "d")
		keys := rapid.SliceOfN(rapid.Int64Range(-5, 5), d, d).Draw(t, "keys")
		if rapid.Bool().Draw(t, "wide") {
			keys = rapid.SliceOfN(rapid.Int64(), d, d).Draw(t, "keys wide")
		}
		ko := rapid.Int64().Draw(t, "ko")
		all := slices.Sorted(slices.Values(append([]int64{ko, ko}, keys...)))
		n := len(all)
		a1, a2, b1, b2 := select2(keys, ko)
		if a1 != all[n-1] || a2 != all[n-2] || b1 != all[0] || b2 != all[1] {
			t.Fatalf("select2(%v, %d) = %d %d %d %d, sorted %v", keys, ko, a1, a2, b1, b2, all)
		}
		a1, b1 = select1(keys, ko)
		if a1 != all[n-1] || b1 != all[0] {
			t.Fatalf("select1(%v, %d) = %d %d, sorted %v", keys, ko, a1, b1, all)
		}
	})
}

// TestFlipKey: flipKey orders float64s as key does, with -0 equal to +0,
// and puts non-finite values beyond the bounds the kernels test.
func TestFlipKey(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	draw := func() float64 {
		if rng.IntN(4) == 0 {
			return []float64{0, math.Copysign(0, -1), math.MaxFloat64, -math.MaxFloat64,
				math.SmallestNonzeroFloat64, -math.SmallestNonzeroFloat64}[rng.IntN(6)]
		}
		return math.Float64frombits(rng.Uint64())
	}
	for range 100000 {
		a, b := draw(), draw()
		if math.IsNaN(a) || math.IsNaN(b) || math.IsInf(a, 0) || math.IsInf(b, 0) {
			continue
		}
		ka, kb := flipKey(a), flipKey(b)
		if (a < b) != (ka < kb) || (a == b) != (ka == kb) {
			t.Fatalf("flipKey(%v) = %d, flipKey(%v) = %d", a, ka, b, kb)
		}
		if ka >= infBits || ka <= ^infBits {
			t.Fatalf("finite %v has key %d beyond the non-finite bounds", a, ka)
		}
	}
	for _, bits := range []uint64{0x7ff0000000000000, 0x7ff8000000000000, 0x7fffffffffffffff, 0x7ff0000000000001} {
		if k := flipKey(math.Float64frombits(bits)); k < infBits {
			t.Errorf("%#x: key %d below infBits", bits, k)
		}
		if k := flipKey(math.Float64frombits(bits | signBit)); k > ^infBits {
			t.Errorf("%#x: key %d above ^infBits", bits|signBit, k)
		}
	}
}

// TestRoundThresholdsMatchUpdate: Round at Total(1) and Total(2), whose
// nodes take the threshold kernels, agrees with Update node by node, on
// continuous values, on discrete values (ties at most nodes: Round switches
// to the index kernels after a window, TestRoundTieSwitch), with isolated
// nodes, in-degrees above networkMaxDeg and gatherCap, and non-finite values.
func TestRoundThresholdsMatchUpdate(t *testing.T) {
	must := mustGraph(t)
	rng := rand.New(rand.NewPCG(5, 8))
	// In-degrees 0 (node 0) to 70, all different sizes of the last group.
	b, err := graph.NewBuilder(400)
	if err != nil {
		t.Fatal(err)
	}
	for v := 1; v < 400; v++ {
		for _, u := range rng.Perm(400)[:v%71] {
			if u != v {
				if err := b.AddArc(u, v); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	graphs := map[string]*graph.Digraph{
		"kin10":    must(graph.KIn(500, 10, 2)),
		"kin50":    must(graph.KIn(300, 50, 3)),
		"mixed":    must(b.Build()),
		"deg200":   must(graph.KIn(230, 200, 4)),
		"complete": must(graph.Complete(300)), // in-degree 299 > gatherCap
	}
	for name, g := range graphs {
		for _, kind := range []string{"continuous", "discrete", "nonfinite"} {
			x := make([]float64, g.N())
			for i := range x {
				switch kind {
				case "continuous":
					x[i] = rng.NormFloat64()
				default:
					x[i] = float64(rng.IntN(5)) - 2
				}
			}
			if kind == "nonfinite" {
				x[3], x[7], x[11] = math.NaN(), math.Inf(1), math.Inf(-1)
			}
			for _, s := range []Scope{Total(1), Total(2)} {
				want := roundByUpdate(g, x, s)
				got := make([]float64, g.N())
				Round(g, x, got, s)
				for v := range got {
					if !sameFloat(got[v], want[v]) {
						t.Fatalf("%s %s %v: node %d: Round %v, Update %v", name, kind, s, v, got[v], want[v])
					}
				}
			}
		}
	}
}

// TestRoundTieSwitch checks the count that drives Round's switch to the
// index kernels: on discrete values more than a quarter of a window of
// nodes tie at a threshold, so Round switches after the first window; on
// continuous values almost none do, so it keeps the threshold kernels.
// (Either way Round agrees with Update: TestRoundThresholdsMatchUpdate.)
func TestRoundTieSwitch(t *testing.T) {
	g := mustGraph(t)(graph.KIn(1000, 10, 5))
	rng := rand.New(rand.NewPCG(9, 9))
	x := make([]float64, g.N())
	for i := range x {
		x[i] = float64(rng.IntN(4))
	}
	off, adj := g.InCSR()
	var s scratch2
	for v := range tieWindow {
		if _, ok := s.trimRound(x[v], adj[off[v]:off[v+1]], x, 2); !ok {
			t.Fatal("declined finite values")
		}
	}
	if tied := s.tied; tied <= tieWindow/4 {
		t.Fatalf("discrete values: %d of %d nodes tied, want more than a quarter", tied, tieWindow)
	}
	for i := range x {
		x[i] = rng.NormFloat64()
	}
	s.tied = 0
	for v := range g.N() {
		s.trimRound(x[v], adj[off[v]:off[v+1]], x, 2)
	}
	if s.tied > g.N()/100 {
		t.Fatalf("continuous values: %d of %d nodes tied", s.tied, g.N())
	}
}

// TestThresholdNoAllocations: Round's threshold path, its tie pass and the
// switch to the index kernels allocate nothing (see TestNoAllocations).
func TestThresholdNoAllocations(t *testing.T) {
	if testing.CoverMode() != "" {
		t.Skip("coverage instrumentation may allocate")
	}
	g := mustGraph(t)(graph.KIn(1000, 10, 1))
	rng := rand.New(rand.NewPCG(1, 2))
	x, discrete, next := make([]float64, 1000), make([]float64, 1000), make([]float64, 1000)
	for i := range x {
		x[i] = rng.Float64()
		discrete[i] = float64(i % 4) // ties at most nodes
	}
	for name, f := range map[string]func(){
		"Round Total(1)":      func() { Round(g, x, next, Total(1)) },
		"Round Total(2)":      func() { Round(g, x, next, Total(2)) },
		"Round Total(2) ties": func() { Round(g, discrete, next, Total(2)) },
	} {
		if a := testing.AllocsPerRun(20, f); a != 0 {
			t.Errorf("%s: %v allocations per run, want 0", name, a)
		}
	}
}
