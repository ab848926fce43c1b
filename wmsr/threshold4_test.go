package wmsr

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/wmsr/wmsr/graph"
	"pgregory.net/rapid"
)

// The vector kernel (threshold4.go, threshold_amd64.s) against the scalar
// threshold kernel and the oracle, side by side: for every node of every
// group, a lane the kernel reports as done must hold exactly trimRound's
// result, which is ReferenceUpdate's, and a lane must be reported as failed
// exactly when trimRound declines (a non-finite value), takes the tie pass,
// or a list of its group is empty or longer than gatherCap.

// kernelVariants lists the vector kernel's variants this CPU can run.
func kernelVariants(t testing.TB) []bool {
	ok, avx512 := vectorKernel()
	if !ok {
		t.Skip("no vector kernel on this build or CPU")
	}
	if avx512 {
		return []bool{false, true}
	}
	return []bool{false}
}

// checkGroups runs the vector kernel with budget f on nodes 0..len(lists)-1
// (a multiple of four) with own values x[0..] and in-neighbour lists lists,
// indices into x, and compares node by node (see above). It returns how
// many lanes had each outcome.
func checkGroups(t interface {
	Helper()
	Fatalf(string, ...any)
}, x []float64, lists [][]int32, f int, avx512 bool) (o outcomes) {
	t.Helper()
	n := len(lists)
	off := make([]int32, n+1)
	var adj []int32
	for v, l := range lists {
		adj = append(adj, l...)
		off[v+1] = off[v] + int32(len(l))
	}
	sentinel := math.Float64frombits(0x7ff4dead0000beef)
	next := make([]float64, n+1)
	for i := range next {
		next[i] = sentinel
	}
	var s4 scratch4
	var adjp *int32
	if len(adj) > 0 {
		adjp = &adj[0]
	}
	var failed []bool
	for v := 0; v < n; {
		groups := min(n/4-v/4, tieWindow/4)
		m := round4(&x[0], &x[v], &next[v], adjp, &off[v], &s4, groups, f, avx512)
		if groups < 16 && m>>(4*groups) != 0 {
			t.Fatalf("failed mask %#x has bits beyond %d groups", m, groups)
		}
		for j := range 4 * groups {
			failed = append(failed, m>>j&1 != 0)
		}
		v += 4 * groups
	}
	if !math.IsNaN(next[n]) || math.Float64bits(next[n]) != math.Float64bits(sentinel) {
		t.Fatalf("kernel wrote beyond the last group")
	}
	var s scratch2
	for v := range n {
		g := v &^ 3
		eligible := true
		for j := g; j < g+4; j++ {
			eligible = eligible && len(lists[j]) >= 1 && len(lists[j]) <= gatherCap
		}
		vals := make([]float64, len(lists[v]))
		for i, u := range lists[v] {
			vals[i] = x[u]
		}
		wantFail := !eligible
		var scalar float64
		if len(lists[v]) <= gatherCap {
			before := s.tied
			var ok bool
			scalar, ok = s.trimRound(x[v], lists[v], x, f)
			wantFail = wantFail || !ok || s.tied != before
			switch {
			case !eligible:
				o.ineligible++
			case !ok:
				o.declined++
			case s.tied != before:
				o.tied++
			default:
				o.done++
			}
		} else {
			o.ineligible++
		}
		if failed[v] != wantFail {
			t.Fatalf("f=%d avx512=%v node %d (own %v, vals %v, group eligible %v): failed = %v, want %v",
				f, avx512, v, x[v], vals, eligible, failed[v], wantFail)
		}
		if failed[v] {
			continue
		}
		ref := ReferenceUpdate(x[v], vals, f)
		if !sameFloat(next[v], scalar) || !sameFloat(next[v], ref) {
			t.Fatalf("f=%d avx512=%v node %d (own %v, vals %v): vector %v (%#x), trimRound %v (%#x), reference %v (%#x)",
				f, avx512, v, x[v], vals, next[v], math.Float64bits(next[v]),
				scalar, math.Float64bits(scalar), ref, math.Float64bits(ref))
		}
	}
	return o
}

// outcomes counts lanes by outcome: done by the vector kernel, failed for a
// tie at a threshold, for a non-finite value, or for an in-degree of 0 or
// above gatherCap in the group.
type outcomes struct{ done, tied, declined, ineligible int }

func (o *outcomes) add(p outcomes) {
	o.done += p.done
	o.tied += p.tied
	o.declined += p.declined
	o.ineligible += p.ineligible
}

// groupCase lays out own values and neighbour values in one x: own values
// first (nodes 0..n-1), each neighbour value in a slot of its own after
// them, except that now and then a list refers to another node's own value
// (so that values tie with own values and lists share entries).
type groupCase struct {
	x     []float64
	lists [][]int32
}

func newGroupCase(own []float64) *groupCase {
	c := &groupCase{x: append([]float64(nil), own...), lists: make([][]int32, len(own))}
	return c
}

func (c *groupCase) add(v int, val float64, shareOwn int) {
	if shareOwn >= 0 {
		c.lists[v] = append(c.lists[v], int32(shareOwn))
		return
	}
	c.lists[v] = append(c.lists[v], int32(len(c.x)))
	c.x = append(c.x, val)
}

// TestVectorKernelSeeded: thousands of seeded groups in the families of
// TestTrimRoundSeeded (continuous values, few values, zeros, extremes, any
// bits, non-finite), with in-degrees 0..70 and around gatherCap, equal and
// unequal within a group (the tail rows), and own values tied with
// neighbours. Each outcome (done, tie, declined, ineligible group) must
// occur.
func TestVectorKernelSeeded(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 4))
	negz := math.Copysign(0, -1)
	extremes := []float64{math.MaxFloat64, -math.MaxFloat64, math.SmallestNonzeroFloat64,
		-math.SmallestNonzeroFloat64, 1e300, -1e300, 1e-310, -1e-310, 0, negz}
	nonFinite := []float64{math.NaN(), math.Inf(1), math.Inf(-1),
		math.Float64frombits(0xfff8000000000001), math.Float64frombits(0x7ff0000000000001)}
	families := map[string]func() float64{
		"continuous": func() float64 { return rng.NormFloat64() },
		"few values": func() float64 { return float64(rng.IntN(4)) - 1.5 },
		"zeros":      func() float64 { return []float64{0, negz, 1, -1}[rng.IntN(4)] },
		"extremes":   func() float64 { return extremes[rng.IntN(len(extremes))] },
		"any bits": func() float64 {
			for {
				if v := math.Float64frombits(rng.Uint64()); !math.IsNaN(v) && !math.IsInf(v, 0) {
					return v
				}
			}
		},
		"non-finite": func() float64 {
			if rng.IntN(30) == 0 {
				return nonFinite[rng.IntN(len(nonFinite))]
			}
			return rng.NormFloat64()
		},
	}
	degree := func() int {
		switch rng.IntN(10) {
		case 0:
			return rng.IntN(4) // 0..3: below one vector
		case 1:
			return gatherCap - 2 + rng.IntN(4) // around gatherCap
		default:
			return 1 + rng.IntN(70)
		}
	}
	reps := 40
	if testing.Short() {
		reps = 8
	}
	for _, avx512 := range kernelVariants(t) {
		var total outcomes
		for name, draw := range families {
			for rep := range reps {
				groups := 1 + rng.IntN(20) // beyond one call's 16 as well
				own := make([]float64, 4*groups)
				for i := range own {
					own[i] = draw()
				}
				c := newGroupCase(own)
				sameDeg := rep%2 == 0
				d := degree()
				for v := range own {
					if !sameDeg {
						d = degree()
					}
					for range d {
						share := -1
						if rng.IntN(8) == 0 {
							share = rng.IntN(len(own))
						}
						c.add(v, draw(), share)
					}
				}
				for f := 1; f <= 2; f++ {
					total.add(checkGroups(namedT{t, name}, c.x, c.lists, f, avx512))
				}
			}
		}
		if total.done == 0 || total.tied == 0 || total.declined == 0 || total.ineligible == 0 {
			t.Errorf("avx512=%v: some outcome never occurred: %+v", avx512, total)
		}
		t.Logf("avx512=%v: %+v", avx512, total)
	}
}

// namedT prefixes a family's name to failure messages.
type namedT struct {
	*testing.T
	name string
}

func (n namedT) Fatalf(format string, args ...any) {
	n.T.Helper()
	n.T.Fatalf(n.name+": "+format, args...)
}

// TestVectorKernelOutcomes checks that each outcome of a lane occurs in
// small hand-made groups: done, tied, declined, ineligible.
func TestVectorKernelOutcomes(t *testing.T) {
	for _, avx512 := range kernelVariants(t) {
		negz := math.Copysign(0, -1)
		cases := []struct {
			name string
			own  [4]float64
			vals [4][]float64
			f    int
		}{
			{"degrees 1..4", [4]float64{0.5, 0.25, -1, 3}, [4][]float64{{1}, {1, 2}, {3, -4, 5}, {1, 2, 3, 4}}, 2},
			{"ties", [4]float64{0, 0, 0, 1}, [4][]float64{{1e16, 1, 1e16}, {1e16, 1, 1e16, 1e16}, {2e16, 1e16, 1, 1e16}, {0, negz, 0, 5, 3}}, 2},
			{"non-finite", [4]float64{math.NaN(), 1, 1, math.Inf(-1)}, [4][]float64{{1, 2}, {math.Inf(1), 2}, {math.NaN(), 0, 3, 4, 5}, {1}}, 1},
			{"empty list", [4]float64{1, 2, 3, 4}, [4][]float64{{1, 2}, {}, {3}, {4, 5, 6}}, 1},
			{"signed zeros", [4]float64{0, negz, 0, negz}, [4][]float64{{negz, negz, 1, -1, 2}, {0, 0, 0}, {negz, 1e-310, -1e-310}, {-1, -2, 0, 1, 2, 3}}, 2},
		}
		for _, c := range cases {
			g := newGroupCase(c.own[:])
			for v, l := range c.vals {
				for _, val := range l {
					g.add(v, val, -1)
				}
			}
			t.Run(c.name, func(t *testing.T) {
				o := checkGroups(t, g.x, g.lists, c.f, avx512)
				var want outcomes
				switch c.name {
				case "ties":
					// At f = 2 the first list's two copies of 1e16 both go:
					// no tie.
					want = outcomes{done: 1, tied: 3}
				case "non-finite":
					want = outcomes{declined: 4}
				case "empty list":
					want = outcomes{ineligible: 4}
				default:
					want = outcomes{done: 4}
				}
				if o != want {
					t.Errorf("outcomes %+v, want %+v", o, want)
				}
			})
		}
	}
}

// TestVectorKernelRapid: rapid groups with genValue's ties, signed zeros,
// non-finite and extreme values.
func TestVectorKernelRapid(t *testing.T) {
	variants := kernelVariants(t)
	rapid.Check(t, func(rt *rapid.T) {
		pool := rapid.SliceOfN(rapid.Float64Range(-3, 3), 1, 4).Draw(rt, "pool")
		pool = append(pool, 0, 1, -1, 2, math.Copysign(0, -1))
		gen := genValue(pool)
		groups := rapid.IntRange(1, 5).Draw(rt, "groups")
		own := rapid.SliceOfN(gen, 4*groups, 4*groups).Draw(rt, "own")
		c := newGroupCase(own)
		maxD := 24
		if rapid.IntRange(0, 9).Draw(rt, "big") == 0 {
			maxD = gatherCap + 1
		}
		for v := range own {
			d := rapid.IntRange(0, maxD).Draw(rt, "d")
			for range d {
				share := -1
				if rapid.IntRange(0, 7).Draw(rt, "share") == 0 {
					share = rapid.IntRange(0, len(own)-1).Draw(rt, "shared")
				}
				c.add(v, gen.Draw(rt, "val"), share)
			}
		}
		f := rapid.IntRange(1, 2).Draw(rt, "f")
		avx512 := rapid.SampledFrom(variants).Draw(rt, "avx512")
		checkGroups(rt, c.x, c.lists, f, avx512)
	})
}

// FuzzVectorKernel decodes one or two groups from the input: per node a
// degree byte, then per value one byte choosing among few values (ties),
// signed zeros, non-finite values, or eight bytes of raw bits.
func FuzzVectorKernel(f *testing.F) {
	f.Add([]byte{1, 3, 5, 7, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
	f.Add([]byte{2, 10, 10, 10, 10, 200, 201, 202, 203, 0, 1, 2, 3, 4, 5, 6, 7, 8})
	f.Add([]byte{0, 0, 1, 2, 3, 250, 251, 252, 253, 254, 255})
	variants := kernelVariants(f)
	special := []float64{0, math.Copysign(0, -1), math.NaN(), math.Inf(1), math.Inf(-1),
		math.MaxFloat64, -math.MaxFloat64, math.SmallestNonzeroFloat64}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 2 {
			return
		}
		budget := 1 + int(data[0]&1)
		avx512 := variants[int(data[0]>>1)%len(variants)]
		nodes := 4
		if data[0]&4 != 0 {
			nodes = 8
		}
		data = data[1:]
		next := func() byte {
			if len(data) == 0 {
				return 0
			}
			b := data[0]
			data = data[1:]
			return b
		}
		value := func() float64 {
			b := next()
			switch {
			case b < 160:
				return float64(int(b%9)-4) / 2
			case b < 200:
				return special[int(b)%len(special)]
			default:
				var raw [8]byte
				for i := range raw {
					raw[i] = next()
				}
				return math.Float64frombits(binary.LittleEndian.Uint64(raw[:]))
			}
		}
		degs := make([]int, nodes)
		for v := range degs {
			degs[v] = int(next()) % 40
		}
		own := make([]float64, nodes)
		for v := range own {
			own[v] = value()
		}
		c := newGroupCase(own)
		for v, d := range degs {
			for range d {
				c.add(v, value(), -1)
			}
		}
		checkGroups(t, c.x, c.lists, budget, avx512)
	})
}

// BenchmarkRoundVector compares, at Total(2) on continuous values, the
// scalar threshold path (roundNodeTotal per node, what Round runs without
// the vector kernel), the vector kernel's AVX2 and AVX-512VL variants, and
// the linear round, on a k-in graph (equal in-degrees) and on graphs whose
// in-degrees vary within a group of four (the tail rows):
//
//	go test ./wmsr/ -run '^$' -bench 'RoundVector' -benchtime 20x -count 3
func BenchmarkRoundVector(b *testing.B) {
	const n = 10_000
	must := mustGraph(b)
	graphs := []struct {
		name string
		g    *graph.Digraph
	}{
		{"kin10", must(graph.KIn(n, 10, 1))},
		{"er10", must(graph.ErdosRenyi(n, 10.0/n, true, 1))},
		{"pa", must(graph.PreferentialAttachment(n, 5, 5, 1))},
	}
	rng := rand.New(rand.NewPCG(2, 3))
	x := make([]float64, n)
	for i := range x {
		x[i] = rng.Float64()
	}
	next := make([]float64, n)
	buf := make([]float64, n)
	for _, c := range graphs {
		off, adj := c.g.InCSR()
		b.Run(c.name+"/linear", func(b *testing.B) {
			for b.Loop() {
				LinearRound(c.g, x, next)
			}
			reportVals(b, c.g)
		})
		b.Run(c.name+"/scalar", func(b *testing.B) {
			var sc scratch2
			for b.Loop() {
				for v := range n {
					next[v] = roundNodeTotal(&sc, x[v], adj[off[v]:off[v+1]], x, buf, 2)
				}
			}
			reportVals(b, c.g)
		})
		ok, has512 := vectorKernel()
		if !ok {
			continue
		}
		variants := []bool{false}
		if has512 {
			variants = append(variants, true)
		}
		for _, avx512 := range variants {
			name := "/avx2"
			if avx512 {
				name = "/avx512"
			}
			b.Run(c.name+name, func(b *testing.B) {
				var sc scratch2
				for b.Loop() {
					roundGroups(off, adj, x, next, buf, 2, &sc, avx512)
				}
				reportVals(b, c.g)
			})
		}
	}
}
