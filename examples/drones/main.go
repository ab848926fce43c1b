// Command drones flies a simulated fleet: drones placed in a 3-D box hear
// each other within radio range, the topology is checked for robustness
// first, a few drones are compromised, and the rest agree on a common
// altitude with W-MSR.
//
//	go run ./examples/drones
//
// This is the pure in-process mode (the simulator of wmsr/sim): no network,
// no processes, deterministic for a given -seed. The networked fleet, one
// wmsr-agent per drone over MQTT with signed values, is built on top of the
// same rule and is not part of this example yet.
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

// run is main with its I/O made explicit, so tests drive it in-process.
// Exit codes: 0 the normal drones agreed within ε and stayed safe, 1 they
// did not (or the topology cannot tolerate the attackers), 2 bad usage.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var o options
	fs := flag.NewFlagSet("drones", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.n, "n", 20, "number of drones")
	fs.IntVar(&o.f, "f", 2, "F: the number of compromised drones each normal drone trims against (F-total)")
	fs.IntVar(&o.attackers, "attackers", 2, "number of compromised drones (at most F for the guarantee to hold)")
	fs.StringVar(&o.strategy, "strategy", "mixed", "attacker strategy: "+strings.Join(strategyNames(), ", "))
	fs.StringVar(&o.topology, "topology", "", "read the communication graph from FILE (text, JSON, DOT or CSV) instead of placing drones at random")
	fs.IntVar(&o.rounds, "rounds", 120, "number of rounds")
	fs.Float64Var(&o.radius, "radius", 60, "radio range in metres (the box is 100 m on each side)")
	fs.Float64Var(&o.epsilon, "epsilon", 1e-6, "agreement threshold in metres")
	fs.Uint64Var(&o.seed, "seed", 1, "seed for placement, altitudes and attackers")
	fs.StringVar(&o.out, "out", "out/drones", "directory for trace.csv and altitude.png (empty: write nothing)")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "time allowed for the robustness check")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "drones: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if err := o.validate(); err != nil {
		fmt.Fprintf(stderr, "drones: %v\n", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	res, err := fly(ctx, o, stdout)
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
