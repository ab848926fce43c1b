package topology

import "github.com/wmsr/wmsr/graph"

// sourcePair decides 1-robustness in O(n + m) for any n ≥ 2 (Lemma 17 of
// doc.go): it returns nil if D is 1-robust, else two disjoint sets that no
// arc enters from outside, so that no node of either is 1-reachable.
//
// The engine decides r = 1 too, but only up to maxEngineNodes nodes and
// only as one decision among MaxR's; this settles it before any search,
// for graphs of any size (a sensor field of ten thousand nodes gets an
// exact ρ ≥ 1 or ρ = 0 in milliseconds). Written out rather than taken
// from gonum's topo.TarjanSCC: that works on gonum's graph interfaces,
// which would need an adapter and map-backed node sets on every run, and
// this needs only one search's finishing order on the CSR arrays.
func sourcePair(g *graph.Digraph) *Pair {
	n := g.N()
	if n < 2 {
		return nil
	}
	// Depth-first search on out-arcs over every node, iteratively (a path
	// graph of a million nodes would overflow a recursive one's stack),
	// recording each node's finishing rank.
	fin := make([]int32, n)
	for i := range fin {
		fin[i] = -1
	}
	type frame struct{ v, next int32 }
	var stack []frame
	seen := make([]bool, n)
	rank := int32(0)
	for s := range n {
		if seen[s] {
			continue
		}
		seen[s] = true
		stack = append(stack[:0], frame{v: int32(s)})
		for len(stack) > 0 {
			f := &stack[len(stack)-1]
			out := g.Out(int(f.v))
			if int(f.next) < len(out) {
				w := out[f.next]
				f.next++
				if !seen[w] {
					seen[w] = true
					stack = append(stack, frame{v: w})
				}
				continue
			}
			fin[f.v] = rank
			rank++
			stack = stack[:len(stack)-1]
		}
	}
	// The node finished last lies in a source component: an arc into its
	// component from another would have made that one finish later.
	root := lastFinished(fin, nil)
	reach := closure(g, root, true)
	y := -1
	for v := range n {
		if !reach[v] {
			y = v
			break
		}
	}
	if y < 0 {
		return nil // root reaches every node: a rooted out-branching
	}
	// The ancestors of root form its component (it is a source). The
	// ancestors of y avoid them (a node reaching root and y would let root
	// reach y) and hold a source component of their own: the one of their
	// last finished node, by the argument above within an ancestor-closed
	// set.
	anc := closure(g, y, false)
	other := lastFinished(fin, anc)
	return &Pair{S1: members1(closure(g, root, false)), S2: members1(closure(g, other, false))}
}

// lastFinished returns the node of highest finishing rank, among those
// with in[v] if in is not nil.
func lastFinished(fin []int32, in []bool) int {
	best := -1
	for v, f := range fin {
		if (in == nil || in[v]) && (best < 0 || f > fin[best]) {
			best = v
		}
	}
	return best
}

// closure returns the nodes reachable from v along out-arcs (forward) or
// the nodes that reach v (backward), v included.
func closure(g *graph.Digraph, v int, forward bool) []bool {
	in := make([]bool, g.N())
	in[v] = true
	queue := []int{v}
	for len(queue) > 0 {
		u := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		next := g.In(u)
		if forward {
			next = g.Out(u)
		}
		for _, w := range next {
			if !in[w] {
				in[w] = true
				queue = append(queue, int(w))
			}
		}
	}
	return in
}

func members1(in []bool) []int {
	var s []int
	for v, ok := range in {
		if ok {
			s = append(s, v)
		}
	}
	return s
}
