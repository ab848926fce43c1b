package topology

import (
	"math"
	"math/rand/v2"

	"github.com/wmsr/wmsr/graph"
)

// spectralPair returns the two sides of an approximate Fiedler vector of
// g with its arcs read as undirected edges: the nodes where the vector is
// negative against the rest. This is spectral bisection (Fiedler,
// "Algebraic connectivity of graphs", 1973; Pothen, Simon and Liou, 1990)
// in the normalised form of Shi and Malik (2000), which suits uneven
// degrees. It is a start for lowCutPair past the engine's size: a thin cut
// between two well-knit parts, such as two squads joined by a few links,
// is where that vector changes sign, while the walk from random even
// splits settles into local optima on either side of it (two random 6-in
// halves joined by a matching have ρ = 1; from random splits the walk
// stopped at ρ ≤ 4, TestLargeGraphWalk). The result is only a start; nil
// if g has fewer than two nodes, no arc, or one side would be empty.
//
// The vector comes from spectralIters rounds of power iteration on the
// lazy random walk W = (I + D⁻¹A)/2 (eigenvalues in [0, 1], so the one
// of the second eigenvector, which converges fastest on a thin cut, is
// the largest left once the stationary direction, the constant vector
// under the degree-weighted inner product, is projected out). Each round
// is O(n + m). By hand because gonum's eigensolvers are dense, O(n³):
// hours on the graphs past 4 096 nodes where this runs. Deterministic:
// the starting vector comes from a fixed seed.
func spectralPair(g *graph.Digraph) *Pair {
	n := g.N()
	if n < 2 {
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
	deflate(x)
	var p Pair
	for v, xv := range x {
		if xv < 0 {
			p.S1 = append(p.S1, v)
		} else {
			p.S2 = append(p.S2, v)
		}
	}
	if len(p.S1) == 0 || len(p.S2) == 0 {
		return nil
	}
	return &p
}

// spectralIters rounds of power iteration: on the matching-joined halves
// of TestSpectralPair (600 and 4 200 nodes) 50 rounds gave the halves
// exactly and 20 did not; 200 leave room for cuts with a smaller gap.
const spectralIters = 200
