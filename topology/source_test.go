package topology

import (
	"context"
	"slices"
	"testing"

	"github.com/wmsr/wmsr/graph"
)

// TestSourcePairLemma17: sourcePair finds a pair exactly when the
// definitions say D is not 1-robust (every digraph up to four nodes and
// random ones up to ten), and its pair verifies.
func TestSourcePairLemma17(t *testing.T) {
	check := func(g *graph.Digraph, oneRobust bool) {
		t.Helper()
		p := sourcePair(g)
		if (p == nil) != oneRobust {
			t.Fatalf("%v: sourcePair %v, 1-robust %v", arcs(g), p, oneRobust)
		}
		if p != nil {
			if err := VerifyViolation(g, *p, 1, 1); err != nil {
				t.Fatalf("%v: %v", arcs(g), err)
			}
		}
	}
	for n := 2; n <= 4; n++ {
		allDigraphs(n, func(g *graph.Digraph) { check(g, newObvious(g).rsRobust(1, 1, nil)) })
	}
	for n := 5; n <= 10; n++ {
		for _, p := range []float64{0.05, 0.1, 0.2, 0.3} {
			for seed := uint64(0); seed < 30; seed++ {
				g, _ := graph.ErdosRenyi(n, p, seed%4 != 0, seed)
				rho, _, _ := Enumerate(g)
				check(g, rho >= 1)
			}
		}
	}
}

// TestSourcePairDeep: the search is iterative, and right on long chains: a
// path of 300 000 nodes is 1-robust (its first node reaches all); two such
// paths into one node are not, and the pair is their two first nodes'
// ancestor sets, each the node itself.
func TestSourcePairDeep(t *testing.T) {
	const n = 300_000
	var arcs []graph.Arc
	for v := 1; v < n; v++ {
		arcs = append(arcs, graph.Arc{From: v - 1, To: v})
	}
	g, err := graph.FromArcs(n, arcs)
	if err != nil {
		t.Fatal(err)
	}
	if p := sourcePair(g); p != nil {
		t.Fatalf("a path: %d and %d nodes", len(p.S1), len(p.S2))
	}
	// Two chains 0→2→4→… and 1→3→5→… meeting in the last node.
	arcs = arcs[:0]
	for v := 2; v < n-1; v++ {
		arcs = append(arcs, graph.Arc{From: v - 2, To: v})
	}
	arcs = append(arcs, graph.Arc{From: n - 2, To: n - 1}, graph.Arc{From: n - 3, To: n - 1})
	if g, err = graph.FromArcs(n, arcs); err != nil {
		t.Fatal(err)
	}
	p := sourcePair(g)
	if p == nil || len(p.S1) != 1 || len(p.S2) != 1 || p.S1[0]+p.S2[0] != 1 {
		t.Fatalf("two chains: %v", p)
	}
	if err := VerifyViolation(g, *p, 1, 1); err != nil {
		t.Fatal(err)
	}
}

// TestBestStarPair: the cheap costing agrees with building every star pair
// and costing it from the definitions.
func TestBestStarPair(t *testing.T) {
	for n := 2; n <= 40; n += 2 {
		for seed := uint64(0); seed < 12; seed++ {
			g, _ := graph.ErdosRenyi(n, 0.1+0.05*float64(seed%8), seed%3 != 0, seed)
			if seed%4 == 3 && n > 7 {
				g, _ = graph.KIn(n, 6, seed)
			}
			for r := 1; r <= 4; r++ {
				var want *Pair
				wantCost := 1 << 30
				for _, p := range starPairs(g, r) {
					if c, ok := Cost(g, p, r); ok && c < wantCost {
						want, wantCost = &p, c
					}
				}
				got, cost := bestStarPair(g, r)
				if (got == nil) != (want == nil) {
					t.Fatalf("%v r=%d: got %v, want %v", arcs(g), r, got, want)
				}
				if got == nil {
					continue
				}
				if cost != wantCost || !samePair(*got, *want) {
					t.Fatalf("%v r=%d: got %v cost %d, want %v cost %d", arcs(g), r, *got, cost, *want, wantCost)
				}
			}
		}
	}
}

func samePair(a, b Pair) bool { return slices.Equal(a.S1, b.S1) && slices.Equal(a.S2, b.S2) }

// TestLargeGraphWalk: past the engine's limit, Lemma 17 proves ρ ≥ 1 and
// the walk lowers the upper bound from the trivial ones. Two random 6-in
// halves, each node of one half also hearing its twin in the other:
// δ_min = 7, so Lemma 7 gives ρ ≤ 7, while the halves are a pair where no
// node has more than one in-neighbour across (ρ = 1). The walk does not
// find that bisection from random splits (it stops at ρ ≤ 4 here, p* ≤ 4/7), so the
// answer is bounds, and says so.
func TestLargeGraphWalk(t *testing.T) {
	const half = maxEngineNodes/2 + 50
	a, err := graph.KIn(half, 6, 1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := graph.KIn(half, 6, 2)
	if err != nil {
		t.Fatal(err)
	}
	// Labels interleave the halves (even ids one half, odd the other in a
	// scrambled order), so that neither trivial pair is the cut.
	id := func(v int) int {
		if v < half {
			return 2 * v
		}
		return 2*((v-half)*7919%half) + 1
	}
	var arcs []graph.Arc
	add := func(u, v int) { arcs = append(arcs, graph.Arc{From: id(u), To: id(v)}) }
	for _, x := range a.Arcs() {
		add(x.From, x.To)
	}
	for _, x := range b.Arcs() {
		add(x.From+half, x.To+half)
	}
	for v := range half {
		add(v, v+half)
		add(v+half, v)
	}
	g, err := graph.FromArcs(2*half, arcs)
	if err != nil {
		t.Fatal(err)
	}
	rr, err := MaxR(context.Background(), g, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rr.Lower != 1 || rr.Upper >= 7 || rr.Exact {
		t.Fatalf("MaxR %d ≤ ρ ≤ %d, exact %v; want 1 ≤ ρ < 7, not exact", rr.Lower, rr.Upper, rr.Exact)
	}
	if err := VerifyViolation(g, *rr.Witness, rr.Upper+1, 1); err != nil {
		t.Fatal(err)
	}
	// Without the walk the bounds stay 1 ≤ ρ ≤ 7.
	for _, p := range trivialPairs(g) {
		if up := MaxOut(g, p); up < 7 {
			t.Fatalf("a trivial pair gives ρ ≤ %d", up)
		}
	}
	// The fraction verdict's walk too: below the ratio 1 of the trivial
	// pairs and of ρ's witness before the walk.
	fv := FractionVerdict(context.Background(), g, rr, ThreatOptions{})
	if fv.Exact || fv.PValue >= 1 || fv.Witness == nil || ratio(g, *fv.Witness).RatString() != fv.P {
		t.Fatalf("fraction verdict %+v", fv)
	}
	t.Logf("ρ ∈ [%d, %d], p* ∈ [%s, %s]", rr.Lower, rr.Upper, fv.PLower, fv.P)
}

// TestCertify: what certify settles agrees with enumeration, and its
// witnesses verify; on these graphs it settles some questions both ways.
func TestCertify(t *testing.T) {
	settled := [2]int{}
	for n := 2; n <= 10; n++ {
		for seed := uint64(0); seed < 30; seed++ {
			g, _ := graph.ErdosRenyi(n, 0.1+0.1*float64(seed%8), seed%3 != 0, seed)
			_, ms, err := Enumerate(g)
			if err != nil {
				t.Fatal(err)
			}
			for r := 1; r < len(ms); r++ {
				for s := 1; s <= 4; s++ {
					res, ok := certify(g, r, s)
					if !ok {
						continue
					}
					want := ms[r] >= s || ms[r] == n // n: every s holds
					if !res.Decided || res.Holds != want {
						t.Fatalf("%v (%d,%d): certify %+v, enumeration s* = %d", arcs(g), r, s, res, ms[r])
					}
					if !res.Holds {
						settled[1]++
						if err := VerifyViolation(g, *res.Witness, r, s); err != nil {
							t.Fatalf("%v (%d,%d): %v", arcs(g), r, s, err)
						}
					} else {
						settled[0]++
					}
				}
			}
		}
	}
	if settled[0] == 0 || settled[1] == 0 {
		t.Fatalf("certify settled %d holds and %d fails: the test exercises too little", settled[0], settled[1])
	}
	t.Logf("certify settled %d holds, %d fails", settled[0], settled[1])
}
