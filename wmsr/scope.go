package wmsr

import (
	"fmt"
	"math"
)

// Scope is a threat model's trimming budget: how many values node i removes
// on each side, given its in-degree. (LeBlanc et al., IEEE JSAC 2013,
// Sec. II-B define the three scopes below.)
type Scope interface {
	// F returns the number of values node removes above and below its own.
	F(node, inDegree int) int
}

// Total is the F-total (and, with every node using the same F, the F-local)
// scope: every normal node trims F on each side. Under F-total at most F
// nodes of the whole network are adversaries; under F-local at most F in any
// normal node's in-neighbourhood. The rule is the same; the robustness
// condition differs ((F+1,F+1)-robust is necessary and sufficient for
// F-total, Thm. 2 / Tekriwal et al.; (2F+1)-robust suffices for F-local).
type Total int

// F implements Scope.
func (t Total) F(int, int) int { return int(t) }

// Local gives each node its own budget F_i (the F-local model with
// per-node bounds).
type Local []int

// F implements Scope.
func (l Local) F(node, _ int) int { return l[node] }

// Fraction is the f-fraction local scope: node i trims ⌊f·d_i⌋ on each side,
// where d_i is its in-degree and 0 ≤ f < 1/2 (LeBlanc et al., Def. 4).
type Fraction float64

// F implements Scope.
func (f Fraction) F(_, inDegree int) int { return int(math.Floor(float64(f) * float64(inDegree))) }

// ValidateScope checks a scope against a graph's in-degrees: budgets must be
// non-negative, a Local must have one entry per node, a Fraction must lie in
// [0, 1/2).
func ValidateScope(s Scope, n int) error {
	switch s := s.(type) {
	case Total:
		if s < 0 {
			return fmt.Errorf("wmsr: F = %d, want F ≥ 0", int(s))
		}
	case Local:
		if len(s) != n {
			return fmt.Errorf("wmsr: local F has %d entries for %d nodes", len(s), n)
		}
		for i, f := range s {
			if f < 0 {
				return fmt.Errorf("wmsr: local F of node %d is %d, want ≥ 0", i, f)
			}
		}
	case Fraction:
		if !(s >= 0 && s < 0.5) {
			return fmt.Errorf("wmsr: fraction f = %v, want 0 ≤ f < 1/2", float64(s))
		}
	case nil:
		return fmt.Errorf("wmsr: nil scope")
	}
	return nil
}
