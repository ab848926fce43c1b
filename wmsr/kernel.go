package wmsr

import "math"

// The kernels below are the fast path of Update and Round for the common
// case: own and every neighbour value finite, and at most gatherCap values
// in a scratch buffer the kernel may overwrite. They compute the same
// result as ReferenceUpdate, bit for bit, by the route argued here (for
// trim1, trim2, trim3 and trimSmall; trimLarge selects differently, see
// there, and shares only the finiteness check). Round at f = 1 and 2 goes
// to the threshold kernels of threshold.go first, which reach the same
// result by another route.
//
// Order. Values are compared through key, a signed integer whose order is
// the numeric order of finite float64s and which maps -0 and +0 to the same
// key, as the reference's comparisons do. Integer comparisons let the
// compiler select with conditional moves (CMOV) where float comparisons
// would branch, and the outcome of these comparisons is as unpredictable as
// the data: a mispredicted branch per value costs more than the whole rest
// of the step.
//
// Selection. The f values removed above own are the first f in the removal
// order of the reference (larger first, equal values later-in-vals first).
// Scanning vals in order, a new value is later than every value already
// held, so it goes before every held value it is ≥ to: a sorted buffer of
// f (key, index) slots, updated by "shift down every slot whose key is ≤
// k, put k in the gap", holds after the scan exactly the removed values and
// their indices. Slots start as sentinels (key(own)+1, index -1): every
// value above own is ≥ the sentinel key and displaces one, and a sentinel
// left at the end is a removal that did not happen (fewer than f values
// above own). Values equal to own never enter either side.
//
// Sum. Removed values are overwritten with -0 in the caller's scratch, and
// the kernel sums own and then the whole buffer in order. Since x + (-0) = x
// exactly for every x (including x = ±0, under the round-to-nearest mode Go
// always uses), the sum is bit for bit the reference's sum of own and the
// kept values in vals order; the count is 1 + d − removed.
//
// Non-finite values. The kernels OR together a flag that is set by any value
// whose magnitude is ≥ that of +Inf, and give up (ok = false) before
// writing anything if it is set; updateCut then handles the step.

const (
	signBit = 1 << 63
	// infBits is math.Float64bits(math.Inf(1)): a magnitude at least this is
	// ±Inf or NaN.
	infBits = 0x7ff0000000000000
	// nonFinite added to a magnitude sets bit 63 iff the magnitude is ≥
	// infBits (magnitudes are < 2⁶³, so nothing overflows).
	nonFinite = 1<<63 - infBits
)

// key maps a float64 to a signed integer: ±magnitude bits. For finite
// values it is strictly monotone in the numeric value except that -0 and +0
// share key 0, exactly the equivalence of float64 ==. (orderKey is the
// unsigned counterpart the radix selections need; both order finite values
// alike.)
func key(v float64) int64 {
	b := math.Float64bits(v)
	m := int64(b) >> 63 // 0 or -1
	return (int64(b&^signBit) ^ m) - m
}

// negZero is -0.0, the exact identity of float64 addition. (A function,
// not a variable: the package keeps no mutable state.)
func negZero() float64 { return math.Float64frombits(signBit) }

// finiteOwn reports whether own is finite, and its key.
func finiteOwn(own float64) (int64, bool) {
	b := math.Float64bits(own)
	return key(own), b&^signBit < infBits
}

// trim1 is the kernel for f = 1: find the largest value strictly above own
// and the smallest strictly below (the latest copy among equals), the two
// values the step removes.
func trim1(own float64, buf []float64) (float64, bool) {
	ko, ok := finiteOwn(own)
	if !ok {
		return 0, false
	}
	a1, i1 := ko+1, -1
	b1, j1 := ko-1, -1
	var bad uint64
	for i, v := range buf {
		vb := math.Float64bits(v)
		bad |= vb&^signBit + nonFinite
		k := key(v)
		if k >= a1 {
			a1, i1 = k, i
		}
		if k <= b1 {
			b1, j1 = k, i
		}
	}
	if bad&signBit != 0 {
		return 0, false
	}
	return meanRemoving6(own, buf, i1, j1, -1, -1, -1, -1), true
}

// trim2 is the kernel for f = 2: a two-slot selection network per side,
// written as independent conditional assignments so that each compiles to
// conditional moves. For slot s the new content is slot s−1's old one if
// k ≥ that (everything shifts), else k if k ≥ slot s, else unchanged.
func trim2(own float64, buf []float64) (float64, bool) {
	ko, ok := finiteOwn(own)
	if !ok {
		return 0, false
	}
	a1, a2, i1, i2 := ko+1, ko+1, -1, -1
	b1, b2, j1, j2 := ko-1, ko-1, -1, -1
	var bad uint64
	for i, v := range buf {
		vb := math.Float64bits(v)
		bad |= vb&^signBit + nonFinite
		k := key(v)

		na2, ni2 := a2, i2
		if k >= a2 {
			na2, ni2 = k, i
		}
		if k >= a1 {
			na2, ni2 = a1, i1
			a1, i1 = k, i
		}
		a2, i2 = na2, ni2

		nb2, nj2 := b2, j2
		if k <= b2 {
			nb2, nj2 = k, i
		}
		if k <= b1 {
			nb2, nj2 = b1, j1
			b1, j1 = k, i
		}
		b2, j2 = nb2, nj2
	}
	if bad&signBit != 0 {
		return 0, false
	}
	return meanRemoving6(own, buf, i1, i2, j1, j2, -1, -1), true
}

// trim3 is the kernel for f = 3, the three-slot network (see trim2).
func trim3(own float64, buf []float64) (float64, bool) {
	ko, ok := finiteOwn(own)
	if !ok {
		return 0, false
	}
	a1, a2, a3, i1, i2, i3 := ko+1, ko+1, ko+1, -1, -1, -1
	b1, b2, b3, j1, j2, j3 := ko-1, ko-1, ko-1, -1, -1, -1
	var bad uint64
	for i, v := range buf {
		vb := math.Float64bits(v)
		bad |= vb&^signBit + nonFinite
		k := key(v)

		na3, ni3 := a3, i3
		if k >= a3 {
			na3, ni3 = k, i
		}
		if k >= a2 {
			na3, ni3 = a2, i2
		}
		na2, ni2 := a2, i2
		if k >= a2 {
			na2, ni2 = k, i
		}
		if k >= a1 {
			na2, ni2 = a1, i1
			a1, i1 = k, i
		}
		a2, i2, a3, i3 = na2, ni2, na3, ni3

		nb3, nj3 := b3, j3
		if k <= b3 {
			nb3, nj3 = k, i
		}
		if k <= b2 {
			nb3, nj3 = b2, j2
		}
		nb2, nj2 := b2, j2
		if k <= b2 {
			nb2, nj2 = k, i
		}
		if k <= b1 {
			nb2, nj2 = b1, j1
			b1, j1 = k, i
		}
		b2, j2, b3, j3 = nb2, nj2, nb3, nj3
	}
	if bad&signBit != 0 {
		return 0, false
	}
	return meanRemoving6(own, buf, i1, i2, i3, j1, j2, j3), true
}

// trimSmall is the kernel for 4 ≤ f ≤ smallF, and for f ≤ 3 from in-degree
// networkMaxDeg on: the same buffers as the networks, as arrays with an
// insertion loop. Values that displace nothing (the common case once the
// buffers hold the extremes) cost two compares and a predicted branch.
func trimSmall(own float64, buf []float64, f int) (float64, bool) {
	ko, ok := finiteOwn(own)
	if !ok {
		return 0, false
	}
	var hk, lk [smallF]int64
	var hi, li [smallF]int
	for s := 0; s < f; s++ {
		hk[s], hi[s] = ko+1, -1
		lk[s], li[s] = ko-1, -1
	}
	last := f - 1
	hmin, lmax := ko+1, ko-1
	var bad uint64
	for i, v := range buf {
		vb := math.Float64bits(v)
		bad |= vb&^signBit + nonFinite
		k := key(v)
		if k >= hmin {
			s := last
			for s > 0 && hk[s-1] <= k {
				hk[s], hi[s] = hk[s-1], hi[s-1]
				s--
			}
			hk[s], hi[s] = k, i
			hmin = hk[last]
		} else if k <= lmax {
			s := last
			for s > 0 && lk[s-1] >= k {
				lk[s], li[s] = lk[s-1], li[s-1]
				s--
			}
			lk[s], li[s] = k, i
			lmax = lk[last]
		}
	}
	if bad&signBit != 0 {
		return 0, false
	}
	rm := [2 * smallF]int{}
	copy(rm[:f], hi[:f])
	copy(rm[f:2*f], li[:f])
	return meanRemoving(own, buf, rm[:2*f]), true
}

// meanRemoving6 is meanRemoving for the networks' at most six indices,
// passed as arguments: a loop over an index array costs, at in-degree 10,
// about a seventh of the whole step.
func meanRemoving6(own float64, buf []float64, r0, r1, r2, r3, r4, r5 int) float64 {
	removed := 0
	if r0 >= 0 {
		buf[r0] = negZero()
		removed++
	}
	if r1 >= 0 {
		buf[r1] = negZero()
		removed++
	}
	if r2 >= 0 {
		buf[r2] = negZero()
		removed++
	}
	if r3 >= 0 {
		buf[r3] = negZero()
		removed++
	}
	if r4 >= 0 {
		buf[r4] = negZero()
		removed++
	}
	if r5 >= 0 {
		buf[r5] = negZero()
		removed++
	}
	sum := own
	for _, v := range buf {
		sum += v
	}
	return sum / float64(1+len(buf)-removed)
}

// meanRemoving overwrites buf at the removed indices rm (entries < 0 are
// sentinels: removals that did not happen) with -0, and returns the uniform
// W-MSR average (own + Σ kept) / (1 + kept) summed in vals order.
func meanRemoving(own float64, buf []float64, rm []int) float64 {
	removed := 0
	for _, j := range rm {
		if j >= 0 {
			buf[j] = negZero()
			removed++
		}
	}
	sum := own
	for _, v := range buf {
		sum += v
	}
	return sum / float64(1+len(buf)-removed)
}

// trimLarge is the kernel for f > smallF on at most gatherCap values. It
// copies the keys of the values above own, and the complemented keys of
// those below (so that "f-th smallest" becomes "f-th largest"), into two
// stack arrays, and radix-selects in each with compaction (selectKeys).
// The cut is then applied by the general mean pass.
func trimLarge(own float64, buf []float64, f int) (float64, bool) {
	if len(buf) > gatherCap || !(math.Float64bits(own)&^signBit < infBits) {
		return 0, false
	}
	ko := orderKey(own)
	var hk, lk [gatherCap]uint64
	nh, nl := 0, 0
	var bad uint64
	for _, v := range buf {
		bad |= math.Float64bits(v)&^signBit + nonFinite
		k := orderKey(v)
		// Write both, advance where it belongs: no branch on the data.
		hk[nh], lk[nl] = k, ^k
		if k > ko {
			nh++
		}
		if k < ko {
			nl++
		}
	}
	if bad&signBit != 0 {
		return 0, false
	}
	up, down := sentinels(own)
	t := cut{hiT: up, hiI: -1, loT: down, loI: -1}
	if nh > f {
		k, r := selectKeys(hk[:nh], f)
		t.hiT = keyValue(k)
		t.hiI = latestCopy(buf, t.hiT, r)
	}
	if nl > f {
		k, r := selectKeys(lk[:nl], f)
		t.loT = keyValue(^k)
		t.loI = latestCopy(buf, t.loT, r)
	}
	return t.mean(own, buf), true
}

// selectKeys returns the r-th largest of keys (1 ≤ r ≤ len(keys)) and how
// many copies of it rank r or better, i.e. how many of its copies the
// removal takes. It permutes and overwrites keys. Most significant byte
// first: histogram the current byte, find the bucket holding rank r, keep
// only that bucket's keys (compaction, so each pass is shorter), and stop
// when one key is left or every byte is fixed. Bytes all keys share are
// skipped. O(len(keys)) with at most eight passes, whatever the keys.
func selectKeys(keys []uint64, r int) (uint64, int) {
	and, or := ^uint64(0), uint64(0)
	for _, k := range keys {
		and, or = and&k, or|k
	}
	shift := 56
	for shift > 0 && (and^or)>>shift == 0 {
		shift -= 8
	}
	var hist [256]int32
	for ; ; shift -= 8 {
		clear(hist[:])
		for _, k := range keys {
			hist[(k>>shift)&0xff]++
		}
		b := 255
		for int(hist[b]) < r {
			r -= int(hist[b])
			b--
		}
		w := 0
		for _, k := range keys {
			keys[w] = k
			if (k>>shift)&0xff == uint64(b) {
				w++
			}
		}
		keys = keys[:w]
		if w == 1 || shift == 0 {
			// One key left (then r is 1), or all left are equal.
			return keys[0], r
		}
	}
}

// latestCopy returns the index of the r-th last value equal to t in vals
// (r ≥ 1, and there are at least r copies): the first copy the removal
// takes in the reference order is the latest.
func latestCopy(vals []float64, t float64, r int) int {
	for i := len(vals) - 1; ; i-- {
		if vals[i] == t {
			if r--; r == 0 {
				return i
			}
		}
	}
}
