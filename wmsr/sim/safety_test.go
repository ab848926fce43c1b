package sim

import (
	"testing"

	"github.com/wmsr/wmsr/graph"
	"pgregory.net/rapid"
)

// The tests in this file mirror the safety half of the theory, in the manner
// of etcd's raft_paper_test.go: each cites the statement it checks.

// TestSafetyHullInvariant checks the invariant of lemma_1.v (Tekriwal et
// al., arXiv 2202.13833, lemma lem_1_general; LeBlanc et al. 2013, the
// invariant-interval lemma for F-total and its F-local and f-fraction
// analogues):
//
//	for every normal i and every t, m(t) ≤ x_i(t+1) ≤ M(t),
//
// whenever each normal node has at most its trimming budget of faulty
// in-neighbours, whatever the faulty nodes do. The property draws the graph
// (random digraphs up to 15 nodes, Erdős–Rényi, random geometric), the
// threat model (F-total, F-local uniform or per node, f-fraction), a faulty
// set within its bound, and for each faulty node a behaviour from the whole
// library (Byzantine two-faced ones included) or a crash, plus message loss.
// Message loss does not weaken the lemma: a node with fewer values still
// trims F on each side and at most F of what it keeps can be faulty. The
// check is made twice: by the simulator (Trace.Violations) and here, from
// the recorded values alone.
func TestSafetyHullInvariant(t *testing.T) {
	for fam, family := range graphFamilies {
		for mod, model := range threatModels {
			t.Run(family+"/"+model, func(t *testing.T) { testSafety(t, fam, mod) })
		}
	}
}

func testSafety(t *testing.T, family, model int) {
	var rounds, faulty, byz, crashes int
	rapid.Check(t, func(t *rapid.T) {
		g := genGraph(t, family, 15)
		th := genThreat(t, model, g.N())
		adv, cr := genAdversaries(t, genFaulty(t, g, th), genBehavior)
		cfg := Config{
			Graph: g, Initial: genInitial(t, g.N()), Scope: th.scope, LocalThreat: th.local,
			Adversaries: adv, Crashes: cr,
			DropProb: rapid.SampledFrom([]float64{0, 0, 0.1, 0.5}).Draw(t, "drop"),
			Rounds:   rapid.IntRange(1, 40).Draw(t, "rounds"), Seed: rapid.Uint64().Draw(t, "netseed"),
			RecordValues: true,
		}
		tr, err := Run(cfg)
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		if tr.Violations != 0 || tr.NonFinite != 0 {
			t.Fatalf("simulator recorded %d violations (%v) and %d non-finite values", tr.Violations, tr.ViolationDetails, tr.NonFinite)
		}
		rounds += checkHull(t, g, tr, 0)
		faulty += len(adv) + len(cr)
		crashes += len(cr)
		for _, a := range adv {
			if IsByzantine(a.Behavior) {
				byz++
			}
		}
		// Corollary used in interval_bound_general (necessity.v): the
		// intervals are nested, m(0) ≤ m(t) and M(t) ≤ M(0).
		for _, r := range tr.Rounds {
			if r.Min < tr.Rounds[0].Min-1e-12*max(1, -tr.Rounds[0].Min) || r.Max > tr.Rounds[0].Max+1e-12*max(1, tr.Rounds[0].Max) {
				t.Fatalf("round %d: [%v, %v] not within [m(0), M(0)] = [%v, %v]", r.T, r.Min, r.Max, tr.Rounds[0].Min, tr.Rounds[0].Max)
			}
		}
	})
	t.Logf("checked %d rounds; %d faulty nodes of which %d Byzantine, %d crashes", rounds, faulty, byz, crashes)
	if faulty == 0 && model != 3 { // ⌊f·d⌋ is often 0 on small graphs
		t.Error("no faulty node was drawn: the property was vacuous")
	}
}

// TestSafetyWithDelay checks the bounded-delay form of the invariant: when a
// value may be up to D rounds old, a normal x_i(t+1) lies in the hull of the
// normal values of rounds t−D..t (the argument of lemma_1.v applied to the
// values a node actually uses, each of which a normal node held in one of
// those rounds; cf. Dibaji and Ishii, "Resilient consensus of second-order
// agent networks: asynchronous update rules with delays", Automatica 2017).
func TestSafetyWithDelay(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		g := genGraph(t, -1, 12)
		th := genThreat(t, -1, g.N())
		adv, cr := genAdversaries(t, genFaulty(t, g, th), genBehavior)
		delay := rapid.IntRange(1, 4).Draw(t, "delay")
		tr, err := Run(Config{
			Graph: g, Initial: genInitial(t, g.N()), Scope: th.scope, LocalThreat: th.local,
			Adversaries: adv, Crashes: cr,
			DropProb: rapid.SampledFrom([]float64{0, 0.2}).Draw(t, "drop"), Delay: delay,
			Rounds: rapid.IntRange(1, 30).Draw(t, "rounds"), Seed: rapid.Uint64().Draw(t, "netseed"),
			RecordValues: true,
		})
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		if tr.Violations != 0 || tr.NonFinite != 0 {
			t.Fatalf("simulator recorded %d violations (%v) and %d non-finite values", tr.Violations, tr.ViolationDetails, tr.NonFinite)
		}
		checkHull(t, g, tr, delay)
	})
}

// TestOverBudgetViolationsAreRecorded checks that the safety check is not
// vacuous: outside the lemma's hypothesis (an adversary and nothing trimmed,
// F = 0) a normal node is dragged out of the hull, and the simulator records
// it rather than passing over it.
func TestOverBudgetViolationsAreRecorded(t *testing.T) {
	g := must(graph.Complete(4))
	cfg := Config{
		Graph: g, Initial: []float64{0, 1, 2, 3},
		Adversaries: []Adversary{{Node: 3, Behavior: Extreme(1)}},
		Rounds:      5,
	}
	if _, err := Run(cfg); err == nil {
		t.Fatal("an adversary with F = 0 passed the budget check")
	}
	cfg.AllowOverBudget = true
	tr, err := Run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Violations == 0 || len(tr.ViolationDetails) == 0 {
		t.Fatalf("no violation recorded: %+v", tr.Final())
	}
	v := tr.ViolationDetails[0]
	if v.Round != 1 || v.Value <= v.Hi {
		t.Errorf("first violation %+v, want round 1 above the hull", v)
	}
}
