package wmsr

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/wmsr/wmsr/graph"
)

func mustGraph(t testing.TB) func(*graph.Digraph, error) *graph.Digraph {
	return func(g *graph.Digraph, err error) *graph.Digraph {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
}

// roundByUpdate is Round spelled out with the public per-node rule.
func roundByUpdate(g *graph.Digraph, x []float64, s Scope) []float64 {
	next := make([]float64, g.N())
	for v := range g.N() {
		var vals []float64
		for _, u := range g.In(v) {
			vals = append(vals, x[u])
		}
		next[v] = Update(x[v], vals, s.F(v, len(vals)))
	}
	return next
}

func TestRoundMatchesUpdate(t *testing.T) {
	must := mustGraph(t)
	rng := rand.New(rand.NewPCG(1, 1))
	graphs := map[string]*graph.Digraph{
		"kin":      must(graph.KIn(200, 10, 3)),
		"er":       must(graph.ErdosRenyi(150, 0.08, true, 4)),
		"complete": must(graph.Complete(300)), // in-degree 299 > gatherCap
		"single":   must(graph.Complete(1)),
	}
	local := make(Local, 300)
	for i := range local {
		local[i] = i % 6
	}
	for name, g := range graphs {
		x := make([]float64, g.N())
		for i := range x {
			x[i] = float64(rng.IntN(7)) // ties
			if i%3 == 0 {
				x[i] = rng.NormFloat64()
			}
		}
		x[0] = math.NaN() // a non-finite neighbour value for some nodes
		for _, s := range []Scope{Total(0), Total(1), Total(2), Total(3), Total(5), Total(12), local[:g.N()], Fraction(0.2), Fraction(0.45)} {
			want := roundByUpdate(g, x, s)
			got := make([]float64, g.N())
			Round(g, x, got, s)
			for v := range got {
				if !sameFloat(got[v], want[v]) {
					t.Fatalf("%s %v: node %d: Round %v, Update %v", name, s, v, got[v], want[v])
				}
			}
		}
	}
}

// TestF0IsLinearAveraging: with F = 0 nothing is trimmed and W-MSR is the
// linear averaging rule it hardens (LeBlanc et al., Sec. III-B with F = 0),
// bit for bit on finite values, since both sum own first and then the
// in-neighbours in CSR order.
func TestF0IsLinearAveraging(t *testing.T) {
	g := mustGraph(t)(graph.KIn(500, 12, 9))
	rng := rand.New(rand.NewPCG(5, 5))
	x := make([]float64, g.N())
	for i := range x {
		x[i] = rng.NormFloat64()
	}
	a, b := make([]float64, g.N()), make([]float64, g.N())
	Round(g, x, a, Total(0))
	LinearRound(g, x, b)
	for v := range a {
		if a[v] != b[v] {
			t.Fatalf("node %d: Round F=0 %v, LinearRound %v", v, a[v], b[v])
		}
	}
}

func TestRoundPanics(t *testing.T) {
	g := mustGraph(t)(graph.Complete(4))
	x := make([]float64, 4)
	for name, f := range map[string]func(){
		"short x":    func() { Round(g, x[:3], make([]float64, 4), Total(1)) },
		"short next": func() { Round(g, x, make([]float64, 3), Total(1)) },
		"aliased":    func() { Round(g, x, x, Total(1)) },
		"linear":     func() { LinearRound(g, x, x) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			f()
		})
	}
}
