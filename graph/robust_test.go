package graph

import (
	"math/bits"
	"testing"
)

// isRSRobust decides (r,s)-robustness by brute force (LeBlanc, Zhang,
// Koutsoukos, Sundaram, IEEE JSAC 2013, Def. 5): for S ⊆ V let
// X_S^r = { i ∈ S : |N_i^in \ S| ≥ r }; D is (r,s)-robust if for every pair
// of nonempty disjoint S1, S2 at least one holds: |X_{S1}^r| = |S1|,
// |X_{S2}^r| = |S2|, |X_{S1}^r| + |X_{S2}^r| ≥ s. It walks all 3ⁿ pairs, so
// it is for n ≤ 12 or so; it is the reference the generators' robustness
// claims are checked against, deliberately naive.
func isRSRobust(g *Digraph, r, s int) bool {
	n := g.N()
	if n > 16 {
		panic("isRSRobust is exponential; n too large")
	}
	in := make([]uint32, n)
	for v := 0; v < n; v++ {
		for _, u := range g.In(v) {
			in[v] |= 1 << uint(u)
		}
	}
	full := uint32(1)<<uint(n) - 1
	// x[S] = |X_S^r|, and whether all of S is r-reachable.
	x := make([]int, full+1)
	all := make([]bool, full+1)
	for S := uint32(1); S <= full; S++ {
		for i := 0; i < n; i++ {
			if S&(1<<uint(i)) != 0 && bits.OnesCount32(in[i]&^S) >= r {
				x[S]++
			}
		}
		all[S] = x[S] == bits.OnesCount32(S)
	}
	for S1 := uint32(1); S1 <= full; S1++ {
		if all[S1] {
			continue
		}
		rest := full &^ S1
		for S2 := rest; S2 != 0; S2 = (S2 - 1) & rest {
			if !all[S2] && x[S1]+x[S2] < s {
				return false
			}
		}
	}
	return true
}

func TestIsRSRobustSanity(t *testing.T) {
	path, _ := FromArcs(3, []Arc{{0, 1}, {1, 0}, {1, 2}, {2, 1}})
	empty, _ := FromArcs(2, nil)
	one, _ := FromArcs(1, nil)
	cycle, _ := Circulant(5, 1, true) // directed 5-cycle: i hears i−1
	for _, c := range []struct {
		name string
		g    *Digraph
		r, s int
		want bool
	}{
		{"path3 1-robust", path, 1, 1, true},
		{"path3 (1,2)", path, 1, 2, true}, // {0},{2}: both fully reachable
		{"path3 not 2-robust", path, 2, 1, false},
		{"two isolated nodes", empty, 1, 1, false},
		{"single node, vacuous", one, 5, 5, true},
		{"directed cycle 1-robust", cycle, 1, 1, true},
		// S1 = {0,1}, S2 = {2,3,4}: only 0 and 2 hear across, one each side.
		{"directed cycle not (1,3)", cycle, 1, 3, false},
		{"directed cycle not 2-robust", cycle, 2, 1, false},
	} {
		if got := isRSRobust(c.g, c.r, c.s); got != c.want {
			t.Errorf("%s: isRSRobust(r=%d, s=%d) = %v, want %v", c.name, c.r, c.s, got, c.want)
		}
	}
}

// TestCompleteRobustness checks the claim in Complete's doc comment: for
// n ≥ 2, K_n is (r,s)-robust for every s ≥ 1 exactly when n ≥ 2r−1, and
// for no s ≥ 1 otherwise; K_1 is robust for all (r,s), vacuously.
func TestCompleteRobustness(t *testing.T) {
	for n := 1; n <= 9; n++ {
		g, err := Complete(n)
		if err != nil {
			t.Fatal(err)
		}
		for r := 1; r <= 6; r++ {
			for s := 1; s <= n+1; s++ {
				want := n == 1 || n >= 2*r-1
				if got := isRSRobust(g, r, s); got != want {
					t.Errorf("K_%d (r=%d, s=%d): robust %v, doc says %v", n, r, s, got, want)
				}
			}
		}
	}
}

// TestPreferentialAttachmentRobust checks the generator's promise on every
// n it can make up to 11 nodes, for every (r,s) that fits, several seeds.
func TestPreferentialAttachmentRobust(t *testing.T) {
	maxN := 11
	if testing.Short() {
		maxN = 9
	}
	graphs := 0
	for r := 1; r <= 4; r++ {
		for s := 1; s <= 5; s++ {
			n0 := max(2*r-1, r+s-1)
			for n := n0; n <= maxN; n++ {
				for seed := uint64(0); seed < 3; seed++ {
					g, err := PreferentialAttachment(n, r, s, seed)
					if err != nil {
						t.Fatal(err)
					}
					graphs++
					if !isRSRobust(g, r, s) {
						t.Errorf("PreferentialAttachment(n=%d, r=%d, s=%d, seed=%d) is not (%d,%d)-robust", n, r, s, seed, r, s)
					}
				}
			}
		}
	}
	if graphs < 100 {
		t.Fatalf("only %d graphs checked", graphs)
	}
}

// TestTwoCliquesNotTwoRobust: joined by a perfect matching, two k-cliques
// are k-connected but not 2-robust, S1 and S2 being the cliques.
func TestTwoCliquesNotTwoRobust(t *testing.T) {
	for k := 3; k <= 5; k++ {
		g, err := TwoCliques(k, k)
		if err != nil {
			t.Fatal(err)
		}
		if !isRSRobust(g, 1, 1) {
			t.Errorf("TwoCliques(%d,%d) should be 1-robust", k, k)
		}
		if isRSRobust(g, 2, 1) {
			t.Errorf("TwoCliques(%d,%d) is 2-robust; the doc says it is not", k, k)
		}
	}
}

// TestGridOnlyOneRobust checks Grid's doc: 1-robust, never 2-robust.
func TestGridOnlyOneRobust(t *testing.T) {
	for _, d := range [][2]int{{1, 5}, {2, 2}, {2, 3}, {2, 5}, {3, 3}} {
		g, err := Grid(d[0], d[1])
		if err != nil {
			t.Fatal(err)
		}
		if !isRSRobust(g, 1, 1) || isRSRobust(g, 2, 1) {
			t.Errorf("Grid(%d,%d): 1-robust %v, 2-robust %v; want true, false", d[0], d[1], isRSRobust(g, 1, 1), isRSRobust(g, 2, 1))
		}
	}
}
