package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/wmsr/wmsr/graph"
	"github.com/wmsr/wmsr/wmsr"
	"github.com/wmsr/wmsr/wmsr/sim"
)

const (
	boxSide = 100.0 // metres; drones are placed uniformly in [0, boxSide]³
	// maxPlacements bounds the search for a placement whose radio graph
	// tolerates F: a radius that is too short for the fleet size should
	// fail with advice, not loop.
	maxPlacements = 50
)

type options struct {
	n, f, attackers, rounds int
	strategy, topology, out string
	radius, epsilon         float64
	seed                    uint64
	timeout                 time.Duration
}

// usageError marks errors in what the user asked for, as opposed to a fleet
// that failed to agree.
type usageError struct{ error }

func (o options) validate() error {
	switch {
	case o.n < 2 || o.n > 100000:
		return fmt.Errorf("-n %d: want 2..100000 drones", o.n)
	case o.f < 0:
		return fmt.Errorf("-f %d: want F ≥ 0", o.f)
	case o.attackers < 0 || o.attackers >= o.n:
		return fmt.Errorf("-attackers %d: want 0..%d", o.attackers, o.n-1)
	case o.rounds < 1 || o.rounds > sim.MaxRounds:
		return fmt.Errorf("-rounds %d: want 1..%d", o.rounds, sim.MaxRounds)
	case !(o.radius > 0) || math.IsInf(o.radius, 0):
		return fmt.Errorf("-radius %v: want a positive number of metres", o.radius)
	case !(o.epsilon > 0) || math.IsInf(o.epsilon, 0):
		return fmt.Errorf("-epsilon %v: want a positive number", o.epsilon)
	case o.timeout <= 0:
		return fmt.Errorf("-timeout %v: want a positive duration", o.timeout)
	}
	if _, ok := strategies[o.strategy]; !ok {
		return fmt.Errorf("-strategy %q: want one of %v", o.strategy, strategyNames())
	}
	return nil
}

// strategies maps a -strategy name to the behaviour of the k-th attacker.
// Every one of them is malicious (one value for all receivers) except
// "equivocate", which is two-faced: the case signed values exist to stop.
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

func strategyNames() []string {
	names := make([]string, 0, len(strategies))
	for k := range strategies {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

type result struct{ ok bool }

// fly builds the fleet, checks its topology, runs the simulation and writes
// the report.
func fly(ctx context.Context, o options, w io.Writer) (result, error) {
	rng := rand.New(rand.NewPCG(o.seed, 0xd1a5))
	g, err := topologyFor(ctx, o, rng, w)
	if err != nil {
		return result{}, err
	}
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
		rec.after(s.Step())
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

// topologyFor reads -topology or places drones at random until their radio
// graph tolerates F, trying a bounded number of placements.
func topologyFor(ctx context.Context, o options, rng *rand.Rand, w io.Writer) (*graph.Digraph, error) {
	if o.topology != "" {
		g, err := readGraph(o.topology)
		if err != nil {
			return nil, usageError{err}
		}
		v := check(ctx, g, o.f)
		fmt.Fprintf(w, "topology %s: %d drones, %d links; %s\n", o.topology, g.N(), g.M(), v)
		return g, nil
	}
	for try := 1; try <= maxPlacements; try++ {
		g, _, err := graph.RandomGeometric(o.n, 3, boxSide, o.radius, rng.Uint64())
		if err != nil {
			return nil, usageError{err}
		}
		v := check(ctx, g, o.f)
		if v.tolerates {
			fmt.Fprintf(w, "placed %d drones in a %.0f m box, radio range %.0f m: %d links; %s (placement %d)\n",
				o.n, boxSide, o.radius, g.M()/2, v, try)
			return g, nil
		}
	}
	return nil, usageError{fmt.Errorf("no placement of %d drones with radio range %.0f m out of %d tolerates F = %d; raise -radius or lower -f",
		o.n, o.radius, maxPlacements, o.f)}
}

func readGraph(path string) (*graph.Digraph, error) {
	format, err := graph.FormatFromPath(path)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	g, err := graph.Read(f, format)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return g, nil
}

// report prints the summary: the fleet's agreement, and per drone its final
// altitude and when it came within ε of the final agreement.
func report(w io.Writer, o options, g *graph.Digraph, tr *sim.Trace, attackers []int) {
	first, last := tr.Rounds[0], tr.Final()
	fmt.Fprintf(w, "attackers: %v (strategy %s), F = %d\n", attackers, o.strategy, o.f)
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
	for v := 0; v < g.N(); v++ {
		if isAttacker[v] {
			fmt.Fprintf(tw, "%d\tattacker\t%d\t-\t-\t-\t\n", v, g.InDegree(v))
			continue
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
		fmt.Fprintf(tw, "%d\tnormal\t%d\t%.3f\t%.6f\t%d\t\n", v, g.InDegree(v), first.Values[k], final, settled)
	}
	tw.Flush()
}
