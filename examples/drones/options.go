package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/url"
	"sort"
	"time"

	"github.com/wmsr/wmsr/agent/mqtttopic"
	"github.com/wmsr/wmsr/agent/node"
	"github.com/wmsr/wmsr/graph"
	"github.com/wmsr/wmsr/wmsr/sim"
)

const (
	// baseSide is the side of the box drones are placed in, in metres,
	// up to denseFleet drones; beyond, the box grows so that the density
	// stays that of denseFleet drones in it, or 10⁴ drones within 60 m of
	// each other would make a near-complete graph of 10⁸ links.
	baseSide   = 100.0
	denseFleet = 200
	// floor is the altitude of the box's floor: z = 0 in the placement is
	// 20 m above the ground, so no drone starts on it.
	floor = 20.0
	// maxPlacements bounds the search for a placement whose radio graph
	// tolerates F: a radius that is too short for the fleet size should
	// fail with advice, not loop.
	maxPlacements = 50
	// checkBudget bounds all the robustness checks of one placement
	// search (each decision is exact and may be exponential).
	checkBudget = 10 * time.Second
	// maxNetDrones bounds the networked fleet: every drone is an MQTT
	// connection, a memberlist member (UDP and TCP sockets) and a few
	// goroutines in this one process.
	maxNetDrones = 200
	// maxSimDrones bounds -sim.
	maxSimDrones = 100000
)

// boxSide returns the side of the placement box for n drones.
func boxSide(n int) float64 {
	return baseSide * math.Cbrt(max(1, float64(n)/denseFleet))
}

type options struct {
	n, f, attackers, rounds int
	strategy, topology, out string
	radius, epsilon         float64
	seed                    uint64
	timeout                 time.Duration

	sim bool
	// stopAtEpsilon ends a -sim run at agreement: a large fleet's horizon
	// is long, and rounds after agreement only fill the trace.
	stopAtEpsilon bool

	// The networked fleet.
	period, startDelay   time.Duration
	broker, token, fleet string
	verbose              bool
}

// usageError marks errors in what the user asked for, as opposed to a fleet
// that failed to agree.
type usageError struct{ error }

func (o options) validate() error {
	maxN := maxNetDrones
	if o.sim {
		maxN = maxSimDrones
	}
	switch {
	case o.n < 2 || o.n > maxN:
		if !o.sim && o.n > maxN && o.n <= maxSimDrones {
			return fmt.Errorf("-n %d: the networked fleet runs %d drones at most in one process (one MQTT connection and one gossip member each); use -sim for larger fleets", o.n, maxN)
		}
		return fmt.Errorf("-n %d: want 2..%d drones", o.n, maxN)
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
	if o.sim {
		return nil
	}
	switch {
	case o.period < 5*time.Millisecond || o.period > 10*time.Second:
		return fmt.Errorf("-period %v: want 5ms..10s", o.period)
	case o.startDelay < 0:
		return fmt.Errorf("-start-delay %v: want ≥ 0 (0 picks one)", o.startDelay)
	}
	if need := o.start() + time.Duration(o.rounds)*o.period; need >= o.timeout {
		return fmt.Errorf("-timeout %v: the fleet needs %v (start delay %v + %d rounds × %v) before it even finishes; raise -timeout or lower -rounds or -period",
			o.timeout, need, o.start(), o.rounds, o.period)
	}
	if o.broker != "" {
		u, err := url.Parse(o.broker)
		if err != nil || (u.Scheme != "tcp" && u.Scheme != "mqtt") || u.Host == "" {
			return fmt.Errorf("-broker %q: want tcp://host:port", o.broker)
		}
	}
	if o.fleet != "" {
		if err := mqtttopic.CheckFleet(o.fleet); err != nil {
			return fmt.Errorf("-fleet %q: %v", o.fleet, err)
		}
	}
	return nil
}

// start is the time between the end of the setup and round 0: gossip must
// have admitted every drone's record at its neighbours by then, or their
// first values are refused as from unknown senders.
func (o options) start() time.Duration {
	if o.startDelay > 0 {
		return o.startDelay
	}
	return 750*time.Millisecond + time.Duration(o.n)*25*time.Millisecond
}

// strategyNames lists -strategy: the same names in both modes (see
// strategies for the simulator and netStrategies for the fleet).
func strategyNames() []string {
	names := make([]string, 0, len(strategies))
	for k := range strategies {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// result is what a mode reports besides errors: whether the guarantee was
// met.
type result struct{ ok bool }

// placement is the fleet's communication graph and, when it was generated,
// where the drones are (nil for -topology).
type placement struct {
	g    *graph.Digraph
	pos  [][]float64
	side float64
}

// topologyFor reads -topology or places drones at random until their radio
// graph tolerates F, trying a bounded number of placements.
func topologyFor(ctx context.Context, o options, rng *rand.Rand, w io.Writer) (placement, error) {
	ctx, cancel := context.WithTimeout(ctx, checkBudget)
	defer cancel()
	side := boxSide(o.n)
	if o.topology != "" {
		g, err := node.ReadGraphFile(o.topology)
		if err != nil {
			return placement{}, usageError{fmt.Errorf("-topology: %w", err)}
		}
		v := check(ctx, g, o.f)
		fmt.Fprintf(w, "topology %s: %d drones, %d links; %s\n", o.topology, g.N(), g.M(), v)
		return placement{g: g, side: boxSide(g.N())}, nil
	}
	for try := 1; try <= maxPlacements; try++ {
		g, pos, err := graph.RandomGeometric(o.n, 3, side, o.radius, rng.Uint64())
		if err != nil {
			return placement{}, usageError{err}
		}
		v := check(ctx, g, o.f)
		if v.tolerates || v.localOnly {
			fmt.Fprintf(w, "placed %d drones in a %.0f m box, radio range %.0f m: %d links; %s (placement %d)\n",
				o.n, side, o.radius, g.M()/2, v, try)
			return placement{g: g, pos: pos, side: side}, nil
		}
	}
	return placement{}, usageError{fmt.Errorf("no placement of %d drones with radio range %.0f m out of %d tolerates F = %d; raise -radius or lower -f",
		o.n, o.radius, maxPlacements, o.f)}
}
