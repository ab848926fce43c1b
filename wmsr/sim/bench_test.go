package sim

import (
	"fmt"
	"math"
	"testing"

	"github.com/wmsr/wmsr/graph"
	"github.com/wmsr/wmsr/wmsr"
)

// BenchmarkStep measures one simulated round on a fleet of 10⁴ nodes each
// hearing 10 others (a random 10-in digraph), F = 1 with one adversary, in
// the synchronous model and with loss and delay. One op is one round; the
// ns/update metric divides by the 10⁴ node updates.
func BenchmarkStep(b *testing.B) {
	const n, deg = 10_000, 10
	g := must(graph.KIn(n, deg, 1))
	x0 := make([]float64, n)
	for i := range x0 {
		x0[i] = math.Sin(float64(i))
	}
	for _, bc := range []struct {
		drop  float64
		delay int
	}{{0, 0}, {0.1, 0}, {0.1, 3}} {
		b.Run(fmt.Sprintf("n=%d/deg=%d/drop=%v/delay=%d", n, deg, bc.drop, bc.delay), func(b *testing.B) {
			s, err := New(Config{
				Graph: g, Initial: x0, Scope: wmsr.Total(1),
				Adversaries: []Adversary{{Node: 17, Behavior: Extreme(0)}},
				DropProb:    bc.drop, Delay: bc.delay, Seed: 1,
			})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				s.Step()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/update")
		})
	}
}
