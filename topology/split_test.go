package topology

import (
	"context"
	"testing"

	"github.com/wmsr/wmsr/graph"
)

// checkPlans decides "a pair with at most c exempt nodes at r" by every
// split plan and compares with the least cost want (n: no pair at all),
// re-verifying every witness with the independent checker.
func checkPlans(t *testing.T, g *graph.Digraph, r int, want int, workers int) {
	t.Helper()
	ctx := context.Background()
	n := g.N()
	tt := needs(g, r)
	for c := 0; c <= max(n-2, 0); c++ {
		for _, plan := range []splitPlan{planWhole, planGrown, planBound, planGrownPlain, planBoundPlain, planGrownExact, planBoundExact} {
			o := decideS(ctx, g, tt, c, plan, workers, 0, nil)
			if !o.complete {
				t.Fatalf("%v r=%d c=%d plan %d: incomplete", arcs(g), r, c, plan)
			}
			if o.found != (want <= c) {
				t.Fatalf("%v r=%d c=%d plan %d: found %v, least cost %d", arcs(g), r, c, plan, o.found, want)
			}
			if o.found {
				if err := VerifyViolation(g, *pairFrom(o), r, c+1); err != nil {
					t.Fatalf("%v r=%d c=%d plan %d: witness: %v", arcs(g), r, c, plan, err)
				}
			}
		}
	}
}

// TestSplitPlansExhaustive: every split plan against the definitions on
// every digraph with at most 4 nodes.
func TestSplitPlansExhaustive(t *testing.T) {
	for n := 2; n <= 4; n++ {
		i := 0
		allDigraphs(n, func(g *graph.Digraph) {
			o := newObvious(g)
			for r := 1; r <= (n+1)/2+1; r++ {
				checkPlans(t, g, r, o.maxS(r), 1+i%2)
			}
			i++
		})
	}
}

// TestSplitPlansRandom: every split plan against Enumerate on random
// digraphs up to 12 nodes, directed and undirected, sparse to dense.
func TestSplitPlansRandom(t *testing.T) {
	count := 0
	for n := 5; n <= 12; n++ {
		for _, p := range []float64{0.2, 0.35, 0.5, 0.7, 0.9} {
			for seed := uint64(0); seed < 12; seed++ {
				g, _ := graph.ErdosRenyi(n, p, seed%3 != 0, 1000+seed)
				_, ms, err := Enumerate(g)
				if err != nil {
					t.Fatal(err)
				}
				for r := 1; r < len(ms); r++ {
					checkPlans(t, g, r, ms[r], 1+int(seed%2))
				}
				count++
			}
		}
	}
	t.Logf("%d digraphs", count)
}

// TestLowCutPair: whatever the local search returns is a witness by the
// independent checker, and it returns nothing where none can exist.
func TestLowCutPair(t *testing.T) {
	found := 0
	for n := 2; n <= 12; n++ {
		for _, p := range []float64{0.2, 0.4, 0.6, 0.8} {
			for seed := uint64(0); seed < 10; seed++ {
				g, _ := graph.ErdosRenyi(n, p, seed%2 == 0, 500+seed)
				rho, _, err := Enumerate(g)
				if err != nil {
					t.Fatal(err)
				}
				for target := 0; target <= n; target++ {
					w := lowCutPair(g, target, nil, 6)
					if w == nil {
						continue
					}
					if target < rho {
						t.Fatalf("%v: a pair with no node above %d across, but ρ = %d", arcs(g), target, rho)
					}
					if err := VerifyViolation(g, *w, target+1, 1); err != nil {
						t.Fatalf("%v target %d: %v", arcs(g), target, err)
					}
					found++
				}
			}
		}
	}
	if found == 0 {
		t.Fatal("the local search never found anything")
	}
}

// TestQuickPaths: MaxR with every top-down step sent through lowCutPair,
// and maxS with the incumbents computed at once, against Enumerate.
func TestQuickPaths(t *testing.T) {
	ctx := context.Background()
	for n := 3; n <= 12; n++ {
		for _, p := range []float64{0.3, 0.5, 0.7, 0.9} {
			for seed := uint64(0); seed < 8; seed++ {
				g, _ := graph.ErdosRenyi(n, p, seed%3 != 0, 900+seed)
				rho, ms, err := Enumerate(g)
				if err != nil {
					t.Fatal(err)
				}
				rr, _ := maxR(ctx, g, Options{Workers: 1 + int(seed%2)}, 1)
				if !rr.Exact || rr.R != rho {
					t.Fatalf("%v: maxR %+v, enumeration %d", arcs(g), rr, rho)
				}
				if err := VerifyViolation(g, *rr.Witness, rho+1, 1); err != nil {
					t.Fatalf("%v: maxR witness: %v", arcs(g), err)
				}
				for r := 1; r < len(ms); r++ {
					sr := maxSQuick(ctx, g, r, 0, nil, Options{Workers: 1 + int(seed%2)}, "s", 1)
					if !sr.Exact || sr.S != ms[r] {
						t.Fatalf("%v: maxS(%d) %+v, enumeration %d", arcs(g), r, sr, ms[r])
					}
					if sr.Witness != nil {
						if err := VerifyViolation(g, *sr.Witness, r, sr.S+1); err != nil {
							t.Fatalf("%v: maxS(%d) witness: %v", arcs(g), r, err)
						}
					}
				}
			}
		}
	}
}
