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
// D is r-robust (so s* ≥ 1), with incumbents from a local search.
//
// The engine is a branch and bound over one set only, S1, with the other
// set never enumerated but bounded by percolation:
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
// the suffix U_a. The order peels the nodes of least slack first, so the
// cores of late suffixes empty and the anchor loop ends early. Anchors are
// the units of parallel work; an idle worker is handed the "exclude"
// branch of a busy one. The verdict never depends on scheduling; which
// witness is found may.
//
// Branching. The stuck node of S1 with the least slack (then the largest
// deficit) is served; among its candidates the one with the largest own
// deficit is tried (it creates the most new demand, so contradictions come
// early): as a stuck member, as an exempt member (while budget remains),
// then excluded. With no budget left, the nodes that could join S1 are
// peeled to a core and a node with zero slack forces all its candidates.
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
// down, each a decision with budget r−1. The Byzantine condition quantifies
// over all C(n, F) removal sets; instead of enumerating them the engine
// treats removed nodes as shared helpers (inside for both sets) and
// searches (S1, S2, B) at once. Lemma 8: D (2F+1)-robust implies it, since
// a pair violating (F+1)-robustness of D − B has each node with at most
// F + |N_i ∩ B| ≤ 2F in-neighbours across in D; Lemma 9: it implies
// (F+1,F+1)-robust, since a pair with |X1|+|X2| ≤ F shows D − (X1 ∪ X2) is
// not (F+1)-robust. Both searches are exponential in the worst case and are
// capped by the context and ThreatOptions.Effort; a capped verdict keeps its
// proven bounds and says Exact false.
package topology
