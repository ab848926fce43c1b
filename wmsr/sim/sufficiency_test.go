package sim

import (
	"fmt"
	"slices"
	"testing"

	"github.com/wmsr/wmsr/graph"
	"github.com/wmsr/wmsr/wmsr"
	"pgregory.net/rapid"
)

// agreeWithin bounds the rounds the sufficiency tests allow for the normal
// values to agree to within agreeEps. The theorem promises convergence, not
// a rate one could test (its worst-case rate, α^|N| per |N| rounds with
// α = 1/(d+1), is astronomically slow); the bound is about eight times the
// slowest case seen in 36,000 runs of these generators (354 rounds, on a
// sparse circulant), so a failure means no convergence, not a slow one.
const (
	agreeEps    = 1e-9
	agreeWithin = 3000
)

// robustGraph is a graph with the F it is verified (F+1,F+1)-robust for.
type robustGraph struct {
	name string
	g    *graph.Digraph
	f    int
}

// robustFamilies are the graph families the sufficiency tests draw from.
var robustFamilies = []string{"complete", "circulant", "preferential-attachment"}

// robustFs lists, per family, the F values the sufficiency tests use.
var robustFs = [][]int{{0, 1, 2, 3}, {0, 1, 2, 3, 4, 5}, {1, 2}}

// genRobust draws a graph of the family that is (F+1,F+1)-robust, and
// asserts the robustness with the brute force (for circulants, through
// circulantTable, which TestCirculantRobustness verifies).
func genRobust(t *rapid.T, family, f int) robustGraph {
	rg := robustGraph{f: f}
	switch robustFamilies[family] {
	case "complete":
		// K_n is (F+1,F+1)-robust iff n ≥ 2F+1 (TestCompleteGraphRobustness).
		n := rapid.IntRange(2*f+1, 12).Draw(t, "n")
		rg.name, rg.g = fmt.Sprintf("K_%d", n), must(graph.Complete(n))
		if _, _, ok := robustness(rg.g, f+1, f+1); !ok {
			t.Fatalf("%s is not (%d,%d)-robust", rg.name, f+1, f+1)
		}
	case "circulant":
		var keys [][2]int
		for k, r := range circulantTable {
			if r >= f+1 {
				keys = append(keys, k)
			}
		}
		slices.SortFunc(keys, func(a, b [2]int) int { return (a[0]-b[0])*100 + a[1] - b[1] })
		key := rapid.SampledFrom(keys).Draw(t, "circulant")
		rg.name, rg.g = fmt.Sprintf("C_%d(1..%d)", key[0], key[1]), must(graph.Circulant(key[0], key[1], false))
	default:
		n := rapid.IntRange(2*f+1, 12).Draw(t, "n")
		seed := rapid.Uint64().Draw(t, "seed")
		rg.name, rg.g = fmt.Sprintf("PA(%d,%d,%d,%d)", n, f+1, f+1, seed), must(graph.PreferentialAttachment(n, f+1, f+1, seed))
		if _, _, ok := robustness(rg.g, f+1, f+1); !ok {
			t.Fatalf("%s is not (%d,%d)-robust", rg.name, f+1, f+1)
		}
	}
	return rg
}

// TestSufficiency checks the "if" direction of the F-total theorem
// (sufficiency.v, lemma strong_sufficiency, and F_total_consensus.v of
// Tekriwal et al., arXiv 2202.13833; LeBlanc et al. 2013): on an
// (F+1,F+1)-robust graph, with at most F malicious nodes anywhere, every
// initial state and every malicious behaviour, the normal values reach
// asymptotic consensus. Here: their disagreement falls below 1e-9 within
// agreeWithin rounds. Graphs: complete graphs with n ≥ 2F+1, undirected
// circulants of known robustness, and preferential-attachment graphs grown
// to be (F+1,F+1)-robust, each verified by the brute force. Behaviours:
// every malicious one of the library, drawn per adversary (state-dependent
// ones such as Pull included: in hindsight each run's adversary values are
// one fixed sequence mal t j, which the theorem quantifies over). NonFinite
// is included: the rule ranks NaN and ±Inf beyond every real, so such an
// adversary is a real-valued one sending a huge value (see
// TestNonFiniteTakesARemoval).
func TestSufficiency(t *testing.T) {
	for fam, family := range robustFamilies {
		for _, f := range robustFs[fam] {
			t.Run(fmt.Sprintf("%s/F=%d", family, f), func(t *testing.T) { testSufficiency(t, fam, f) })
		}
	}
}

func testSufficiency(t *testing.T, family, f int) {
	slowest, adversaries := 0, 0
	rapid.Check(t, func(t *rapid.T) {
		rg := genRobust(t, family, f)
		n := rg.g.N()
		k := rapid.IntRange(0, min(f, n-1)).Draw(t, "adversaries")
		nodes := rapid.Permutation(nodeIDs(n)).Draw(t, "order")[:k]
		var adv []Adversary
		for _, a := range nodes {
			adv = append(adv, Adversary{Node: a, Behavior: genMalicious(t)})
		}
		tr := mustRun(t, Config{
			Graph: rg.g, Initial: genInitial(t, n), Scope: wmsr.Total(f), Adversaries: adv,
			Rounds: agreeWithin, Epsilon: agreeEps, StopAtEpsilon: true,
		})
		if tr.RoundsToEpsilon < 0 {
			t.Fatalf("%s, F = %d, adversaries %v: disagreement %v after %d rounds", rg.name, f, adv, tr.Final().Disagreement, agreeWithin)
		}
		if tr.Violations != 0 {
			t.Fatalf("%s: %d safety violations", rg.name, tr.Violations)
		}
		slowest, adversaries = max(slowest, tr.RoundsToEpsilon), adversaries+k
	})
	t.Logf("slowest agreement: %d rounds (bound %d); %d adversaries in all", slowest, agreeWithin, adversaries)
}

// TestSufficiencyEveryBehavior is the deterministic companion of
// TestSufficiency: each malicious behaviour of the library, with F of them
// placed on a fixed graph of each family, against a spread initial state.
func TestSufficiencyEveryBehavior(t *testing.T) {
	graphs := []robustGraph{
		{"K_7", must(graph.Complete(7)), 3},
		{"C_12(1..3)", must(graph.Circulant(12, 3, false)), 2},
		{"PA(12,2,2,1)", must(graph.PreferentialAttachment(12, 2, 2, 1)), 1},
		{"PA(14,3,3,7)", must(graph.PreferentialAttachment(14, 3, 3, 7)), 2},
	}
	behaviors := []Behavior{
		Constant(100), Constant(-3), Ramp{Start: 0, Slope: 0.01}, Ramp{Start: -50, Slope: 1},
		Oscillate{Lo: -1, Hi: 2, Period: 1}, Oscillate{Lo: 0, Hi: 1, Period: 3},
		Uniform{Lo: -5, Hi: 5, Seed: 1}, Extreme(1), Extreme(-1), Extreme(0),
		Pull(10), Pull(-10), Pull(0.5),
	}
	for _, rg := range graphs {
		if _, _, ok := robustness(rg.g, rg.f+1, rg.f+1); !ok {
			t.Fatalf("%s is not (%d,%d)-robust", rg.name, rg.f+1, rg.f+1)
		}
		n := rg.g.N()
		x0 := make([]float64, n)
		for i := range x0 {
			x0[i] = float64(i) / float64(n-1)
		}
		for _, b := range behaviors {
			// The adversaries sit on the highest-degree nodes, where they
			// are heard most.
			order := nodeIDs(n)
			slices.SortStableFunc(order, func(a, c int) int { return rg.g.OutDegree(c) - rg.g.OutDegree(a) })
			var adv []Adversary
			for _, a := range order[:rg.f] {
				adv = append(adv, Adversary{Node: a, Behavior: b})
			}
			tr, err := Run(Config{
				Graph: rg.g, Initial: x0, Scope: wmsr.Total(rg.f), Adversaries: adv,
				Rounds: agreeWithin, Epsilon: agreeEps, StopAtEpsilon: true,
			})
			if err != nil {
				t.Fatal(err)
			}
			if tr.RoundsToEpsilon < 0 || tr.Violations != 0 {
				t.Errorf("%s, %T%v: rounds to ε %d, violations %d", rg.name, b, b, tr.RoundsToEpsilon, tr.Violations)
			}
		}
	}
}

// mustRun runs cfg and fails the property on a configuration error.
func mustRun(t *rapid.T, cfg Config) *Trace {
	t.Helper()
	tr, err := Run(cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return tr
}
