package sim

import (
	"bytes"
	"math"
	"testing"

	"github.com/wmsr/wmsr/graph"
	"github.com/wmsr/wmsr/wmsr"
	"pgregory.net/rapid"
)

// TestNonFiniteNeverPropagates checks the convention of wmsr.ReferenceUpdate
// that a non-finite report is a faulty value and is never averaged in: with
// adversaries sending NaN, +Inf and −Inf (to everyone, or two-faced, mixed
// with huge finite values), over any graph and threat model, with loss and
// delay, no normal value is ever non-finite, and the safety invariant of
// lemma_1.v holds as for real-valued adversaries.
func TestNonFiniteNeverPropagates(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		g := genGraph(t, -1, 15)
		th := genThreat(t, -1, g.N())
		gen := func(t *rapid.T) Behavior {
			if rapid.Bool().Draw(t, "two-faced") {
				return Equivocate{Even: genWild(t, "even"), Odd: genWild(t, "odd")}
			}
			return NonFinite{}
		}
		adv, cr := genAdversaries(t, genFaulty(t, g, th), gen)
		delay := rapid.IntRange(0, 2).Draw(t, "delay")
		tr := mustRun(t, Config{
			Graph: g, Initial: genInitial(t, g.N()), Scope: th.scope, LocalThreat: th.local,
			Adversaries: adv, Crashes: cr,
			DropProb: rapid.SampledFrom([]float64{0, 0.3}).Draw(t, "drop"), Delay: delay,
			Rounds: rapid.IntRange(1, 30).Draw(t, "rounds"), Seed: rapid.Uint64().Draw(t, "netseed"),
			RecordValues: true,
		})
		if tr.NonFinite != 0 || tr.Violations != 0 {
			t.Fatalf("%d non-finite normal values, %d violations", tr.NonFinite, tr.Violations)
		}
		for _, r := range tr.Rounds {
			for _, x := range append([]float64{r.Min, r.Max, r.Disagreement}, r.Values...) {
				if math.IsNaN(x) || math.IsInf(x, 0) {
					t.Fatalf("round %d holds %v", r.T, x)
				}
			}
		}
		checkHull(t, g, tr, delay)
		// A trace without non-finite values always serialises.
		if err := WriteJSON(&bytes.Buffer{}, tr); err != nil {
			t.Fatal(err)
		}
	})
}

// TestNonFiniteTakesARemoval pins the rule's non-finite convention to the
// paper (wmsr.ReferenceUpdate): a NaN or ±Inf report takes one of the f
// removals on its side, so an adversary sending one is exactly a malicious
// node sending a huge real, which sufficiency.v covers.
//
// The convention this replaced dropped non-finite values without using a
// removal, which made a NaN sender a silent one, outside the theorem: on
// K_3, which is (2,2)-robust, with F = 1 and node 0 sending NaN, node 1 at 1
// heard only node 2's 1.5, trimmed it as its one value above, and stayed
// put; node 2 likewise, for ever. This test found that gap and keeps it
// closed: every non-finite behaviour must agree as fast as ±MaxFloat64 does.
func TestNonFiniteTakesARemoval(t *testing.T) {
	g := must(graph.Complete(3))
	if _, _, ok := robustness(g, 2, 2); !ok {
		t.Fatal("K_3 is not (2,2)-robust")
	}
	run := func(b Behavior) *Trace {
		tr, err := Run(Config{
			Graph: g, Initial: []float64{0, 1, 1.5}, Scope: wmsr.Total(1),
			Adversaries: []Adversary{{Node: 0, Behavior: b}}, Rounds: 100,
		})
		if err != nil {
			t.Fatal(err)
		}
		return tr
	}
	for _, b := range []Behavior{
		Constant(math.MaxFloat64), Constant(-math.MaxFloat64), Extreme(0),
		NonFinite{}, Constant(math.NaN()), Constant(math.Inf(1)), Constant(math.Inf(-1)),
	} {
		tr := run(b)
		if tr.NonFinite != 0 || tr.Violations != 0 {
			t.Fatalf("%T%v: %d non-finite values, %d violations", b, b, tr.NonFinite, tr.Violations)
		}
		if tr.RoundsToEpsilon < 0 {
			t.Errorf("%T%v: no agreement in 100 rounds (disagreement %v)", b, b, tr.Final().Disagreement)
		}
	}
}
