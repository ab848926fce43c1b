package topology

import (
	"errors"
	"fmt"
	"math/bits"
	"slices"

	"github.com/wmsr/wmsr/graph"
)

// Pair is a witness: two disjoint nonempty node sets. Removed, when not
// empty, lists nodes taken out of the graph first (the Byzantine condition:
// the pair then lives in the normal network D − Removed). Sets are sorted.
type Pair struct {
	S1      []int `json:"s1"`
	S2      []int `json:"s2"`
	Removed []int `json:"removed,omitempty"`
}

// ErrNotWitness is wrapped by every error of the Verify functions.
var ErrNotWitness = errors.New("not a witness")

// Reachable returns X_S^r = { i ∈ S : |N_i^in \ S| ≥ r } in increasing
// order (LeBlanc et al. 2013, Sec. IV: S is r-reachable iff X_S^r ≠ ∅).
// Nodes in removed are treated as absent from the graph.
func Reachable(g *graph.Digraph, S []int, r int, removed ...int) []int {
	in := make([]bool, g.N())
	gone := make([]bool, g.N())
	for _, v := range S {
		in[v] = true
	}
	for _, v := range removed {
		gone[v] = true
	}
	var x []int
	for _, i := range S {
		out := 0
		for _, u := range g.In(i) {
			if !in[u] && !gone[u] {
				out++
			}
		}
		if out >= r {
			x = append(x, i)
		}
	}
	slices.Sort(x)
	return x
}

// checkPair validates the shape of p: ids in range, sets nonempty,
// disjoint, and disjoint from p.Removed.
func checkPair(g *graph.Digraph, p Pair) error {
	seen := make(map[int]int, len(p.S1)+len(p.S2)+len(p.Removed))
	for k, set := range [][]int{p.S1, p.S2, p.Removed} {
		if k < 2 && len(set) == 0 {
			return fmt.Errorf("%w: S%d is empty", ErrNotWitness, k+1)
		}
		for _, v := range set {
			if v < 0 || v >= g.N() {
				return fmt.Errorf("%w: node %d out of range 0..%d", ErrNotWitness, v, g.N()-1)
			}
			if j, dup := seen[v]; dup {
				return fmt.Errorf("%w: node %d is in two sets (%d and %d)", ErrNotWitness, v, j, k)
			}
			seen[v] = k
		}
	}
	return nil
}

// VerifyViolation checks, by the definition alone, that p shows D is not
// (r,s)-robust (LeBlanc et al. 2013, Sec. IV): S1, S2 nonempty and disjoint,
// X_{S1}^r ≠ S1, X_{S2}^r ≠ S2 and |X_{S1}^r| + |X_{S2}^r| < s. With s = 1
// it checks that neither set is r-reachable (r-robustness). It returns nil for a
// witness and an error wrapping ErrNotWitness otherwise. It is deliberately
// independent of the search code.
func VerifyViolation(g *graph.Digraph, p Pair, r, s int) error {
	if err := checkPair(g, p); err != nil {
		return err
	}
	x1 := Reachable(g, p.S1, r, p.Removed...)
	x2 := Reachable(g, p.S2, r, p.Removed...)
	switch {
	case len(x1) == len(p.S1):
		return fmt.Errorf("%w: every node of S1 is %d-reachable", ErrNotWitness, r)
	case len(x2) == len(p.S2):
		return fmt.Errorf("%w: every node of S2 is %d-reachable", ErrNotWitness, r)
	case len(x1)+len(x2) >= s:
		return fmt.Errorf("%w: |X1|+|X2| = %d ≥ s = %d", ErrNotWitness, len(x1)+len(x2), s)
	}
	return nil
}

// VerifyRemoval checks that p shows the Byzantine condition fails: after
// removing p.Removed (at most f nodes), the pair (S1, S2) shows the normal
// network is not r-robust.
func VerifyRemoval(g *graph.Digraph, p Pair, r, f int) error {
	if len(p.Removed) > f {
		return fmt.Errorf("%w: %d nodes removed, at most %d allowed", ErrNotWitness, len(p.Removed), f)
	}
	return VerifyViolation(g, p, r, 1)
}

// MaxOut returns the largest |N_i^in \ S_k| over the nodes i of S1 ∪ S2:
// the pair shows D is not (MaxOut+1)-robust.
func MaxOut(g *graph.Digraph, p Pair) int {
	m := 0
	for _, set := range [][]int{p.S1, p.S2} {
		in := make([]bool, g.N())
		for _, v := range set {
			in[v] = true
		}
		for _, i := range set {
			out := 0
			for _, u := range g.In(i) {
				if !in[u] {
					out++
				}
			}
			m = max(m, out)
		}
	}
	return m
}

// Cost returns |X_{S1}^r| + |X_{S2}^r| and whether both sets have a node
// that is not r-reachable; when they do, p shows D is not (r, Cost+1)-robust.
func Cost(g *graph.Digraph, p Pair, r int) (int, bool) {
	x1 := Reachable(g, p.S1, r, p.Removed...)
	x2 := Reachable(g, p.S2, r, p.Removed...)
	return len(x1) + len(x2), len(x1) < len(p.S1) && len(x2) < len(p.S2)
}

// MaxEnumerate bounds Enumerate: 3¹⁶ pairs is 43 million.
const MaxEnumerate = 16

// Enumerate is plain enumeration of every pair of disjoint nonempty subsets
// ((3ⁿ − 2ⁿ⁺¹ + 1)/2 of them, LeBlanc & Koutsoukos, HiCoNS 2013), the
// baseline the search is measured and tested against. It returns ρ, the
// largest r for which D is r-robust (0 if D is not even 1-robust; ⌈n/2⌉
// for n = 1), and for each r in 1..⌈n/2⌉+1 the largest s for which D is
// (r,s)-robust (n when no pair has both sets short of fully reachable).
// It refuses n > MaxEnumerate.
func Enumerate(g *graph.Digraph) (rho int, maxS []int, err error) {
	n := g.N()
	if n > MaxEnumerate {
		return 0, nil, fmt.Errorf("topology: enumeration of n = %d exceeds %d nodes", n, MaxEnumerate)
	}
	in := make([]uint32, n)
	for v := 0; v < n; v++ {
		for _, u := range g.In(v) {
			in[v] |= 1 << uint(u)
		}
	}
	top := (n+1)/2 + 1
	maxS = make([]int, top+1)
	for r := range maxS {
		maxS[r] = n
	}
	rho = (n + 1) / 2
	full := uint32(1)<<uint(n) - 1
	var out1, out2 [MaxEnumerate]int
	for s1 := uint32(1); s1 <= full; s1++ {
		rest := full &^ s1
		for s2 := rest; s2 > s1; s2 = (s2 - 1) & rest {
			mx, k1, k2 := 0, 0, 0
			for x := s1; x != 0; x &= x - 1 {
				o := bits.OnesCount32(in[bits.TrailingZeros32(x)] &^ s1)
				out1[k1] = o
				k1++
				mx = max(mx, o)
			}
			for x := s2; x != 0; x &= x - 1 {
				o := bits.OnesCount32(in[bits.TrailingZeros32(x)] &^ s2)
				out2[k2] = o
				k2++
				mx = max(mx, o)
			}
			rho = min(rho, mx)
			for r := 1; r <= top; r++ {
				x1, x2 := 0, 0
				for _, o := range out1[:k1] {
					if o >= r {
						x1++
					}
				}
				for _, o := range out2[:k2] {
					if o >= r {
						x2++
					}
				}
				if x1 < k1 && x2 < k2 {
					maxS[r] = min(maxS[r], x1+x2)
				}
			}
		}
	}
	return rho, maxS, nil
}
