package graph

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
)

// ErrParam reports a generator parameter outside its domain.
var ErrParam = errors.New("bad generator parameter")

// The generators below are deterministic: the same parameters and seed give
// the same graph on every platform and Go release, because they draw from
// math/rand/v2's PCG, whose output sequence is specified.

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)) }

// builder is NewBuilder for the generators: a bad n is a bad parameter as
// much as a bad node count, so the error wraps both ErrParam and ErrNodeCount.
func builder(n int) (*Builder, error) {
	b, err := NewBuilder(n)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrParam, err)
	}
	return b, nil
}

func paramErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrParam}, args...)...)
}

// mustBuild is for generators whose arcs are correct by construction; an
// error there is a bug in this package, not bad input.
func mustBuild(b *Builder) *Digraph {
	g, err := b.Build()
	if err != nil {
		panic("graph: generator produced an invalid graph: " + err.Error())
	}
	return g
}

// Complete returns K_n: every node hears every other. For n ≥ 2, K_n is
// (r,s)-robust for every s exactly when n ≥ 2r−1, and for no s ≥ 1
// otherwise: a set S has all its nodes r-reachable iff n−|S| ≥ r, and two
// disjoint sets cannot both exceed n−r when n ≥ 2r−1. (K_1 is robust for
// every r and s, vacuously: it has no two disjoint nonempty sets.)
func Complete(n int) (*Digraph, error) {
	b, err := builder(n)
	if err != nil {
		return nil, err
	}
	if int64(n)*int64(n-1) > MaxArcs {
		return nil, paramErr("complete graph on %d nodes has more than %d arcs", n, MaxArcs)
	}
	b.arcs = make([]Arc, 0, n*(n-1))
	for v := 0; v < n; v++ {
		for u := 0; u < n; u++ {
			if u != v {
				b.arcs = append(b.arcs, Arc{u, v})
			}
		}
	}
	return mustBuild(b), nil
}

// Circulant returns the k-circulant on n nodes. Directed, node i hears
// i−1, …, i−k (mod n); it needs 1 ≤ k ≤ n−1. Undirected, node i is linked to
// i±1, …, i±k; it needs 1 ≤ k and 2k ≤ n−1 so that no link is made twice.
func Circulant(n, k int, directed bool) (*Digraph, error) {
	b, err := builder(n)
	if err != nil {
		return nil, err
	}
	if k < 1 || k > n-1 || (!directed && 2*k > n-1) {
		return nil, paramErr("circulant k = %d on n = %d (directed %v)", k, n, directed)
	}
	// Checked here because the loop below ignores AddArc's errors: past
	// MaxArcs it would silently drop arcs instead of failing.
	arcs := int64(n) * int64(k)
	if !directed {
		arcs *= 2
	}
	if arcs > MaxArcs {
		return nil, paramErr("circulant k = %d on n = %d has %d arcs, more than %d", k, n, arcs, MaxArcs)
	}
	for i := 0; i < n; i++ {
		for j := 1; j <= k; j++ {
			u := (i - j + n) % n
			if directed {
				_ = b.AddArc(u, i)
			} else {
				_ = b.AddEdge(u, i)
			}
		}
	}
	return mustBuild(b), nil
}

// ErdosRenyi returns G(n, p): each of the n(n−1) arcs independently with
// probability p (directed), or each of the n(n−1)/2 links (undirected).
// It skips geometrically between successes, so a sparse graph on 10⁵ nodes
// costs O(n + m) draws rather than n².
func ErdosRenyi(n int, p float64, directed bool, seed uint64) (*Digraph, error) {
	b, err := builder(n)
	if err != nil {
		return nil, err
	}
	if !(p >= 0 && p <= 1) {
		return nil, paramErr("edge probability p = %v, want 0 ≤ p ≤ 1", p)
	}
	pairs := int64(n) * int64(n-1)
	if !directed {
		pairs /= 2
	}
	if float64(pairs)*p > MaxArcs/2 {
		return nil, paramErr("G(%d, %v) expects more than %d arcs", n, p, MaxArcs/2)
	}
	if p == 0 {
		return mustBuild(b), nil
	}
	rng := newRand(seed)
	// Index k enumerates the candidate pairs; decode it into (u, v).
	decode := func(k int64) (int, int) {
		if directed {
			v := int(k / int64(n-1))
			u := int(k % int64(n-1))
			if u >= v {
				u++
			}
			return u, v
		}
		// Row v holds the v links {u, v} with u < v: pairs before row v number v(v−1)/2.
		v := int((1 + math.Sqrt(1+8*float64(k))) / 2)
		for int64(v)*int64(v-1)/2 > k {
			v--
		}
		for int64(v+1)*int64(v)/2 <= k {
			v++
		}
		return int(k - int64(v)*int64(v-1)/2), v
	}
	logq := math.Log1p(-p)
	for k := int64(-1); ; {
		if p == 1 {
			k++
		} else {
			// Compare the skip as a float before converting it: converting a
			// float beyond the int64 range is implementation-defined in Go,
			// which would break "the same graph on every platform".
			skip := math.Floor(math.Log(1-rng.Float64()) / logq)
			if skip >= float64(pairs-k-1) {
				break
			}
			k += 1 + int64(skip)
		}
		if k >= pairs {
			break
		}
		u, v := decode(k)
		if directed {
			_ = b.AddArc(u, v)
		} else {
			_ = b.AddEdge(u, v)
		}
	}
	return mustBuild(b), nil
}

// sample draws k distinct values from 0..n-1 other than skip, uniformly, by
// rejection (callers use k far below n) or, when k is a large part of n, by
// a partial Fisher–Yates shuffle.
func sample(rng *rand.Rand, n, k, skip int, seen map[int]bool) []int {
	out := make([]int, 0, k)
	if 2*k > n {
		perm := make([]int, 0, n-1)
		for i := 0; i < n; i++ {
			if i != skip {
				perm = append(perm, i)
			}
		}
		for i := 0; i < k; i++ {
			j := i + rng.IntN(len(perm)-i)
			perm[i], perm[j] = perm[j], perm[i]
			out = append(out, perm[i])
		}
		return out
	}
	clear(seen)
	for len(out) < k {
		c := rng.IntN(n)
		if c == skip || seen[c] {
			continue
		}
		seen[c] = true
		out = append(out, c)
	}
	return out
}

// KOut returns a random k-out digraph: every node sends to k distinct other
// nodes chosen uniformly (so in-degrees vary, out-degrees are all k).
func KOut(n, k int, seed uint64) (*Digraph, error) { return kRegular(n, k, seed, true) }

// KIn returns a random k-in digraph: every node hears k distinct other nodes
// chosen uniformly, so δ_min = k, the most a fixed budget of links can buy
// against the in-degree bound on robustness.
func KIn(n, k int, seed uint64) (*Digraph, error) { return kRegular(n, k, seed, false) }

func kRegular(n, k int, seed uint64, out bool) (*Digraph, error) {
	b, err := builder(n)
	if err != nil {
		return nil, err
	}
	if k < 1 || k > n-1 {
		return nil, paramErr("k = %d on n = %d, want 1 ≤ k ≤ n−1", k, n)
	}
	if int64(n)*int64(k) > MaxArcs {
		return nil, paramErr("%d·%d arcs exceed %d", n, k, MaxArcs)
	}
	rng := newRand(seed)
	seen := make(map[int]bool, k)
	for i := 0; i < n; i++ {
		for _, j := range sample(rng, n, k, i, seen) {
			if out {
				_ = b.AddArc(i, j)
			} else {
				_ = b.AddArc(j, i)
			}
		}
	}
	return mustBuild(b), nil
}

// RandomGeometric places n nodes uniformly in the box [0, side]^dim (dim 2 or
// 3) and links every pair within Euclidean distance radius: the radio graph
// of a drone swarm. It returns the positions too. Pairs are found through a
// grid of cells of size radius, O(n + m) for a bounded density.
func RandomGeometric(n, dim int, side, radius float64, seed uint64) (*Digraph, [][]float64, error) {
	b, err := builder(n)
	if err != nil {
		return nil, nil, err
	}
	if dim != 2 && dim != 3 {
		return nil, nil, paramErr("dimension %d, want 2 or 3", dim)
	}
	if !(side > 0) || math.IsInf(side, 0) || !(radius > 0) || math.IsInf(radius, 0) {
		return nil, nil, paramErr("side %v and radius %v must be positive and finite", side, radius)
	}
	rng := newRand(seed)
	pos := make([][]float64, n)
	for i := range pos {
		pos[i] = make([]float64, dim)
		for d := range pos[i] {
			pos[i][d] = rng.Float64() * side
		}
	}
	g, err := geometric(b, pos, radius)
	return g, pos, err
}

// Geometric links every pair of the given points within distance radius.
// Points must all have the same dimension (1 to 3) and finite coordinates.
func Geometric(pos [][]float64, radius float64) (*Digraph, error) {
	b, err := builder(len(pos))
	if err != nil {
		return nil, err
	}
	if !(radius > 0) || math.IsInf(radius, 0) {
		return nil, paramErr("radius %v must be positive and finite", radius)
	}
	for i, p := range pos {
		if len(p) != len(pos[0]) || len(p) < 1 || len(p) > 3 {
			return nil, paramErr("point %d has dimension %d, want that of point 0 (%d), 1 to 3", i, len(p), len(pos[0]))
		}
		for _, x := range p {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return nil, paramErr("point %d has a non-finite coordinate", i)
			}
		}
	}
	return geometric(b, pos, radius)
}

func geometric(b *Builder, pos [][]float64, radius float64) (*Digraph, error) {
	dim := len(pos[0])
	type cell [3]int64
	// Cells are a hair wider than radius. With cells of exactly radius, a
	// pair the distance test below accepts (its rounded difference is ≤
	// radius) can still fall two cells apart, e.g. x = −5e−324 and x = radius
	// in 1-D; the margin keeps every accepted pair in adjacent cells (while
	// coordinates stay within some 2³² radii of the origin, where the
	// rounding of p/size is finer than the margin). Cells only group
	// candidates: the set of linked pairs is unchanged by the margin.
	size := radius * (1 + 1.0/(1<<20))
	cellOf := func(p []float64) cell {
		var c cell
		for d := 0; d < dim; d++ {
			c[d] = int64(math.Floor(p[d] / size))
		}
		return c
	}
	cells := make(map[cell][]int)
	for i, p := range pos {
		c := cellOf(p)
		cells[c] = append(cells[c], i)
	}
	r2 := radius * radius
	lo, hi := [3]int64{}, [3]int64{}
	for d := 0; d < 3; d++ {
		if d < dim {
			lo[d], hi[d] = -1, 1
		}
	}
	for i, p := range pos {
		c := cellOf(p)
		for dx := lo[0]; dx <= hi[0]; dx++ {
			for dy := lo[1]; dy <= hi[1]; dy++ {
				for dz := lo[2]; dz <= hi[2]; dz++ {
					for _, j := range cells[cell{c[0] + dx, c[1] + dy, c[2] + dz}] {
						if j <= i {
							continue
						}
						var d2 float64
						for d := 0; d < dim; d++ {
							x := p[d] - pos[j][d]
							d2 += x * x
						}
						if d2 <= r2 {
							if err := b.AddEdge(i, j); err != nil {
								return nil, err
							}
						}
					}
				}
			}
		}
	}
	return b.Build()
}

// Grid returns the rows×cols four-neighbour grid, node r·cols+c at row r,
// column c. A grid is only 1-robust however large, although most nodes hear
// four: cut it between two rows (or columns) and every node hears at most one
// node across the cut, so neither side has a node hearing two from outside.
func Grid(rows, cols int) (*Digraph, error) {
	// Bound each side first: the product of two huge ints can wrap to a
	// small positive number.
	if rows < 1 || cols < 1 || rows > MaxNodes || cols > MaxNodes || int64(rows)*int64(cols) > MaxNodes {
		return nil, paramErr("grid %d×%d", rows, cols)
	}
	b, err := builder(rows * cols)
	if err != nil {
		return nil, err
	}
	for r := 0; r < rows; r++ {
		for c := 0; c < cols; c++ {
			i := r*cols + c
			if c+1 < cols {
				_ = b.AddEdge(i, i+1)
			}
			if r+1 < rows {
				_ = b.AddEdge(i, i+cols)
			}
		}
	}
	return mustBuild(b), nil
}

// TwoCliques returns two copies of K_k, nodes 0..k-1 and k..2k-1, joined by
// the m links {i, k+i} for i < m. It is the classic graph of high
// connectivity and low robustness (LeBlanc et al. 2013, Fig. 2): with m = k
// it is k-connected, yet each clique hears at most one node outside itself
// per member, so it is not 2-robust.
func TwoCliques(k, m int) (*Digraph, error) {
	if k < 1 || m < 0 || m > k || k > MaxNodes/2 {
		return nil, paramErr("two cliques of %d joined by %d links", k, m)
	}
	// As in Circulant: the loop below ignores AddEdge's errors.
	if arcs := 2*int64(k)*int64(k-1) + 2*int64(m); arcs > MaxArcs {
		return nil, paramErr("two cliques of %d have %d arcs, more than %d", k, arcs, MaxArcs)
	}
	b, err := builder(2 * k)
	if err != nil {
		return nil, err
	}
	for side := 0; side < 2; side++ {
		for i := 0; i < k; i++ {
			for j := i + 1; j < k; j++ {
				_ = b.AddEdge(side*k+i, side*k+j)
			}
		}
	}
	for i := 0; i < m; i++ {
		_ = b.AddEdge(i, k+i)
	}
	return mustBuild(b), nil
}

// PreferentialAttachment grows an (r,s)-robust undirected graph the way
// LeBlanc et al. (IEEE JSAC 2013, Sec. VI, Thm. 6) do: start from the
// complete graph on n₀ = max(2r−1, r+s−1) nodes, which is (r,s)-robust, then
// add nodes one by one, each linked to d = r+s−1 distinct existing nodes
// chosen with probability proportional to their degree. A new node with at
// least r+s−1 in-neighbours keeps the graph (r,s)-robust (ibid.), and the
// reverse links only add arcs, which never lowers robustness.
func PreferentialAttachment(n, r, s int, seed uint64) (*Digraph, error) {
	// r and s are bounded before 2r−1 and r+s−1 are formed: with r near
	// MaxInt they wrap negative and reach make() as a negative capacity.
	if r < 1 || s < 1 || r > MaxNodes || s > MaxNodes {
		return nil, paramErr("robustness (r, s) = (%d, %d), want 1 ≤ r, s ≤ %d", r, s, MaxNodes)
	}
	n0 := max(2*r-1, r+s-1)
	d := r + s - 1
	if n < n0 {
		return nil, paramErr("n = %d below the seed clique of %d nodes needed for (%d,%d)-robustness", n, n0, r, s)
	}
	b, err := builder(n)
	if err != nil {
		return nil, err
	}
	if int64(n)*int64(2*d)+int64(n0*n0) > MaxArcs {
		return nil, paramErr("%d nodes of degree %d exceed %d arcs", n, d, MaxArcs)
	}
	// ends lists each link's two endpoints, so a uniform pick from it is a
	// pick proportional to degree.
	ends := make([]int, 0, n0*(n0-1)+2*d*(n-n0))
	for i := 0; i < n0; i++ {
		for j := i + 1; j < n0; j++ {
			_ = b.AddEdge(i, j)
			ends = append(ends, i, j)
		}
	}
	rng := newRand(seed)
	chosen := make(map[int]bool, d)
	for v := n0; v < n; v++ {
		clear(chosen)
		picks := make([]int, 0, d)
		for len(picks) < d {
			var u int
			if len(ends) == 0 {
				u = rng.IntN(v) // n₀ = 1: a lone seed node has degree 0
			} else {
				u = ends[rng.IntN(len(ends))]
			}
			if !chosen[u] {
				chosen[u] = true
				picks = append(picks, u)
			}
		}
		for _, u := range picks {
			_ = b.AddEdge(u, v)
			ends = append(ends, u, v)
		}
	}
	return mustBuild(b), nil
}
