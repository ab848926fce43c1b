// Package wmsr is the resilient consensus rule of the fleet agent: W-MSR,
// the Weighted-Mean Subsequence Reduced update of LeBlanc, Zhang,
// Koutsoukos and Sundaram ("Resilient asymptotic consensus in robust
// networks", IEEE JSAC 31(4), 2013), with its variants for delays, mobile
// agents and second-order dynamics.
//
// # The rule
//
// Each round, every normal node i compares the values x_j(t) it heard from
// its in-neighbours with its own x_i(t). Of the values strictly above its
// own it removes the F_i largest (all of them if there are fewer), of those
// strictly below the F_i smallest; values equal to its own are never
// removed. It then moves to a weighted average of its own value and the
// kept ones (LeBlanc et al., Sec. III-B):
//
//	x_i(t+1) = w_ii(t)·x_i(t) + Σ_{j kept} w_ij(t)·x_j(t)
//
// with weights bounded below by some α > 0 and summing to 1. Update and
// Round use uniform weights 1/(1+kept); Weighted takes any Weights and
// checks the bound α on every step. ReferenceUpdate is the sorting oracle:
// its doc comment fixes which of several equal values is removed and the
// summation order, and Update returns its result bit for bit.
//
// # Threat models and scopes
//
// The budget F_i comes from a Scope (LeBlanc et al., Sec. II-B): Total(F)
// for the F-total model (at most F adversaries in the whole network) and,
// with the same F everywhere, the F-local model (at most F among any normal
// node's in-neighbours); Local for per-node bounds; Fraction(f) for the
// f-fraction local model (at most a fraction f of each normal node's
// in-neighbours, trimming ⌊f·d_i⌋).
//
// # When it works
//
// The conditions are on robustness, as LeBlanc et al. define it: a set S is
// r-reachable if some node of S has at least r in-neighbours outside S; a
// graph is r-robust if of any two disjoint non-empty node sets at least one
// is r-reachable, and (r,s)-robust if for any two disjoint non-empty sets
// S1, S2, every node of S1 has r in-neighbours outside S1, or every node of
// S2 has r outside S2, or together at least s nodes of S1 and S2 have r
// in-neighbours outside their own set. For malicious adversaries (which
// send the same, arbitrary, value to all their out-neighbours):
//
//	scope        condition on the graph                       status
//	F-total      (F+1, F+1)-robust                            necessary and sufficient
//	F-local      (2F+1)-robust                                sufficient ((F+1)-robust necessary)
//	f-fraction   p-fraction robust with p > 2f                sufficient
//
// The F-total characterisation is machine-checked in Coq by Tekriwal et al.
// (arXiv 2202.13833): definitions.v states the rule, lemma_1.v the safety
// lemma below, sufficiency.v and necessity.v the two directions. Whether a
// given graph meets a condition is the business of package topology.
//
// # Safety
//
// Let m(t) and M(t) be the least and greatest value among the normal nodes.
// If at most F_i of node i's in-neighbours are adversarial, then
// x_i(t+1) ∈ [m(t), M(t)] whatever the adversaries send: a kept value above
// x_i(t) has F_i removed values at or above it, at least one of them from a
// normal node, so it is ≤ M(t), and symmetrically below; x_i(t+1) is a
// convex combination of x_i(t) and kept values. So [m(t), M(t)] never grows
// (lemma_1.v); convergence inside it is what robustness buys. The tests
// check the per-node form on arbitrary inputs (TestSafetyLemma).
//
// In float64 the invariant holds up to the rounding of the mean: the mean
// of three copies of 0.1, summed in the pinned order, is one unit in the
// last place above 0.1 (TestRoundingCanLeaveRange). The excess is at most
// about (d+2)·2⁻⁵³ relative to the largest magnitude averaged, and the
// sum can overflow only if normal values exceed MaxFloat64/(d+1) in
// magnitude (kept adversarial values never do: they lie in [m(t), M(t)]).
// A check of x(t+1) ∈ [m(t), M(t)] must allow for those few ulps.
//
// # Non-finite values
//
// A NaN or ±Inf neighbour value is never averaged in. It ranks beyond every
// real — NaN and +Inf above, −Inf below — and so takes one of the F_i
// removals on its side, exactly as a huge finite report would; then a node
// sending NaN is a malicious node like any other and the theorems above
// cover it. (Dropping such values without spending a removal would make
// their sender a silent node, which the theorems do not cover, and can stall
// agreement: ReferenceUpdate gives the example.) A node's own value is
// trusted: from finite initial values the normal values stay finite, and a
// NaN own value yields NaN.
//
// # Variants
//
//	variant   type / func        paper                          condition
//	weighted  Weighted           LeBlanc et al. 2013, III-B     as above, for weights ≥ α > 0 summing to 1
//	vector    UpdateVec          (coordinate-wise W-MSR)        as above per coordinate: bounding box only
//	delays    DelayBuffer        LeBlanc & Koutsoukos 2012;     at least the synchronous one, more for
//	                             Dibaji & Ishii 2017            some threat models (see the type)
//	SW-MSR    Window             Saldaña et al., ACC 2017       robustness of the union graph of every
//	                                                            window of T rounds
//	DP-MSR    DP                 Dibaji & Ishii 2017            robustness, plus gain and period conditions
//	                                                            (see the type; NonnegativeFor checks a
//	                                                            sufficient condition derived here)
//
// Where a condition is given loosely, the type's doc says why: we cite the
// section rather than a constant we could not re-check.
//
// # Cost
//
// Update is O(d) for every F and allocation-free. For F ≤ 3 it selects with
// branch-free networks on an integer image of the values, for F ≤ 8 with
// small insertion buffers, beyond with a radix selection; none of these is
// a quickselect or a sort, so no choice of values by an adversary makes a
// step slow. Round runs it over a CSR graph; see bench_test.go for its cost
// against plain averaging (LinearRound). On amd64 with AVX2, Round at
// Total(1) and Total(2) runs four nodes at a time in an assembly kernel
// (threshold4.go) that returns the same results bit for bit or hands the
// node back to the Go kernels; building with -tags purego leaves it out.
//
// The package is pure: no I/O, no clock, no package-level mutable state.
// Rounds, where they matter (DelayBuffer, Window), are passed in.
package wmsr
