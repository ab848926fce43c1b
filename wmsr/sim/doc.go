// Package sim simulates a fleet running W-MSR under attack, round by round,
// and measures what the theory promises: that the normal values never leave
// the hull of the previous round, and that they agree when the graph is
// robust enough.
//
// The model is that of LeBlanc, Zhang, Koutsoukos and Sundaram, "Resilient
// asymptotic consensus in robust networks", IEEE JSAC 31(4), 2013, and of its
// Coq formalisation by Tekriwal, Tachna-Fram, Jeannin, Kapritsos and Panagou
// (arXiv 2202.13833; definitions.v, lemma_1.v, sufficiency.v,
// necessity.v). In each synchronous round t every normal node sends x_i(t)
// to the nodes that hear it, every adversary sends what its Behavior decides
// (the same to everyone if it is malicious, possibly different values if it
// is Byzantine), and every normal node applies wmsr.Update to what it
// received. Beyond the paper the simulator can lose messages, deliver them
// up to D rounds late, and crash nodes (a crashed node is silent); all of it
// is seeded and deterministic: the same Config gives the same Trace bit for
// bit.
//
// The core does no I/O, reads no clock and keeps no package-level mutable
// state. Trace writers take an io.Writer.
//
// What the tests of this package prove, and where the proofs live:
//
//   - safety (lemma_1.v, lem_1_general; LeBlanc et al.'s invariant-interval
//     lemma and its F-local analogue): m(t) ≤ x_i(t+1) ≤ M(t) for every
//     normal i whenever each normal node has at most its budget of faulty
//     in-neighbours, whatever they send;
//   - sufficiency (sufficiency.v, strong_sufficiency; the "if" of
//     F_total_consensus.v): on an (F+1,F+1)-robust graph with at most F
//     malicious nodes the normal values reach agreement;
//   - necessity (necessity.v, necessity_proof; the "only if"): on a graph
//     that is not (F+1,F+1)-robust, the split attack of SplitAttack keeps
//     them apart forever;
//   - non-finite values sent by adversaries never reach a normal value.
//
// The last needs care: were a NaN or ±Inf report dropped without spending a
// trimming slot, its sender would act as a silent node, which can stall
// agreement on a graph the theorem covers. wmsr ranks such reports beyond
// every real instead, so they take a removal as a huge value would
// (TestNonFiniteTakesARemoval).
package sim
