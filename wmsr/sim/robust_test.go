package sim

import (
	"math/bits"
	"slices"
	"testing"

	"github.com/wmsr/wmsr/graph"
)

// This file holds the brute-force (r,s)-robustness checker the theorem tests
// need (LeBlanc et al. 2013; r_s_robustness in definitions.v). It
// enumerates every pair of disjoint nonempty sets, 3ⁿ of them, so it is for
// n ≤ maxBrute only. The fast checker belongs to topology/; the tests here do
// not depend on it, so that a bug there cannot hide one here.

const maxBrute = 20

// robustness decides (r,s)-robustness of g by brute force. It returns ok, or
// a violating pair: nonempty disjoint S1, S2 with |X_{S1}^r| < |S1|,
// |X_{S2}^r| < |S2| and |X_{S1}^r| + |X_{S2}^r| < s.
func robustness(g *graph.Digraph, r, s int) (s1, s2 []int, ok bool) {
	x, full, n := reachCounts(g, r)
	all := uint32(1)<<n - 1
	for a := uint32(1); a <= all; a++ {
		if full[a] {
			continue
		}
		rest := all &^ a
		for b := rest; b != 0; b = (b - 1) & rest {
			if !full[b] && int(x[a])+int(x[b]) < s {
				return members(a), members(b), false
			}
		}
	}
	return nil, nil, true
}

// violatingPairs returns up to limit violating pairs, for tests that want
// more than the first.
func violatingPairs(g *graph.Digraph, r, s, limit int) [][2][]int {
	x, full, n := reachCounts(g, r)
	all := uint32(1)<<n - 1
	var out [][2][]int
	for a := uint32(1); a <= all && len(out) < limit; a++ {
		if full[a] {
			continue
		}
		rest := all &^ a
		for b := rest; b != 0 && len(out) < limit; b = (b - 1) & rest {
			if !full[b] && int(x[a])+int(x[b]) < s {
				out = append(out, [2][]int{members(a), members(b)})
			}
		}
	}
	return out
}

// reachCounts tabulates, for every node set S as a bitmask, |X_S^r| and
// whether X_S^r = S, so each pair costs O(1).
func reachCounts(g *graph.Digraph, r int) (x []uint8, full []bool, n int) {
	n = g.N()
	if n > maxBrute {
		panic("brute-force robustness on more than maxBrute nodes")
	}
	in := make([]uint32, n)
	for v := range n {
		for _, u := range g.In(v) {
			in[v] |= 1 << u
		}
	}
	x = make([]uint8, 1<<n)
	full = make([]bool, 1<<n)
	for set := uint32(1); set < 1<<n; set++ {
		c := 0
		for m := set; m != 0; m &= m - 1 {
			v := bits.TrailingZeros32(m)
			if bits.OnesCount32(in[v]&^set) >= r {
				c++
			}
		}
		x[set] = uint8(c)
		full[set] = c == bits.OnesCount32(set)
	}
	return x, full, n
}

func members(set uint32) []int {
	var m []int
	for ; set != 0; set &= set - 1 {
		m = append(m, bits.TrailingZeros32(set))
	}
	return m
}

// maxR returns the largest r ≤ n for which g is (r,r)-robust, the measure
// the circulant table below pins down.
func maxR(g *graph.Digraph) int {
	best := 0
	for r := 1; r <= g.N(); r++ {
		if _, _, ok := robustness(g, r, r); !ok {
			break
		}
		best = r
	}
	return best
}

// naiveViolates is the definition read literally, with sets as slices:
// the cross-check for the bitmask tables.
func naiveViolates(g *graph.Digraph, s1, s2 []int, r, s int) bool {
	x := func(set []int) int {
		c := 0
		for _, v := range set {
			out := 0
			for _, u := range g.In(v) {
				if !slices.Contains(set, int(u)) {
					out++
				}
			}
			if out >= r {
				c++
			}
		}
		return c
	}
	x1, x2 := x(s1), x(s2)
	return x1 != len(s1) && x2 != len(s2) && x1+x2 < s
}

// TestBruteForceAgreesWithDefinition checks the bitmask checker against the
// literal definition on every pair of sets of small graphs: each pair it
// reports violates, and when it says robust no pair does.
func TestBruteForceAgreesWithDefinition(t *testing.T) {
	graphs := []*graph.Digraph{
		must(graph.Complete(5)), must(graph.Circulant(7, 2, false)), must(graph.Circulant(6, 2, true)),
		must(graph.TwoCliques(3, 3)), must(graph.ErdosRenyi(7, 0.5, true, 3)), must(graph.Grid(2, 3)),
	}
	for gi, g := range graphs {
		n := g.N()
		for r := 1; r <= 3; r++ {
			for s := 1; s <= 3; s++ {
				s1, s2, ok := robustness(g, r, s)
				if !ok && !naiveViolates(g, s1, s2, r, s) {
					t.Fatalf("graph %d (%d,%d): reported pair %v %v does not violate", gi, r, s, s1, s2)
				}
				naiveOK := true
				for code := 0; code < pow3(n) && naiveOK; code++ {
					var a, b []int
					for v, c := 0, code; v < n; v, c = v+1, c/3 {
						switch c % 3 {
						case 1:
							a = append(a, v)
						case 2:
							b = append(b, v)
						}
					}
					if len(a) > 0 && len(b) > 0 && naiveViolates(g, a, b, r, s) {
						naiveOK = false
					}
				}
				if ok != naiveOK {
					t.Fatalf("graph %d (%d,%d): brute force says %v, definition says %v", gi, r, s, ok, naiveOK)
				}
			}
		}
	}
}

func pow3(n int) int {
	p := 1
	for range n {
		p *= 3
	}
	return p
}

// TestCompleteGraphRobustness verifies the bound used by the sufficiency
// tests: K_n is (F+1,F+1)-robust iff n ≥ 2F+1 (LeBlanc et al. 2013;
// a set S of K_n has all its nodes r-reachable iff n−|S| ≥ r).
func TestCompleteGraphRobustness(t *testing.T) {
	for f := 0; f <= 4; f++ {
		for n := 2; n <= 11; n++ {
			_, _, ok := robustness(must(graph.Complete(n)), f+1, f+1)
			if want := n >= 2*f+1; ok != want {
				t.Errorf("K_%d (%d,%d)-robust = %v, want %v", n, f+1, f+1, ok, want)
			}
		}
	}
}

// circulantTable pins the largest r for which the undirected circulant
// C_n(1..k) (node i linked to i±1..i±k) is (r,r)-robust, as found by the
// brute force. The pattern is r = k, except that C_{2k+1}(1..k) is K_{2k+1}
// (r = k+1) and C_14(1..5) falls short at r = 4. The sufficiency tests draw
// their circulants from it; pinning it turns a change in either the
// generator or the checker into a failure.
var circulantTable = map[[2]int]int{
	{5, 1}: 1, {5, 2}: 3,
	{6, 1}: 1, {6, 2}: 2,
	{7, 1}: 1, {7, 2}: 2, {7, 3}: 4,
	{8, 1}: 1, {8, 2}: 2, {8, 3}: 3,
	{9, 1}: 1, {9, 2}: 2, {9, 3}: 3, {9, 4}: 5,
	{10, 1}: 1, {10, 2}: 2, {10, 3}: 3, {10, 4}: 4,
	{11, 1}: 1, {11, 2}: 2, {11, 3}: 3, {11, 4}: 4, {11, 5}: 6,
	{12, 1}: 1, {12, 2}: 2, {12, 3}: 3, {12, 4}: 4, {12, 5}: 5,
	{13, 1}: 1, {13, 2}: 2, {13, 3}: 3, {13, 4}: 4, {13, 5}: 5, {13, 6}: 7,
	{14, 1}: 1, {14, 2}: 2, {14, 3}: 3, {14, 4}: 4, {14, 5}: 4, {14, 6}: 6,
}

// TestCirculantRobustness checks the circulant table against the brute force.
func TestCirculantRobustness(t *testing.T) {
	for key, want := range circulantTable {
		g := must(graph.Circulant(key[0], key[1], false))
		if got := maxR(g); got != want {
			t.Errorf("C_%d(1..%d): largest (r,r)-robust r = %d, table says %d", key[0], key[1], got, want)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
