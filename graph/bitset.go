package graph

import (
	"fmt"
	"math/bits"
)

// MaxBitsetNodes bounds InSets: n² bits is 2 MiB at n = 4096, and the exact
// robustness search that wants bitsets is exponential long before that.
const MaxBitsetNodes = 4096

// Bitset is a set of node ids, one bit each, in 64-bit words.
type Bitset []uint64

// NewBitset returns an empty set able to hold ids 0..n-1.
func NewBitset(n int) Bitset { return make(Bitset, (n+63)/64) }

// Has reports whether i is in s.
func (s Bitset) Has(i int) bool { return s[i>>6]&(1<<(uint(i)&63)) != 0 }

// Add puts i into s.
func (s Bitset) Add(i int) { s[i>>6] |= 1 << (uint(i) & 63) }

// Remove takes i out of s.
func (s Bitset) Remove(i int) { s[i>>6] &^= 1 << (uint(i) & 63) }

// Count returns |s|.
func (s Bitset) Count() int {
	c := 0
	for _, w := range s {
		c += bits.OnesCount64(w)
	}
	return c
}

// AndCount returns |s ∩ t|; the sets must have the same length.
func (s Bitset) AndCount(t Bitset) int {
	c := 0
	for i, w := range s {
		c += bits.OnesCount64(w & t[i])
	}
	return c
}

// Members returns the ids in s in increasing order.
func (s Bitset) Members() []int {
	var out []int
	for wi, w := range s {
		for w != 0 {
			out = append(out, wi*64+bits.TrailingZeros64(w))
			w &= w - 1
		}
	}
	return out
}

// InSets returns N_v^in as a bitset for every node v. It refuses graphs
// larger than MaxBitsetNodes rather than allocate n² bits.
func (g *Digraph) InSets() ([]Bitset, error) {
	if g.n > MaxBitsetNodes {
		return nil, fmt.Errorf("graph: in-neighbour bitsets: %w: n = %d exceeds the limit of %d nodes", ErrNodeCount, g.n, MaxBitsetNodes)
	}
	words := (g.n + 63) / 64
	backing := make([]uint64, words*g.n)
	sets := make([]Bitset, g.n)
	for v := range sets {
		sets[v] = backing[v*words : (v+1)*words : (v+1)*words]
		for _, u := range g.In(v) {
			sets[v].Add(int(u))
		}
	}
	return sets, nil
}
