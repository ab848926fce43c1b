// Package graph is the communication topology of a fleet: a simple directed
// graph on dense node ids 0..n-1, stored the way W-MSR reads it.
//
// An arc u→v means that v hears u: u is an in-neighbour of v, and u's value
// enters v's update (LeBlanc, Zhang, Koutsoukos, Sundaram, "Resilient
// asymptotic consensus in robust networks", IEEE JSAC 31(4), 2013, Sec. II:
// N_i^in = { j : (j,i) ∈ E }). An undirected link is two arcs.
//
// A Digraph is immutable once built. In-neighbour lists are kept in one
// compressed (CSR) array, sorted, so that a round of W-MSR over 10⁵ nodes
// walks memory in order; out-neighbour lists are kept too, for generators,
// percolation and writers. For small graphs (topology/ decides robustness on
// n up to a few hundred) InSets gives each in-neighbourhood as a bitset.
//
// Graphs come from a Builder (which rejects self-loops, out-of-range ids and
// duplicate arcs), from the seeded generators in generate.go, or from the
// readers in the format files.
package graph

import (
	"errors"
	"fmt"
	"slices"
)

// MaxNodes bounds n in every constructor and reader. The project targets
// fleets of up to 10⁵ devices; ten times that leaves room and still refuses
// a header such as "4000000000 1" before anything is allocated.
const MaxNodes = 1 << 20

// MaxArcs bounds the number of arcs for the same reason: 2²⁶ arcs is a fleet
// of 10⁶ nodes at mean in-degree 64, and 256 MiB of int32 ids.
const MaxArcs = 1 << 26

// Arc is a directed edge: To hears From.
type Arc struct {
	From, To int
}

// Errors a caller may branch on. Every error from this package that concerns
// one of these wraps it, so errors.Is works through the line and position
// detail the readers add.
var (
	ErrSelfLoop   = errors.New("self-loop")
	ErrDuplicate  = errors.New("duplicate arc")
	ErrOutOfRange = errors.New("node id out of range")
	ErrNodeCount  = errors.New("bad node count")
	ErrArcCount   = errors.New("bad arc count")
)

// Digraph is an immutable simple directed graph on nodes 0..N()-1.
type Digraph struct {
	n int
	// inOff[v]..inOff[v+1] indexes v's sorted in-neighbours in inAdj.
	inOff []int32
	inAdj []int32
	// outOff/outAdj likewise for out-neighbours.
	outOff []int32
	outAdj []int32
	names  []string // nil, or len n
}

// N returns the number of nodes.
func (g *Digraph) N() int { return g.n }

// M returns the number of arcs.
func (g *Digraph) M() int { return len(g.inAdj) }

// In returns v's in-neighbours (the nodes v hears) in increasing order. The
// slice is shared with the graph and must not be modified.
func (g *Digraph) In(v int) []int32 { return g.inAdj[g.inOff[v]:g.inOff[v+1]] }

// Out returns u's out-neighbours (the nodes that hear u) in increasing order.
// The slice is shared with the graph and must not be modified.
func (g *Digraph) Out(u int) []int32 { return g.outAdj[g.outOff[u]:g.outOff[u+1]] }

// InDegree returns |N_v^in|.
func (g *Digraph) InDegree(v int) int { return int(g.inOff[v+1] - g.inOff[v]) }

// OutDegree returns the number of nodes that hear u.
func (g *Digraph) OutDegree(u int) int { return int(g.outOff[u+1] - g.outOff[u]) }

// InCSR exposes the in-neighbour arrays directly: the in-neighbours of v are
// adj[off[v]:off[v+1]]. Hot loops (a W-MSR round over 10⁵ nodes) use it to
// avoid a call per node. Both slices are shared and must not be modified.
func (g *Digraph) InCSR() (off, adj []int32) { return g.inOff, g.inAdj }

// HasArc reports whether v hears u.
func (g *Digraph) HasArc(u, v int) bool {
	if u < 0 || u >= g.n || v < 0 || v >= g.n {
		return false
	}
	_, ok := slices.BinarySearch(g.In(v), int32(u))
	return ok
}

// MinInDegree returns δ_min, the smallest in-degree (0 for an empty graph).
func (g *Digraph) MinInDegree() int {
	if g.n == 0 {
		return 0
	}
	m := g.InDegree(0)
	for v := 1; v < g.n; v++ {
		m = min(m, g.InDegree(v))
	}
	return m
}

// Name returns node i's name, or "" when the graph carries none.
func (g *Digraph) Name(i int) string {
	if g.names == nil {
		return ""
	}
	return g.names[i]
}

// HasNames reports whether the graph carries node names.
func (g *Digraph) HasNames() bool { return g.names != nil }

// Arcs returns every arc, ordered by head then tail (the CSR order).
func (g *Digraph) Arcs() []Arc {
	arcs := make([]Arc, 0, g.M())
	for v := 0; v < g.n; v++ {
		for _, u := range g.In(v) {
			arcs = append(arcs, Arc{From: int(u), To: v})
		}
	}
	return arcs
}

// IsSymmetric reports whether every arc has its reverse, that is whether the
// graph is an undirected graph written as arcs.
func (g *Digraph) IsSymmetric() bool {
	for v := 0; v < g.n; v++ {
		if !slices.Equal(g.In(v), g.Out(v)) {
			return false
		}
	}
	return true
}

// Builder accumulates arcs and names and builds a Digraph. Its zero value is
// not usable; call NewBuilder.
type Builder struct {
	n     int
	arcs  []Arc
	names []string
}

// NewBuilder returns a builder for a graph on n nodes, 1 ≤ n ≤ MaxNodes.
func NewBuilder(n int) (*Builder, error) {
	if n <= 0 || n > MaxNodes {
		return nil, fmt.Errorf("%w: n = %d, want 1..%d", ErrNodeCount, n, MaxNodes)
	}
	return &Builder{n: n}, nil
}

// N returns the number of nodes the builder was made for.
func (b *Builder) N() int { return b.n }

// AddArc adds the arc u→v (v hears u). It rejects self-loops and ids outside
// 0..n-1 at once; duplicates are found by Build, which sorts anyway.
func (b *Builder) AddArc(u, v int) error {
	if u < 0 || u >= b.n || v < 0 || v >= b.n {
		return fmt.Errorf("%w: arc %d→%d with n = %d", ErrOutOfRange, u, v, b.n)
	}
	if u == v {
		return fmt.Errorf("%w at node %d", ErrSelfLoop, u)
	}
	if len(b.arcs) >= MaxArcs {
		return fmt.Errorf("%w: more than %d arcs", ErrArcCount, MaxArcs)
	}
	b.arcs = append(b.arcs, Arc{From: u, To: v})
	return nil
}

// AddEdge adds the undirected link {u,v} as the two arcs u→v and v→u.
func (b *Builder) AddEdge(u, v int) error {
	if err := b.AddArc(u, v); err != nil {
		return err
	}
	return b.AddArc(v, u)
}

// SetName names node i. Names are optional; a graph built after any SetName
// carries a name (possibly "") for every node.
func (b *Builder) SetName(i int, name string) error {
	if i < 0 || i >= b.n {
		return fmt.Errorf("%w: name for node %d with n = %d", ErrOutOfRange, i, b.n)
	}
	if b.names == nil {
		b.names = make([]string, b.n)
	}
	b.names[i] = name
	return nil
}

// Build returns the graph. It fails with ErrDuplicate, naming the arc, when
// an arc was added twice. The builder may be reused afterwards.
func (b *Builder) Build() (*Digraph, error) {
	g := &Digraph{n: b.n}
	if b.names != nil {
		g.names = slices.Clone(b.names)
	}
	var err error
	if g.inOff, g.inAdj, err = csr(b.n, b.arcs, false); err != nil {
		return nil, err
	}
	if g.outOff, g.outAdj, err = csr(b.n, b.arcs, true); err != nil {
		return nil, err
	}
	return g, nil
}

// csr lays arcs out by head (or by tail when byTail), each list sorted, by a
// counting sort: O(n + m) and no comparison sort over m arcs.
func csr(n int, arcs []Arc, byTail bool) (off, adj []int32, err error) {
	key := func(a Arc) (int, int) {
		if byTail {
			return a.From, a.To
		}
		return a.To, a.From
	}
	off = make([]int32, n+1)
	for _, a := range arcs {
		k, _ := key(a)
		off[k+1]++
	}
	for i := 0; i < n; i++ {
		off[i+1] += off[i]
	}
	adj = make([]int32, len(arcs))
	next := slices.Clone(off[:n])
	for _, a := range arcs {
		k, o := key(a)
		adj[next[k]] = int32(o)
		next[k]++
	}
	for k := 0; k < n; k++ {
		list := adj[off[k]:off[k+1]]
		slices.Sort(list)
		for i := 1; i < len(list); i++ {
			if list[i] == list[i-1] {
				u, v := int(list[i]), k
				if byTail {
					u, v = k, int(list[i])
				}
				return nil, nil, fmt.Errorf("%w %d→%d", ErrDuplicate, u, v)
			}
		}
	}
	return off, adj, nil
}

// FromArcs builds a graph on n nodes from a list of arcs.
func FromArcs(n int, arcs []Arc) (*Digraph, error) {
	b, err := NewBuilder(n)
	if err != nil {
		return nil, err
	}
	for _, a := range arcs {
		if err := b.AddArc(a.From, a.To); err != nil {
			return nil, err
		}
	}
	return b.Build()
}

// Induced returns the subgraph induced by keep (a node set given as a
// membership mask of length N), with nodes renumbered in increasing order,
// and the map from new ids to old ones. Names carry over. It is how the
// normal subgraph of a Byzantine threat model is formed.
func (g *Digraph) Induced(keep []bool) (*Digraph, []int) {
	newID := make([]int, g.n)
	var old []int
	for v := 0; v < g.n; v++ {
		newID[v] = -1
		if keep[v] {
			newID[v] = len(old)
			old = append(old, v)
		}
	}
	h := &Digraph{n: len(old)}
	h.inOff = make([]int32, h.n+1)
	h.outOff = make([]int32, h.n+1)
	for i, v := range old {
		for _, u := range g.In(v) {
			if newID[u] >= 0 {
				h.inAdj = append(h.inAdj, int32(newID[u]))
			}
		}
		h.inOff[i+1] = int32(len(h.inAdj))
		for _, w := range g.Out(v) {
			if newID[w] >= 0 {
				h.outAdj = append(h.outAdj, int32(newID[w]))
			}
		}
		h.outOff[i+1] = int32(len(h.outAdj))
	}
	if g.names != nil {
		h.names = make([]string, h.n)
		for i, v := range old {
			h.names[i] = g.names[v]
		}
	}
	return h, old
}
