package topology

import (
	"math/rand/v2"

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
		s2 := []int{v}
		taken := map[int]bool{v: true}
		for _, u := range in[:max(need, 0)] {
			s2 = append(s2, int(u))
			taken[int(u)] = true
		}
		var s1 []int
		for u := 0; u < n; u++ {
			if !taken[u] {
				s1 = append(s1, u)
			}
		}
		if len(s1) > 0 {
			out = append(out, Pair{S1: s1, S2: s2})
		}
	}
	return out
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

// incumbents returns good starting pairs at r: the hints and star pairs,
// each polished by descent. It is deterministic.
func incumbents(g *graph.Digraph, r int, hints []*Pair) []*Pair {
	if g.N() > 256 {
		return hints
	}
	rng := rand.New(rand.NewPCG(uint64(g.N()), uint64(r)))
	type cand struct {
		p    Pair
		cost int
	}
	var cs []cand
	for _, h := range hints {
		if h != nil {
			c, ok := Cost(g, *h, r)
			if !ok {
				c = 1 << 30
			}
			cs = append(cs, cand{*h, c})
		}
	}
	for _, p := range starPairs(g, r) {
		if c, ok := Cost(g, p, r); ok {
			cs = append(cs, cand{p, c})
		}
	}
	// Polish the few best starts.
	for i := range cs {
		for j := i + 1; j < len(cs); j++ {
			if cs[j].cost < cs[i].cost {
				cs[i], cs[j] = cs[j], cs[i]
			}
		}
		if i == 4 {
			break
		}
	}
	out := make([]*Pair, 0, 6)
	for i := 0; i < len(cs) && i < 5; i++ {
		q, _ := descend(g, cs[i].p, r, rng)
		out = append(out, &q)
	}
	return out
}
