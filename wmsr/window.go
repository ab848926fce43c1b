package wmsr

import (
	"fmt"
	"slices"
)

// Window is the state of one node running SW-MSR, the sliding-window
// W-MSR of Saldaña, Prorok, Sundaram, Campos and Kumar ("Resilient
// consensus for time-varying networks of dynamic agents", ACC 2017). Mobile
// agents hear different neighbours from round to round, and no single
// round's graph need be robust; SW-MSR trims over every agent heard during
// the last T rounds instead, so that the condition falls on the union of
// the communication graphs over each window of T rounds (their
// (T, r)-robustness; r = 2F+1 for the F-local model — see the paper for
// the precise statement).
//
// The window keeps, per sender, only the newest value heard and its round.
// Keeping every message instead would let one adversary that spoke in T
// rounds contribute T values and outnumber the F removals on a side; with
// one value per sender the per-sender budget of W-MSR carries over.
//
// Senders are identified by a caller-chosen int (a node id); Values lists
// them in increasing id, so the tie convention of Update refers to a fixed
// order. A Window holds no clock and is not safe for concurrent use.
type Window struct {
	t    int
	from []int // sender ids, increasing
	val  []float64
	at   []int // round of val
}

// NewWindow returns an empty window of T ≥ 1 rounds (T = 1 is plain
// W-MSR on the current round's messages).
func NewWindow(T int) (*Window, error) {
	if T < 1 {
		return nil, fmt.Errorf("wmsr: SW-MSR window of %d rounds, want ≥ 1", T)
	}
	return &Window{t: T}, nil
}

// T returns the window length in rounds.
func (w *Window) T() int { return w.t }

// Observe records that sender sent value in round. An older value than the
// one held for that sender is ignored (messages may arrive out of order); a
// value for the same round replaces the held one. Memory grows with the
// number of distinct senders; Prune releases the ones out of the window.
func (w *Window) Observe(sender, round int, value float64) {
	k, found := slices.BinarySearch(w.from, sender)
	if found {
		if round >= w.at[k] {
			w.val[k], w.at[k] = value, round
		}
		return
	}
	w.from = slices.Insert(w.from, k, sender)
	w.val = slices.Insert(w.val, k, value)
	w.at = slices.Insert(w.at, k, round)
}

// inWindow reports whether a value sent in round r is usable at round now:
// sent in one of the T rounds now−T+1 … now.
func (w *Window) inWindow(r, now int) bool { return r <= now && now-r < w.t }

// Values appends to buf[:0] the newest value of every sender heard within
// the window ending at round now, in increasing sender id. It does not
// allocate when buf has the capacity.
func (w *Window) Values(now int, buf []float64) []float64 {
	vals := buf[:0]
	for k, r := range w.at {
		if w.inWindow(r, now) {
			vals = append(vals, w.val[k])
		}
	}
	return vals
}

// Senders appends to buf[:0] the ids of the senders Values(now) lists, in
// the same order.
func (w *Window) Senders(now int, buf []int) []int {
	ids := buf[:0]
	for k, r := range w.at {
		if w.inWindow(r, now) {
			ids = append(ids, w.from[k])
		}
	}
	return ids
}

// Prune forgets every sender whose newest value is too old to be used at
// round now or later.
func (w *Window) Prune(now int) {
	keep := 0
	for k, r := range w.at {
		if now-r < w.t {
			w.from[keep], w.val[keep], w.at[keep] = w.from[k], w.val[k], r
			keep++
		}
	}
	w.from, w.val, w.at = w.from[:keep], w.val[:keep], w.at[:keep]
}
