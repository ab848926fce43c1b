package topology

import (
	"context"
	"testing"

	"github.com/wmsr/wmsr/graph"
)

// Benchmarks for the three directed targets of issue 3 (ρ and s at ρ), and
// plain enumeration at n = 14 for scale. "topocheck bench" measures whole
// processes and the MILP side by side; these isolate the library.

func benchAnalyzeRS(b *testing.B, n int, p float64) {
	g, err := graph.ErdosRenyi(n, p, true, 1)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		rr, _ := MaxR(context.Background(), g, Options{})
		MaxSAt(context.Background(), g, rr, Options{})
	}
}

func BenchmarkER40p05(b *testing.B) { benchAnalyzeRS(b, 40, 0.5) }
func BenchmarkER50p03(b *testing.B) { benchAnalyzeRS(b, 50, 0.3) }

func BenchmarkMaxRER44p05(b *testing.B) {
	g, _ := graph.ErdosRenyi(44, 0.5, true, 1)
	for b.Loop() {
		MaxR(context.Background(), g, Options{})
	}
}

func BenchmarkEnumerate14(b *testing.B) {
	g, _ := graph.ErdosRenyi(14, 0.5, true, 1)
	for b.Loop() {
		Enumerate(g)
	}
}
