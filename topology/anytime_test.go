package topology

import (
	"context"
	"testing"

	"github.com/wmsr/wmsr/graph"
)

// TestMaxRLowerMovesFirst: while MaxR's top-down step runs a long
// decision, the lower bound must already stand where cheap proofs put it.
// On this graph (ρ ∈ {12, 13}) the step at r = 13 outgrows its quick try
// and the walk, and its full decision runs past the first progress report
// (2^20 search nodes), where the test stops it. By then the proofs of
// r = 3..12 have run; before they were run first, the lower bound stood
// at 2 there. One worker, so the node counts and the order of decisions
// repeat exactly.
func TestMaxRLowerMovesFirst(t *testing.T) {
	g, err := graph.ErdosRenyi(50, 0.5, true, 1)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var at *Progress
	opt := Options{Workers: 1, Progress: func(p Progress) {
		if p.Nodes > 0 && at == nil {
			at = &p
			cancel()
		}
	}}
	res, err := MaxR(ctx, g, opt)
	if err != nil {
		t.Fatal(err)
	}
	if at == nil {
		t.Fatalf("no decision reached a progress report; MaxR gave %d ≤ ρ ≤ %d", res.Lower, res.Upper)
	}
	if at.Lower < 12 || res.Lower < 12 {
		t.Fatalf("lower bound %d at the first long decision (%+v), %d at the end; want 12", at.Lower, *at, res.Lower)
	}
	if res.Witness == nil || MaxOut(g, *res.Witness) != res.Upper {
		t.Fatalf("upper bound %d without a matching witness", res.Upper)
	}
}
