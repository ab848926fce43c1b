package topology

import (
	"context"
	"math/bits"
	"sync"
	"sync/atomic"

	"github.com/wmsr/wmsr/graph"
)

// The engine decides one question of the form
//
//	is there a pair of disjoint sets S1, S2, each containing at least one
//	"stuck" node, with at most c "exempt" nodes in total?
//
// A node i of a set S is stuck when it has at least t_i in-neighbours inside
// S (equivalently fewer than r_i = d_i − t_i + 1 outside: i ∉ X_S^{r_i} in
// the notation of LeBlanc et al. 2013), and exempt otherwise. With
// t_i = d_i − r + 1 and c = 0 this is the negation of r-robustness; with
// c = s − 1 the negation of (r,s)-robustness; with
// per-node t_i it covers p-fraction robustness; and with exempt nodes that
// leave the graph instead of joining a set (sharedHelpers) it asks whether
// removing at most c nodes destroys r-robustness, the Byzantine condition.
//
// The search is the percolation argument of doc.go turned into branch and
// bound. Write A_k for the stuck nodes of S_k and H_k for its exempt ones
// ("helpers": they need nothing, they only count as inside for A_k).
//
//   - Symmetry: let a be the first stuck node of S1 ∪ S2 in a fixed order;
//     swapping the sets puts a in A1, and every stuck node lies in the
//     suffix U_a of the order. Each a is one top-level task.
//   - S1 is grown from a: a stuck node with a deficit picks one in-neighbour
//     u and branches u ∈ A1, u ∈ H1 (or u removed, Byzantine), u ∉ S1.
//     When no budget is left for helpers, the set P of nodes that may still
//     join S1 is peeled to its core (Lemma 1) and a node whose slack
//     |N_v ∩ P| − t_v is zero forces all its candidates in.
//   - S2 is never enumerated while S1 grows. Its stuck part must lie in Q,
//     the largest subset of U_a \ S1 in which every node can still reach its
//     threshold counting at most the remaining budget of helpers (Lemma 2:
//     with no helpers Q is the core of U_a \ S1, the complement of the
//     bootstrap-percolation closure of S1). Q is further peeled by the
//     pairing rule (Lemma 3): a stuck node v of S1 with slack s_v can afford
//     to lose at most s_v of its candidate in-neighbours C_v to S2, so a node
//     w of S2 finds at most s_v of its support inside C_v. Q empty prunes.
//   - When every stuck node of S1 is satisfied, S1 is final; S2 exists with
//     k more helpers iff some set H of at most k nodes, made immune, stops
//     the percolation from S1 short of U_a. That is searched by branching on
//     the first node of H in the percolation sequence (Lemma 4).
//
// The lemmas are proved in doc.go.

// helperMode says what an exempt node is.
type helperMode uint8

const (
	// sideHelpers: an exempt node is a member of its set, inside for that
	// set's nodes and outside for the other's ((r,s)-robustness).
	sideHelpers helperMode = iota
	// sharedHelpers: an exempt node is removed from the graph and is inside
	// for everyone (the Byzantine condition: the normal network D − B).
	sharedHelpers
)

// instance is one decision question, independent of the set width.
type instance struct {
	g      *graph.Digraph
	t      []int32 // need: a node of S is stuck iff |N_i ∩ S| ≥ t_i
	budget int     // c: most exempt nodes allowed
	mode   helperMode
}

// outcome of a decision.
type outcome struct {
	found    bool // a pair exists (the property fails)
	complete bool // the search finished (false on cancellation)
	s1, s2   []int
	removed  []int // sharedHelpers: the removed nodes
	nodes    int64
	limited  bool // stopped by the node limit
}

// state is one node of the search tree. It is a value: children copy it.
type state[S bitset] struct {
	U     S // nodes that may be stuck (in either set)
	IA    S // stuck members of S1
	IH    S // exempt members of S1 (sideHelpers)
	B     S // removed nodes (sharedHelpers)
	P     S // nodes not yet excluded from S1 (or from B); ⊇ IA ∪ IH ∪ B
	Q     S // candidates for the stuck part of S2
	spent int
	lb2   int // lower bound on the exempt nodes S2 still needs (0 or 1)
}

type engine[S bitset] struct {
	n        int
	in       []S // in-neighbour sets
	out      []S // out-neighbour sets
	t        []int32
	budget   int
	mode     helperMode
	all      S
	order    []int // anchor order
	workers  int
	progress func(nodes int64)
	limit    int64 // stop after about this many search nodes (0: none)
	limitHit atomic.Bool

	stop   atomic.Bool
	nodes  atomic.Int64
	ctx    context.Context
	result struct {
		sync.Mutex
		found          bool
		s1, s2, remove S
	}

	// task queue with donation.
	qmu     sync.Mutex
	qcond   *sync.Cond
	tasks   []task[S]
	busy    int
	idle    atomic.Int32
	nextAnc int
}

type task[S bitset] struct {
	anchor int // index into order, or -1 for a donated state
	st     state[S]
}

func newEngine[S bitset](inst *instance) *engine[S] {
	g := inst.g
	n := g.N()
	e := &engine[S]{n: n, in: make([]S, n), out: make([]S, n), t: inst.t, budget: inst.budget, mode: inst.mode}
	for v := 0; v < n; v++ {
		for _, u := range g.In(v) {
			e.in[v] = with(e.in[v], int(u))
			e.out[u] = with(e.out[u], v)
		}
		e.all = with(e.all, v)
	}
	return e
}

// gcore returns the largest X ⊆ cand in which every node w satisfies
// |N_w ∩ X| + |N_w ∩ fixed| + min(k, |N_w ∩ fut \ X|) ≥ t_w: the nodes that
// can be stuck when the members of fixed count as inside and at most k more
// of fut may be added as helpers. With k = 0 and fixed empty it is the
// plain core of Lemma 1. If seq is not nil the removed nodes are appended
// in removal order, which is a valid percolation order.
func (e *engine[S]) gcore(cand, fixed, fut S, k int, seq *[]int) S {
	X := cand
	check := cand
	hasFixed := !isEmpty(fixed)
	for !isEmpty(check) {
		var removed S
		for wi := range len(check) {
			for x := check[wi] & X[wi]; x != 0; x &= x - 1 {
				w := wi*64 + bits.TrailingZeros64(x)
				need := int(e.t[w])
				if need <= 0 {
					continue
				}
				in := e.in[w]
				c := andCount(in, X)
				if c >= need {
					continue
				}
				if hasFixed {
					c += andCount(in, fixed)
				}
				if k > 0 && c < need {
					c += min(k, andCount(in, andNot(fut, X)))
				}
				if c < need {
					X = without(X, w)
					removed = with(removed, w)
					if seq != nil {
						*seq = append(*seq, w)
					}
				}
			}
		}
		check = e.outOf(removed, X)
	}
	return X
}

// outOf returns the out-neighbours of the nodes of a that lie in within.
func (e *engine[S]) outOf(a, within S) S {
	var r S
	for wi := range len(a) {
		for x := a[wi]; x != 0; x &= x - 1 {
			r = or(r, e.out[wi*64+bits.TrailingZeros64(x)])
		}
	}
	return and(r, within)
}

// support returns the set that counts as inside for the stuck nodes of S1.
func (st *state[S]) support() S { return or(or(st.IA, st.IH), st.B) }

// pairing is one constraint of Lemma 3: S2 holds at most s nodes of c.
type pairing[S bitset] struct {
	c S
	s int
}

// maxPairings bounds the constraints kept per search node; the tightest
// (least slack) are kept.
const maxPairings = 16

// refineQ shrinks st.Q to the candidates for the stuck part of S2 that are
// consistent with st (Lemmas 2 and 3) and sets st.lb2. It reports false if
// S2 has become impossible within the budget.
func (e *engine[S]) refineQ(st *state[S], cons []pairing[S]) bool {
	k := e.budget - st.spent
	I := or(st.IA, st.IH)
	Q := andNot(andNot(st.Q, I), st.B)
	var fut S
	if e.mode == sideHelpers {
		fut = andNot(e.all, I)
	} else {
		fut = andNot(andNot(st.P, st.IA), st.B)
	}
	// No node can lose more than maxExcess to a constraint.
	maxExcess := 0
	for _, c := range cons {
		maxExcess = max(maxExcess, andCount(c.c, Q)-c.s)
	}
	peel := func(Q S, k int) S {
		// Only a node that lost an in-neighbour from Q can newly fail: the
		// constraints are fixed here and the helper terms only grow.
		check := Q
		for !isEmpty(check) {
			var removed S
			for wi := range len(check) {
				for x := check[wi] & Q[wi]; x != 0; x &= x - 1 {
					w := wi*64 + bits.TrailingZeros64(x)
					need := int(e.t[w])
					if need <= 0 {
						continue
					}
					nq := and(e.in[w], Q)
					cq := count(nq)
					base := 0
					if e.mode == sharedHelpers {
						base = andCount(e.in[w], st.B)
						if k > 0 {
							base += min(k, andCount(e.in[w], fut))
						}
					} else if k > 0 {
						base = min(k, andCount(e.in[w], andNot(fut, Q)))
					}
					drop := cq+base < need
					// w survives constraint j unless more than s_j of its
					// support lies in C_j and the rest cannot make up.
					room := cq + base - need
					if room >= maxExcess {
						continue
					}
					for j := 0; j < len(cons) && !drop; j++ {
						if cj := andCount(nq, cons[j].c); cj-cons[j].s > room {
							drop = true
						}
					}
					if drop {
						Q = without(Q, w)
						removed = with(removed, w)
					}
				}
			}
			check = e.outOf(removed, Q)
		}
		return Q
	}
	Q = peel(Q, k)
	st.Q = Q
	if isEmpty(Q) {
		return false
	}
	st.lb2 = 0
	if k > 0 && isEmpty(peel(Q, 0)) {
		st.lb2 = 1
	}
	return st.spent+st.lb2 <= e.budget
}

type worker[S bitset] struct {
	e     *engine[S]
	nodes int64
	id    int
	cons  []pairing[S]
}

func (w *worker[S]) tick() bool {
	w.nodes++
	if w.nodes&1023 == 0 {
		e := w.e
		total := e.nodes.Add(1024)
		if e.limit > 0 && total > e.limit {
			e.limitHit.Store(true)
			e.stop.Store(true)
		}
		if e.ctx != nil {
			select {
			case <-e.ctx.Done():
				e.stop.Store(true)
			default:
			}
		}
		if w.id == 0 && e.progress != nil && total&(1<<20-1) < 1024*int64(e.workers) {
			e.progress(total)
		}
	}
	return w.e.stop.Load()
}

// search explores the subtree of st; it returns true when the search must
// end (a pair was found or the context was cancelled).
func (w *worker[S]) search(st state[S], depth int) bool {
	e := w.e
	cons := make([]pairing[S], 0, maxPairings)
	for {
		if w.tick() {
			return true
		}
		// k1: helpers S1 may still take, after what S2 surely needs (a
		// removed node helps both sets, so then nothing is set aside).
		k1 := e.budget - st.spent
		if e.mode == sideHelpers {
			k1 = max(k1-st.lb2, 0)
		}
		sup := st.support()
		free := andNot(st.P, sup)
		// capable: undecided nodes that can still be stuck in S1, counting
		// at most k1 helpers among the rest (Lemma 1 generalized).
		capable := e.gcore(and(free, st.U), sup, free, k1, nil)
		if k1 == 0 {
			st.P = or(sup, capable)
		}
		helpersOnly := andNot(free, capable)
		bestV, bestSlack, bestDef := -1, 1<<30, 0
		var forced S
		cons = cons[:0]
		for wi := range len(st.IA) {
			for x := st.IA[wi]; x != 0; x &= x - 1 {
				v := wi*64 + bits.TrailingZeros64(x)
				cur := andCount(e.in[v], sup)
				if cur >= int(e.t[v]) {
					continue
				}
				c := and(e.in[v], capable)
				pot := cur + count(c)
				if k1 > 0 {
					pot += min(k1, andCount(e.in[v], helpersOnly))
				}
				slack := pot - int(e.t[v])
				if slack < 0 {
					return false
				}
				if count(c) > slack {
					// Lemma 3: losing any s+1 of c to S2 starves v.
					p := pairing[S]{c, slack}
					if len(cons) < maxPairings {
						cons = append(cons, p)
					} else {
						worst := 0
						for j := range cons {
							if cons[j].s > cons[worst].s {
								worst = j
							}
						}
						if slack < cons[worst].s {
							cons[worst] = p
						}
					}
				}
				if slack == 0 && k1 == 0 {
					forced = or(forced, c)
					continue
				}
				def := int(e.t[v]) - cur
				if slack < bestSlack || (slack == bestSlack && def > bestDef) {
					bestV, bestSlack, bestDef = v, slack, def
				}
			}
		}
		if !e.refineQ(&st, cons) {
			return false
		}
		if !isEmpty(forced) {
			st.IA = or(st.IA, forced)
			continue
		}
		if bestV < 0 {
			return w.leaf(&st)
		}
		cand := andNot(and(e.in[bestV], st.P), sup)
		// Branch on the candidate with the largest own deficit: including it
		// creates the most new demand, so contradictions surface early.
		u, best := -1, -1<<30
		for wi := range len(cand) {
			for x := cand[wi]; x != 0; x &= x - 1 {
				c := wi*64 + bits.TrailingZeros64(x)
				d := int(e.t[c]) - andCount(e.in[c], sup)
				if !has(capable, c) {
					d -= 1 << 20 // helpers only: try stuck candidates first
				}
				if d > best {
					best, u = d, c
				}
			}
		}
		// u stuck in S1.
		if has(capable, u) {
			ch := st
			ch.IA = with(ch.IA, u)
			if w.search(ch, depth+1) {
				return true
			}
		}
		// u exempt: in S1, or removed.
		if k1 >= 1 {
			ch := st
			if e.mode == sideHelpers {
				ch.IH = with(ch.IH, u)
			} else {
				ch.B = with(ch.B, u)
			}
			ch.spent++
			if w.search(ch, depth+1) {
				return true
			}
		}
		// u outside S1 (and not removed).
		st.P = without(st.P, u)
		if depth < 24 && e.idle.Load() > 0 && e.donate(st) {
			return false
		}
	}
}

// leaf: every stuck node of S1 is satisfied, so S1 = IA ∪ IH is final.
// Search for S2 with the remaining budget (Lemma 4).
func (w *worker[S]) leaf(st *state[S]) bool {
	var H, forb S
	return w.blockers(st, H, forb, w.e.budget-st.spent)
}

func (w *worker[S]) blockers(st *state[S], H, forb S, k int) bool {
	en := w.e
	if w.tick() {
		return true
	}
	I := or(st.IA, st.IH)
	fixed := H
	if en.mode == sharedHelpers {
		fixed = or(fixed, st.B)
	}
	cand := andNot(andNot(andNot(st.U, I), st.B), H)
	var seq []int
	if k > 0 {
		seq = make([]int, 0, 64)
	}
	var none S
	X := en.gcore(cand, fixed, none, 0, &seq)
	if !isEmpty(X) {
		w.record(st, X, H)
		return true
	}
	if k == 0 {
		return false
	}
	var fut S
	if en.mode == sideHelpers {
		fut = andNot(en.all, I)
	} else {
		fut = andNot(andNot(st.P, st.IA), st.B)
	}
	fut = andNot(andNot(fut, H), forb)
	// The survivors of any completion lie in the k-relaxed core; a minimal
	// blocker set only holds in-neighbours of survivors.
	Xk := en.gcore(cand, fixed, fut, k, nil)
	if isEmpty(Xk) {
		return false
	}
	var useful S
	for wi := range len(Xk) {
		for x := Xk[wi]; x != 0; x &= x - 1 {
			useful = or(useful, en.in[wi*64+bits.TrailingZeros64(x)])
		}
	}
	// Sequence: helpers-only nodes (outside U) first, then percolation order.
	order := members(nil, andNot(fut, cand))
	order = append(order, seq...)
	f := forb
	for _, x := range order {
		if has(fut, x) && has(useful, x) && !has(f, x) {
			if w.blockers(st, with(H, x), f, k-1) {
				return true
			}
		}
		f = with(f, x)
	}
	return false
}

func (w *worker[S]) record(st *state[S], X, H S) {
	en := w.e
	en.result.Lock()
	defer en.result.Unlock()
	if en.result.found {
		return
	}
	en.result.found = true
	en.result.s1 = or(st.IA, st.IH)
	if en.mode == sideHelpers {
		en.result.s2 = or(X, H)
	} else {
		en.result.s2 = X
		en.result.remove = or(st.B, H)
	}
	en.stop.Store(true)
}

// donate hands st to an idle worker. It reports false if nobody took it.
func (e *engine[S]) donate(st state[S]) bool {
	e.qmu.Lock()
	defer e.qmu.Unlock()
	if e.idle.Load() == 0 || len(e.tasks) > 0 {
		return false
	}
	e.tasks = append(e.tasks, task[S]{anchor: -1, st: st})
	e.qcond.Signal()
	return true
}

// prepare computes the anchor order: the generalized core of V, peeled by
// least slack first. Stuck nodes of late anchors must lie among nodes whose
// cores empty out fastest, so the anchor loop ends early.
func (e *engine[S]) prepare() {
	var none S
	K := e.gcore(e.all, none, e.all, e.budget, nil)
	rem := K
	for !isEmpty(rem) {
		best, bs := -1, 1<<62
		for wi := range len(rem) {
			for x := rem[wi]; x != 0; x &= x - 1 {
				i := wi*64 + bits.TrailingZeros64(x)
				s := andCount(e.in[i], rem) - int(e.t[i])
				if e.budget > 0 {
					s += min(e.budget, andCount(e.in[i], andNot(e.all, rem)))
				}
				// Ties (all slacks are r−1 in a full core) go to the
				// node of least need.
				s = s*(1<<16) + int(e.t[i])
				if s < bs {
					bs, best = s, i
				}
			}
		}
		e.order = append(e.order, best)
		rem = without(rem, best)
	}
}

// anchorState builds the root state for anchor index i, or reports false.
func (e *engine[S]) anchorState(i int) (state[S], bool) {
	var U S
	for _, v := range e.order[i:] {
		U = with(U, v)
	}
	a := e.order[i]
	var none S
	K := e.gcore(U, none, e.all, e.budget, nil)
	if !has(K, a) || count(K) < 2 {
		return state[S]{}, false
	}
	st := state[S]{U: K}
	st.IA = with(st.IA, a)
	if e.budget > 0 {
		st.P = e.all
	} else {
		st.P = K
	}
	st.Q = without(K, a)
	return st, true
}

// run decides the instance with the given number of workers.
func (e *engine[S]) run(ctx context.Context, workers int) outcome {
	e.ctx = ctx
	e.workers = max(workers, 1)
	e.qcond = sync.NewCond(&e.qmu)
	e.prepare()
	var wg sync.WaitGroup
	for id := 0; id < e.workers; id++ {
		wg.Add(1)
		go func(id int) {
			defer wg.Done()
			w := &worker[S]{e: e, id: id}
			for {
				t, ok := e.next()
				if !ok {
					break
				}
				st := t.st
				good := true
				if t.anchor >= 0 {
					st, good = e.anchorState(t.anchor)
				}
				if good {
					w.search(st, 0)
				}
				e.done()
			}
			e.nodes.Add(w.nodes & 1023)
		}(id)
	}
	wg.Wait()
	out := outcome{complete: !e.stop.Load() || e.result.found, nodes: e.nodes.Load(), limited: e.limitHit.Load()}
	if e.result.found {
		out.found = true
		out.s1 = members(nil, e.result.s1)
		out.s2 = members(nil, e.result.s2)
		if e.mode == sharedHelpers {
			out.removed = members(nil, e.result.remove)
		}
	}
	return out
}

// next hands out the next task: donated states first, then anchors in
// order. It blocks while other workers are busy and may still donate.
func (e *engine[S]) next() (task[S], bool) {
	e.qmu.Lock()
	defer e.qmu.Unlock()
	for {
		if e.stop.Load() {
			return task[S]{}, false
		}
		if n := len(e.tasks); n > 0 {
			t := e.tasks[n-1]
			e.tasks = e.tasks[:n-1]
			e.busy++
			return t, true
		}
		if e.nextAnc < len(e.order) {
			t := task[S]{anchor: e.nextAnc}
			e.nextAnc++
			e.busy++
			return t, true
		}
		if e.busy == 0 {
			e.qcond.Broadcast()
			return task[S]{}, false
		}
		e.idle.Add(1)
		e.qcond.Wait()
		e.idle.Add(-1)
	}
}

func (e *engine[S]) done() {
	e.qmu.Lock()
	e.busy--
	if e.busy == 0 || e.stop.Load() {
		e.qcond.Broadcast()
	}
	e.qmu.Unlock()
}

// decide runs the engine at the narrowest set width that holds the graph.
// It stops after about limit search nodes when limit > 0.
func decide(ctx context.Context, inst *instance, workers int, limit int64, progress func(int64)) outcome {
	n := inst.g.N()
	switch {
	case n <= 64:
		return runWidth[[1]uint64](ctx, inst, workers, limit, progress)
	case n <= 128:
		return runWidth[[2]uint64](ctx, inst, workers, limit, progress)
	case n <= 256:
		return runWidth[[4]uint64](ctx, inst, workers, limit, progress)
	case n <= 512:
		return runWidth[[8]uint64](ctx, inst, workers, limit, progress)
	case n <= 1024:
		return runWidth[[16]uint64](ctx, inst, workers, limit, progress)
	case n <= 2048:
		return runWidth[[32]uint64](ctx, inst, workers, limit, progress)
	default:
		return runWidth[[64]uint64](ctx, inst, workers, limit, progress)
	}
}

func runWidth[S bitset](ctx context.Context, inst *instance, workers int, limit int64, progress func(int64)) outcome {
	e := newEngine[S](inst)
	e.progress = progress
	e.limit = limit
	return e.run(ctx, workers)
}
