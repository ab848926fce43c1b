package sim

import (
	"math"

	"github.com/wmsr/wmsr/graph"
	"github.com/wmsr/wmsr/wmsr"
	"pgregory.net/rapid"
)

// Generators for the property tests: graphs, threat scopes, faulty sets
// within a scope, behaviours and initial states.

// genDigraph draws a random digraph on 2..maxN nodes arc by arc, so that
// rapid can shrink a counterexample arc by arc too.
func genDigraph(t *rapid.T, maxN int) *graph.Digraph {
	n := rapid.IntRange(2, maxN).Draw(t, "n")
	pct := rapid.IntRange(10, 90).Draw(t, "arc%")
	b := must(graph.NewBuilder(n))
	for v := range n {
		for u := range n {
			if u != v && rapid.IntRange(0, 99).Draw(t, "arc") < pct {
				_ = b.AddArc(u, v)
			}
		}
	}
	return must(b.Build())
}

// graphFamilies are the families the safety theorem is tested on:
// arbitrary digraphs, Erdős–Rényi (directed or not) and random geometric.
var graphFamilies = []string{"digraph", "erdos-renyi", "geometric"}

// genGraph draws a graph of the given family (an index into graphFamilies),
// or of a random one for family < 0.
func genGraph(t *rapid.T, family, maxN int) *graph.Digraph {
	if family < 0 {
		family = rapid.IntRange(0, len(graphFamilies)-1).Draw(t, "family")
	}
	switch family {
	case 0:
		return genDigraph(t, maxN)
	case 1:
		n := rapid.IntRange(2, maxN).Draw(t, "n")
		p := rapid.Float64Range(0.1, 0.9).Draw(t, "p")
		return must(graph.ErdosRenyi(n, p, rapid.Bool().Draw(t, "directed"), rapid.Uint64().Draw(t, "seed")))
	default:
		n := rapid.IntRange(2, maxN).Draw(t, "n")
		radius := rapid.Float64Range(0.2, 0.8).Draw(t, "radius")
		g, _ := must2(graph.RandomGeometric(n, 2, 1, radius, rapid.Uint64().Draw(t, "seed")))
		return g
	}
}

func must2[A, B any](a A, b B, err error) (A, B) {
	if err != nil {
		panic(err)
	}
	return a, b
}

// threat is a scope together with the matching adversary bound.
type threat struct {
	scope wmsr.Scope
	local bool
}

// threatModels are the scopes of LeBlanc et al. 2013: F-total,
// F-local with one F, F-local with per-node F_i, and f-fraction local.
var threatModels = []string{"F-total", "F-local", "F_i-local", "f-fraction"}

// genThreat draws a threat of the given model (an index into threatModels),
// or of a random one for model < 0.
func genThreat(t *rapid.T, model, n int) threat {
	if model < 0 {
		model = rapid.IntRange(0, len(threatModels)-1).Draw(t, "model")
	}
	switch model {
	case 0:
		return threat{scope: wmsr.Total(rapid.IntRange(0, 3).Draw(t, "F"))}
	case 1:
		return threat{scope: wmsr.Total(rapid.IntRange(0, 2).Draw(t, "F")), local: true}
	case 2:
		l := make(wmsr.Local, n)
		for i := range l {
			l[i] = rapid.IntRange(0, 2).Draw(t, "Fi")
		}
		return threat{scope: l, local: true}
	default:
		return threat{scope: wmsr.Fraction(rapid.Float64Range(0, 0.49).Draw(t, "f")), local: true}
	}
}

// genFaulty draws a set of faulty nodes within the threat's bound, leaving
// at least one normal node: for F-total at most F nodes anywhere; for the
// local models, nodes are offered in random order and taken when every
// remaining normal node still has at most its budget of faulty
// in-neighbours.
func genFaulty(t *rapid.T, g *graph.Digraph, th threat) []int {
	n := g.N()
	order := rapid.Permutation(nodeIDs(n)).Draw(t, "order")
	if tot, ok := th.scope.(wmsr.Total); ok && !th.local {
		k := rapid.IntRange(0, min(int(tot), n-1)).Draw(t, "faulty")
		return order[:k]
	}
	faulty := make([]bool, n)
	var out []int
	for _, c := range order {
		if len(out) == n-1 || !rapid.Bool().Draw(t, "take") {
			continue
		}
		faulty[c] = true
		if withinLocal(g, th.scope, faulty) {
			out = append(out, c)
		} else {
			faulty[c] = false
		}
	}
	return out
}

func withinLocal(g *graph.Digraph, s wmsr.Scope, faulty []bool) bool {
	for v := range g.N() {
		if faulty[v] {
			continue
		}
		c := 0
		for _, u := range g.In(v) {
			if faulty[u] {
				c++
			}
		}
		if c > s.F(v, g.InDegree(v)) {
			return false
		}
	}
	return true
}

func nodeIDs(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

// genValue draws a finite value of moderate size.
func genValue(t *rapid.T, label string) float64 {
	return rapid.Float64Range(-10, 10).Draw(t, label)
}

// genInitial draws x(0).
func genInitial(t *rapid.T, n int) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = genValue(t, "x0")
	}
	return x
}

// genWild draws anything an adversary might send: ordinary values, extreme
// ones, and the non-finite ones.
func genWild(t *rapid.T, label string) float64 {
	return rapid.OneOf(
		rapid.Float64Range(-10, 10),
		rapid.SampledFrom([]float64{math.NaN(), math.Inf(1), math.Inf(-1), ExtremeValue, -ExtremeValue, math.MaxFloat64, -math.MaxFloat64, 0}),
	).Draw(t, label)
}

// maliciousKinds names the malicious behaviours of the library, in the
// order genMalicious draws them; the table tests iterate over it.
var maliciousKinds = []string{"constant", "ramp", "oscillate", "uniform", "extreme", "nonfinite", "pull"}

// genMalicious draws a malicious behaviour (the same value to every
// receiver) with random parameters.
func genMalicious(t *rapid.T) Behavior {
	return maliciousOf(t, rapid.IntRange(0, len(maliciousKinds)-1).Draw(t, "behavior"))
}

func maliciousOf(t *rapid.T, kind int) Behavior {
	switch maliciousKinds[kind] {
	case "constant":
		return Constant(genValue(t, "c"))
	case "ramp":
		return Ramp{Start: genValue(t, "start"), Slope: rapid.Float64Range(-2, 2).Draw(t, "slope")}
	case "oscillate":
		lo, hi := genValue(t, "lo"), genValue(t, "hi")
		return Oscillate{Lo: lo, Hi: hi, Period: rapid.IntRange(1, 5).Draw(t, "period")}
	case "uniform":
		lo := genValue(t, "lo")
		return Uniform{Lo: lo, Hi: lo + rapid.Float64Range(0, 20).Draw(t, "width"), Seed: rapid.Uint64().Draw(t, "seed")}
	case "extreme":
		return Extreme(rapid.IntRange(-1, 1).Draw(t, "sign"))
	case "nonfinite":
		return NonFinite{}
	default:
		return Pull(genValue(t, "target"))
	}
}

// genBehavior draws any behaviour of the library, Byzantine ones included.
func genBehavior(t *rapid.T) Behavior {
	switch rapid.IntRange(0, 3).Draw(t, "byzantine") {
	case 0:
		return Equivocate{Even: genWild(t, "even"), Odd: genWild(t, "odd")}
	case 1:
		return Polarize{}
	default:
		return genMalicious(t)
	}
}

// genAdversaries turns a faulty set into adversaries and crashes: each
// faulty node is a crash (at a random round) with probability about 1/4,
// otherwise an adversary with a behaviour from gen.
func genAdversaries(t *rapid.T, faulty []int, gen func(*rapid.T) Behavior) ([]Adversary, []Crash) {
	var adv []Adversary
	var cr []Crash
	for _, v := range faulty {
		if rapid.IntRange(0, 3).Draw(t, "crash?") == 0 {
			cr = append(cr, Crash{Node: v, Round: rapid.IntRange(0, 10).Draw(t, "crashRound")})
		} else {
			adv = append(adv, Adversary{Node: v, Behavior: gen(t)})
		}
	}
	return adv, cr
}

// fataler is what *testing.T and *rapid.T have in common here.
type fataler interface {
	Helper()
	Fatalf(format string, args ...any)
}

// checkHull verifies the safety invariant on a recorded trace independently
// of the simulator's own check: each normal x_i(t+1) lies in the hull of the
// normal values of rounds t−delay..t, up to the rounding slack of a mean of
// at most d_i+1 terms. It returns the number of rounds checked.
func checkHull(tb fataler, g *graph.Digraph, tr *Trace, delay int) int {
	tb.Helper()
	for t := 0; t+1 < len(tr.Rounds); t++ {
		lo, hi := math.Inf(1), math.Inf(-1)
		for s := max(0, t-delay); s <= t; s++ {
			for _, x := range tr.Rounds[s].Values {
				lo, hi = min(lo, x), max(hi, x)
			}
		}
		for k, x := range tr.Rounds[t+1].Values {
			v := tr.Nodes[k]
			if math.IsNaN(x) || math.IsInf(x, 0) {
				tb.Fatalf("round %d: normal node %d holds %v", t+1, v, x)
			}
			slack := float64(g.InDegree(v)+2) * 0x1p-53 * max(math.Abs(lo), math.Abs(hi))
			if x < lo-slack || x > hi+slack {
				tb.Fatalf("round %d: normal node %d at %v left the hull [%v, %v] of round %d", t+1, v, x, lo, hi, t)
			}
		}
	}
	return len(tr.Rounds) - 1
}
