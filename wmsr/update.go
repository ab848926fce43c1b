package wmsr

import "math"

// smallF is the largest trimming budget handled by insertion buffers
// (trimSmall, selectSmall). Typical deployments trim F = 1..3; up to this
// size keeping the f extreme values in a fixed array costs at most f moves
// per value, and the arrays live on the stack. Beyond it radix selection
// (trimLarge, selectRadix), linear in the degree whatever the values, takes
// over; at F = 8 on in-degree 50 the two cost about the same.
const smallF = 8

// networkMaxDeg is the in-degree from which the branching insertion buffers
// of trimSmall beat the branch-free networks of trim1..3 even for f ≤ 3:
// past the first few dozen values almost every value falls between the
// slots, the branch that skips it is predicted, and the network's fixed
// cost per value is wasted. Measured on random values at F = 2 (ns per
// value, network vs buffers): in-degree 50: 3.6 vs 4.5; 100: 3.6 vs 3.5;
// 200: 3.6 vs 2.8.
const networkMaxDeg = 128

// Update is one W-MSR step for a node holding own that heard vals from its
// in-neighbours, trimming f on each side, with uniform weights
// (LeBlanc et al., IEEE JSAC 2013, Sec. III-B, with w = 1/(1+|kept|)).
//
// It returns exactly the float64 ReferenceUpdate returns, bit for bit: the
// same values are removed (ties at a threshold: the latest in vals), the sum
// runs over own first and then the kept values in the order of vals, and
// non-finite values take removals and are never averaged in. It does not
// modify vals and does not allocate. A negative f trims nothing, as in
// ReferenceUpdate.
//
// Cost is O(d) for every f: branch-free selection networks for f ≤ 3 below
// in-degree 128, insertion buffers with at most f moves per value for
// f ≤ 8 otherwise, and a radix
// selection of at most eight passes beyond (trimLarge, selectRadix). None
// of them is a comparison sort or a quickselect, so no choice of values by
// an adversary makes a step quadratic.
func Update(own float64, vals []float64, f int) float64 {
	if f <= 0 {
		return meanFinite(own, vals)
	}
	// The fast kernels work on a private copy they may overwrite (removed
	// values become -0, see kernel.go). Two sizes, so that a typical
	// neighbourhood does not pay for zeroing the large array.
	switch d := len(vals); {
	case d <= 32:
		var s [32]float64
		return updateScratch(own, s[:copy(s[:], vals)], f)
	case d <= gatherCap:
		var s [gatherCap]float64
		return updateScratch(own, s[:copy(s[:], vals)], f)
	}
	return updateCut(own, vals, f)
}

// updateScratch is Update on a buffer the caller owns and allows to be
// overwritten (Round's gather buffer, or Update's copy). f ≥ 1.
func updateScratch(own float64, buf []float64, f int) float64 {
	var r float64
	var ok bool
	switch {
	case f > 3 || len(buf) >= networkMaxDeg:
		if f <= smallF {
			r, ok = trimSmall(own, buf, f)
		} else {
			r, ok = trimLarge(own, buf, f)
		}
	case f == 1:
		r, ok = trim1(own, buf)
	case f == 2:
		r, ok = trim2(own, buf)
	default:
		r, ok = trim3(own, buf)
	}
	if ok {
		return r
	}
	// A non-finite value (or own): the general path, which reads buf
	// unmodified (the kernels write only on success).
	return updateCut(own, buf, f)
}

// updateCut is the general path: find the cut, then average in one pass.
// It handles every input, non-finite ones included, and needs no scratch.
func updateCut(own float64, vals []float64, f int) float64 {
	return findCut(own, vals, f).mean(own, vals)
}

// findCut finds the cut of one step with budget f on each side, for every
// input. A non-finite value takes one removal on its side, as in the
// reference (NaN and +Inf above, −Inf below), and is dropped whatever the
// budget: so the finite values above own lose f minus the number of NaN and
// +Inf values, and likewise below. The extra pass runs only on the paths
// that handle non-finite input or have no scratch, never in the kernels.
func findCut(own float64, vals []float64, f int) cut {
	fHi, fLo := f, f
	for _, v := range vals {
		if v-v != 0 { // NaN or ±Inf
			if v < 0 {
				fLo--
			} else {
				fHi--
			}
		}
	}
	if max(fHi, fLo) <= smallF {
		return selectSmall(own, vals, fHi, fLo)
	}
	return selectLarge(own, vals, fHi, fLo)
}

// cut describes which neighbour values one W-MSR step removes. Value v at
// index i of vals is removed above iff v > hiT || (v == hiT && i >= hiI),
// below iff v < loT || (v == loT && i >= loI).
//
// (hiT, hiI) is the f-th value in the removal order of the values strictly
// above own, the order of ReferenceUpdate: larger first, and among equal
// values the later in vals first. Everything up to and including it in that
// order is removed, which is exactly the test above. When at most f values
// lie above own, all of them go; then hiT is the least float64 greater than
// own and hiI = -1, so the same test reads v > own. Neither test needs a
// separate comparison with own: hiT > own always, so both branches imply
// v > own. Likewise for the lower side. A NaN own makes every threshold NaN
// and every comparison false: nothing is trimmed, as in ReferenceUpdate.
type cut struct {
	hiT, loT float64
	hiI, loI int
}

// mean is the second pass: the uniform average of own and the kept values,
// summed in the reference order (own, then vals in order).
func (t cut) mean(own float64, vals []float64) float64 {
	sum, cnt := own, 1
	for i, v := range vals {
		if t.keeps(i, v) {
			sum += v
			cnt++
		}
	}
	return sum / float64(cnt)
}

// keeps reports whether the step keeps v = vals[i].
func (t cut) keeps(i int, v float64) bool {
	// v-v is 0 exactly for finite v and NaN for NaN and ±Inf.
	return v-v == 0 &&
		!(v > t.hiT || (v == t.hiT && i >= t.hiI)) &&
		!(v < t.loT || (v == t.loT && i >= t.loI))
}

// meanFinite is the f = 0 step: nothing is trimmed but non-finite values.
func meanFinite(own float64, vals []float64) float64 {
	sum, cnt := own, 1
	for _, v := range vals {
		if v-v != 0 {
			continue
		}
		sum += v
		cnt++
	}
	return sum / float64(cnt)
}

// sentinels returns the thresholds meaning "remove everything above own" and
// "everything below": the nearest float64 on either side of own. For every
// finite v, v ≥ nextUp(own) iff v > own, and ±0 compare equal on both sides
// of this, as in the reference. For own = ±Inf or NaN the results (±Inf,
// ±MaxFloat64, NaN) give the reference's sets too, once non-finite values
// are excluded.
func sentinels(own float64) (up, down float64) {
	return math.Nextafter(own, math.Inf(1)), math.Nextafter(own, math.Inf(-1))
}

// selectSmall finds the cut for budgets fHi, fLo ≤ smallF (the removals
// left for finite values on each side) with two fixed-size buffers holding
// the values removed so far on each side, in removal order. A new value is
// later in vals than every buffered one, so it goes before all buffered
// values it is greater than or equal to: that keeps the buffer in the
// reference order (value, then later index first) with no index comparison.
// The buffers start full of sentinels (nextUp(own), index -1), which every
// real candidate displaces; if one survives at the last position, fewer
// values lay on that side than the budget and the sentinel threshold removes
// them all (see cut). A side with no budget removes no finite value: its
// threshold is ±Inf.
func selectSmall(own float64, vals []float64, fHi, fLo int) cut {
	var hv, lv [smallF]float64
	var hi, li [smallF]int
	up, down := sentinels(own)
	for k := 0; k < fHi; k++ {
		hv[k], hi[k] = up, -1
	}
	for k := 0; k < fLo; k++ {
		lv[k], li[k] = down, -1
	}
	// hmin, lmax are hv[fHi-1], lv[fLo-1]: the bar a value must clear to be
	// buffered. With no budget the bar is ±Inf, which only non-finite values
	// reach, and those are skipped.
	hmin, lmax := math.Inf(1), math.Inf(-1)
	if fHi > 0 {
		hmin = up
	}
	if fLo > 0 {
		lmax = down
	}
	for i, v := range vals {
		if v >= hmin {
			if v > math.MaxFloat64 {
				continue
			}
			k := fHi - 1
			for k > 0 && hv[k-1] <= v {
				hv[k], hi[k] = hv[k-1], hi[k-1]
				k--
			}
			hv[k], hi[k] = v, i
			hmin = hv[fHi-1]
		} else if v <= lmax {
			if v < -math.MaxFloat64 {
				continue
			}
			k := fLo - 1
			for k > 0 && lv[k-1] >= v {
				lv[k], li[k] = lv[k-1], li[k-1]
				k--
			}
			lv[k], li[k] = v, i
			lmax = lv[fLo-1]
		}
	}
	t := cut{hiT: math.Inf(1), loT: math.Inf(-1)}
	if fHi > 0 {
		t.hiT, t.hiI = hv[fHi-1], hi[fHi-1]
	}
	if fLo > 0 {
		t.loT, t.loI = lv[fLo-1], li[fLo-1]
	}
	return t
}

// selectLarge finds the cut for budgets fHi, fLo (removals left for finite
// values on each side, one of them > smallF): count each side, and where
// more values lie on it than its budget, radix-select the last one removed.
// A side with no budget removes no finite value (threshold ±Inf).
func selectLarge(own float64, vals []float64, fHi, fLo int) cut {
	up, down := sentinels(own)
	t := cut{hiT: up, hiI: -1, loT: down, loI: -1}
	if fHi <= 0 {
		t.hiT = math.Inf(1)
	}
	if fLo <= 0 {
		t.loT = math.Inf(-1)
	}
	above, below := 0, 0
	// The AND and OR of the keys on each side give the bits all candidates
	// share: the radix selection starts below them. Values of one sign and
	// similar magnitude share their top 12 bits or more, so this usually
	// saves one or two of its passes.
	andHi, orHi, andLo, orLo := ^uint64(0), uint64(0), ^uint64(0), uint64(0)
	for _, v := range vals {
		if v >= up && v <= math.MaxFloat64 {
			above++
			k := orderKey(v)
			andHi, orHi = andHi&k, orHi|k
		} else if v <= down && v >= -math.MaxFloat64 {
			below++
			k := orderKey(v)
			andLo, orLo = andLo&k, orLo|k
		}
	}
	if fHi > 0 && above > fHi {
		t.hiT, t.hiI = selectRadix(vals, up, math.MaxFloat64, fHi, false, andHi^orHi)
	}
	if fLo > 0 && below > fLo {
		t.loT, t.loI = selectRadix(vals, -math.MaxFloat64, down, fLo, true, andLo^orLo)
	}
	return t
}

// orderKey maps a finite float64 to a uint64 whose unsigned order is the
// numeric order, with -0 and +0 mapped to the same key (v+0 turns -0 into +0)
// because the reference treats them as equal.
func orderKey(v float64) uint64 {
	b := math.Float64bits(v + 0)
	m := uint64(int64(b) >> 63) // all ones for negative values
	return b ^ (m | 1<<63)      // negative: ^b; positive: set the sign bit
}

// keyValue inverts orderKey.
func keyValue(k uint64) float64 {
	if k>>63 != 0 {
		return math.Float64frombits(k &^ (1 << 63))
	}
	return math.Float64frombits(^k)
}

// selectRadix returns the r-th element in removal order among the values of
// vals in [lo, hi] (all finite, all on one side of own): the r-th largest,
// or the r-th smallest when lower, with ties broken by later index first.
// The caller guarantees at least r such values.
//
// It is a most-significant-byte-first radix selection on orderKey that keeps
// no copy of the candidates: each of at most eight passes histograms the next
// byte of the keys sharing the prefix chosen so far, and stops early once a
// single candidate is left. differ has a 1 at every key bit on which the
// candidates do not all agree; the bytes above its highest 1 are common to
// all of them and are taken from any candidate without a pass. Quickselect
// would need scratch and can be driven quadratic by values an adversary
// picks; this is O(d) always, with a 256-counter array on the stack. Ties
// at the selected value are resolved by one backward scan: the latest
// copies are removed first. It serves the paths without scratch (d > 256,
// Weighted, DP); trimLarge is the faster variant with scratch.
func selectRadix(vals []float64, lo, hi float64, r int, lower bool, differ uint64) (float64, int) {
	var flip uint64
	if lower {
		flip = ^uint64(0) // reverse the order: the smallest value gets the largest key
	}
	var hist [256]int32
	var prefix, mask uint64
	shift := 56
	for shift > 0 && differ>>shift == 0 {
		shift -= 8
	}
	if shift < 56 {
		// Take the common bytes from the first candidate.
		mask = ^uint64(0) << (shift + 8)
		for _, v := range vals {
			if v >= lo && v <= hi {
				prefix = (orderKey(v) ^ flip) & mask
				break
			}
		}
	}
	// Candidates as a key range, so that the pass below needs no branch on
	// the data (half the values lie on either side of own, in no order a
	// predictor could learn).
	kmin, kmax := orderKey(lo)^flip, orderKey(hi)^flip
	if lower {
		kmin, kmax = kmax, kmin
	}
	span := kmax - kmin
	for ; shift >= 0; shift -= 8 {
		clear(hist[:])
		for _, v := range vals {
			k := orderKey(v) ^ flip
			var one int32
			if k-kmin <= span && k&mask == prefix {
				one = 1
			}
			hist[(k>>shift)&0xff] += one
		}
		b := 255
		for int(hist[b]) < r {
			r -= int(hist[b])
			b--
		}
		prefix |= uint64(b) << shift
		mask |= 0xff << shift
		if hist[b] == 1 {
			// One candidate left with this prefix: it is the one (r is 1).
			for i, v := range vals {
				if k := orderKey(v) ^ flip; k-kmin <= span && k&mask == prefix {
					return v, i
				}
			}
		}
	}
	// Every byte is fixed: the threshold value is known, and r copies of it
	// are to be removed, the latest ones.
	t := keyValue(prefix ^ flip)
	for i := len(vals) - 1; ; i-- {
		if vals[i] == t {
			if r--; r == 0 {
				return t, i
			}
		}
	}
}
