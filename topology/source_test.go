package topology

import (
	"context"
	"fmt"
	"math/rand/v2"
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
				got, cost := bestStarPair(context.Background(), g, r)
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

// twinHalves returns two random 6-in digraphs of half nodes each, every
// node of one also hearing its twin in the other (and the twin it), with
// labels that interleave the halves (even ids one half, odd the other in
// a scrambled order), so that neither trivial pair is the cut. The
// halves are a pair where no node has more than one of its 7
// in-neighbours across: ρ = 1 (it is 1-robust) and p* = 1/7.
func twinHalves(t *testing.T, half int) *graph.Digraph {
	t.Helper()
	a, err := graph.KIn(half, 6, 1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := graph.KIn(half, 6, 2)
	if err != nil {
		t.Fatal(err)
	}
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
	return g
}

// TestLargeGraphWalk: past the engine's limit, Lemma 17 proves ρ ≥ 1 and
// the walk lowers the upper bound from the trivial ones. On twinHalves
// δ_min = 7, so Lemma 7 gives ρ ≤ 7, while ρ = 1. From random splits the
// walk stopped at ρ ≤ 4 and p* ≤ 4/7; from the spectral split
// (spectralPair) it finds the halves, so ρ = 1 and p* = 1/7 = ρ/Δ_max,
// both exact.
func TestLargeGraphWalk(t *testing.T) {
	g := twinHalves(t, maxEngineNodes/2+50)
	rr, err := MaxR(context.Background(), g, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rr.Lower != 1 || rr.Upper != 1 || !rr.Exact {
		t.Fatalf("MaxR %d ≤ ρ ≤ %d, exact %v; want ρ = 1 exactly", rr.Lower, rr.Upper, rr.Exact)
	}
	if err := VerifyViolation(g, *rr.Witness, 2, 1); err != nil {
		t.Fatal(err)
	}
	// Without the walk the bounds stay 1 ≤ ρ ≤ 7.
	for _, p := range trivialPairs(g) {
		if up := MaxOut(g, p); up < 7 {
			t.Fatalf("a trivial pair gives ρ ≤ %d", up)
		}
	}
	// The fraction verdict's walk too.
	fv := FractionVerdict(context.Background(), g, rr, ThreatOptions{})
	if !fv.Exact || fv.P != "1/7" || fv.Witness == nil || ratio(g, *fv.Witness).RatString() != "1/7" {
		t.Fatalf("fraction verdict %+v, want p* = 1/7 exactly", fv)
	}
	// And Check past the limit (walkCheck): not 2-robust, with a witness.
	res, err := Check(context.Background(), g, 2, 1, Options{})
	if err != nil || !res.Decided || res.Holds {
		t.Fatalf("Check(2, 1): %+v, %v; want fails", res, err)
	}
	if err := VerifyViolation(g, *res.Witness, 2, 1); err != nil {
		t.Fatal(err)
	}
}

// squads returns k random d-in digraphs of size nodes each, every node
// also hearing one random node of another squad, under a random labelling
// (no squad is a range of ids). Any two squads are a pair with one
// in-neighbour across per node: ρ = 1 and p* = 1/(d+1) = ρ/Δ_max.
func squads(t *testing.T, k, size, d int) *graph.Digraph {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	n := k * size
	perm := rng.Perm(n)
	var arcs []graph.Arc
	for q := range k {
		h, err := graph.KIn(size, d, uint64(q+1))
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range h.Arcs() {
			arcs = append(arcs, graph.Arc{From: perm[a.From+q*size], To: perm[a.To+q*size]})
		}
	}
	for v := range n {
		other := (v/size + 1 + rng.IntN(k-1)) % k
		arcs = append(arcs, graph.Arc{From: perm[other*size+rng.IntN(size)], To: perm[v]})
	}
	g, err := graph.FromArcs(n, arcs)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestLargeGraphClusters: squads past the engine's size get ρ = 1 and
// p* = 1/(d+1) exactly, from Lemma 17 and the walk started at the
// spectral split; from random splits the walk stopped at ρ ≤ 4 to 7,
// after one to two seconds each. Below the engine's size MaxR needs no
// search at all: the spectral split is a pair of ρ (three squads of
// 1 300 nodes took two decisions of 0.7 s each without it).
func TestLargeGraphClusters(t *testing.T) {
	for _, c := range []struct{ k, size, d int }{{3, 1500, 8}, {4, 1200, 10}, {2, 3000, 12}, {5, 1000, 6}, {3, 1300, 8}, {5, 200, 6}} {
		g := squads(t, c.k, c.size, c.d)
		rr, err := MaxR(context.Background(), g, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !rr.Exact || rr.R != 1 || rr.Nodes != 0 {
			t.Errorf("%d squads of %d: %d ≤ ρ ≤ %d after %d search nodes, want ρ = 1 exactly, no search", c.k, c.size, rr.Lower, rr.Upper, rr.Nodes)
			continue
		}
		if err := VerifyViolation(g, *rr.Witness, 2, 1); err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("1/%d", c.d+1)
		if fv := FractionVerdict(context.Background(), g, rr, ThreatOptions{}); !fv.Exact || fv.P != want {
			t.Errorf("%d squads of %d: p* ∈ [%s, %s], want %s exactly", c.k, c.size, fv.PLower, fv.P, want)
		}
	}
}

// TestSpectralPair: on twinHalves the spectral split is the two halves,
// below and past the engine's size; it is nil where there is nothing to
// split.
func TestSpectralPair(t *testing.T) {
	for _, half := range []int{300, maxEngineNodes/2 + 50} {
		g := twinHalves(t, half)
		p := spectralPair(g)
		if p == nil {
			t.Fatalf("half %d: no split", half)
		}
		parity := p.S1[0] % 2
		for k, set := range [][]int{p.S1, p.S2} {
			for _, v := range set {
				if (v%2 == parity) != (k == 0) {
					t.Fatalf("half %d: node %d on the wrong side (|S1| = %d)", half, v, len(p.S1))
				}
			}
		}
		if len(p.S1) != half {
			t.Fatalf("half %d: |S1| = %d", half, len(p.S1))
		}
	}
	// Three equal squads give the second eigenvalue twice, and the sign
	// of the vector cut a squad (MaxOut 8 here); the sweep's split runs
	// along squads.
	g := squads(t, 3, 1300, 8)
	if p := spectralPair(g); p == nil || MaxOut(g, *p) != 1 {
		t.Fatalf("three squads: split %v", p)
	}
	empty, err := graph.FromArcs(5, nil)
	if err != nil {
		t.Fatal(err)
	}
	one, err := graph.FromArcs(1, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Past walkWork arc visits (a dense graph of 1 200 nodes, 720 k arcs)
	// it is not computed at all.
	dense, err := graph.ErdosRenyi(1200, 0.5, true, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range []*graph.Digraph{empty, one, dense} {
		if p := spectralPair(g); p != nil {
			t.Errorf("%d nodes, %d arcs: split %v, want none", g.N(), g.M(), *p)
		}
	}
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
					res, ok := certify(context.Background(), g, r, s)
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
