package topology

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/wmsr/wmsr/graph"
)

// spectralPair returns a pair that splits g along an approximate Fiedler
// vector of g with its arcs read as undirected edges (spectral bisection:
// Fiedler, "Algebraic connectivity of graphs", 1973; Pothen, Simon and
// Liou, 1990; here in the normalised form of Shi and Malik, 2000, which
// suits uneven degrees): of the splits of the nodes in the vector's
// order, the one sweep picks. A thin cut between well-knit parts, such as
// squads joined by a few links, is where that vector changes, while the
// walk from random even splits settles on either side of it (two random
// 6-in halves joined by a matching have ρ = 1; from random splits the
// walk stopped at ρ ≤ 4, TestLargeGraphWalk). MaxR measures it where a
// search node is dear (past 128 nodes), so past the engine's size the
// walk starts from it when it is ρ's witness, and Check's walk there
// starts from it too. Nil if g has fewer than two nodes or no arc, or
// where its rounds would visit more than walkWork arcs (a dense graph of
// thousands of nodes, where they took seconds that no context stops).
//
// The vector comes from spectralIters rounds of power iteration on the
// lazy random walk W = (I + D⁻¹A)/2 (eigenvalues in [0, 1], so the one
// of the second eigenvector, which converges fastest on a thin cut, is
// the largest left once the stationary direction, the constant vector
// under the degree-weighted inner product, is projected out). Each round
// is O(n + m). By hand because gonum's eigensolvers are dense, O(n³):
// seconds to minutes on the thousands of nodes where this matters.
// Deterministic: the starting vector comes from a fixed seed.
func spectralPair(g *graph.Digraph) *Pair {
	n := g.N()
	if n < 2 || spectralIters*float64(n+2*g.M()) > walkWork {
		return nil
	}
	deg := make([]float64, n)
	var vol float64
	for v := range n {
		deg[v] = float64(g.InDegree(v) + g.OutDegree(v))
		vol += deg[v]
	}
	if vol == 0 {
		return nil
	}
	rng := rand.New(rand.NewPCG(uint64(n), uint64(g.M())))
	x, y := make([]float64, n), make([]float64, n)
	for v := range x {
		x[v] = rng.Float64() - 0.5
	}
	deflate := func(x []float64) {
		var s float64
		for v, xv := range x {
			s += deg[v] * xv
		}
		s /= vol
		for v := range x {
			x[v] -= s
		}
	}
	for range spectralIters {
		deflate(x)
		var norm float64
		for v := range n {
			if deg[v] == 0 {
				y[v] = 0
				continue
			}
			var sum float64
			for _, u := range g.In(v) {
				sum += x[u]
			}
			for _, u := range g.Out(v) {
				sum += x[u]
			}
			y[v] = (x[v] + sum/deg[v]) / 2
			norm += y[v] * y[v]
		}
		if norm == 0 {
			return nil
		}
		norm = math.Sqrt(norm)
		for v := range y {
			y[v] /= norm
		}
		x, y = y, x
	}
	return sweep(g, x)
}

// sweep orders the nodes by x and returns, of the n−1 splits of that
// order into a prefix S1 and the rest S2, the one with the least largest
// |N_i \ S_k| (MaxOut), the most even among equals. The sign of x is
// one of these splits, but where x mixes several eigenvectors (three
// squads of equal size give the second eigenvalue twice) the squads are
// runs of the order and the sign can cut one in two: on three squads of
// 1 300 nodes the sign split had MaxOut 8, a run boundary has 1. One pass:
// moving a node across changes the counts of its out-neighbours by one,
// and a histogram of the counts keeps their maximum.
func sweep(g *graph.Digraph, x []float64) *Pair {
	n := g.N()
	order := make([]int, n)
	for v := range order {
		order[v] = v
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(x[a], x[b]) })
	inS1 := make([]bool, n)
	across := make([]int, n) // all in S2 at first: nothing across
	hist := make([]int, maxInDegree(g)+1)
	hist[0] = n
	top := 0
	set := func(v, c int) {
		hist[across[v]]--
		across[v] = c
		hist[c]++
		top = max(top, c)
		for hist[top] == 0 {
			top--
		}
	}
	best, bestK := -1, -1
	for k, v := range order[:n-1] {
		inS1[v] = true
		c := 0
		for _, u := range g.In(v) {
			if !inS1[u] {
				c++
			}
		}
		set(v, c)
		for _, w := range g.Out(v) {
			if inS1[w] {
				set(int(w), across[w]-1)
			} else {
				set(int(w), across[w]+1)
			}
		}
		if best < 0 || top < best || top == best && abs(2*(k+1)-n) < abs(2*(bestK+1)-n) {
			best, bestK = top, k
		}
	}
	if bestK < 0 {
		return nil
	}
	p := Pair{S1: slices.Clone(order[:bestK+1]), S2: slices.Clone(order[bestK+1:])}
	slices.Sort(p.S1)
	slices.Sort(p.S2)
	return &p
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// spectralIters rounds of power iteration: on the matching-joined halves
// of TestSpectralPair (600 and 4 200 nodes) 50 rounds gave the halves
// exactly and 20 did not; 200 leave room for cuts with a smaller gap.
const spectralIters = 200
