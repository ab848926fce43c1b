package wmsr

import (
	"fmt"

	"github.com/wmsr/wmsr/graph"
)

// gatherCap is the in-degree up to which Round copies a node's neighbour
// values into a stack array. Larger in-neighbourhoods share one buffer
// allocated per call (see Round).
const gatherCap = 256

// Round performs one synchronous W-MSR round with uniform weights on every
// node of g (LeBlanc et al., IEEE JSAC 2013, Sec. III-B): next[v] is
// Update(x[v], vals, s.F(v, d_v)) where vals are x of v's in-neighbours in
// CSR (increasing id) order. All nodes are treated as normal; adversaries are
// the simulator's business, which builds vals itself and calls Update.
//
// x and next must have length at least g.N() and must not overlap (the round
// is synchronous: every node reads the old values). Round does not allocate
// unless some in-degree exceeds 256, in which case it allocates one buffer
// per call. It panics on a short slice or when x and next are the same
// slice, which are programming errors.
func Round(g *graph.Digraph, x, next []float64, s Scope) {
	n := checkRound(g, x, next)
	off, adj := g.InCSR()
	var stack [gatherCap]float64
	buf := stack[:]
	if maxInDegree(off) > gatherCap {
		buf = make([]float64, maxInDegree(off))
	}
	// Resolve the common F-total scope once rather than calling through the
	// interface for every node.
	if t, ok := s.(Total); ok {
		f := int(t)
		// f = 1 and 2 take the threshold kernels (threshold.go), which
		// gather for themselves, unless ties make them the slower choice:
		// a node with a value tied at a threshold takes a second pass, and
		// on data where most nodes do (discrete values, or a run converged
		// to a few float64s) the index kernels below are cheaper. So after
		// any window of tieWindow nodes of which more than a quarter tied,
		// the rest of the round takes those.
		thresholds := f == 1 || f == 2
		var sc scratch2
		v := 0
		// Where the CPU has it, the vector kernel (threshold4.go) takes the
		// threshold kernels' nodes four at a time; what it leaves, this loop
		// does.
		if vec, avx512 := vectorKernel(); thresholds && vec {
			v, thresholds = roundGroups(off[:n+1], adj, x, next, buf, f, &sc, avx512)
		}
		for ; v < n; v++ {
			nb := adj[off[v]:off[v+1]]
			if thresholds && len(nb) <= gatherCap {
				r, ok := sc.trimRound(x[v], nb, x, f)
				if v%tieWindow == tieWindow-1 {
					thresholds = sc.tied <= tieWindow/4
					sc.tied = 0
				}
				if ok {
					next[v] = r
					continue
				}
			}
			vals := buf[:len(nb)]
			for k, u := range nb {
				vals[k] = x[u]
			}
			// The common budgets call their kernel directly: at in-degree
			// 10 one more call level per node costs a tenth of the step.
			// (A func value chosen once would be neater, but an indirect
			// call makes the stack buffer escape to the heap.)
			var r float64
			var ok bool
			if len(vals) < networkMaxDeg {
				switch f {
				case 1:
					r, ok = trim1(x[v], vals)
				case 2:
					r, ok = trim2(x[v], vals)
				case 3:
					r, ok = trim3(x[v], vals)
				}
			}
			if !ok {
				r = updateRound(x[v], vals, f)
			}
			next[v] = r
		}
		return
	}
	for v := 0; v < n; v++ {
		nb := adj[off[v]:off[v+1]]
		vals := buf[:len(nb)]
		for k, u := range nb {
			vals[k] = x[u]
		}
		next[v] = updateRound(x[v], vals, s.F(v, len(nb)))
	}
}

// LinearRound is one round of plain linear averaging, the consensus rule
// W-MSR hardens (Olfati-Saber, Fax, Murray, Proc. IEEE 2007; LeBlanc et al.
// Sec. III with F = 0): next[v] = (x[v] + Σ x[u]) / (1 + d_v) over v's
// in-neighbours u in CSR order. Nothing is trimmed, not even non-finite
// values: it is the benchmark baseline and shows what one bad value does to
// an untrimmed average. Same slice requirements as Round.
func LinearRound(g *graph.Digraph, x, next []float64) {
	n := checkRound(g, x, next)
	off, adj := g.InCSR()
	for v := 0; v < n; v++ {
		nb := adj[off[v]:off[v+1]]
		sum := x[v]
		for _, u := range nb {
			sum += x[u]
		}
		next[v] = sum / float64(1+len(nb))
	}
}

func checkRound(g *graph.Digraph, x, next []float64) int {
	n := g.N()
	if len(x) < n || len(next) < n {
		panic(fmt.Sprintf("wmsr: round on %d nodes with len(x) = %d, len(next) = %d", n, len(x), len(next)))
	}
	if n > 0 && &x[0] == &next[0] {
		panic("wmsr: x and next are the same slice; a synchronous round needs two buffers")
	}
	return n
}

func maxInDegree(off []int32) int {
	m := 0
	for v := 0; v+1 < len(off); v++ {
		m = max(m, int(off[v+1]-off[v]))
	}
	return m
}

// updateRound is Update on Round's gather buffer, which it may overwrite.
func updateRound(own float64, vals []float64, f int) float64 {
	if f <= 0 {
		return meanFinite(own, vals)
	}
	return updateScratch(own, vals, f)
}
