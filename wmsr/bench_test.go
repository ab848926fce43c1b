package wmsr

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/wmsr/wmsr/graph"
)

// Round benchmarks: one W-MSR round at F = 2 (F-total scope) against one
// linear-averaging round on the same k-in graph, in the same run, so that
// the ratio of their ns/op is the price of resilience. vals/s counts
// neighbour values consumed (arcs × rounds) per second.
//
//	go test ./wmsr/ -run '^$' -bench 'Round' -benchtime 20x -count 3
//
// The state x is fixed across iterations (next is overwritten, never fed
// back), so every iteration sees the same spread-out values and not the
// near-consensus ties a converging run would reach.

func benchGraph(b *testing.B, n, deg int) (*graph.Digraph, []float64, []float64) {
	b.Helper()
	g, err := graph.KIn(n, deg, 1)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(2, 3))
	x := make([]float64, n)
	for i := range x {
		x[i] = rng.Float64()
	}
	return g, x, make([]float64, n)
}

func reportVals(b *testing.B, g *graph.Digraph) {
	b.ReportMetric(float64(g.M())*float64(b.N)/b.Elapsed().Seconds(), "vals/s")
}

func BenchmarkRound(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		for _, deg := range []int{10, 50} {
			g, x, next := benchGraph(b, n, deg)
			b.Run(fmt.Sprintf("n=%d/deg=%d/linear", n, deg), func(b *testing.B) {
				for b.Loop() {
					LinearRound(g, x, next)
				}
				reportVals(b, g)
			})
			b.Run(fmt.Sprintf("n=%d/deg=%d/wmsr-F2", n, deg), func(b *testing.B) {
				for b.Loop() {
					Round(g, x, next, Total(2))
				}
				reportVals(b, g)
			})
		}
	}
}

// BenchmarkRoundScopes covers the scopes that cannot be resolved to one F up
// front (a call through Scope per node) and a large budget (radix path).
func BenchmarkRoundScopes(b *testing.B) {
	const n, deg = 10_000, 50
	g, x, next := benchGraph(b, n, deg)
	local := make(Local, n)
	for i := range local {
		local[i] = 2
	}
	for _, c := range []struct {
		name string
		s    Scope
	}{
		{"Total1", Total(1)},
		{"Total3", Total(3)},
		{"Total4", Total(4)},
		{"Total8", Total(8)},
		{"Local2", local},
		{"Fraction0.04", Fraction(0.04)}, // ⌊0.04·50⌋ = 2
		{"Total12", Total(12)},           // selectRadix
		{"Fraction0.3", Fraction(0.3)},   // 15: selectRadix
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				Round(g, x, next, c.s)
			}
			reportVals(b, g)
		})
	}
}

// BenchmarkUpdate times single updates against ReferenceUpdate. Each
// iteration takes the next of 256 random neighbourhoods, so that branch
// predictors cannot learn one input.
func BenchmarkUpdate(b *testing.B) {
	rng := rand.New(rand.NewPCG(4, 5))
	for _, d := range []int{10, 50, 200} {
		const sets = 256
		vals := make([][]float64, sets)
		for s := range vals {
			vals[s] = make([]float64, d)
			for i := range vals[s] {
				vals[s][i] = rng.Float64()
			}
		}
		fs := []int{1, 2, 4}
		if d/5 > 4 {
			fs = append(fs, d/5) // a large budget: the radix path
		}
		for _, f := range fs {
			b.Run(fmt.Sprintf("d=%d/f=%d/fast", d, f), func(b *testing.B) {
				i := 0
				for b.Loop() {
					Update(0.5, vals[i%sets], f)
					i++
				}
			})
			b.Run(fmt.Sprintf("d=%d/f=%d/reference", d, f), func(b *testing.B) {
				i := 0
				for b.Loop() {
					ReferenceUpdate(0.5, vals[i%sets], f)
					i++
				}
			})
		}
	}
}
