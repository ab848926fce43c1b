package sim

import (
	"fmt"
	"slices"

	"github.com/wmsr/wmsr/graph"
)

// Attack is a ready-made adversarial scenario: where the adversaries are,
// what they send, and where the fleet starts.
type Attack struct {
	Adversaries []Adversary
	Initial     []float64
}

// SplitAttack builds the attack by which necessity.v (Tekriwal et al.,
// arXiv 2202.13833, necessity_proof; LeBlanc et al. 2013, the "only if" of
// the F-total theorem) shows
// that (F+1,F+1)-robustness is necessary for F-total malicious consensus.
//
// S1 and S2 must be nonempty, disjoint, and violate (F+1,F+1)-robustness:
// with r = F+1 and X_S^r = { i ∈ S : |N_i^in \ S| ≥ r },
// |X_{S1}^r| < |S1|, |X_{S2}^r| < |S2| and |X_{S1}^r| + |X_{S2}^r| < F+1.
// The construction is that of necessity.v, lemma lim_is_0_or_1:
//
//	A    = X_{S1}^{F+1} ∪ X_{S2}^{F+1}            (at most F nodes)
//	mal  = fun t j => if j ∈ S1 then 0 else 1    (Constant behaviours)
//	init = fun j => if j ∈ S1 then 0 else if j ∉ S2 then 1/2 else 1
//
// A normal node of S1 hears at most F nodes outside S1, all holding values
// above 0, and trims them all, so it stays at 0 forever; symmetrically every
// normal node of S2 stays at 1. Both sets have normal nodes (S \ X_S^r is
// nonempty), so the disagreement stays 1 in every round: no consensus. The
// values involved are 0 and 1, so this holds exactly in float64 too.
//
// It fails with ErrNotViolating when the pair satisfies the robustness
// condition, and with ErrConfig for malformed sets.
func SplitAttack(g *graph.Digraph, s1, s2 []int, f int) (*Attack, error) {
	if g == nil {
		return nil, configErr("split attack on a nil graph")
	}
	if f < 0 {
		return nil, configErr("split attack with F = %d, want ≥ 0", f)
	}
	n := g.N()
	side := make([]int8, n) // 0: neither, 1: S1, 2: S2
	for k, set := range [2][]int{s1, s2} {
		if len(set) == 0 {
			return nil, configErr("S%d is empty", k+1)
		}
		for _, v := range set {
			if v < 0 || v >= n {
				return nil, configErr("S%d holds node %d, want 0..%d", k+1, v, n-1)
			}
			if side[v] != 0 {
				return nil, configErr("node %d is in S%d twice, or in both sets", v, k+1)
			}
			side[v] = int8(k + 1)
		}
	}
	r := f + 1
	x1 := reachable(g, s1, side, 1, r)
	x2 := reachable(g, s2, side, 2, r)
	switch {
	case len(x1) == len(s1):
		return nil, fmt.Errorf("sim: %w: every node of S1 hears %d or more nodes outside it", ErrNotViolating, r)
	case len(x2) == len(s2):
		return nil, fmt.Errorf("sim: %w: every node of S2 hears %d or more nodes outside it", ErrNotViolating, r)
	case len(x1)+len(x2) >= r:
		return nil, fmt.Errorf("sim: %w: |X_S1| + |X_S2| = %d + %d ≥ F+1 = %d", ErrNotViolating, len(x1), len(x2), r)
	}
	adv := slices.Concat(x1, x2)
	if len(adv) > f { // implied by the check above; kept as a guard
		return nil, fmt.Errorf("sim: %w: the attack needs %d adversaries, more than F = %d", ErrNotViolating, len(adv), f)
	}
	slices.Sort(adv)
	at := &Attack{Initial: make([]float64, n)}
	for v := range at.Initial {
		at.Initial[v] = [...]float64{0.5, 0, 1}[side[v]]
	}
	for _, a := range adv {
		at.Adversaries = append(at.Adversaries, Adversary{Node: a, Behavior: Constant([...]float64{1, 0, 1}[side[a]])})
	}
	return at, nil
}

// reachable returns X_S^r, the nodes of S (marked side[i] == mark) that hear
// at least r nodes outside S (r-reachable nodes, LeBlanc et al. 2013; Xi_S_r in
// definitions.v), in the order of set.
func reachable(g *graph.Digraph, set []int, side []int8, mark int8, r int) []int {
	var x []int
	for _, v := range set {
		out := 0
		for _, u := range g.In(v) {
			if side[u] != mark {
				out++
			}
		}
		if out >= r {
			x = append(x, v)
		}
	}
	return x
}
