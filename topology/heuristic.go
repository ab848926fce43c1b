package topology

import (
	"context"
	"math/rand/v2"
	"slices"

	"github.com/wmsr/wmsr/graph"
)

// Incumbents for the s search. A good pair found before the proof starts
// leaves the exact search only the proof: the branch and bound is then
// asked for a pair strictly cheaper than the incumbent. None of this is
// needed for correctness; every pair it returns is checked by Cost.

// starPairs returns, for each node v, the pair S2 = {v} plus just enough
// in-neighbours of v to keep it stuck at r, S1 = everything else. Its cost
// is at most t_v plus what S1 loses; on sparse-ish graphs the optimum is
// often of this shape (a weak node and the few nodes it must trust).
func starPairs(g *graph.Digraph, r int) []Pair {
	n := g.N()
	var out []Pair
	for v := 0; v < n; v++ {
		need := g.InDegree(v) - r + 1
		in := g.In(v)
		if need > len(in) || need >= n-1 {
			continue
		}
		if p := starPair(g, v, need); len(p.S1) > 0 {
			out = append(out, p)
		}
	}
	return out
}

// starPair is the star of v: S2 = {v} and its first need in-neighbours,
// S1 the rest.
func starPair(g *graph.Digraph, v, need int) Pair {
	taken := make([]bool, g.N())
	p := Pair{S2: []int{v}}
	taken[v] = true
	for _, u := range g.In(v)[:max(need, 0)] {
		p.S2 = append(p.S2, int(u))
		taken[u] = true
	}
	for u, in := range taken {
		if !in {
			p.S1 = append(p.S1, u)
		}
	}
	return p
}

// bestStarPair returns the first of starPairs' pairs of least cost among
// those with a stuck node on both sides, and that cost, or nil. It costs
// each star from the arcs at S2 alone (S1 is the rest: only an
// out-neighbour of S2 can have in-neighbours outside S1), so it takes
// O(Σ_v Σ_{u∈S2(v)} d_out(u)) time and builds one pair, where starPairs
// builds n pairs of n nodes (on 5 000 nodes, seconds and 200 MB). That is
// still 0.8 s on 5 000 nodes of in-degree 200, so it stops, with the best
// star so far, when ctx ends.
func bestStarPair(ctx context.Context, g *graph.Digraph, r int) (*Pair, int) {
	n := g.N()
	mark := make([]int32, n) // v+1 for the members of S2(v)
	seen := make([]int32, n) // v+1 once cnt[w] counts for S2(v)
	cnt := make([]int, n)    // in-neighbours in S2(v)
	best, bestCost := -1, 1<<30
	for v := 0; v < n; v++ {
		if v&63 == 63 && ctx.Err() != nil {
			break
		}
		need := g.InDegree(v) - r + 1
		in := g.In(v)
		if need > len(in) || need >= n-1 {
			continue
		}
		stamp := int32(v + 1)
		s2 := append([]int32{int32(v)}, in[:max(need, 0)]...)
		for _, u := range s2 {
			mark[u] = stamp
		}
		cost, stuck2 := 0, false
		x1 := 0
		for _, u := range s2 {
			out := 0
			for _, w := range g.In(int(u)) {
				if mark[w] != stamp {
					out++
				}
			}
			if out >= r {
				cost++
			} else {
				stuck2 = true
			}
			for _, w := range g.Out(int(u)) {
				if mark[w] == stamp {
					continue
				}
				if seen[w] != stamp {
					seen[w], cnt[w] = stamp, 0
				}
				if cnt[w]++; cnt[w] == r {
					x1++
				}
			}
		}
		cost += x1
		if stuck2 && x1 < n-len(s2) && cost < bestCost {
			best, bestCost = v, cost
		}
	}
	if best < 0 {
		return nil, 0
	}
	p := starPair(g, best, g.InDegree(best)-r+1)
	return &p, bestCost
}

// descend improves p by single-node moves between S1, S2 and neither
// while |X1|+|X2| drops, keeping a stuck node on each side.
func descend(g *graph.Digraph, p Pair, r int, rng *rand.Rand) (Pair, int) {
	n := g.N()
	lab := make([]int8, n)
	for _, v := range p.S1 {
		lab[v] = 1
	}
	for _, v := range p.S2 {
		lab[v] = 2
	}
	eval := func() (int, bool) {
		cost := 0
		var stuck [3]bool
		for i := 0; i < n; i++ {
			if lab[i] == 0 {
				continue
			}
			out := 0
			for _, u := range g.In(i) {
				if lab[u] != lab[i] {
					out++
				}
			}
			if out >= r {
				cost++
			} else {
				stuck[lab[i]] = true
			}
		}
		return cost, stuck[1] && stuck[2]
	}
	best, ok := eval()
	if !ok {
		return p, 1 << 30
	}
	order := rng.Perm(n)
	for improved := true; improved; {
		improved = false
		for _, v := range order {
			old := lab[v]
			for _, l := range [3]int8{1, 2, 0} {
				if l == old {
					continue
				}
				lab[v] = l
				if c, ok := eval(); ok && c < best {
					best, old, improved = c, l, true
				}
				lab[v] = old
			}
		}
	}
	var q Pair
	for i := 0; i < n; i++ {
		switch lab[i] {
		case 1:
			q.S1 = append(q.S1, i)
		case 2:
			q.S2 = append(q.S2, i)
		}
	}
	return q, best
}

// incumbents returns good starting pairs at r, cheapest first: the hints,
// star pairs, cover pairs, then the five best polished by descent. It
// stops as soon as a pair of cost at most lower is in hand (nothing can
// beat a proven lower bound). It is deterministic.
func incumbents(g *graph.Digraph, r int, hints []*Pair, lower int) []*Pair {
	type cand struct {
		p    Pair
		cost int
	}
	var cs []cand
	best := 1 << 30
	add := func(p Pair) {
		if c, ok := Cost(g, p, r); ok {
			cs = append(cs, cand{p, c})
			best = min(best, c)
		}
	}
	done := func() []*Pair {
		out := make([]*Pair, 0, len(cs))
		for i := range cs {
			out = append(out, &cs[i].p)
		}
		return out
	}
	for _, h := range hints {
		if h != nil {
			add(*h)
		}
	}
	if best <= lower || g.N() > 256 {
		return done()
	}
	for _, p := range starPairs(g, r) {
		add(p)
	}
	if best <= lower {
		return done()
	}
	for _, p := range coverPairs(g, r) {
		add(p)
	}
	if best <= lower {
		return done()
	}
	// Polish the few best starts.
	slices.SortStableFunc(cs, func(a, b cand) int { return a.cost - b.cost })
	rng := rand.New(rand.NewPCG(uint64(g.N()), uint64(r)))
	out := make([]*Pair, 0, 5)
	for i := 0; i < len(cs) && i < 5; i++ {
		q, c := descend(g, cs[i].p, r, rng)
		out = append(out, &q)
		if c <= lower {
			break
		}
	}
	return out
}

// coverPairs grows, from every seed v, a small set S1 in which v is stuck,
// greedily: the next member is an in-neighbour of the most members still
// short of their need (ties: the one itself closest to its need, then the
// lowest id), and a member whose own shortfall is at most k is asked to
// become stuck too, for k = 0, 1, 2. Shared in-neighbours make two weak
// nodes stuck for the price of one set of helpers, which star pairs miss.
// S1 stops growing at min(n/2, 2t_v + 4) nodes: it is meant to be the
// small side, a few helpers around a few weak nodes. S2 is what S1's
// percolation cannot reach, cohesive by Lemma 2, so the pair costs
// |X_{S1}|; only sets that beat the best so far are turned into pairs.
func coverPairs(g *graph.Digraph, r int) []Pair {
	n := g.N()
	if n < 3 {
		return nil
	}
	t := needs(g, r)
	inS := make([]bool, n)
	want := make([]bool, n)
	cnt := make([]int, n) // in-neighbours in S
	cov := make([]int, n) // wanted members short of need that u would help
	var out []Pair
	var sc closeScratch
	bestX := n
	for v := 0; v < n; v++ {
		if t[v] <= 0 || int(t[v]) >= n/2 {
			continue
		}
		limit := min(n/2, 2*int(t[v])+4)
		for k := 0; k <= 2; k++ {
			clear(inS)
			clear(want)
			clear(cnt)
			clear(cov)
			size := 0
			short := func(a int) bool { return want[a] && cnt[a] < int(t[a]) }
			wantIt := func(a int) {
				want[a] = true
				if short(a) {
					for _, u := range g.In(a) {
						cov[u]++
					}
				}
			}
			add := func(u int) {
				inS[u] = true
				size++
				for _, w := range g.Out(u) {
					was := short(int(w))
					cnt[w]++
					if was && !short(int(w)) {
						for _, x := range g.In(int(w)) {
							cov[x]--
						}
					}
				}
			}
			add(v)
			wantIt(v)
			for size < limit {
				best, bc, bn := -1, 0, 0
				for u := 0; u < n; u++ {
					if inS[u] || cov[u] == 0 {
						continue
					}
					need := int(t[u]) - cnt[u]
					if best < 0 || cov[u] > bc || (cov[u] == bc && need < bn) {
						best, bc, bn = u, cov[u], need
					}
				}
				if best < 0 {
					break
				}
				add(best)
				if bn <= k {
					wantIt(best)
				}
			}
			// |X_{S1}|: the members short of need.
			x, stuck := 0, false
			for u := 0; u < n; u++ {
				if inS[u] {
					if cnt[u] < int(t[u]) {
						x++
					} else {
						stuck = true
					}
				}
			}
			if !stuck || x >= bestX {
				continue
			}
			if p, ok := closePair(g, t, inS, &sc); ok {
				bestX = x
				out = append(out, p)
			}
		}
	}
	return out
}

// closePair returns (S1, core(V \ S1)) for the S1 marked in inS, if that
// core is not empty. sc is scratch space, reused between calls.
func closePair(g *graph.Digraph, t []int32, inS []bool, sc *closeScratch) (Pair, bool) {
	n := g.N()
	if len(sc.alive) < n {
		sc.alive, sc.cnt = make([]bool, n), make([]int, n)
	}
	alive, cnt := sc.alive[:n], sc.cnt[:n]
	for v := 0; v < n; v++ {
		alive[v] = !inS[v]
	}
	stack := sc.stack[:0]
	for v := 0; v < n; v++ {
		cnt[v] = 0
		for _, u := range g.In(v) {
			if alive[u] {
				cnt[v]++
			}
		}
	}
	for v := 0; v < n; v++ {
		if alive[v] && cnt[v] < int(t[v]) {
			stack = append(stack, v)
			alive[v] = false
		}
	}
	left := 0
	for v := 0; v < n; v++ {
		if alive[v] {
			left++
		}
	}
	for len(stack) > 0 && left > 0 {
		u := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, w := range g.Out(u) {
			if alive[w] {
				cnt[w]--
				if cnt[w] < int(t[w]) {
					alive[w] = false
					left--
					stack = append(stack, int(w))
				}
			}
		}
	}
	sc.stack = stack
	if left == 0 {
		return Pair{}, false
	}
	var s1, s2 []int
	for v := 0; v < n; v++ {
		if inS[v] {
			s1 = append(s1, v)
		} else if alive[v] {
			s2 = append(s2, v)
		}
	}
	if len(s1) == 0 {
		return Pair{}, false
	}
	return Pair{S1: s1, S2: s2}, true
}

type closeScratch struct {
	alive []bool
	cnt   []int
	stack []int
}

// lowCutPair looks, by local search, for a pair in which every node i of
// S1 ∪ S2 is stuck for the needs t, i.e. has at most d_i − t_i
// in-neighbours outside its set: with t = needs(g, r) a witness that D is
// not r-robust, with t = fractionNeeds(g, p) one that it is not p-fraction
// robust, found without a decision. Each restart labels the nodes S1, S2
// or neither (first from the given starts, then random even splits) and
// walks as WalkSAT does (Selman, Kautz, Cohen 1994): it picks a random
// node that is not stuck and, half the time at random and otherwise
// greedily by the total excess Σ max(0, |N_i \ S_k| − (d_i − t_i)),
// either relabels that node or moves one of its in-neighbours into its
// set, never emptying S1 or S2. On a k-out graph of 60 nodes it found a
// pair at the fraction optimum in its first restart on 37 of 40 seeds
// and in its second on the rest; the steepest descent with random kicks
// it replaced needed 24–135 restarts on four of five seeds and none of
// 200 sufficed on the fifth (BENCHMARKS.md, "The WalkSAT walk"). It is a
// heuristic: nil means only that it gave up after effort restarts of
// walkSteps·n steps, or that ctx ended. Deterministic until ctx ends.
func lowCutPair(ctx context.Context, g *graph.Digraph, t []int32, starts []*Pair, effort int) *Pair {
	n := g.N()
	if n < 2 {
		return nil
	}
	allow := make([]int, n) // in-neighbours across a stuck node may have
	seed := uint64(7)
	for i := range allow {
		allow[i] = g.InDegree(i) - int(t[i]) // < 0: never stuck, so moved out
		seed = seed*31 + uint64(t[i])
	}
	rng := rand.New(rand.NewPCG(uint64(n), seed))
	w := &walker{g: g, allow: allow, lab: make([]int8, n), out: make([]int, n), pos: make([]int, n)}
	for round := 0; round < effort && ctx.Err() == nil; round++ {
		clear(w.lab)
		if round < len(starts) && starts[round] != nil {
			for _, v := range starts[round].S1 {
				w.lab[v] = 1
			}
			for _, v := range starts[round].S2 {
				w.lab[v] = 2
			}
		} else {
			for i, v := range rng.Perm(n) {
				w.lab[v] = int8(1 + i%2)
			}
		}
		if w.run(ctx, rng, walkSteps*n) {
			var p Pair
			for i, l := range w.lab {
				switch l {
				case 1:
					p.S1 = append(p.S1, i)
				case 2:
					p.S2 = append(p.S2, i)
				}
			}
			return &p
		}
	}
	return nil
}

// walkSteps·n is the length of one restart of lowCutPair.
const walkSteps = 40

// walker is the state of lowCutPair's walk: a label per node (0 neither,
// 1 S1, 2 S2), each labelled node's in-neighbours with another label, and
// the labelled nodes that are not stuck (viol, with pos their index or −1).
type walker struct {
	g     *graph.Digraph
	allow []int
	lab   []int8
	out   []int
	size  [3]int
	viol  []int
	pos   []int
	cands []walkMove
}

type walkMove struct {
	v int
	l int8
}

// run walks from the current labels for at most steps steps, or until ctx
// ends, and reports whether it reached a pair.
func (w *walker) run(ctx context.Context, rng *rand.Rand, steps int) bool {
	g, lab := w.g, w.lab
	w.size = [3]int{}
	w.viol = w.viol[:0]
	for i := range lab {
		w.size[lab[i]]++
		w.pos[i] = -1
		w.out[i] = 0
		for _, u := range g.In(i) {
			if lab[u] != lab[i] {
				w.out[i]++
			}
		}
	}
	for i := range lab {
		w.fix(i)
	}
	for step := range steps {
		if len(w.viol) == 0 {
			return w.size[1] > 0 && w.size[2] > 0
		}
		if step&255 == 255 && ctx.Err() != nil {
			return false
		}
		v := w.viol[rng.IntN(len(w.viol))]
		w.cands = w.cands[:0]
		if w.size[lab[v]] > 1 {
			for l := int8(0); l < 3; l++ {
				if l != lab[v] {
					w.cands = append(w.cands, walkMove{v, l})
				}
			}
		}
		for _, u := range g.In(v) {
			if lu := lab[u]; lu != lab[v] && (lu == 0 || w.size[lu] > 1) {
				w.cands = append(w.cands, walkMove{int(u), lab[v]})
			}
		}
		if len(w.cands) == 0 {
			continue
		}
		var pick walkMove
		if rng.IntN(2) == 0 {
			pick = w.cands[rng.IntN(len(w.cands))]
		} else {
			best, ties := int(^uint(0)>>1), 0
			for _, c := range w.cands {
				switch d := w.delta(c.v, c.l); {
				case d < best:
					best, ties, pick = d, 1, c
				case d == best:
					ties++
					if rng.IntN(ties) == 0 {
						pick = c
					}
				}
			}
		}
		w.move(pick.v, pick.l)
	}
	return len(w.viol) == 0 && w.size[1] > 0 && w.size[2] > 0
}

func (w *walker) excess(o, i int) int { return max(0, o-w.allow[i]) }

// fix files node i under viol or takes it off, as its state says.
func (w *walker) fix(i int) {
	bad := w.lab[i] != 0 && w.out[i] > w.allow[i]
	switch {
	case bad && w.pos[i] < 0:
		w.pos[i] = len(w.viol)
		w.viol = append(w.viol, i)
	case !bad && w.pos[i] >= 0:
		last := w.viol[len(w.viol)-1]
		w.viol[w.pos[i]], w.pos[last] = last, w.pos[i]
		w.viol = w.viol[:len(w.viol)-1]
		w.pos[i] = -1
	}
}

// delta is the change of the total excess if v moved to label l.
func (w *walker) delta(v int, l int8) int {
	old := w.lab[v]
	d := 0
	if old != 0 {
		d -= w.excess(w.out[v], v)
	}
	if l != 0 {
		ov := 0
		for _, u := range w.g.In(v) {
			if w.lab[u] != l {
				ov++
			}
		}
		d += w.excess(ov, v)
	}
	for _, x := range w.g.Out(v) {
		lx := w.lab[x]
		if lx == 0 || int(x) == v {
			continue
		}
		o := w.out[x]
		if lx == old {
			o++ // v leaves x's set
		}
		if lx == l {
			o-- // v joins it
		}
		d += w.excess(o, int(x)) - w.excess(w.out[x], int(x))
	}
	return d
}

func (w *walker) move(v int, l int8) {
	old := w.lab[v]
	for _, x := range w.g.Out(v) {
		if w.lab[x] == old {
			w.out[x]++
		}
		if w.lab[x] == l {
			w.out[x]--
		}
	}
	w.lab[v] = l
	w.size[old]--
	w.size[l]++
	w.out[v] = 0
	for _, u := range w.g.In(v) {
		if w.lab[u] != l {
			w.out[v]++
		}
	}
	w.fix(v)
	for _, x := range w.g.Out(v) {
		w.fix(int(x))
	}
}

// starts is where lowCutPair begins: from p, unless p is one of the
// trivial pairs of Lemma 7 ({v} against the rest, or the split by index),
// from which the walk needed several restarts to leave (measured on
// undirected ER p = 0.3 n = 50: four restarts, against one from a random
// split).
func starts(g *graph.Digraph, p *Pair) []*Pair {
	if p == nil {
		return nil
	}
	for _, q := range trivialPairs(g) {
		if slices.Equal(p.S1, q.S1) && slices.Equal(p.S2, q.S2) {
			return nil
		}
	}
	return []*Pair{p}
}
