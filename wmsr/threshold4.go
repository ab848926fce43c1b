package wmsr

import (
	"math/bits"
	"unsafe"
)

// The vector kernel of Round for f = 1 and 2 on F-total scopes
// (threshold_amd64.s, used where the CPU has AVX2): the threshold route of
// threshold.go, run on four consecutive nodes at once, one node per 64-bit
// lane. Nothing in it crosses lanes, so each lane computes exactly what
// trimRound computes for its node:
//
//   - Gather. For i up to the largest of the four in-degrees, lane j gets
//     x of node v+j's i-th in-neighbour (scalar loads, assembled into a
//     vector) and its flipKey; both are stored in scratch4, row i. A lane
//     whose in-degree is ≤ i gets the pad value -0 with key flipKey(own):
//     a further copy of own in the multiset the thresholds are selected
//     from, which changes neither threshold (the multiset already holds own
//     f times), and a kept -0 in the sum, which changes nothing (x + -0 = x).
//   - Selection. Per lane, the running two largest and two smallest keys,
//     with packed signed compares and blends (AVX2) or VPMAXSQ/VPMINSQ
//     (AVX-512VL): the one-value-at-a-time network of select2's tail.
//   - Thresholds, the expected number of removals, and the non-finite test
//     (largest key ≥ infBits or smallest ≤ ^infBits) as in trimRound.
//   - Sum. Per lane own, then row by row the value or -0 where its key lies
//     outside [lo, ta): a packed add per row adds each lane's next value to
//     that lane's sum, so every lane's sum is own + v_0 + v_1 + … in vals
//     order, the very operations of sumKept; the division by
//     1 + d − removed is the same IEEE division.
//
// A lane whose count of removed values differs from the expected one (a tie
// at a threshold, see threshold.go) or that met a non-finite value is
// reported as failed, and Round recomputes that node on the scalar path
// (trimRound, which resolves the tie or declines). A group with an
// in-degree of 0 or above gatherCap fails as a whole. So the vector kernel
// only ever returns results that trimRound would have returned, and the
// scalar path stays the definition.
//
// Cost. Per neighbour value two loads (index and value, as in LinearRound)
// and a quarter of a row's packed work: about 23 instructions per row of
// four to gather, key, store and select (27 with AVX2's compare-and-blend
// for min and max), 9 to sum; about 100 per group of four nodes for the
// in-degrees, thresholds and division. The running sums of four nodes
// advance together, so the chain of dependent adds, which the scalar
// kernels and LinearRound pay per value, is paid per row of four. Measured
// (BenchmarkRound, BenchmarkRoundVector): 1.1–1.5× a LinearRound on k-in
// graphs of in-degree 10 and 50, against 4–7× for the scalar kernel;
// AVX-512VL is about 10% faster than AVX2; on graphs whose in-degrees vary
// within a group (Erdős–Rényi, preferential attachment) the rows beyond the
// smallest in-degree of the group cost more, and the kernel is 1.2–1.3× a
// LinearRound. Where the in-degrees of four consecutive nodes differ widely,
// the pads are wasted work.
//
// Builds for other architectures, or with -tags purego, have no vector
// kernel (threshold_other.go) and run the scalar kernels only.

// scratch4 is the vector kernel's scratch: row i holds lane j's i-th value
// (bits) in vals[i][j] and its key in vals[i][4+j].
type scratch4 struct {
	vals [gatherCap][8]uint64
}

// roundGroups is Round's F-total loop at f = 1 or 2 on the vector kernel:
// it updates nodes from 0 in windows of tieWindow nodes, then in groups of
// four, and returns the first node it did not update (fewer than four are
// left, or the window just done had more than a quarter of its nodes tied)
// and whether Round should still use the threshold kernels for the rest.
// Nodes the kernel reports as failed are redone with roundNodeTotal.
func roundGroups(off, adj []int32, x, next, buf []float64, f int, sc *scratch2, avx512 bool) (int, bool) {
	n := len(off) - 1
	var s4 scratch4
	adjp := unsafe.SliceData(adj)
	v := 0
	for n-v >= 4 {
		groups := min((n-v)/4, tieWindow/4)
		failed := round4(&x[0], &x[v], &next[v], adjp, &off[v], &s4, groups, f, avx512)
		for failed != 0 {
			u := v + bits.TrailingZeros64(failed)
			failed &= failed - 1
			next[u] = roundNodeTotal(sc, x[u], adj[off[u]:off[u+1]], x, buf, f)
		}
		v += 4 * groups
		if groups == tieWindow/4 {
			// A whole window: the same switch as Round's scalar loop.
			tied := sc.tied
			sc.tied = 0
			if tied > tieWindow/4 {
				return v, false
			}
		}
	}
	return v, true
}

// roundNodeTotal is one node's step in Round's F-total loop with the
// threshold kernels on: trimRound, or when it declines the index kernels
// or the general path. (Round's loop inlines the same sequence.)
func roundNodeTotal(sc *scratch2, own float64, nb []int32, x, buf []float64, f int) float64 {
	if len(nb) <= gatherCap {
		if r, ok := sc.trimRound(own, nb, x, f); ok {
			return r
		}
	}
	vals := buf[:len(nb)]
	for k, u := range nb {
		vals[k] = x[u]
	}
	if len(vals) < networkMaxDeg {
		var r float64
		var ok bool
		switch f {
		case 1:
			r, ok = trim1(own, vals)
		case 2:
			r, ok = trim2(own, vals)
		}
		if ok {
			return r
		}
	}
	return updateRound(own, vals, f)
}
