package wmsr_test

import (
	"fmt"
	"math"

	"github.com/wmsr/wmsr/graph"
	"github.com/wmsr/wmsr/wmsr"
)

// A node at 1.0 hears five neighbours, one of them lying wildly. With F = 1
// it drops the largest value above its own and the smallest below.
func ExampleUpdate() {
	vals := []float64{0.9, 1.2, 1e9, 0.8, 1.1}
	fmt.Printf("%.4f\n", wmsr.Update(1.0, vals, 1)) // (1 + 0.9 + 1.2 + 1.1) / 4
	fmt.Printf("%.4g\n", wmsr.Update(1.0, vals, 0)) // plain averaging is dragged away
	// Output:
	// 1.0500
	// 1.667e+08
}

// Non-finite reports are never averaged in, and each takes a removal on its
// side (NaN and +Inf above): here they use up the one removal above, so 2
// stays, while -2 is removed below.
func ExampleUpdate_nonFinite() {
	fmt.Println(wmsr.Update(0, []float64{math.NaN(), math.Inf(1), 2, -2}, 1))
	// Output:
	// 1
}

// One synchronous round on the complete graph K5 with F = 1.
func ExampleRound() {
	g, _ := graph.Complete(5)
	x := []float64{0, 1, 2, 3, 4}
	next := make([]float64, 5)
	wmsr.Round(g, x, next, wmsr.Total(1))
	fmt.Println(next)
	// Output:
	// [1.5 2 2 2 2.5]
}

// Weights other than uniform, checked against the bound α.
func ExampleWeighted() {
	u, err := wmsr.NewWeighted(0.1, wmsr.Lazy(0.5))
	if err != nil {
		panic(err)
	}
	x, err := u.Update(1, []float64{2, 3, 100}, 1)
	fmt.Println(x, err)
	_, err = u.Update(1, make([]float64, 20), 0) // 20 kept: 0.5/20 < α
	fmt.Println(err)
	// Output:
	// 1.75 <nil>
	// wmsr: weight 0.025 of kept value 0 (vals index 0), want ≥ α = 0.1: weights violate the W-MSR bounds
}

// SW-MSR: a mobile agent trims over everyone it heard in the last three
// rounds, one value per sender, listed by sender id. The adversary's 50 goes
// as the largest above own, 0.9 as the only value below.
func ExampleWindow() {
	w, _ := wmsr.NewWindow(3)
	w.Observe(4, 1, 0.9) // sender 4 in round 1
	w.Observe(2, 2, 1.1)
	w.Observe(9, 3, 50) // an adversary
	w.Observe(7, 3, 1.0)
	vals := w.Values(3, nil)
	fmt.Printf("%v %.4f\n", vals, wmsr.Update(1.0, vals, 1))
	// Output:
	// [1.1 0.9 1 50] 1.0333
}
