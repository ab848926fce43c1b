package topology

import "math/bits"

// bitset is a node set of fixed capacity held by value. The search keeps
// every set of a search node in registers or on the stack and copies it into
// children, so the capacity is a type, not a slice length: the compiler
// stencils the engine once per array size and the word loops below have a
// constant trip count. Graphs of up to 64 nodes, which is where the hard
// instances live, run on a single word.
type bitset interface {
	~[1]uint64 | ~[2]uint64 | ~[4]uint64 | ~[8]uint64 | ~[16]uint64 | ~[32]uint64 | ~[64]uint64
}

// maxEngineNodes is the largest graph the exact engine accepts (64 words).
const maxEngineNodes = 64 * 64

// MaxExactNodes is the largest graph the exact search takes. On a larger
// one MaxR, MaxS and the verdicts give bounds from the lemmas of doc.go
// (including Lemma 17, so ρ ≥ 1 is always decided) and a local search.
const MaxExactNodes = maxEngineNodes

func count[S bitset](a S) int {
	c := 0
	for i := range len(a) {
		c += bits.OnesCount64(a[i])
	}
	return c
}

func andCount[S bitset](a, b S) int {
	c := 0
	for i := range len(a) {
		c += bits.OnesCount64(a[i] & b[i])
	}
	return c
}

func and[S bitset](a, b S) S {
	for i := range len(a) {
		a[i] &= b[i]
	}
	return a
}

func andNot[S bitset](a, b S) S {
	for i := range len(a) {
		a[i] &^= b[i]
	}
	return a
}

func or[S bitset](a, b S) S {
	for i := range len(a) {
		a[i] |= b[i]
	}
	return a
}

func isEmpty[S bitset](a S) bool {
	for i := range len(a) {
		if a[i] != 0 {
			return false
		}
	}
	return true
}

// subset reports a ⊆ b.
func subset[S bitset](a, b S) bool {
	for i := range len(a) {
		if a[i]&^b[i] != 0 {
			return false
		}
	}
	return true
}

func has[S bitset](a S, i int) bool { return a[i>>6]>>(uint(i)&63)&1 != 0 }

func with[S bitset](a S, i int) S {
	a[i>>6] |= 1 << (uint(i) & 63)
	return a
}

func without[S bitset](a S, i int) S {
	a[i>>6] &^= 1 << (uint(i) & 63)
	return a
}

// members appends the elements of a to dst in increasing order.
func members[S bitset](dst []int, a S) []int {
	for w := range len(a) {
		for x := a[w]; x != 0; x &= x - 1 {
			dst = append(dst, w*64+bits.TrailingZeros64(x))
		}
	}
	return dst
}
