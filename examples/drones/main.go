// Command drones flies a fleet of drones that agree, in spite of
// compromised members, on a rendezvous point in 3-D, and so on a common
// altitude: the z coordinate of the point they agree on.
//
//	go run ./examples/drones          # 20 networked drones, 2 attackers, about 12 s
//	go run ./examples/drones -sim -n 10000
//
// # The networked fleet (default)
//
// Every drone is a real agent in this process, assembled exactly as
// wmsr-agent assembles one (agent/node): its own Ed25519 identity,
// certified by an in-memory fleet CA and admitted by the others through
// gossip (agent/membership, one memberlist member per drone on 127.0.0.1,
// with DefaultLocalConfig's timings but a push/pull every second rather
// than five, so that a member that missed a join's gossip on a loaded host
// catches up within a short flight),
// its own MQTT connection (agent/mqttfabric) to the embedded broker
// (agent/broker; -broker URL for an external one such as mosquitto, with
// -token as the MQTT password), and its own round engine (agent.Engine)
// that seals its position each round in a signed, counter-stamped
// envelope, authenticates the neighbours' envelopes and applies DP-MSR.
//
// Drones are placed uniformly in a 100 m box whose floor is at 20 m
// altitude; drones within radio range (-radius) hear each other, and the
// communication graph is fixed to that initial radio graph. Before anything
// flies, package topology decides whether the graph tolerates F attackers
// (F-total: (F+1,F+1)-robust, necessary and sufficient for first-order
// W-MSR) and reports the largest F it tolerates; placements are redrawn
// until one does. That is W-MSR's condition; for the second-order dynamics
// below see Dibaji and Ishii's theorems (wmsr.DP does not quote them): the
// run's outcome is checked, not assumed.
//
// The state of a drone is its position [x, y, z]. A rendezvous is a
// position consensus, so the drones run the second-order DP-MSR dynamics
// (Dibaji and Ishii 2017; wmsr.DP): each is a double integrator whose
// acceleration pulls it toward the neighbours' positions that survive the
// W-MSR trimming (F largest and F smallest per coordinate), with damping.
// Positions are exchanged, velocities stay private, so an attacker can only
// lie about positions, and those lies are trimmed. There is no separate
// altitude consensus: the common altitude is the z of the agreed point,
// and a first-order consensus beside it would only be a second, redundant
// answer to the same question.
//
// Gains and the sampling period. T is the round period in seconds, so the
// private velocity is in m/s; the dynamics then depend only on a = A·T² and
// b = B·T. Each drone takes b = 1.5 and the largest a for which
// wmsr.DP.NonnegativeFor(its in-degree) holds (a·d ≈ 1). NonnegativeFor is
// a per-agent condition: a step of drone i is a convex combination of its
// own x, its own z = x + cᵢ·v and the kept neighbour positions, and
// neighbours only ever see positions, so each drone may have its own cᵢ
// and gains. Tuning each drone to its own in-degree rather than all to the
// largest one converges about three times faster on the default fleet.
//
// What is asserted (exit status 0): the normal drones agreed within ε
// (-epsilon, 1 cm) in every coordinate, and stayed safe: every normal
// drone's position stayed, coordinate by coordinate, inside the bounding
// box of the normal drones' initial positions (tolerance 10⁻⁹ relative, for
// rounding). That box is exactly what the DP-MSR invariant guarantees here:
// the interval spanned by the normal drones' x and z = x + c·v never grows
// (with delayed values, the interval over the last D+1 rounds), and it
// starts as the initial box because every drone starts at rest (z = x).
// The invariant is on (x, z); z is private, so only x is checked. And
// every equivocating attacker must have been caught, with verifiable
// evidence, by every normal drone that hears it.
//
// Attackers are network participants too: compromised drones holding
// valid, certified identities, with their own MQTT connection and gossip
// member, that seal what their strategy says (-strategy) each round and
// publish it. An equivocator holds its keys in two attest identities and
// seals two different envelopes under the same counter every round; a
// neighbour receiving both holds a proof, signed by the attacker's own
// key, that it lied, and quarantines it. Attackers see the whole fleet's
// latest positions (as the simulator's adversaries do): the in-hull lies of
// pull and equivocate are the ones trimming alone cannot single out.
//
// It prints the topology verdict, the agreement, the safety check and the
// evidence, and a table per drone (start and final position, rounds to ε,
// envelopes accepted and rejected by reason, evidence), and writes
// trace.csv, rendezvous.png (the x–y view) and altitude.png under -out.
//
// # The simulation (-sim)
//
// -sim is the pure in-process simulation of wmsr/sim: first-order W-MSR on
// the altitude alone, no network, deterministic for a given -seed, and
// fast enough for 10⁴ drones (the box grows beyond 200 drones to keep the
// radio graph as dense as 200 drones in 100 m; beyond 4096 drones the
// exact robustness check is out of reach, and the fleet flies if every
// drone hears at least 2F+1 others, a local condition only; and it flies
// until agreement). It writes trace.csv and altitude.png.
//
// Exit status: 0 the normal drones agreed within ε and stayed safe (and,
// networked, every equivocator was caught); 1 they did not, or the run
// failed; 2 bad usage (the message names the flag).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// Defaults that differ between the modes: the simulator's first-order
// W-MSR converges geometrically fast and has no clock, the networked
// second-order fleet runs on a real one and is asked for centimetres.
const (
	netRounds, simRounds   = 200, 120
	netEpsilon, simEpsilon = 0.01, 1e-6
	simLargeRounds         = 5000
)

// run is main with its I/O made explicit, so tests drive it in-process.
// Exit codes: 0 the normal drones agreed within ε and stayed safe, 1 they
// did not (or the run failed), 2 bad usage.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var o options
	fs := flag.NewFlagSet("drones", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.n, "n", 20, "number of drones")
	fs.IntVar(&o.f, "f", 2, "F: the number of compromised drones each normal drone trims against (F-total)")
	fs.IntVar(&o.attackers, "attackers", 2, "number of compromised drones (at most F for the guarantee to hold)")
	fs.StringVar(&o.strategy, "strategy", "mixed", "attacker strategy: "+strings.Join(strategyNames(), ", ")+
		" (mixed: one equivocator, one climbing for ever)")
	fs.StringVar(&o.topology, "topology", "", "read the communication graph from FILE (text, JSON, DOT or CSV; node i is drone i+1) instead of placing drones at random")
	fs.IntVar(&o.rounds, "rounds", netRounds, fmt.Sprintf("number of rounds (with -sim the default is %d, and for more than %d drones until agreement, at most %d)", simRounds, denseFleet, simLargeRounds))
	fs.DurationVar(&o.period, "period", 50*time.Millisecond, "round period of the networked fleet")
	fs.StringVar(&o.broker, "broker", "", "URL of an external MQTT broker (tcp://host:1883); empty starts the embedded broker on 127.0.0.1")
	fs.StringVar(&o.token, "token", "", "fleet token, the MQTT password of every drone (default: random for the embedded broker, none for -broker)")
	fs.StringVar(&o.fleet, "fleet", "", "fleet name, the second MQTT topic level (default: drones-<random>, so runs sharing a broker stay apart)")
	fs.DurationVar(&o.startDelay, "start-delay", 0, "time between setup and round 0, for gossip to admit every drone (0: 750 ms + 25 ms per drone)")
	fs.Float64Var(&o.radius, "radius", 60, "radio range in metres (the box is 100 m on each side up to 200 drones)")
	fs.Float64Var(&o.epsilon, "epsilon", netEpsilon, fmt.Sprintf("agreement threshold in metres, per coordinate (with -sim the default is %g)", simEpsilon))
	fs.Uint64Var(&o.seed, "seed", 1, "seed for placement, positions and attackers")
	fs.StringVar(&o.out, "out", "out/drones", "directory for trace.csv and the plots (empty: write nothing)")
	fs.DurationVar(&o.timeout, "timeout", 2*time.Minute, "bound on the whole run")
	fs.BoolVar(&o.sim, "sim", false, "pure in-process simulation (wmsr/sim, first-order W-MSR on altitude, no network), up to 10⁵ drones")
	fs.BoolVar(&o.verbose, "v", false, "log the agents, gossip and broker to stderr (info level)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "drones: unexpected argument %q (flags go before it; see -h)\n", fs.Arg(0))
		return 2
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if o.sim {
		if !set["rounds"] {
			o.rounds = simRounds
			if o.n > denseFleet {
				// A large fleet's radio graph has a diameter of several
				// hops and takes hundreds of rounds (about 500 for 10⁴
				// drones): fly until agreement, within a long horizon.
				o.rounds, o.stopAtEpsilon = simLargeRounds, true
			}
		}
		if !set["epsilon"] {
			o.epsilon = simEpsilon
		}
		for _, name := range []string{"period", "broker", "token", "fleet", "start-delay", "v"} {
			if set[name] {
				fmt.Fprintf(stderr, "drones: -%s applies to the networked fleet, not to -sim\n", name)
				return 2
			}
		}
	}
	if err := o.validate(); err != nil {
		fmt.Fprintf(stderr, "drones: %v\n", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	var res result
	var err error
	if o.sim {
		res, err = flySim(ctx, o, stdout)
	} else {
		res, err = flyNet(ctx, o, stdout, stderr)
	}
	if err != nil {
		fmt.Fprintf(stderr, "drones: %v\n", err)
		var u usageError
		if errors.As(err, &u) {
			return 2
		}
		return 1
	}
	if !res.ok {
		return 1
	}
	return 0
}
