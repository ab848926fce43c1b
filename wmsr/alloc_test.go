package wmsr

import (
	"math/rand/v2"
	"testing"

	"github.com/wmsr/wmsr/graph"
)

// The hot paths must not allocate: a round over 10⁵ nodes would otherwise
// feed the garbage collector on every step of every node.
func TestNoAllocations(t *testing.T) {
	if testing.CoverMode() != "" {
		t.Skip("coverage instrumentation may allocate")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	vals := func(d int) []float64 {
		v := make([]float64, d)
		for i := range v {
			v[i] = rng.Float64()
		}
		return v
	}
	v10, v50, v300 := vals(10), vals(50), vals(300)
	g, err := graph.KIn(1000, 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	x, next := vals(1000), make([]float64, 1000)
	wu, _ := NewWeighted(0.01, Uniform{})
	_, _ = wu.Update(0.5, v50, 2) // grow the scratch once
	db := NewDelayBuffer(10)
	for k := range 10 {
		db.Observe(k, 3, float64(k))
	}
	win, _ := NewWindow(3)
	for s := range 10 {
		win.Observe(s, 2, float64(s))
	}
	buf := make([]float64, 0, 16)
	own3, vec, out3 := vals(3), vals(3*10), make([]float64, 3)
	dp := DP{A: 1, B: 6, T: 0.1}

	for name, f := range map[string]func(){
		"Update d=10 f=2":     func() { Update(0.5, v10, 2) },
		"Update d=50 f=1":     func() { Update(0.5, v50, 1) },
		"Update d=50 f=3":     func() { Update(0.5, v50, 3) },
		"Update d=50 f=6":     func() { Update(0.5, v50, 6) },
		"Update d=50 f=12":    func() { Update(0.5, v50, 12) },
		"Update d=300 f=2":    func() { Update(0.5, v300, 2) },
		"Update d=300 f=40":   func() { Update(0.5, v300, 40) },
		"Round Total(2)":      func() { Round(g, x, next, Total(2)) },
		"Round Fraction(0.3)": func() { Round(g, x, next, Fraction(0.3)) },
		"LinearRound":         func() { LinearRound(g, x, next) },
		"UpdateVec":           func() { UpdateVec(own3, vec, 1, out3) },
		"Weighted.Update":     func() { _, _ = wu.Update(0.5, v50, 2) },
		"DelayBuffer.Values":  func() { db.Values(4, 2, buf) },
		"Window.Values":       func() { win.Values(3, buf) },
		"DP.Step":             func() { dp.Step(0.5, 0.1, v10, 2) },
	} {
		if a := testing.AllocsPerRun(20, f); a != 0 {
			t.Errorf("%s: %v allocations per run, want 0", name, a)
		}
	}
}
