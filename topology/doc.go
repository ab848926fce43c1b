// Package topology decides, exactly and with witnesses, how robust a
// communication digraph is in the sense W-MSR needs, and so how many
// compromised agents a fleet tolerates under each threat model.
//
// # Definitions
//
// LeBlanc, Zhang, Koutsoukos and Sundaram ("Resilient asymptotic consensus
// in robust networks", IEEE JSAC 31(4), 2013, Sec. IV): for S ⊆ V and
// r ≥ 1, X_S^r = { i ∈ S : |N_i^in \ S| ≥ r }; S is r-reachable if
// X_S^r ≠ ∅ (some node, not every node: the Coq development's r_reachable
// says "every", which is a slip). D is r-robust if of any two nonempty
// disjoint sets one is r-reachable, and (r,s)-robust if for every such pair
// |X_{S1}^r| = |S1|, or |X_{S2}^r| = |S2|, or |X_{S1}^r| + |X_{S2}^r| ≥ s;
// r-robust is (r,1)-robust. Deciding either is coNP-complete (Zhang, Fata,
// Sundaram, IEEE TCNS 2015).
//
// ρ(D) is the largest r for which D is r-robust: 0 if D is not even
// 1-robust, never more than ⌈n/2⌉ (Lemma 7), and reported as 1 for the
// one-node graph, which has no pair at all. For r ≥ 1, s*(r) is the largest
// s for which D is (r,s)-robust: the least |X_{S1}^r| + |X_{S2}^r| over the
// pairs where neither set is fully r-reachable, or n when there is no such
// pair (then every s holds, since |X1|+|X2| ≤ n−2 for any pair that fails).
//
// # API
//
// MaxR returns ρ with a pair showing ρ+1 fails; MaxS returns s*(r) with a
// pair showing s*+1 fails; Check decides (r,s)-robustness and stops at the
// first violating pair; Analyze does all of it plus a Verdict per threat
// model (TotalVerdict, LocalVerdict, FractionVerdict, ByzantineVerdict,
// SignedVerdict); Tolerates answers one (model, F) question. Every witness
// is re-checkable by VerifyViolation or VerifyRemoval, which use the
// definitions and nothing else. Enumerate is plain enumeration, the
// baseline. WriteMILPR and WriteMILPS write the Usevitch–Panagou programs
// (Automatica 2020) for CBC. Nothing here reads a clock or does I/O:
// deadlines come from a context.Context, progress goes to a callback.
//
// When a context ends before a value is proven, the answer carries proven
// bounds Lower ≤ value ≤ Upper, the Upper with its witness. Bounds tighten
// the longer the search runs: decisions start with a node budget and,
// when it runs out, the opposite bound gets a turn before the budget grows.
// Above 128 nodes the budgets are divided by what a node costs there
// against a node on 64 (nodeScale, about n·⌈n/64⌉/64), so that the turns
// come as often in time.
//
// # The algorithm
//
// Every question reduces to one decision, answered by the engine in
// engine.go: given a need t_i for each node, is there a pair of disjoint
// sets, each with at least one "stuck" node (i ∈ S with |N_i ∩ S| ≥ t_i),
// with at most c "exempt" nodes (the others)? With t_i = d_i − r + 1 a
// node is stuck iff it is not r-reachable, so c = 0 asks whether D fails
// r-robustness and c = s − 1 whether it fails (r,s)-robustness. ρ is found
// top down from the cheap bound of Lemma 7: each failing decision returns a
// pair whose largest |N_i \ S_k| is the next candidate; the first decision
// that finds nothing proves ρ. s*(r) is found bottom up from the bound that
// D is r-robust (so s* ≥ 1), with incumbents from a local search, each
// decision split into runs by how many exempt nodes each set holds
// (Lemmas 10 and 11 below).
//
// The engine is a branch and bound over one set only, S1, with the other
// set never enumerated but bounded by percolation. The lemmas keep the
// numbers they were given when found, which the tests, the code and
// BENCHMARKS.md cite; each stands next to the one it refines, so Lemma 15
// follows Lemma 3 and Lemma 16 follows Lemma 11.
//
// Lemma 1 (cores). Call S cohesive if every node of S is stuck in S. A
// union of cohesive sets is cohesive (a node's count only grows with the
// set), so every U has a largest cohesive subset, core(U), found by
// repeatedly deleting a node with fewer than t_i in-neighbours left:
// a node of a cohesive S ⊆ U is never deleted, since its count in any
// superset of S is at least t_i. The same holds with helpers: if each node
// of A may also count up to k of the nodes of a set F outside A, the
// condition |N_i ∩ A| + min(k, |N_i ∩ F \ A|) ≥ t_i only grows with A, so
// the largest such A exists and is found by the same peeling (gcore).
//
// Lemma 2 (percolation). core(V \ S) = V \ cl_r(S), where cl_r(S) is
// r-threshold bootstrap percolation from S (add any node with ≥ r
// in-neighbours in the current set): a node is peeled from V \ S exactly
// when it has ≥ r in-neighbours among S and the nodes peeled before it.
// Hence D is r-robust iff cl_r(S) = V for every nonempty S that is not
// r-reachable. If cl_r(S) = C ≠ V then every node outside C has fewer than
// r in-neighbours in C, so (S, V \ C) is a violating pair; conversely if
// (S1, S2) violates, no node of S2 can ever join the closure of S1, since
// while the closure avoids S2 each node of S2 has fewer than r
// in-neighbours in it. So the engine searches S1 alone: any S2 lies in
// Q = core(U \ S1), and S1 cohesive with Q ≠ ∅ is already a violating pair.
// TestPercolationLemma checks this against the definitions.
//
// Lemma 3 (pairing). Let v be a stuck node of S1 and C_v its in-neighbours
// that may still join S1; if v can reach its need with s_v to spare, at
// most s_v nodes of C_v may end outside S1, in particular in S2. So a node
// w of S2 has at most |N_w ∩ Q \ C_v| + min(s_v, |N_w ∩ Q ∩ C_v|) (plus
// helpers) support in S2, and Q is peeled with this bound for the sixteen
// tightest v as well. This is what turns 3ⁿ into thousands of nodes on
// dense graphs: both sets must be nearly cohesive at once, and the slack of
// one side is the budget the other side fights over.
//
// Lemma 15 (own share). In Lemma 3, a node w ∈ Q ∩ C_v that is a stuck
// node of S2 is itself outside S1, so it is one of the at most s_v nodes
// of C_v that end outside S1, and at most s_v − 1 of its in-neighbours in
// C_v are in S2. So w counts |(N_w ∪ {w}) ∩ Q ∩ C_v| − s_v against its
// room (|N_w ∩ Q| plus helpers, minus t_w), not |N_w ∩ Q ∩ C_v| − s_v,
// and is peeled when that exceeds the room. Proof: let (S1, S2) be a
// completion with w ∈ A2 ⊆ Q. The nodes of ((N_w ∩ A2) ∪ {w}) ∩ C_v are
// outside S1, so there are at most s_v of them, and
// |N_w ∩ A2| ≤ |N_w ∩ Q| − |N_w ∩ Q ∩ C_v| + |N_w ∩ A2 ∩ C_v|
// ≤ |N_w ∩ Q| − |(N_w ∪ {w}) ∩ Q ∩ C_v| + s_v (using w ∈ Q). If the loss
// exceeds the room, w has fewer than t_w in-neighbours in A2 plus
// helpers, so w ∉ A2. The loss stays at most |C_v ∩ Q| − s_v, the bound
// the peel sorts its constraints by. It holds with removed nodes too (a
// stuck node of S2 is neither in S1 nor removed), but like Lemmas 12 and
// 13 it changes how many nodes a search visits, so the effort-capped
// threat searches leave it off, except the fraction verdict's; MaxR,
// MaxS and Check use it (about 30 % fewer nodes on dense directed ER
// graphs). TestOwnShare checks it against
// Enumerate, with and without the other rules.
//
// Lemma 4 (blockers). With S1 final, a set S2 with at most k exempt nodes
// exists iff making some set H of at most k nodes immune stops the
// percolation from S1 (and from the nodes S2 may not use) short of
// everything: the survivors are the stuck part, H the exempt part. A
// minimal H holds only in-neighbours of survivors, which lie in the
// k-relaxed core of Lemma 1. Branching on the first node of H in the
// percolation order (the nodes before it are infected whatever the rest of
// H is, so they are forbidden below) visits every minimal H.
//
// Symmetry. Swapping S1 and S2 preserves everything, so the first stuck
// node a in a fixed order may be put in S1, and every stuck node lies in
// the suffix U_a. The order peels the nodes of least slack first (ties:
// least need first, or most need first in split runs; without exempt
// nodes the key is the slack minus half the out-degree within the rest),
// so the cores of late suffixes empty and the anchor loop ends early. Any
// order is correct; these were measured, not derived. Anchors are
// the units of parallel work; an idle worker is handed the shallowest
// "exclude" branch still pending on a busy one's path (the largest piece
// there is: on dense graphs a dozen hand-overs per decision instead of
// a thousand small ones, each costing a wake-up). The first worker runs
// on the caller's goroutine and starts the others only after its first
// 128 nodes, so the many small decisions of an easy graph wake no
// thread. The verdict of a search that finishes never depends on
// scheduling; which witness is found may, and so, with more than one
// worker, may how far a search stopped by a node limit got: the bounds of
// an effort-capped threat verdict can differ between runs (one in five
// runs on directed ER p = 0.5 n = 40 in one measurement). With one worker
// (Options.Workers, topocheck --workers 1) capped results repeat exactly.
//
// Branching. The stuck node of S1 with the least slack (then the largest
// deficit) is served; among its candidates the one with the largest own
// deficit is tried (it creates the most new demand, so contradictions come
// early): as a stuck member, as an exempt member (while budget remains),
// then excluded. With no budget left, the nodes that could join S1 are
// peeled to a core and a node with zero slack forces all its candidates.
//
// # Small s: split runs
//
// Proving s*(r) means deciding "a pair with at most c exempt nodes?" for
// c = s*−1, usually 1 to 3, after c−1 has been refuted. With the budget
// shared, every bound must allow c helpers to either set, anywhere: each
// node of Q may count c helpers it does not have, and every candidate of
// S1 may become exempt. decideS instead fixes how many exempt nodes each
// set holds.
//
// Lemma 10 (split runs). Let c ≥ 1 and, for 0 ≤ j ≤ c/2, let run (c−j, j)
// ask for a pair with |X1| ≤ c−j and |X2| ≤ j. A pair with |X1|+|X2| ≤ c
// exists iff some run finds one. Proof: swapping S1 and S2 preserves the
// pair, so orient it with |X1| ≥ |X2| =: j; then j ≤ c/2 and |X1| ≤ c−j,
// so it fits run (c−j, j); a pair a run finds has cost ≤ c. The same holds
// for the mirrored runs (j, c−j) with |X1| ≤ |X2|. Within a run with
// c1 ≠ c2 the sets are no longer interchangeable, so the anchor a is the
// first stuck node of S1 only: the stuck nodes of S1 lie in U_a, those of
// S2 anywhere in the c2-relaxed core of V. With c1 = c2 the swap argument
// of the symmetry paragraph applies unchanged. S1 takes at most c1 exempt
// nodes as it grows, Q is peeled with exactly c2 helpers, and the blocker
// search of the leaf gets c2. Which side takes the larger share is a
// matter of speed (chooseSplit): the bounded side when needs are large
// next to c and so is the allowance d_i − t_i (r − 1), which c helpers
// would otherwise swamp; the enumerated side else. Budgets above maxSplit
// use the shared search, which finds the (then plentiful) pairs sooner.
//
// Lemma 11 (one helper at a time). In a run where S2 may hold k ≥ 1
// exempt nodes, suppose the helper-free bound is empty: the pairing peel
// of Q with no helpers leaves nothing. Then for every completion (S1, S2)
// of the current state there is an exempt node x ∈ X2 that is an
// in-neighbour of Q and not in S1, with A2 ⊆ Z_x, the largest Z ⊆ Q \ {x}
// in which every w has |N_w ∩ Z| + [x ∈ N_w] + min(k−1, |N_w ∩ F_x \ Z|)
// ≥ t_w, F_x being the nodes outside S1 but x. Proof: (i) A2 is not
// cohesive by itself, since otherwise (S1, A2) is a completion with no
// exempt node in S2, and the helper-free peel keeps the stuck part of any
// such completion (the argument of Lemmas 2 and 3 with no helpers) —
// but it is empty. (ii) So some w ∈ A2 has fewer than t_w in-neighbours in
// A2 and at least t_w in A2 ∪ X2: it has an in-neighbour x ∈ X2, which is
// outside S1 and an in-neighbour of Q ⊇ A2. (iii) Every w ∈ A2 reaches t_w
// counting A2, x, and the at most k−1 other nodes of X2, which lie in
// F_x \ A2; the condition only grows with Z (Lemma 1), so the largest Z
// satisfying it, which gcore computes, contains A2. (iv) Down a branch S1
// only grows and Q only shrinks, so every Z_x only shrinks: an empty Z_x
// stays empty (state.DX), and a Z_x computed at an ancestor is a valid set
// to peel from (worker buffers). Q is then replaced by the pairing peel of
// the union of the Z_x. The bound costs a peel per candidate x, so it is
// applied only when the helper-free bound is empty, and adaptively: a
// worker drops it after exactTrial calls if it pruned fewer than two in
// five. On circulants it turns searches of 10⁸–10⁹ nodes into 10²–10³.
//
// Lemma 16 (runs in order). decideS runs the grown plan's runs
// (c, 0), (c−1, 1), … in that order and returns at the first that finds a
// pair, so run (c−j, j) starts only after runs j' < j found none. Then
// every pair it can hold has |X2| = j exactly: one with |X2| = j' < j and
// |X1| ≤ c−j < c−j' fits run j'. So with j ≥ 1 S2 always holds an exempt
// node, which is the premise of Lemma 11 ((i) there): the exact bound
// applies in every state without first peeling Q helper-free to show it
// (s2Full). The bound then also runs where that peel leaves nodes, but
// there it almost never prunes (k-in, 60 nodes: 152 684 → 152 718 search
// nodes in run (2, 1)); what it saves is the peel: on k-in graphs of 50
// to 80 nodes, where run (2, 1) is most of the s proof, the whole process
// takes 7–13 % less. The bound plan's runs (j, c−j) give the
// premise to S1, the enumerated side, where Lemma 11 does not apply.
// Setting s2Full in the bound plan makes TestSplitPlansExhaustive fail.
//
// # Canonical pairs
//
// The search reaches a pair (S1*, S2*) along its canonical path: each node
// u it branches on goes to A1 if u is stuck in S1*, to H1 if u is an exempt
// member of S1*, and is excluded otherwise. Along that path IA ⊆ A1*,
// IH ⊆ X1*, IA ∪ IH ⊆ S1* ⊆ P and A2* ⊆ Q (the A1 branch is open to every
// node of A1*: it lies in the capable core, whose helpers the budget left
// for S1 covers). Two more rules prune states that lie on no canonical
// path of a suitably chosen pair; they change which nodes a search visits,
// never its answer, and are used by MaxS and Check (instance.wlog), not
// by the effort-capped threat searches, whose capped results stay as they
// were, nor by MaxR (there Lemma 13 cut the nodes by 17–60 % but, on two
// workers, not the time: measured, the work spread less evenly). The
// fraction verdict is the exception: its decisions have no budget, so
// Lemma 13 applies with k2 = 0, and with Lemma 15 it ran 1.2–2.3× faster
// on most benchmark graphs (1.05–1.2× slower on k-out n = 80, k-in n = 30
// and circulant n = 40); its verdict stayed the same on 63 of the 65
// graphs of the full bench grid and got tighter on the two capped ones.
//
// Lemma 12 (exempt nodes stay short). On the canonical path of any pair,
// every h ∈ IH has |N_h ∩ (IA ∪ IH)| ≤ |N_h ∩ S1*| < t_h, since h ∈ X1*.
// So a state with an exempt member h of S1 that already counts t_h
// in-neighbours in S1 lies on no canonical path and is pruned, and once it
// counts t_h − 1 its other in-neighbours are excluded from S1 (they are
// outside S1*). In words: a node that ends stuck is found on the branch
// that put it in A1; the H1 branch need not find it again.
//
// Lemma 13 (maximal pairs). If (S1, S2) is a pair and a node u outside
// both has |N_u ∩ S1| ≥ t_u, then (S1 ∪ {u}, S2) is a pair too: u is stuck
// in it, no node of S1 loses an in-neighbour (an exempt one may become
// stuck), S2 is untouched; the cost does not grow and each set's exempt
// count does not grow, so it fits every run the first pair fits.
// Likewise for S2. Growing both sets this way ends, so a run that holds a
// pair holds a maximal one, where every node outside both sets has fewer
// than t_u in-neighbours in each; anchoring (and the swap of symmetric
// runs) applies to the maximal pair as to any, so its canonical path is
// searched. On it, a node in neither P nor Q is outside S1* and outside
// A2*, so it is outside both sets or one of the at most k2 exempt nodes of
// S2 (k2 = what S2 may still take). Hence if more than k2 such nodes
// already count t_u in-neighbours in IA ∪ IH, the state is pruned; if
// exactly k2 do, those are X2* and every other such node u is outside both
// sets, so once it counts t_u − 1 its other in-neighbours are excluded
// from S1. The engine applies it with k2 = 0 only (runs where S2 may hold
// no exempt node, and decisions with c = 0), where it pays for its loop:
// it forbids S1 to hold t_u in-neighbours of a node u that precedes the
// anchor or that percolation has already taken from Q. Both lemmas are checked like the others (TestSplitPlans*
// run every plan with and without them; mutating either bound by one makes
// them fail).
//
// Heuristics, none needed for correctness: split runs order anchors with
// the node of most need first among equal slacks; MaxS runs its first
// decisions on a small budget (quickLimit) and computes incumbents
// (coverPairs: a few weak nodes made stuck by shared helpers, S2 the rest
// that S1's percolation cannot reach) only if one stalls, and after that,
// with two values left, decides the larger budget first (a refutation
// settles both) unless that budget passes maxSplit and so loses the
// split runs; MaxR tries each top-down step on a small budget, then a
// local search for a pair with every node at most r−1 in-neighbours
// across (lowCutPair, a WalkSAT-style walk), then, once the bottom-up
// proofs no longer fit the small budget, the full decision; the
// fraction verdict, on one worker, does the same for its decisions until
// one of them finds a pair or the walk fails once, and on two races the
// walk against every decision on the second worker's core (raceWalk).
// In the runs of planGrown (sparse),
// the search branches on the
// candidate with the most out-neighbours in Q (then the largest deficit):
// adding it takes the most support from S2, and Q collapsing is what
// prunes there (about 25 % fewer nodes on k-in graphs; no gain on dense
// ones, where it is off). With k = 1 a buffered Z_x of Lemma 11 is
// re-peeled only from the nodes that lost an in-neighbour since it was
// computed (gcoreFrom), the same set a full peel gives (TestGcoreFrom).
// On graphs of at most 64 nodes the peels of refineQ and gcoreFrom run on
// bare machine words (peel1, gcore1): the same conditions, so the same
// largest sets, and the searches agree node for node with the general
// code (TestPeelWidths runs both widths).
// Every pair a heuristic returns is measured by Cost or MaxOut,
// from the definitions. TestSplitPlans* check every plan, with and without
// Lemma 11, against the definitions (n ≤ 4, all digraphs) and Enumerate
// (random, n ≤ 12, and random k-in digraphs in TestSplitPlansKIn),
// re-verifying every witness; TestQuickPaths and
// TestLowCutPair drive the heuristic paths.
//
// Certificates used before any search:
//
// Lemma 5. (r+s−1)-robust implies (r,s)-robust: if (S1, S2) had
// |X1|+|X2| ≤ s−1 with both sets short of fully reachable, then S_k \ X_k
// are nonempty and each of their nodes has at most r−1+|X_k| ≤ r+s−2
// in-neighbours outside S_k \ X_k, a pair violating (r+s−1)-robustness.
// Hence s*(r) ≥ ρ−r+1 and (r,r) holds for 2r−1 ≤ ρ.
//
// Lemma 6 (LeBlanc's thesis, Property 5.23). δ_min ≥ ⌊n/2⌋ + r − 1
// implies (r,s)-robust for every s: of two disjoint sets one has at most
// ⌊n/2⌋ nodes, and each of them has at least δ_min − (⌊n/2⌋ − 1) ≥ r
// in-neighbours outside it.
//
// Lemma 7. ρ ≤ min(max(δ_min, 1), ⌈n/2⌉) for n ≥ 2, with witnesses: a node
// v of least in-degree against V \ {v} (each node of V \ {v} has at most
// one in-neighbour outside), and an even split (no node has more than
// ⌈n/2⌉ in-neighbours across).
//
// Lemma 17 (1-robustness in linear time). For n ≥ 2, D is 1-robust iff
// some node reaches every node (a rooted out-branching): iff its
// condensation has one source component. A source component has no arc
// entering it, so two of them are a pair in which no node is 1-reachable;
// conversely each set of such a pair has no arc entering it, so it holds
// every ancestor of its nodes and with them a source component, and the
// sets are disjoint. sourcePair decides it with one depth-first search
// (the node finished last lies in a source component) and searches of
// ancestors, at any size: MaxR, MaxS at r = 1 and Check(1, 1) use it
// before any search. TestSourcePairLemma17 checks it against the
// definitions.
//
// Past MaxExactNodes nodes the engine is not used. ρ ≥ 1 is still
// decided (Lemma 17), MaxR and the fraction verdict lower their upper
// bounds with the walk alone (walkR: top down, restarts doubling to
// maxWalkEffort; skipped where a restart would cost more than walkWork),
// and the rest are the bounds of Lemmas 5 to 7. From 129 nodes on, MaxR
// also measures the spectral split (spectralPair) before any search or
// walk, and the walk starts from ρ's witness: a thin cut between
// well-knit parts, such as squads joined by a few links, is where the
// Fiedler vector changes, and random splits rarely find it. Such
// answers are exact only where those bounds meet, as on a graph with a
// node of in-degree 1 that is 1-robust, or one whose walk finds a pair
// with one in-neighbour across. Check and the threat checks ask the certificates
// first at every size (certify: Lemma 6 holds, Lemma 17 at r = s = 1,
// and a pair of Lemma 7 or the cheapest star pair that costs less than s
// fails), and past MaxExactNodes the walk for s = 1; a question none of
// them settles is returned undecided.
//
// # Threat models
//
// The verdicts are the largest F for which each model's condition holds,
// with the strength of the statement (LeBlanc et al. 2013, Sec. V):
//
//	F-total malicious   (F+1,F+1)-robust               necessary and sufficient
//	F-local malicious   (2F+1)-robust                  sufficient; (F+1)-robust necessary
//	f-fraction local    p-fraction robust, p > 2f      sufficient; p > f necessary
//	F-total Byzantine   D − B (F+1)-robust, |B| ≤ F    sufficient; (F+1,F+1)-robust necessary
//	Byzantine, signed   (F+1,F+1)-robust               necessary and sufficient
//
// The necessary conditions for the local models come from the pair itself:
// if every node of S1 ∪ S2 has at most F_i in-neighbours across, W-MSR
// discards all of them and the two sets keep their values with no
// adversary at all. F between the sufficient and the necessary bound is
// reported as not decided by theory. A Byzantine node that signs its
// values with a counter cannot send different values to different
// neighbours, so it is a malicious node and the F-total condition applies.
//
// F-total needs the largest F with s*(F+1) ≥ F+1: Lemma 5 gives the lower
// half for free, s*(ρ) settles F = ρ−1, the F between are (r,r) checks top
// down, each a decision with budget r−1. Every condition here only weakens
// as F falls, so the first check that holds settles the lower F; a check
// the effort cap stops settles nothing, and the checks then go on bottom
// up from the lower bound (settleF), which are often far cheaper: on
// graph.KIn(64, 8, 1) (4,4) outlasts any cap and (3,3) takes a
// millisecond. The verdicts are what an operator reads
// first, so AnalyzeWithin lets the caller stop the proofs of ρ and s*
// early and leave them time (topocheck: a quarter of --timeout, at most a minute). The Byzantine condition quantifies
// over all C(n, F) removal sets; instead of enumerating them the engine
// treats removed nodes as shared helpers (inside for both sets) and
// searches (S1, S2, B) at once. Lemma 8: D (2F+1)-robust implies it, since
// a pair violating (F+1)-robustness of D − B has each node with at most
// F + |N_i ∩ B| ≤ 2F in-neighbours across in D; Lemma 9: it implies
// (F+1,F+1)-robust, since a pair with |X1|+|X2| ≤ F shows D − (X1 ∪ X2) is
// not (F+1)-robust.
//
// Lemma 14 (removed nodes in the bound of S2). In the removal search, let
// B be the nodes removed so far, k the removals left and F the nodes that
// may still be removed; every node of S2 must reach t_w counting S2 and
// the final removal set. Then every node w of S2 has at most
// |N_w ∩ Q| + |N_w ∩ B| + min(k, |N_w ∩ F \ Q|) such in-neighbours, Q
// being any superset of S2: an in-neighbour in S2 or removed later from
// inside Q is counted once in the first term, one removed later from
// outside Q in the last, and at most k are removed later. The earlier
// bound counted min(k, |N_w ∩ F|) on top of |N_w ∩ Q|, counting a node of
// Q twice. The pairing rule (Lemma 3) keeps the earlier count: a node of
// C_v that is removed is not lost to v (it counts as inside for S1 too),
// so up to k of w's support in C_v may be removed rather than in S2. The
// tighter peel cuts the removal search 5× on k-in graphs of 40 nodes and
// 20× on 64 (TestRemovalSearch checks it against the definitions; making
// either count one smaller makes it fail).
//
// Lemma 11 holds in the removal search with B in the fixed part: if the
// peel with no further removal leaves nothing, some node x removed later
// is an in-neighbour of Q with S2 ⊆ Z_x, the largest Z ⊆ Q \ {x} in which
// every w has |N_w ∩ Z| + |N_w ∩ (B ∪ {x})| + min(k−1, |N_w ∩ F \ {x} \ Z|)
// ≥ t_w; the proof is the same, with "exempt node of S2" read as "node
// removed later". Down a branch Q and F only shrink and a node moving from
// F to B takes one from k, which leaves the count as it was or lowers it,
// so every Z_x only shrinks and the buffers of Lemma 11 stay valid; with
// k = 1 the re-peel from the lost in-neighbours alone is exact only when B
// did not change since the buffer was filled (otherwise the full peel is
// done; skipping it would only loosen the bound). It cuts the removal
// search 3× at n = 40 and 10× at n = 64 but each node costs 2–7× more.
// Tolerates and --effort 0 use it always; under an effort cap the
// verdict uses it adaptively (a worker drops it after removalTrial calls
// if it pruned fewer than two in five): on circulants it turns capped
// searches of 10⁶ nodes into a hundred and so decides F exactly, and on
// dense ER graphs, where it prunes rarely, it is dropped early. Both
// searches are exponential in the worst case and are capped by the
// context and ThreatOptions.Effort; a capped verdict keeps its proven
// bounds and says Exact false.
package topology
