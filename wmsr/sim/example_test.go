package sim_test

import (
	"fmt"

	"github.com/wmsr/wmsr/graph"
	"github.com/wmsr/wmsr/wmsr"
	"github.com/wmsr/wmsr/wmsr/sim"
)

// A fleet of 12 drones agrees on a heading despite one compromised drone
// that keeps reporting 90°. The topology is grown by preferential attachment
// to be (2,2)-robust, which (F_total_consensus.v; LeBlanc et al. 2013)
// is exactly what W-MSR with F = 1 needs to tolerate one malicious node.
func Example() {
	g, err := graph.PreferentialAttachment(12, 2, 2, 7)
	if err != nil {
		panic(err)
	}
	heading := []float64{10, 12, 9, 14, 11, 8, 13, 10, 12, 15, 9, 11}
	tr, err := sim.Run(sim.Config{
		Graph:       g,
		Initial:     heading,
		Scope:       wmsr.Total(1),
		Adversaries: []sim.Adversary{{Node: 0, Behavior: sim.Constant(90)}},
		Rounds:      500,
		Epsilon:     1e-9,
	})
	if err != nil {
		panic(err)
	}
	for _, t := range []int{0, 1, 2, 5, 10, 20} {
		r := tr.Rounds[t]
		fmt.Printf("round %2d: normal headings in [%.4f, %.4f]\n", r.T, r.Min, r.Max)
	}
	fmt.Printf("agreement to 1e-9 after %d rounds, at %.4f°\n", tr.RoundsToEpsilon, tr.Final().Min)
	fmt.Printf("safety violations: %d\n", tr.Violations)
	// Output:
	// round  0: normal headings in [8.0000, 15.0000]
	// round  1: normal headings in [10.0000, 14.0000]
	// round  2: normal headings in [10.4167, 13.0000]
	// round  5: normal headings in [11.3978, 12.1343]
	// round 10: normal headings in [11.9816, 12.0590]
	// round 20: normal headings in [12.0543, 12.0548]
	// agreement to 1e-9 after 45 rounds, at 12.0548°
	// safety violations: 0
}
