package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/wmsr/wmsr/attest"
)

// caught is what the normal drones proved about one attacker.
type caught struct {
	outs        []attest.MemberID // its normal out-neighbours: who hears it
	by          []attest.MemberID // who holds evidence against it
	proofs      int
	verified    int // proofs that check against its admitted record
	quarantined []attest.MemberID
}

// evidenceSummary checks every proof the normal drones caught against the
// accused attacker's admitted record (attest.VerifyEvidence: the two
// envelopes are well signed by its key, for the same counter, and differ),
// and collects who quarantined whom.
func (f *netFleet) evidenceSummary() (map[attest.MemberID]*caught, []string) {
	byID := map[attest.MemberID]*attacker{}
	sum := map[attest.MemberID]*caught{}
	for _, a := range f.attackers {
		byID[a.id] = a
		c := &caught{}
		for _, v := range f.g.Out(a.node) {
			if _, bad := f.isAttack[int(v)]; !bad {
				c.outs = append(c.outs, id(int(v)))
			}
		}
		sum[a.id] = c
	}
	var problems []string
	for r, v := range f.normal {
		_, _, _, evs := f.tr.totals(r)
		for _, ev := range evs {
			slot, err := ev.Slot()
			a, ok := byID[slot.Sender]
			if err != nil || !ok {
				problems = append(problems, fmt.Sprintf("drone %d holds evidence against %d, not an attacker (%v)", id(v), slot.Sender, err))
				continue
			}
			c := sum[a.id]
			c.proofs++
			if _, err := attest.VerifyEvidence(ev, &a.record); err == nil {
				c.verified++
			} else {
				problems = append(problems, fmt.Sprintf("drone %d's evidence against %d does not verify: %v", id(v), a.id, err))
			}
			if !slices.Contains(c.by, id(v)) {
				c.by = append(c.by, id(v))
			}
		}
		for _, q := range f.nodes[r].Engine().Quarantined() {
			if c, ok := sum[q]; ok {
				c.quarantined = append(c.quarantined, id(v))
			} else {
				problems = append(problems, fmt.Sprintf("drone %d quarantined normal drone %d", id(v), q))
			}
		}
	}
	return sum, problems
}

// report prints the summary and the table and says whether the guarantee
// was met: agreement within ε, safety, and every equivocator caught by
// every normal drone that hears it.
func (f *netFleet) report(out outcome) bool {
	w, o := f.w, f.o
	ok := true
	fail := func(format string, args ...any) {
		ok = false
		fmt.Fprintf(w, "FAIL: "+format+"\n", args...)
	}
	var names []string
	for _, a := range f.attackers {
		names = append(names, fmt.Sprintf("%d (%s)", a.id, a.plan.name))
	}
	if len(names) == 0 {
		names = []string{"none"}
	}
	fmt.Fprintf(w, "\nattackers: %s, strategy %s; F = %d\n", strings.Join(names, ", "), o.strategy, o.f)
	final := out.final.centre()
	if out.roundsToEps >= 0 {
		fmt.Fprintf(w, "agreement: within %g m in every coordinate after %d rounds (%.2f s of flight)\n",
			out.epsilon, out.roundsToEps, (o.period * time.Duration(out.roundsToEps)).Seconds())
		fmt.Fprintf(w, "rendezvous point: (%.3f, %.3f, %.3f) m; common altitude %.3f m\n", final[0], final[1], final[2], final[2])
	} else {
		fail("no agreement within %g m after %d rounds: the normal drones still span %.3g m", out.epsilon, out.rounds, out.spread[out.rounds])
	}
	ib := out.initial
	if out.violations == 0 {
		fmt.Fprintf(w, "safety: every normal position stayed in the normal drones' initial box x ∈ [%.2f, %.2f], y ∈ [%.2f, %.2f], z ∈ [%.2f, %.2f] m\n",
			ib.lo[0], ib.hi[0], ib.lo[1], ib.hi[1], ib.lo[2], ib.hi[2])
	} else {
		fail("safety: %d positions left the initial box; first: %s", out.violations, out.firstViolation)
	}
	if missed := sum(out.missed); missed > 0 {
		fmt.Fprintf(w, "note: %d drone-rounds were not reported (a runner that falls behind skips rounds; the position holds)\n", missed)
	}
	evs, problems := f.evidenceSummary()
	for _, a := range f.attackers {
		c := evs[a.id]
		switch {
		case a.plan.twoFaced && len(c.outs) == 0:
			fmt.Fprintf(w, "evidence: attacker %d equivocated, but no normal drone hears it\n", a.id)
		case a.plan.twoFaced:
			fmt.Fprintf(w, "evidence: attacker %d equivocated; caught by %d of the %d normal drones that hear it %v, %d proofs, %d verified against its record; quarantined by %d\n",
				a.id, len(c.by), len(c.outs), c.by, c.proofs, c.verified, len(c.quarantined))
			if len(c.by) < len(c.outs) || c.verified < c.proofs {
				fail("attacker %d's equivocation was not caught by every drone that hears it", a.id)
			}
		case c.proofs > 0:
			fail("attacker %d never equivocated, yet %d proofs accuse it", a.id, c.proofs)
		}
	}
	for _, p := range problems {
		fail("%s", p)
	}

	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "drone\trole\tin\tstart x, y, z (m)\tfinal x, y, z (m)\tε-round\taccepted\trejected by reason\tevidence")
	row := map[int]int{}
	for r, v := range f.normal {
		row[v] = r
	}
	shown := 0
	for v := range f.g.N() {
		if k, bad := f.isAttack[v]; bad {
			a := f.attackers[k]
			c := evs[a.id]
			ev := "-"
			if a.plan.twoFaced {
				ev = fmt.Sprintf("caught by %d/%d", len(c.by), len(c.outs))
			}
			fmt.Fprintf(tw, "%d\tattacker: %s\t%d\t-\t-\t-\tsealed %d\t-\t%s\n", a.id, a.plan.name, f.g.InDegree(v), a.sealed, ev)
			continue
		}
		if shown++; shown > maxTableRows {
			continue
		}
		r := row[v]
		acc, rej, _, evl := f.tr.totals(r)
		start, end := f.tr.pos[r][0], f.tr.pos[r][out.rounds]
		ev := "-"
		if len(evl) > 0 {
			// How many proofs, and against whom.
			var against []string
			for _, e := range evl {
				if slot, err := e.Slot(); err == nil && !slices.Contains(against, fmt.Sprint(slot.Sender)) {
					against = append(against, fmt.Sprint(slot.Sender))
				}
			}
			ev = fmt.Sprintf("%d against %s", len(evl), strings.Join(against, ", "))
		}
		fmt.Fprintf(tw, "%d\tnormal\t%d\t%s\t%s\t%d\t%d\t%s\t%s\n", id(v), f.g.InDegree(v),
			fmtPoint(start, 1), fmtPoint(end, 3), out.settled[r], acc, fmtReasons(rej), ev)
	}
	tw.Flush()
	if shown > maxTableRows {
		fmt.Fprintf(w, "(%d more normal drones not listed)\n", shown-maxTableRows)
	}
	fmt.Fprintln(w)
	return ok
}

func fmtPoint(p point, prec int) string {
	return fmt.Sprintf("%.*f, %.*f, %.*f", prec, p[0], prec, p[1], prec, p[2])
}

// fmtReasons prints rejection counts by reason, most frequent first.
func fmtReasons(m map[string]int) string {
	if len(m) == 0 {
		return "-"
	}
	keys := make([]string, 0, len(m))
	for k, c := range m {
		if c > 0 {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b string) int {
		if m[a] != m[b] {
			return m[b] - m[a]
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

func sum(xs []int) int {
	s := 0
	for _, x := range xs {
		s += x
	}
	return s
}

// writeOutputs writes trace.csv and the two plots under -out.
func (f *netFleet) writeOutputs(out outcome) error {
	dir := f.o.out
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	file, err := os.Create(filepath.Join(dir, "trace.csv"))
	if err != nil {
		return err
	}
	if err := f.tr.writeCSV(file); err != nil {
		file.Close()
		return fmt.Errorf("write trace: %w", err)
	}
	if err := file.Close(); err != nil {
		return err
	}
	if err := f.plotRendezvous(filepath.Join(dir, "rendezvous.png"), out); err != nil {
		return fmt.Errorf("rendezvous plot: %w", err)
	}
	if err := f.plotAltitude(filepath.Join(dir, "altitude.png"), out); err != nil {
		return fmt.Errorf("altitude plot: %w", err)
	}
	return nil
}
