package topology

import (
	"context"
	"fmt"
	"testing"

	"github.com/wmsr/wmsr/graph"
)

// TestVerdictsPastCap: a check stopped by the effort cap settles nothing,
// and the verdicts go on to the next F down, whose check is often far
// cheaper. On graph.KIn(64, 8, 1) (ρ = 4) the (4,4) check outlasts the
// cap while (3,3) holds within it, so F-total ≥ 2, and the removal search
// for F = 2 ends too; stopping at the first capped check left both
// verdicts at the bound of Lemma 5, F ≥ 1. One worker, so the capped
// searches repeat exactly.
func TestVerdictsPastCap(t *testing.T) {
	g, err := graph.KIn(64, 8, 1)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	opt := ThreatOptions{Options: Options{Workers: 1}, Effort: 1 << 15}
	rr, err := MaxR(ctx, g, opt.Options)
	if err != nil {
		t.Fatal(err)
	}
	if !rr.Exact || rr.R != 4 {
		t.Fatalf("ρ ∈ [%d, %d], want exactly 4", rr.Lower, rr.Upper)
	}
	// Each verdict reports its bounds before every decision, so that the
	// progress line moves in the report's last quarter too.
	var seen []Progress
	opt.Progress = func(p Progress) {
		if p.Nodes == 0 {
			seen = append(seen, p)
		}
	}
	reported := func(task string, v Verdict) {
		t.Helper()
		if len(seen) < 2 {
			t.Fatalf("%s: %d reports, want one per check", task, len(seen))
		}
		for _, p := range seen {
			if p.Task != task || p.Lower > v.Lower || p.Upper < v.Upper {
				t.Fatalf("%s: report %+v, verdict %d..%d", task, p, v.Lower, v.Upper)
			}
		}
		seen = nil
	}
	// s*(4) unknown (SResult{} says nothing), as when MaxS ran out of time.
	total := TotalVerdict(ctx, g, rr, SResult{}, opt)
	if total.Lower != 2 || total.Upper != 3 || total.Exact {
		t.Fatalf("F-total %d ≤ F ≤ %d (exact %v), want 2 ≤ F ≤ 3", total.Lower, total.Upper, total.Exact)
	}
	reported("total", total)
	if ok, err := Check(ctx, g, 3, 3, opt.Options); err != nil || !ok.Holds {
		t.Fatalf("(3,3) check: %+v, %v", ok, err)
	}
	seen = nil
	byz := ByzantineVerdict(ctx, g, rr, total, opt)
	if byz.Lower != 2 || byz.Upper != 3 {
		t.Fatalf("Byzantine %d ≤ F ≤ %d, want 2 ≤ F ≤ 3", byz.Lower, byz.Upper)
	}
	reported("byzantine", byz)
	t.Logf("F-total %d..%d, Byzantine %d..%d", total.Lower, total.Upper, byz.Lower, byz.Upper)
}

// TestEffortScaled: past 128 nodes the effort cap is divided by
// nodeScale, as MaxR's and MaxS's budgets are, so that a capped decision
// takes about as long as on a small graph. Undivided, the (3,3) check on
// a 6-in graph of 300 nodes ran its full 2^17 nodes (seconds; minutes on
// a thousand nodes), and the verdicts after it got no time.
func TestEffortScaled(t *testing.T) {
	g, err := graph.KIn(300, 6, 1)
	if err != nil {
		t.Fatal(err)
	}
	opt := ThreatOptions{Options: Options{Workers: 1}, Effort: 1 << 17}
	limit := opt.effort(g.N())
	if want := int64(1<<17) / nodeScale(300); limit != want || want >= 1<<17 {
		t.Fatalf("effort on 300 nodes %d, want %d", limit, want)
	}
	// The engine sees its limit between batches of nodes, so a search may
	// pass it by a few.
	res := check(context.Background(), g, 3, 3, opt, nil)
	if res.Decided || res.Nodes > limit+limit/8 {
		t.Fatalf("(3,3) check: decided %v after %d nodes, want capped near %d", res.Decided, res.Nodes, limit)
	}
	if small := (ThreatOptions{Effort: 1 << 17}).effort(128); small != 1<<17 {
		t.Fatalf("effort on 128 nodes %d, want it undivided", small)
	}
}

// TestMaxSStarsAfterDeadline: MaxS measures the star pairs even when its
// context has already ended (MaxR took the report's time), since the
// upper bound on s often rests on them; stopping them with ctx left
// directed ER p = 0.5, n = 80 at s ≤ 13 instead of s ≤ 9.
func TestMaxSStarsAfterDeadline(t *testing.T) {
	g, err := graph.ErdosRenyi(80, 0.5, true, 1)
	if err != nil {
		t.Fatal(err)
	}
	const r = 17
	_, star := bestStarPair(context.Background(), g, r)
	for _, p := range trivialPairs(g) {
		if c, ok := Cost(g, p, r); ok && c <= star {
			t.Fatalf("a trivial pair costs %d, the best star %d: the test needs the star to matter", c, star)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	sr := MaxSAt(ctx, g, RResult{R: r, Lower: r, Upper: r, Exact: true}, Options{})
	if sr.Upper > star || sr.Witness == nil {
		t.Fatalf("s ≤ %d with an ended context, want ≤ %d (the best star pair)", sr.Upper, star)
	}
	if err := VerifyViolation(g, *sr.Witness, r, sr.Upper+1); err != nil {
		t.Fatal(err)
	}
}

// TestSettleF runs settleF against every condition that holds up to some
// F* and fails above, on every range of up to eight values of F, with
// every set of F whose check is left unsettled: the bounds always contain
// F*, at most two checks go unsettled, and each bound is exact whenever
// every check on its side of F* settles (so one unsettled check above F*
// costs nothing below it).
func TestSettleF(t *testing.T) {
	for lo := -1; lo <= 1; lo++ {
		for hi := lo; hi <= lo+8; hi++ {
			for star := lo; star <= hi; star++ {
				width := hi - lo
				for open := 0; open < 1<<width; open++ {
					unsettled := func(f int) bool { return open&(1<<(f-lo-1)) != 0 }
					v := Verdict{Lower: lo, Upper: hi}
					calls, left := 0, 0
					settleF(context.Background(), &v, func(f int) (bool, bool, *Pair) {
						if f <= lo || f > hi {
							t.Fatalf("[%d, %d]: asked F = %d", lo, hi, f)
						}
						calls++
						if unsettled(f) {
							left++
							return false, false, nil
						}
						if f <= star {
							return true, true, nil
						}
						return true, false, &Pair{S1: []int{f}}
					})
					where := fmt.Sprintf("F* = %d in [%d, %d], unsettled %b", star, lo, hi, open)
					if v.Lower > star || v.Upper < star || left > 2 || calls > width {
						t.Fatalf("%s: bounds [%d, %d] after %d checks, %d unsettled", where, v.Lower, v.Upper, calls, left)
					}
					if v.Upper < hi && (v.Witness == nil || v.Witness.S1[0] != v.Upper+1) {
						t.Fatalf("%s: upper %d with witness %v", where, v.Upper, v.Witness)
					}
					below, above := true, true
					for f := lo + 1; f <= hi; f++ {
						if unsettled(f) {
							below = below && f > star
							above = above && f <= star
						}
					}
					if below && v.Lower != star || above && v.Upper != star {
						t.Fatalf("%s: bounds [%d, %d]", where, v.Lower, v.Upper)
					}
				}
			}
		}
	}
}
