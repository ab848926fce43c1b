package wmsr

import "fmt"

// DelayBuffer is one node's view of its in-neighbours under asynchronous
// updates with bounded delay: for each in-neighbour it keeps the newest
// value received and the round that value was sent in, and at each of its
// own updates the node uses the newest value of every in-neighbour sent
// within the last D rounds, skipping the others (counted as omissions).
//
// This is the partially asynchronous model of the W-MSR literature: updates
// may use values up to D rounds old, and a neighbour silent for longer is
// treated as absent (LeBlanc and Koutsoukos, "Resilient asymptotic
// consensus in asynchronous robust networks", Allerton 2012; Dibaji and
// Ishii, "Resilient consensus of second-order agent networks: asynchronous
// update rules with delays", Automatica 81, 2017). Their asynchronous,
// delayed results need at least the robustness of the synchronous case,
// and more for some threat models; check the statement for yours in the
// paper before relying on a constant. The safety argument changes with
// delays: a kept value lies in the range the normal values spanned over the
// last D rounds, so the invariant interval becomes the hull of
// [m(s), M(s)] over s = t−D … t, which still never grows.
//
// Neighbours are addressed by their in-neighbour index k (the position in
// g.In(v), which is also their position in the vals Round would build), so
// Values returns them in the order the tie convention of Update refers to.
// A DelayBuffer holds no clock: rounds are whatever the caller counts.
// It is not safe for concurrent use.
type DelayBuffer struct {
	val   []float64
	round []int
	have  []bool
}

// NewDelayBuffer returns an empty buffer for a node with the given
// in-degree.
func NewDelayBuffer(inDegree int) *DelayBuffer {
	if inDegree < 0 {
		panic(fmt.Sprintf("wmsr: NewDelayBuffer(%d)", inDegree))
	}
	return &DelayBuffer{
		val:   make([]float64, inDegree),
		round: make([]int, inDegree),
		have:  make([]bool, inDegree),
	}
}

// Len returns the in-degree the buffer was made for.
func (b *DelayBuffer) Len() int { return len(b.val) }

// Observe records that in-neighbour k sent value in round. Messages may
// arrive out of order: a value sent in an earlier round than the one held
// is ignored, since the rule uses the newest. A second value for the same
// round replaces the first (the sender is the one to blame for sending two;
// trimming bounds the damage either way). It panics if k is out of range.
func (b *DelayBuffer) Observe(k, round int, value float64) {
	if b.have[k] && round < b.round[k] {
		return
	}
	b.val[k], b.round[k], b.have[k] = value, round, true
}

// Values appends to buf[:0], in in-neighbour order, the held values usable
// at round now with delay bound D ≥ 0: those sent in rounds now−D through
// now. It returns them with the number of in-neighbours skipped (nothing
// received, too old, or stamped after now). It does not allocate when buf
// has capacity for Len values.
func (b *DelayBuffer) Values(now, D int, buf []float64) (vals []float64, omitted int) {
	vals = buf[:0]
	for k, v := range b.val {
		if b.have[k] && b.round[k] <= now && now-b.round[k] <= D {
			vals = append(vals, v)
		} else {
			omitted++
		}
	}
	return vals, omitted
}
