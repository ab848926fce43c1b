package topology

import (
	"context"
	"math/big"
	"sync/atomic"
	"testing"

	"github.com/wmsr/wmsr/graph"
)

// slowProof is a decision that runs far past spawnAfter nodes (a proof of
// 47 k search nodes): undirected ER p = 0.1, 64 nodes, seed 4, is 4/9-fraction
// robust.
func slowProof(t *testing.T) *instance {
	t.Helper()
	g, err := graph.ErdosRenyi(64, 0.1, false, 4)
	if err != nil {
		t.Fatal(err)
	}
	return &instance{g: g, t: fractionNeeds(g, big.NewRat(4, 9)), wlog: true, ownShare: true}
}

// TestHelperStopsSearch: a helper that reports success stops the search,
// which must then say it is incomplete, never that it proved anything.
func TestHelperStopsSearch(t *testing.T) {
	inst := slowProof(t)
	var ran atomic.Bool
	inst.helper = func(context.Context) bool {
		ran.Store(true)
		return true
	}
	o := decide(context.Background(), inst, 2, 0, nil)
	if !ran.Load() {
		t.Fatal("the helper never ran")
	}
	if o.complete || o.found {
		t.Fatalf("stopped by its helper, the search reports complete=%v found=%v", o.complete, o.found)
	}
}

// TestHelperHandsOver: a helper that gives up only when told the first
// worker is done must not change the answer, and must be told.
func TestHelperHandsOver(t *testing.T) {
	inst := slowProof(t)
	var ran atomic.Bool
	inst.helper = func(ctx context.Context) bool {
		ran.Store(true)
		<-ctx.Done()
		return false
	}
	o := decide(context.Background(), inst, 2, 0, nil)
	if !ran.Load() {
		t.Fatal("the helper never ran")
	}
	if !o.complete || o.found {
		t.Fatalf("with a helper that gives up, the proof reports complete=%v found=%v, want complete, no pair", o.complete, o.found)
	}
	// One worker: no second goroutine, so no helper.
	ran.Store(false)
	if o := decide(context.Background(), inst, 1, 0, nil); ran.Load() || !o.complete || o.found {
		t.Fatalf("one worker: helper ran=%v, complete=%v found=%v", ran.Load(), o.complete, o.found)
	}
}

// TestFractionRace: the fraction verdict with two workers (decisions raced
// by the local search) and with one (no race) agree on p*, and each
// witness has ratio p*. On k-out seeds 4 and 11 the walk wins decisions
// that take the search 10–15 ms (BENCHMARKS.md, "The fraction decisions
// race the walk"), so a race that misread a stopped search as a proof
// would raise p* there.
func TestFractionRace(t *testing.T) {
	ctx := context.Background()
	var gs []*graph.Digraph
	for _, seed := range []uint64{4, 11} {
		g, err := graph.KOut(64, 6, seed)
		if err != nil {
			t.Fatal(err)
		}
		gs = append(gs, g)
	}
	for _, seed := range []uint64{1, 5} {
		g, err := graph.ErdosRenyi(64, 0.1, false, seed)
		if err != nil {
			t.Fatal(err)
		}
		gs = append(gs, g)
	}
	for i, g := range gs {
		var ps [2]string
		for w := 1; w <= 2; w++ {
			opt := Options{Workers: w}
			rr, err := MaxR(ctx, g, opt)
			if err != nil {
				t.Fatal(err)
			}
			v := FractionVerdict(ctx, g, rr, ThreatOptions{Options: opt})
			if !v.Exact {
				t.Fatalf("graph %d, %d workers: fraction verdict not exact: %+v", i, w, v)
			}
			if v.Witness == nil || ratio(g, *v.Witness).RatString() != v.P {
				t.Fatalf("graph %d, %d workers: witness %+v does not have ratio p* = %s", i, w, v.Witness, v.P)
			}
			ps[w-1] = v.P
		}
		if ps[0] != ps[1] {
			t.Fatalf("graph %d: p* = %s with one worker, %s with two", i, ps[0], ps[1])
		}
	}
}
