package sim

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/wmsr/wmsr/graph"
	"github.com/wmsr/wmsr/wmsr"
	"pgregory.net/rapid"
)

// necessityRounds is how long the necessity tests watch the split hold.
// The argument of necessity.v is an induction on t, so the split holds
// forever; any horizon only samples it.
const necessityRounds = 300

// runSplit runs the split attack on (S1, S2) and checks, in every round,
// what lim_is_0_or_1 of necessity.v proves by induction: every normal node
// of S1 holds exactly 0 and every normal node of S2 exactly 1, so the
// disagreement is exactly 1 and never falls below any ε. It returns the
// number of adversaries the attack used.
func runSplit(tb fataler, g *graph.Digraph, s1, s2 []int, f int) int {
	tb.Helper()
	at, err := SplitAttack(g, s1, s2, f)
	if err != nil {
		tb.Fatalf("SplitAttack(%v, %v, F = %d): %v", s1, s2, f, err)
	}
	tr, err := Run(Config{
		Graph: g, Initial: at.Initial, Scope: wmsr.Total(f), Adversaries: at.Adversaries,
		Rounds: necessityRounds, RecordValues: true,
	})
	if err != nil {
		tb.Fatalf("Run: %v", err)
	}
	if tr.RoundsToEpsilon >= 0 || tr.Violations != 0 {
		tb.Fatalf("split attack: rounds to ε %d, violations %d", tr.RoundsToEpsilon, tr.Violations)
	}
	want := make(map[int]float64)
	for _, v := range s1 {
		want[v] = 0
	}
	for _, v := range s2 {
		want[v] = 1
	}
	for _, r := range tr.Rounds {
		if r.Disagreement != 1 || r.Min != 0 || r.Max != 1 {
			tb.Fatalf("round %d: [m, M] = [%v, %v], want [0, 1] exactly", r.T, r.Min, r.Max)
		}
		for k, v := range tr.Nodes {
			if w, ok := want[v]; ok && r.Values[k] != w {
				tb.Fatalf("round %d: normal node %d of S%d holds %v, want %v", r.T, v, 1+int(w), r.Values[k], w)
			}
		}
	}
	return len(at.Adversaries)
}

// TestNecessityTwoCliques checks the "only if" direction of the F-total
// theorem (necessity.v, necessity_proof; LeBlanc et al. 2013) on the classic graph
// of LeBlanc et al. Fig. 2: two k-cliques joined by a perfect matching are
// k-connected, yet each node hears one node outside its clique, so for
// F ≥ 1 the cliques S1, S2 violate (F+1,F+1)-robustness with X_{S1} and
// X_{S2} empty. The split attack then needs no adversary at all: W-MSR's own
// trimming keeps the cliques at 0 and 1 forever.
func TestNecessityTwoCliques(t *testing.T) {
	for k := 3; k <= 7; k++ {
		g := must(graph.TwoCliques(k, k))
		var s1, s2 []int
		for i := range k {
			s1, s2 = append(s1, i), append(s2, k+i)
		}
		for f := 1; f < k; f++ {
			if _, _, ok := robustness(g, f+1, f+1); ok {
				t.Fatalf("brute force says TwoCliques(%d,%d) is (%d,%d)-robust", k, k, f+1, f+1)
			}
			if n := runSplit(t, g, s1, s2, f); n != 0 {
				t.Errorf("k = %d, F = %d: %d adversaries, want 0", k, f, n)
			}
		}
		// With F = 0 the same pair is no violation: each clique hears one
		// node outside, and plain averaging merges them.
		if _, err := SplitAttack(g, s1, s2, 0); !errors.Is(err, ErrNotViolating) {
			t.Errorf("k = %d, F = 0: err = %v, want ErrNotViolating", k, err)
		}
	}
}

// TestNecessityWithAdversaries exercises the adversaries of the split
// attack, A = X_{S1}^{F+1} ∪ X_{S2}^{F+1} (necessity.v): two 5-cliques
// joined by a matching, plus extra arcs so that some nodes hear F+1 nodes
// across. Those nodes would pull their clique over; the attack makes them
// adversaries that hold their side's value (0 in S1, 1 in S2), and the split
// stands with |A| ≤ F.
func TestNecessityWithAdversaries(t *testing.T) {
	base := must(graph.TwoCliques(5, 5)).Arcs()
	s1, s2 := []int{0, 1, 2, 3, 4}, []int{5, 6, 7, 8, 9}
	for _, tc := range []struct {
		name  string
		extra []graph.Arc
		f     int
		adv   int
	}{
		{"F=1, one adversary in S1", []graph.Arc{{From: 6, To: 0}}, 1, 1},
		{"F=1, one adversary in S2", []graph.Arc{{From: 1, To: 5}}, 1, 1},
		{"F=2, one in each", []graph.Arc{{From: 6, To: 0}, {From: 7, To: 0}, {From: 1, To: 5}, {From: 2, To: 5}}, 2, 2},
		{"F=2, two in S1", []graph.Arc{{From: 6, To: 0}, {From: 7, To: 0}, {From: 7, To: 1}, {From: 8, To: 1}}, 2, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := must(graph.FromArcs(10, append(slices.Clone(base), tc.extra...)))
			if n := runSplit(t, g, s1, s2, tc.f); n != tc.adv {
				t.Errorf("%d adversaries, want %d", n, tc.adv)
			}
			// The same adversaries acting honestly (no attack) would let the
			// fleet agree: the split is the adversaries' doing.
			at := must(SplitAttack(g, s1, s2, tc.f))
			tr := must(Run(Config{Graph: g, Initial: at.Initial, Scope: wmsr.Total(0), Rounds: 2000, StopAtEpsilon: true}))
			if tr.RoundsToEpsilon < 0 {
				t.Errorf("without adversaries and trimming, no agreement: disagreement %v", tr.Final().Disagreement)
			}
		})
	}
}

// TestNecessityRandomGraphs checks necessity.v on arbitrary digraphs: for
// every graph on which the brute force finds a pair (S1, S2) violating
// (F+1,F+1)-robustness, the split attack on that pair, with at most F
// malicious nodes, keeps the normal nodes of S1 at 0 and those of S2 at 1
// in every round. Together with TestSufficiency this is the "iff" of the
// theorem, exercised from both sides.
func TestNecessityRandomGraphs(t *testing.T) {
	for f := range 3 {
		t.Run(fmt.Sprintf("F=%d", f), func(t *testing.T) { testNecessity(t, f) })
	}
}

func testNecessity(t *testing.T, f int) {
	var violating, robust, withAdversaries int
	rapid.Check(t, func(t *rapid.T) {
		g := genDigraph(t, 11)
		pairs := violatingPairs(g, f+1, f+1, 50)
		if len(pairs) == 0 {
			robust++
			return
		}
		p := rapid.SampledFrom(pairs).Draw(t, "pair")
		violating++
		if runSplit(t, g, p[0], p[1], f) > 0 {
			withAdversaries++
		}
	})
	t.Logf("%d non-robust graphs attacked (%d with adversaries), %d robust ones skipped", violating, withAdversaries, robust)
	if violating == 0 || (f > 0 && withAdversaries == 0) {
		t.Error("the generator produced no attack, or none with adversaries")
	}
}

// TestSplitAttackMatchesDefinition checks SplitAttack's precondition
// against the literal definition of (r,s)-robustness (definitions.v,
// r_s_robustness): for any pair of disjoint nonempty sets it succeeds iff
// the pair violates (F+1,F+1), and then uses at most F adversaries, all of
// them X-nodes, with the initial state of necessity.v.
func TestSplitAttackMatchesDefinition(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		g := genDigraph(t, 10)
		n := g.N()
		f := rapid.IntRange(0, 3).Draw(t, "F")
		side := make([]int, n)
		var s1, s2 []int
		for v := range n {
			side[v] = rapid.IntRange(0, 2).Draw(t, "side")
			switch side[v] {
			case 1:
				s1 = append(s1, v)
			case 2:
				s2 = append(s2, v)
			}
		}
		if len(s1) == 0 || len(s2) == 0 {
			if _, err := SplitAttack(g, s1, s2, f); !errors.Is(err, ErrConfig) {
				t.Fatalf("empty set: err = %v, want ErrConfig", err)
			}
			return
		}
		at, err := SplitAttack(g, s1, s2, f)
		if violates := naiveViolates(g, s1, s2, f+1, f+1); violates != (err == nil) {
			t.Fatalf("pair violates = %v, SplitAttack error = %v", violates, err)
		}
		if err != nil {
			if !errors.Is(err, ErrNotViolating) {
				t.Fatalf("err = %v, want ErrNotViolating", err)
			}
			return
		}
		if len(at.Adversaries) > f {
			t.Fatalf("%d adversaries for F = %d", len(at.Adversaries), f)
		}
		for _, a := range at.Adversaries {
			outside := 0
			for _, u := range g.In(a.Node) {
				if side[u] != side[a.Node] {
					outside++
				}
			}
			if side[a.Node] == 0 || outside < f+1 {
				t.Fatalf("adversary %d (side %d) hears %d outside, want an X-node", a.Node, side[a.Node], outside)
			}
			if want := Constant([]float64{1, 0, 1}[side[a.Node]]); a.Behavior != want {
				t.Fatalf("adversary %d sends %v, want %v", a.Node, a.Behavior, want)
			}
		}
		for v, x := range at.Initial {
			if want := []float64{0.5, 0, 1}[side[v]]; x != want {
				t.Fatalf("x_%d(0) = %v, want %v", v, x, want)
			}
		}
	})
}
