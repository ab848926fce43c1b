package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"text/tabwriter"

	"github.com/wmsr/wmsr/graph"
	"github.com/wmsr/wmsr/wmsr"
	"github.com/wmsr/wmsr/wmsr/sim"
)

// strategies maps a -strategy name to the behaviour of the k-th attacker.
// Every one of them is malicious (one value for all receivers) except
// "equivocate", which is two-faced: the case signed values exist to stop.
//
// The networked fleet uses the same names (netStrategies).
var strategies = map[string]func(k int, seed uint64) sim.Behavior{
	"constant":   func(k int, _ uint64) sim.Behavior { return sim.Constant(500 + 100*float64(k)) },
	"ramp":       func(k int, _ uint64) sim.Behavior { return sim.Ramp{Start: 50, Slope: 2 - 4*float64(k%2)} },
	"oscillate":  func(k int, _ uint64) sim.Behavior { return sim.Oscillate{Lo: -50, Hi: 150, Period: 1 + k} },
	"random":     func(k int, seed uint64) sim.Behavior { return sim.Uniform{Lo: -200, Hi: 300, Seed: seed + uint64(k)} },
	"extreme":    func(k int, _ uint64) sim.Behavior { return sim.Extreme(k) },
	"nonfinite":  func(int, uint64) sim.Behavior { return sim.NonFinite{} },
	"pull":       func(k int, _ uint64) sim.Behavior { return sim.Pull(-1000 + 2000*float64(k%2)) },
	"equivocate": func(int, uint64) sim.Behavior { return sim.Polarize{} },
	"mixed": func(k int, seed uint64) sim.Behavior {
		// A drone that drags the fleet toward the ground and one that
		// climbs forever: the two attacks a pilot would fear most.
		if k%2 == 0 {
			return sim.Pull(0)
		}
		return sim.Ramp{Start: 60, Slope: 5}
	},
}

// flySim builds the fleet, checks its topology, runs the simulation and
// writes the report: -sim, first-order W-MSR on the altitude alone.
func flySim(ctx context.Context, o options, w io.Writer) (result, error) {
	rng := rand.New(rand.NewPCG(o.seed, 0xd1a5))
	pl, err := topologyFor(ctx, o, rng, w)
	if err != nil {
		return result{}, err
	}
	g := pl.g
	n := g.N()

	// Altitudes in metres: a loose formation between 20 and 80 m.
	alt := make([]float64, n)
	for i := range alt {
		alt[i] = 20 + 60*rng.Float64()
	}
	// Attackers are chosen at random among the drones; node ids are
	// arbitrary, so the lowest ids would be as good, but a random choice
	// shows the guarantee does not depend on where they sit.
	perm := rng.Perm(n)
	attackers := perm[:o.attackers]
	slices.Sort(attackers)
	mk := strategies[o.strategy]
	advs := make([]sim.Adversary, len(attackers))
	for k, a := range attackers {
		advs[k] = sim.Adversary{Node: a, Behavior: mk(k, o.seed)}
	}

	cfg := sim.Config{
		Graph:           g,
		Initial:         alt,
		Scope:           wmsr.Total(o.f),
		Adversaries:     advs,
		Rounds:          o.rounds,
		Epsilon:         o.epsilon,
		Seed:            o.seed,
		RecordValues:    true,
		AllowOverBudget: o.attackers > o.f, // let the user watch the guarantee fail
	}
	s, err := sim.New(cfg)
	if err != nil {
		return result{}, usageError{err}
	}
	rec := newRecorder(s, advs)
	for s.T() < o.rounds {
		rec.before(s)
		rd := s.Step()
		rec.after(rd)
		if o.stopAtEpsilon && rd.Disagreement < o.epsilon {
			break
		}
	}
	tr := rec.trace(s)

	report(w, o, g, tr, attackers)
	if o.out != "" {
		if err := writeOutputs(o.out, tr, rec); err != nil {
			return result{}, err
		}
		fmt.Fprintf(w, "\nwrote %s and %s\n", filepath.Join(o.out, "trace.csv"), filepath.Join(o.out, "altitude.png"))
	}
	ok := tr.Violations == 0 && tr.RoundsToEpsilon >= 0
	return result{ok: ok}, nil
}

// report prints the summary: the fleet's agreement, and per drone its final
// altitude and when it came within ε of the final agreement.
func report(w io.Writer, o options, g *graph.Digraph, tr *sim.Trace, attackers []int) {
	first, last := tr.Rounds[0], tr.Final()
	fmt.Fprintf(w, "attackers: %v (strategy %s), F = %d\n", droneIDs(attackers), o.strategy, o.f)
	fmt.Fprintf(w, "normal altitudes: round 0 in [%.3f, %.3f] m, round %d in [%.6f, %.6f] m\n",
		first.Min, first.Max, last.T, last.Min, last.Max)
	if tr.RoundsToEpsilon >= 0 {
		fmt.Fprintf(w, "agreement within %g m after %d rounds\n", tr.Epsilon, tr.RoundsToEpsilon)
	} else {
		fmt.Fprintf(w, "NO agreement within %g m after %d rounds (disagreement %.3g m)\n", tr.Epsilon, last.T, last.Disagreement)
	}
	fmt.Fprintf(w, "safety: %d normal values left [m(t), M(t)]\n\n", tr.Violations)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "drone\trole\tin-degree\tstart (m)\tfinal (m)\trounds to ε\t")
	isAttacker := make(map[int]bool, len(attackers))
	for _, a := range attackers {
		isAttacker[a] = true
	}
	col := make(map[int]int, len(tr.Nodes))
	for k, v := range tr.Nodes {
		col[v] = k
	}
	shown := 0
	for v := 0; v < g.N(); v++ {
		if isAttacker[v] {
			fmt.Fprintf(tw, "%d\tattacker\t%d\t-\t-\t-\t\n", v+1, g.InDegree(v))
			continue
		}
		if shown++; shown > maxTableRows {
			continue // a 10⁴-drone table is for trace.csv, not a terminal
		}
		k := col[v]
		final := last.Values[k]
		// The round from which this drone stays within ε of the fleet's
		// final interval: its own "rounds to ε".
		settled := 0
		for t := len(tr.Rounds) - 1; t >= 0; t-- {
			if x := tr.Rounds[t].Values[k]; x < last.Min-tr.Epsilon || x > last.Max+tr.Epsilon {
				settled = t + 1
				break
			}
		}
		fmt.Fprintf(tw, "%d\tnormal\t%d\t%.3f\t%.6f\t%d\t\n", v+1, g.InDegree(v), first.Values[k], final, settled)
	}
	tw.Flush()
	if shown > maxTableRows {
		fmt.Fprintf(w, "(%d more normal drones not listed)\n", shown-maxTableRows)
	}
}

// maxTableRows bounds the normal drones listed in a summary table.
const maxTableRows = 100

// droneIDs numbers drones from 1, as the agents' member ids do (node i of
// a graph is drone i+1).
func droneIDs(nodes []int) []int {
	ids := make([]int, len(nodes))
	for i, v := range nodes {
		ids[i] = v + 1
	}
	return ids
}
