package wmsr

import "math"

// Round's kernels for f = 1 and f = 2, on the common F-total scopes, take a
// different route from trim1 and trim2 to the same result (ReferenceUpdate,
// bit for bit); the order, the sum and the tie rule are those of kernel.go.
// Where the CPU has AVX2 (amd64, not -tags purego), Round first runs the
// same route four nodes at a time in a vector kernel (threshold4.go), which
// hands back to trimRound every node it cannot finish; the cost model below
// is that of the scalar kernel.
//
// Cost model. On current out-of-order cores Round at small f is bound by
// the number of instructions per neighbour value, not by latency:
// interleaving two nodes' selections, or one node's sum with the next
// node's gather, gains nothing (measured), and what does gain is removing
// instructions. trim2 spends about 45 per value: a key, then for each side
// two compares and six conditional moves (keys and indices move together)
// and register spills. Here each value costs a gathered key (stored once),
// a selection of thresholds only, and a masked sum:
//
//   - Gather. The values and their keys go to a scratch (scratch2) in one
//     pass over the in-neighbour list; the values are kept as bits.
//   - Selection. Only the keys of the f-th largest and f-th smallest of the
//     multiset {key(own) ×f} ∪ {keys} are tracked, not their indices. At
//     f = 2 four values at a time: a small network gives the group's two
//     largest and two smallest keys, which are merged into the running
//     ones; with min and max on integers compiling to compare and
//     conditional move, that is 2.75 compares and 4.5 moves per value
//     against 4 and 6 for one value at a time. At f = 1 a running max and
//     min.
//   - Sum. Own, then each value in vals order, or -0 (the identity, see
//     kernel.go) when its key lies outside [lo, ta), the keys kept; one
//     unsigned compare per value decides, and the values removed are
//     counted.
//
// Why thresholds suffice. Let a1 ≥ … ≥ af be the f largest of the multiset
// {ko ×f} ∪ {k_i} (ko = key(own), k_i the keys of vals) and A the number of
// values strictly above own. If A ≥ f then af is the f-th largest key, the
// values the reference removes above own are the f largest with ties at af
// broken by index, and the values with key ≥ af are exactly those f when no
// other value has key af. If A < f then af = ko and the reference removes
// every value above own, those with key ≥ ko+1. So with ta = af, or ko+1
// when af = ko, the values with key ≥ ta are removed above, and there are
// min(f, A) of them unless a value not removed ties with af; there are
// never fewer. The same holds below with the f smallest and lo. The
// expected count, min(f, A) + min(f, B), is read off the thresholds
// (each ai > ko is one removal), so counting the values removed detects
// exactly the inputs where a threshold is tied. Those are resolved exactly
// by a second pass that locates the latest copies of the tied thresholds
// (sumTied), which is the reference's tie rule; ties are rare on
// continuous data and common on discrete or converged data, where the
// second pass costs about as much as the first.
//
// Non-finite values. Every non-finite key lies beyond every finite key,
// above (+Inf, NaN with the sign bit clear) or below, so one is present iff
// the largest key, a1, is at least infBits or the smallest at most
// ^infBits: two compares per node instead of a flag per value. The kernel
// then returns ok = false before the sum, and the caller takes the general
// path.

// flipKey is key's counterpart for these kernels: the bits of v + 0 (which
// turns -0 into +0) with the magnitude bits of negative values
// complemented. It orders values as key does, with the same equivalence
// (-0 and +0 share key 0), and puts positive non-finite values (+Inf, NaN
// with the sign bit clear) at or above infBits and negative ones at or
// below ^infBits, beyond every finite key; flipKey(v) is
// int64(orderKey(v) ^ signBit). It takes three integer operations and an
// add on the floating-point side where key takes four integer operations,
// one of them (the bit reset) two micro-ops on current x86 cores; Round
// computes one for every neighbour value, and that difference was 3–15% of
// the step (in-degree 10 to 50).
func flipKey(v float64) int64 {
	b := int64(math.Float64bits(v + 0))
	return b ^ int64(uint64(b>>63)>>1)
}

// scratch2 holds one node's neighbour values, as bits, and their keys, and
// the thresholds selected from them (for sumTied).
type scratch2 struct {
	bits               [gatherCap]uint64
	keys               [gatherCap]int64
	ko, a1, af, b1, bf int64
	tied               int // steps that took sumTied (Round resets it)
}

// tieWindow is the number of nodes over which Round counts the steps that
// took sumTied (see Round).
const tieWindow = 64

// trimRound is the kernel for f = 1 or 2 on in-neighbours nb (at most
// gatherCap of them) of a node holding own: it gathers x over nb into s and
// returns the step's result, or ok = false when own or a gathered value is
// not finite (s is then of no use to the caller).
func (s *scratch2) trimRound(own float64, nb []int32, x []float64, f int) (r float64, ok bool) {
	if math.Float64bits(own)&^signBit >= infBits {
		return 0, false
	}
	d := len(nb)
	keys := s.gather(nb, x)
	ko := flipKey(own)
	var a1, af, b1, bf int64
	var want int
	if f == 1 {
		a1, b1 = select1(keys, ko)
		af, bf = a1, b1
		want = b2i(a1 > ko) + b2i(b1 < ko)
	} else {
		a1, af, b1, bf = select2(keys, ko)
		want = b2i(a1 > ko) + b2i(b1 < ko) + b2i(af > ko) + b2i(bf < ko)
	}
	if a1 >= infBits || b1 <= ^infBits {
		return 0, false
	}
	// Kept: lo ≤ key < ta.
	ta, lo := ko+1, ko
	if af > ko {
		ta = af
	}
	if bf < ko {
		lo = bf + 1
	}
	// The thresholds go to memory rather than staying live across the loop
	// below, where they would cost reloads in every iteration.
	s.ko, s.a1, s.af, s.b1, s.bf = ko, a1, af, b1, bf
	sum, removed := sumKept(own, s.bits[:d], keys, lo, uint64(ta-lo))
	if removed != want {
		// A value not removed ties with a threshold beyond own.
		sum, removed = s.sumTied(own, d, f)
		s.tied++
	}
	return sum / float64(1+d-removed), true
}

// gather stores x over nb in s, as bits and keys, and returns the keys.
func (s *scratch2) gather(nb []int32, x []float64) []int64 {
	bits, keys := s.bits[:len(nb)], s.keys[:len(nb)]
	for i, u := range nb {
		// uint32: a zero-extending load with the index scaled in the
		// addressing mode, one instruction fewer than int32's.
		v := x[uint32(u)]
		bits[i] = math.Float64bits(v)
		keys[i] = flipKey(v)
	}
	return keys
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// select1 returns the largest and the smallest of ko and keys.
func select1(keys []int64, ko int64) (a1, b1 int64) {
	a1, b1 = ko, ko
	for _, k := range keys {
		a1 = max(a1, k)
		b1 = min(b1, k)
	}
	return a1, b1
}

// select2 returns the two largest (a1 ≥ a2) and the two smallest
// (b1 ≤ b2) of the multiset {ko, ko} ∪ keys. Not inlined: its loop needs
// every register, and inlined into its caller it gets spilled.
//
//go:noinline
func select2(keys []int64, ko int64) (a1, a2, b1, b2 int64) {
	a1, a2, b1, b2 = ko, ko, ko, ko
	i := 0
	for ; i <= len(keys)-4; i += 4 {
		g := (*[4]int64)(keys[i:])
		// Sort the pairs, then the two largest of the group are the larger
		// of the maxima and the larger of (smaller maximum, larger
		// minimum); the two smallest likewise.
		h0, l0 := max(g[0], g[1]), min(g[0], g[1])
		h1, l1 := max(g[2], g[3]), min(g[2], g[3])
		t1, mh := max(h0, h1), min(h0, h1)
		s1, ml := min(l0, l1), max(l0, l1)
		t2, s2 := max(mh, ml), min(mh, ml)
		// Merge two sorted pairs into the running ones, the same way.
		x := min(a1, t1)
		a1 = max(a1, t1)
		a2 = max(x, max(a2, t2))
		y := max(b1, s1)
		b1 = min(b1, s1)
		b2 = min(y, min(b2, s2))
	}
	for ; i < len(keys); i++ {
		k := keys[i]
		x := min(a1, k)
		a1 = max(a1, k)
		a2 = max(a2, x)
		y := max(b1, k)
		b1 = min(b1, k)
		b2 = min(b2, y)
	}
	return a1, a2, b1, b2
}

// sumKept returns own plus, in order, each value whose key k has
// lo ≤ k < lo+span (the unsigned difference places k < lo beyond span),
// with -0 in place of the others, and how many were replaced.
func sumKept(own float64, bits []uint64, keys []int64, lo int64, span uint64) (float64, int) {
	sum := own
	removed := 0
	keys = keys[:len(bits)]
	for i, b := range bits {
		if uint64(keys[i]-lo) >= span {
			b = signBit
			removed++
		}
		sum += math.Float64frombits(b)
	}
	return sum, removed
}

// sumTied is sumKept under the reference's tie rule, for a step on the d
// values in s, with the thresholds s holds, where some value ties with a
// threshold beyond own. Above own the values with key > af go, and of
// those equal to af the latest r = f − #{key > af} (#{key > af} is the
// number of thresholds a1..af strictly above af: a1 for f = 2, none for
// f = 1); when af = ko every value above own goes. Likewise below. If the
// r-th last copy of af is at hiI, the kept interval is (.., af] before hiI
// and (.., af) from hiI on; so the sum is sumKept over at most three runs
// of indices, each with fixed bounds.
//
//go:noinline
func (s *scratch2) sumTied(own float64, d, f int) (float64, int) {
	bits, keys := s.bits[:d], s.keys[:d]
	ko, af, bf := s.ko, s.af, s.bf
	// Kept: lo ≤ key < ta, with (ta, lo) = (taBefore, loBefore) before the
	// index hiI (resp. loI) and (taAfter, loAfter) from it on.
	taBefore, taAfter, hiI := ko+1, ko+1, d
	if af > ko {
		hiI = latestKey(keys, af, f-b2i(s.a1 > af))
		taBefore, taAfter = af+1, af
	}
	loBefore, loAfter, loI := ko, ko, d
	if bf < ko {
		loI = latestKey(keys, bf, f-b2i(s.b1 < bf))
		loBefore, loAfter = bf, bf+1
	}
	sum, removed := own, 0
	for start := 0; start < d; {
		end := d
		ta, lo := taBefore, loBefore
		if start >= hiI {
			ta = taAfter
		} else {
			end = hiI
		}
		if start >= loI {
			lo = loAfter
		} else {
			end = min(end, loI)
		}
		var r int
		sum, r = sumKept(sum, bits[start:end], keys[start:end], lo, uint64(ta-lo))
		removed += r
		start = end
	}
	return sum, removed
}

// latestKey returns the index of the r-th last key equal to t (r ≥ 1, and
// there are at least r).
func latestKey(keys []int64, t int64, r int) int {
	for i := len(keys) - 1; ; i-- {
		if keys[i] == t {
			if r--; r == 0 {
				return i
			}
		}
	}
}
