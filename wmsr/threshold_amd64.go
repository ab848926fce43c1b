//go:build amd64 && !purego

package wmsr

import "golang.org/x/sys/cpu"

// vectorKernel reports whether Round can use the vector kernel (AVX2), and
// whether with AVX-512VL's packed 64-bit min and max.
func vectorKernel() (ok, avx512 bool) {
	return cpu.X86.HasAVX2, cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL
}

// round4 runs the vector kernel (threshold4.go) on groups groups of four
// nodes, the first node being the one whose own value own points at (an
// element of x, the whole state): off points at that node's entry of the
// CSR offsets, adj at the start of the CSR neighbour list, next at the
// node's result. It writes next for every node of every group whose
// in-degrees are all in 1..gatherCap, and returns a mask with bit 4g+j set
// when lane j of group g failed (its next must be recomputed). groups is at
// most 16. The neighbour ids are not bounds-checked: they must index x, as
// a graph.Digraph's do.
//
//go:noescape
func round4(x, own, next *float64, adj, off *int32, s *scratch4, groups, f int, avx512 bool) (failed uint64)
