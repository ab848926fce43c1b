package topology

import (
	"context"
	"fmt"
	"runtime"

	"github.com/wmsr/wmsr/graph"
)

// Options tunes a computation. The zero value is ready to use.
type Options struct {
	// Workers is the number of goroutines a search uses; 0 means
	// runtime.GOMAXPROCS(0). Verdicts and exact values never depend on it;
	// which witness is found may.
	Workers int
	// Progress, if set, is called with the bounds proven so far before
	// every decision of MaxR, MaxS and the F-total, Byzantine and fraction
	// verdicts (Nodes 0), so each bound is reported as soon as it moves,
	// and about every 2^20 search nodes within a decision. It must be
	// cheap and safe for use from another goroutine.
	Progress func(Progress)
}

// Progress reports the state of a long computation.
type Progress struct {
	// Task is "r" (MaxR), "s" (MaxS), "total" or "byzantine" (the F of
	// those verdicts), or, with no bounds, "check" (Check, Tolerates) or
	// "fraction" (FractionVerdict: p* is a fraction).
	Task         string
	Lower, Upper int   // proven bounds on the value being computed
	Nodes        int64 // search nodes explored by the current decision
}

func (o Options) workers() int {
	if o.Workers > 0 {
		return o.Workers
	}
	return runtime.GOMAXPROCS(0)
}

func (o Options) report(task string, lo, hi int, nodes int64) {
	if o.Progress != nil {
		o.Progress(Progress{Task: task, Lower: lo, Upper: hi, Nodes: nodes})
	}
}

// firstLimit is the node budget of the first round of decisions. Most exact
// answers need far fewer nodes; a decision that needs more is restarted
// with four times the budget after the opposite bound has had a turn, which
// is what makes the bounds tighten while a hard instance runs (the restarts
// cost at most a third more work on the decisive proof).
const firstLimit = 1 << 23

// nodeScale is how many times more a search node costs on n nodes than on
// a graph of at most 128: its peels visit n nodes over ⌈n/64⌉ words (3 ms
// a node on 4 000 nodes, about 1 µs on 64). MaxR and MaxS divide their
// node budgets by it and the engine its reporting interval, so that they
// keep their meaning in time: with the budgets of small graphs MaxR spent
// minutes on 4 000 nodes in its first bottom-up proof, its upper bound
// where the first top-down step left it and no progress shown.
func nodeScale(n int) int64 {
	if n <= 128 {
		return 1
	}
	return int64(n) * int64((n+63)/64) / 64
}

// scaled divides a node budget by nodeScale(n), to no less than least.
func scaled(budget int64, n int, least int64) int64 {
	return max(budget/nodeScale(n), least)
}

// quickLimit is the node budget of the decisions maxS runs before it
// spends time on incumbents.
const quickLimit = 1 << 13

// lowCutEffort is the number of restarts of lowCutPair before a top-down
// step of MaxR falls back to a full decision.
const lowCutEffort = 8

// RResult is the answer to MaxR.
type RResult struct {
	// R is ρ(D), the largest r for which D is r-robust, when Exact; else
	// Lower. ρ is 0 when D is not even 1-robust, and is reported as 1 for
	// the one-node graph, which is vacuously r-robust for every r.
	R            int
	Lower, Upper int
	Exact        bool
	// Witness shows D is not (Upper+1)-robust: no node of either set has
	// more than Upper in-neighbours outside its set. Nil when n = 1.
	Witness *Pair
	Nodes   int64
}

// needs returns t_i = d_i − r + 1 for every node: a node of S is stuck (not
// r-reachable) iff it has at least t_i in-neighbours inside S.
func needs(g *graph.Digraph, r int) []int32 {
	t := make([]int32, g.N())
	for v := range t {
		t[v] = int32(g.InDegree(v) - r + 1)
	}
	return t
}

// trivialPairs returns the two pairs behind the cheap upper bound
// ρ ≤ min(max(δ_min, 1), ⌈n/2⌉): a node of least in-degree against the
// rest (no node of the rest has more than one in-neighbour outside it), and
// an even split (no node can have more than ⌈n/2⌉ in-neighbours across).
func trivialPairs(g *graph.Digraph) []Pair {
	n := g.N()
	if n < 2 {
		return nil
	}
	v0 := 0
	for v := 1; v < n; v++ {
		if g.InDegree(v) < g.InDegree(v0) {
			v0 = v
		}
	}
	var rest, a, b []int
	for v := 0; v < n; v++ {
		if v != v0 {
			rest = append(rest, v)
		}
		if v < (n+1)/2 {
			a = append(a, v)
		} else {
			b = append(b, v)
		}
	}
	return []Pair{{S1: []int{v0}, S2: rest}, {S1: a, S2: b}}
}

func pairFrom(o outcome) *Pair {
	return &Pair{S1: o.s1, S2: o.s2, Removed: o.removed}
}

// MaxR computes ρ(D), the largest r for which g is r-robust (LeBlanc et al.
// 2013, Sec. IV), with a witness that ρ+1 fails. When ctx ends first it
// returns proven bounds Lower ≤ ρ ≤ Upper, Exact false; the Upper witness
// is always valid.
func MaxR(ctx context.Context, g *graph.Digraph, opt Options) (RResult, error) {
	return maxR(ctx, g, opt, quickLimit, true)
}

// maxR is MaxR with the budget of the first try of each top-down step
// (the tests make it tiny to drive every step through lowCutPair) and
// with or without the spectral split (without, a test drives the
// top-down steps on a graph where the split alone gives its bound).
func maxR(ctx context.Context, g *graph.Digraph, opt Options, quick int64, spectral bool) (RResult, error) {
	n := g.N()
	if n == 1 {
		return RResult{R: 1, Lower: 1, Upper: 1, Exact: true}, nil
	}
	res := RResult{Upper: n}
	for _, p := range trivialPairs(g) {
		if m := MaxOut(g, p); m < res.Upper {
			res.Upper, res.Witness = m, &p
		}
	}
	// δ_min ≥ ⌊n/2⌋ + r − 1 ⇒ r-robust (Lemma 6).
	res.Lower = max(0, min(res.Upper, g.MinInDegree()-n/2+1))
	// r = 1 in linear time, at any size (Lemma 17).
	if p := sourcePair(g); p != nil {
		res.Lower, res.Upper, res.Witness = 0, 0, p
		return finishR(res), nil
	}
	res.Lower = max(res.Lower, 1)
	// The spectral split as one more cheap pair, where a search node is
	// dear (nodeScale > 1): on squads joined by a few links it is the
	// pair of ρ, which the top-down decisions reach only step by step
	// (three squads of 1 300 nodes: 1.4 s). On small graphs its 200
	// rounds would cost about as much as the whole search.
	if spectral && nodeScale(n) > 1 && res.Lower < res.Upper {
		if p := spectralPair(g); p != nil {
			if m := MaxOut(g, *p); m < res.Upper {
				res.Upper, res.Witness = m, p
			}
		}
	}
	if n > maxEngineNodes {
		return walkR(ctx, g, res, opt), nil
	}
	limit, quick := scaled(firstLimit, n, 1<<10), scaled(quick, n, 1<<4)
	// Top down (each failing decision hands over a pair with a smaller
	// largest |N_i \ S_k|) interleaved with bottom up (proofs at small r
	// are cheap), so that both bounds move while a hard instance runs. A
	// decision that ran out of budget is not retried at the same budget;
	// the budget grows once both directions are stuck.
	stuckTop, stuckBottom := -1, -1 // the r each direction is stuck at
	searched := -1                  // the r lowCutPair was last tried at
	// topWaits: the top-down step outgrew its quick try and the walk, so
	// its full decision waits while the bottom-up proofs stay cheap
	// (under quick nodes each). Every proof below ρ is needed either way,
	// so this only reorders work, and a hard top step no longer holds the
	// lower bound where it was: on directed ER p = 0.5, n = 60 the top
	// step at r = 16 ran out its first budget of 8 M nodes (8 s) while
	// the lower bound sat at 4 and the proofs of 5..13 needed 2 k nodes
	// or fewer each.
	topWaits := false
	for res.Lower < res.Upper && ctx.Err() == nil {
		progressed, waited := false, false
		for i, r := range []int{res.Upper, res.Lower + 1} {
			if r <= res.Lower || r > res.Upper || r == stuckTop || r == stuckBottom || ctx.Err() != nil {
				continue
			}
			if i == 0 && topWaits && r > res.Lower+1 {
				waited = true
				continue
			}
			// Before every decision, so that a long one (seconds on a
			// dense graph) never shows the bounds of a round ago.
			opt.report("r", res.Lower, res.Upper, 0)
			lim := limit
			if r == res.Upper && r != searched {
				// A first, small try: most top-down steps find their pair
				// in a few thousand nodes.
				lim = min(limit, quick)
			}
			// ownShare: Lemma 15 of doc.go.
			o := decide(ctx, &instance{g: g, t: needs(g, r), ownShare: true}, opt.workers(), lim, progressFn(opt, "r", res.Lower, res.Upper))
			res.Nodes += o.nodes
			if !o.found && !o.complete && o.limited && lim < limit {
				// Then a local search for a pair with no node more than
				// r−1 in-neighbours across (lowCutPair), and only then the
				// full decision.
				searched = r
				if p := lowCutPair(ctx, g, needs(g, r), starts(g, res.Witness), lowCutEffort); p != nil {
					if m := MaxOut(g, *p); m < r {
						res.Upper, res.Witness = m, p
						progressed = true
						continue
					}
				}
				if i == 0 && r > res.Lower+1 {
					topWaits = true
					continue
				}
				opt.report("r", res.Lower, res.Upper, 0)
				o = decide(ctx, &instance{g: g, t: needs(g, r), ownShare: true}, opt.workers(), limit, progressFn(opt, "r", res.Lower, res.Upper))
				res.Nodes += o.nodes
			}
			if i == 1 && (!o.complete || o.nodes >= quick) {
				topWaits = false
			}
			switch {
			case o.found:
				p := pairFrom(o)
				res.Upper, res.Witness = MaxOut(g, *p), p
				progressed = true
			case o.complete:
				res.Lower = r
				progressed = true
			case o.limited && r == res.Upper:
				stuckTop = r
			case o.limited:
				stuckBottom = r
			}
			if res.Lower >= res.Upper {
				break
			}
		}
		if !progressed && !waited {
			limit *= 4
			stuckTop, stuckBottom = -1, -1
		}
	}
	return finishR(res), nil
}

// walkR tightens MaxR's upper bound on a graph too large for the engine,
// top down with lowCutPair alone: each pair it finds with every node at
// most r−1 in-neighbours across shows ρ < r. Only Lemmas 6 and 17 prove
// lower bounds there, so the answer is exact only where one meets an upper
// bound (a 1-robust graph with a node of in-degree 1, or a pair the walk
// finds with one in-neighbour across, which from random splits it often
// missed; on squads joined by few links maxR's spectral split is such a
// pair: TestLargeGraphWalk, TestLargeGraphClusters). The walk doubles its
// restarts after each failure and stops at maxWalkEffort, or when ctx
// ends: without a deadline it must end by itself.
func walkR(ctx context.Context, g *graph.Digraph, res RResult, opt Options) RResult {
	walkDown(ctx, g, func() bool { return res.Lower < res.Upper }, func(effort int) bool {
		opt.report("r", res.Lower, res.Upper, 0)
		r := res.Upper
		if p := lowCutPair(ctx, g, needs(g, r), starts(g, res.Witness), effort); p != nil {
			if m := MaxOut(g, *p); m < r {
				res.Upper, res.Witness = m, p
				return true
			}
		}
		return false
	})
	return finishR(res)
}

// walkDown is the walk's schedule past the engine's size: while open()
// holds, step(effort) tries to lower a bound with that many restarts;
// after a step that fails the restarts double, up to maxWalkEffort, and
// the schedule ends there, when ctx ends, or at once if a restart would
// cost more than walkWork (walkCheap).
func walkDown(ctx context.Context, g *graph.Digraph, open func() bool, step func(effort int) bool) {
	if !walkCheap(g) {
		return
	}
	for effort := 1; open() && effort <= maxWalkEffort && ctx.Err() == nil; {
		if !step(effort) {
			effort *= 2
		}
	}
}

// maxWalkEffort bounds the walk's restarts per step past the engine's
// size (walkR, the fraction verdict, walkCheck). 16 gave the same bounds
// on the graphs of TestLargeGraphWalk and BENCHMARKS.md in 4× the time.
const maxWalkEffort = 4

// walkCheap reports whether one restart of lowCutPair on g, walkSteps·n
// steps of about d̄² in-neighbour visits each (a node's moves, each
// weighed over its out-neighbours), stays within walkWork; past it (a
// dense graph of thousands of nodes: 8·10⁹ on 5 000 nodes of in-degree
// 200, minutes per restart) the walk is not tried and the bounds stay
// those of the lemmas.
func walkCheap(g *graph.Digraph) bool {
	d := float64(g.M()) / float64(max(g.N(), 1))
	return walkSteps*float64(g.N())*d*d <= walkWork
}

const walkWork = 2e8

func finishR(res RResult) RResult {
	res.Exact = res.Lower == res.Upper
	res.R = res.Lower
	return res
}

func progressFn(opt Options, task string, lo, hi int) func(int64) {
	if opt.Progress == nil {
		return nil
	}
	return func(nodes int64) { opt.report(task, lo, hi, nodes) }
}

// SResult is the answer to MaxS.
type SResult struct {
	R int
	// S is the largest s for which D is (R,s)-robust when Exact, else
	// Lower. It is n when no pair has both sets short of fully
	// R-reachable, in which case D is (R,s)-robust for every s.
	S            int
	Lower, Upper int
	Exact        bool
	// Witness has |X1|+|X2| = Upper with neither set fully R-reachable:
	// it shows D is not (R, Upper+1)-robust. Nil when Upper = n.
	Witness *Pair
	Nodes   int64
}

// MaxS computes the largest s for which g is (r,s)-robust (LeBlanc et al.
// 2013, Sec. IV), r ≥ 1, with a witness that s+1 fails. On ctx's end it
// returns proven bounds.
func MaxS(ctx context.Context, g *graph.Digraph, r int, opt Options) (SResult, error) {
	if r < 1 {
		return SResult{}, fmt.Errorf("topology: r = %d, want r ≥ 1", r)
	}
	lower := 0
	if r == 1 && g.N() > 1 {
		// s*(1) ≥ 1 is 1-robustness: Lemma 17 decides it at any size.
		if p := sourcePair(g); p != nil {
			return SResult{R: 1, Exact: true, Witness: p}, nil
		}
		lower = 1
	}
	return maxS(ctx, g, r, lower, nil, opt, "s"), nil
}

// MaxSAt is MaxS at the proven r of a MaxR answer (its Lower), reusing
// what MaxR proved: D is r-robust there, so no pair has |X1|+|X2| = 0 and
// s ≥ 1, and its witness is a first incumbent. For r = 0 (D not 1-robust)
// it returns S = 0.
func MaxSAt(ctx context.Context, g *graph.Digraph, rr RResult, opt Options) SResult {
	r := rr.Lower
	if r < 1 {
		return SResult{Exact: true}
	}
	return maxS(ctx, g, r, 1, []*Pair{rr.Witness}, opt, "s")
}

// maxS is MaxS with a proven lower bound and candidate pairs.
func maxS(ctx context.Context, g *graph.Digraph, r, lower int, hints []*Pair, opt Options, task string) SResult {
	return maxSQuick(ctx, g, r, lower, hints, opt, task, quickLimit)
}

// maxSQuick is maxS with the budget of the decisions run before the
// incumbents are computed (the tests make it tiny).
func maxSQuick(ctx context.Context, g *graph.Digraph, r, lower int, hints []*Pair, opt Options, task string, quick int64) SResult {
	n := g.N()
	res := SResult{R: r, Lower: max(lower, 0), Upper: n}
	// δ_min ≥ ⌊n/2⌋ + r − 1 ⇒ (r,s)-robust for every s (Lemma 6).
	if n == 1 || g.MinInDegree() >= n/2+r-1 {
		res.Lower = n
		return finishS(res)
	}
	consider := func(p *Pair) {
		if p == nil {
			return
		}
		if c, ok := Cost(g, *p, r); ok && c < res.Upper {
			q := *p
			q.Removed = nil
			res.Upper, res.Witness = c, &q
		}
	}
	for _, p := range trivialPairs(g) {
		hints = append(hints, &p)
	}
	for _, p := range hints {
		consider(p)
	}
	// The star pairs even when ctx has ended (MaxR took the time): one
	// scan, and the upper bound of s often rests on them (directed ER
	// p = 0.5, n = 80, 15 s: s ≤ 9 with them, ≤ 13 without).
	if p, _ := bestStarPair(context.WithoutCancel(ctx), g, r); p != nil {
		consider(p)
	}
	res.Lower = min(res.Lower, res.Upper)
	if n > maxEngineNodes {
		for _, p := range incumbents(g, r, hints, res.Lower) {
			consider(p)
		}
		return finishS(res)
	}
	t := needs(g, r)
	limit, quick := scaled(firstLimit, n, 1<<10), scaled(quick, n, 1<<4)
	// The local search for incumbents costs a millisecond or so; on the
	// many graphs where the decisions settle s in a few thousand nodes it
	// is not worth it, so the first decisions run on a small budget and
	// the incumbents are computed only when one of them stalls.
	polished := false
	// Bottom up first: at ρ the largest s is usually 1 to 3, and a search
	// with a small budget prunes far harder than one with a large budget,
	// so proving "no pair of cost ≤ Lower" (or finding one) is the cheap
	// direction. Top down only when that stalls.
	for res.Lower < res.Upper && ctx.Err() == nil {
		opt.report(task, res.Lower, res.Upper, 0)
		c := res.Lower
		if polished && res.Upper-res.Lower == 2 && c+1 <= maxSplit {
			// On an instance that outgrew the quick budget, one decision
			// settles both remaining values when it refutes (measured:
			// 12 % of the s nodes on k-in graphs of 64 nodes); when it
			// finds a pair the bound drops and the next is the last.
			// Not past maxSplit: there the larger budget loses the split
			// runs, and the shared search is far slower (k-in k = 8,
			// n = 64: c = 3 is refuted by split runs in 27 s on one
			// worker, c = 4 shared was not in 60 s, so s stayed [3, 5]).
			c++
		}
		lim := limit
		if !polished {
			lim = quick
		}
		o := decideS(ctx, g, t, c, planAuto, true, opt.workers(), lim, progressFn(opt, task, res.Lower, res.Upper))
		res.Nodes += o.nodes
		if o.found {
			consider(pairFrom(o))
			continue
		}
		if o.complete {
			res.Lower = c + 1
			continue
		}
		if !o.limited {
			break
		}
		if !polished {
			polished = true
			for _, p := range incumbents(g, r, hints, res.Lower) {
				consider(p)
			}
			continue
		}
		if c = min(res.Upper-1, n-2); c > res.Lower {
			opt.report(task, res.Lower, res.Upper, 0)
			o = decideS(ctx, g, t, c, planAuto, true, opt.workers(), limit, progressFn(opt, task, res.Lower, res.Upper))
			res.Nodes += o.nodes
			if o.found {
				consider(pairFrom(o))
				continue
			}
			if o.complete {
				res.Lower = res.Upper
				break
			}
		}
		limit *= 4
	}
	return finishS(res)
}

func finishS(res SResult) SResult {
	res.Exact = res.Lower >= res.Upper
	if res.Exact {
		res.Lower = res.Upper
	}
	res.S = res.Lower
	return res
}

// CheckResult is the answer to Check.
type CheckResult struct {
	Holds   bool  // D is (r,s)-robust; meaningful when Decided
	Decided bool  // false when ctx ended first, or past MaxExactNodes with no certificate
	Witness *Pair // when !Holds: a pair violating (r,s)-robustness
	Nodes   int64
}

// Check decides whether g is (r,s)-robust, r, s ≥ 1, stopping at the first
// violating pair it meets. Past MaxExactNodes nodes it answers from
// certificates and, for s = 1, the walk; what they do not settle is
// returned undecided.
func Check(ctx context.Context, g *graph.Digraph, r, s int, opt Options) (CheckResult, error) {
	if r < 1 || s < 1 {
		return CheckResult{}, fmt.Errorf("topology: (r,s) = (%d,%d), want r, s ≥ 1", r, s)
	}
	return checkWith(ctx, g, r, s, true, opt.workers(), 0, progressFn(opt, "check", 0, 0)), nil
}

// checkWith is Check and the threat verdicts' check: certificates, then
// the walk past the engine's size, else the search with the given
// canonical-path rules (wlog), workers and node limit.
func checkWith(ctx context.Context, g *graph.Digraph, r, s int, wlog bool, workers int, limit int64, progress func(int64)) CheckResult {
	if res, ok := certify(ctx, g, r, s); ok {
		return res
	}
	n := g.N()
	if n > maxEngineNodes {
		return walkCheck(ctx, g, r, s)
	}
	o := decideS(ctx, g, needs(g, r), min(s-1, n-2), planAuto, wlog, workers, limit, progress)
	res := CheckResult{Decided: o.complete, Holds: o.complete && !o.found, Nodes: o.nodes}
	if o.found {
		res.Witness = pairFrom(o)
	}
	return res
}

// certify settles (r,s) without a search where a certificate does, at any
// size: Lemma 6 (holds), Lemma 17 (r = s = 1), and the pairs of Lemma 7
// and the cheapest star pair (fails when one costs less than s; the star
// pairs are tried only until ctx ends).
func certify(ctx context.Context, g *graph.Digraph, r, s int) (CheckResult, bool) {
	n := g.N()
	if n == 1 || g.MinInDegree() >= n/2+r-1 {
		return CheckResult{Holds: true, Decided: true}, true
	}
	if r == 1 && s == 1 {
		p := sourcePair(g)
		return CheckResult{Holds: p == nil, Decided: true, Witness: p}, true
	}
	for _, p := range trivialPairs(g) {
		if c, ok := Cost(g, p, r); ok && c < s {
			return CheckResult{Decided: true, Witness: &p}, true
		}
	}
	if p, c := bestStarPair(ctx, g, r); p != nil && c < s {
		return CheckResult{Decided: true, Witness: p}, true
	}
	return CheckResult{}, false
}

// walkCheck is Check past the engine's limit, after certify: for s = 1 the
// walk may find a violating pair (as in walkR); nothing here proves that
// one holds.
func walkCheck(ctx context.Context, g *graph.Digraph, r, s int) CheckResult {
	if s == 1 && walkCheap(g) {
		if p := lowCutPair(ctx, g, needs(g, r), []*Pair{spectralPair(g)}, maxWalkEffort); p != nil && MaxOut(g, *p) < r {
			return CheckResult{Decided: true, Witness: p}
		}
	}
	return CheckResult{}
}
