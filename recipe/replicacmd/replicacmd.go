// Package replicacmd is the command line of a recipe replica process, the
// role a wmsr-agent will expose as "wmsr-agent replica". It runs with a
// soft test fleet: every key and the fleet CA derive from -seed (public),
// so it is for tests and benchmarks on one machine only; a production
// role would load the admission policy and its fleet-CA statement (or run
// in SGX) instead.
package replicacmd

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/wmsr/wmsr/attest"
	"github.com/wmsr/wmsr/attest/attesttest"
	"github.com/wmsr/wmsr/recipe"
)

// Main runs a replica until ctx is done. Flags:
//
//	-id N -dir DIR -peers 1=host:port,2=host:port,... -seed S [-vanilla] [-tick 10ms]
func Main(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("replica", flag.ContinueOnError)
	fs.SetOutput(stderr)
	id := fs.Uint64("id", 0, "member id")
	dir := fs.String("dir", "", "data directory (epoch file)")
	peers := fs.String("peers", "", "id=addr,... of every replica, including this one")
	seed := fs.Uint64("seed", 1, "test fleet seed (keys of epoch 1 and the fleet CA derive from it)")
	vanilla := fs.Bool("vanilla", false, "plain etcd raft on the wire (benchmark baseline)")
	tick := fs.Duration("tick", 10*time.Millisecond, "raft tick")
	if err := fs.Parse(args); err != nil {
		return err
	}
	addrs := map[attest.MemberID]string{}
	var ids []attest.MemberID
	for _, p := range strings.Split(*peers, ",") {
		k, v, ok := strings.Cut(p, "=")
		n, err := strconv.ParseUint(k, 10, 64)
		if !ok || err != nil {
			return fmt.Errorf("replica: bad -peers entry %q", p)
		}
		addrs[attest.MemberID(n)] = v
		ids = append(ids, attest.MemberID(n))
	}
	self := attest.MemberID(*id)
	listen, ok := addrs[self]
	if !ok {
		return fmt.Errorf("replica: -id %d not in -peers", *id)
	}
	epoch, err := recipe.NextEpoch(*dir)
	if err != nil {
		return err
	}
	fleet, genesis, err := TestFleet(*seed, ids)
	if err != nil {
		return err
	}
	backend, err := Backend(fleet, *seed, self, epoch)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	logger.Warn("replica starting", "id", self, "epoch", epoch, "protection", backend.Protection().Warning)
	return recipe.RunReplica(ctx, recipe.ReplicaConfig{
		ID: self, Epoch: epoch, Listen: listen, Addrs: addrs, Backend: backend,
		Admitter: fleet.Admitter, Genesis: genesis, GenesisTime: fleet.Now, Vanilla: *vanilla, Tick: *tick, Logger: logger,
	})
}

// TestFleet returns the soft test fleet of seed and the genesis records
// (epoch 1) of ids, identical in every process.
func TestFleet(seed uint64, ids []attest.MemberID) (*attesttest.Fleet, []attest.Member, error) {
	fleet := attesttest.NewFleet(seed)
	fleet.Now = time.Now().Truncate(24 * time.Hour)
	var genesis []attest.Member
	for _, id := range ids {
		b, err := Backend(fleet, seed, id, 1)
		if err != nil {
			return nil, nil, err
		}
		att, err := b.Attest()
		if err != nil {
			return nil, nil, err
		}
		m, err := fleet.Admitter.Admit(att, nil, fleet.Now)
		if err != nil {
			return nil, nil, err
		}
		genesis = append(genesis, m)
	}
	return fleet, genesis, nil
}

// Backend returns member id's soft backend for epoch: deterministic keys
// for epoch 1 (so all processes agree on genesis), fresh random keys for
// later epochs (restarts).
func Backend(fleet *attesttest.Fleet, seed uint64, id attest.MemberID, epoch attest.Epoch) (*attest.SoftBackend, error) {
	var rnd io.Reader
	if epoch == 1 {
		rnd = attesttest.Rand(seed<<16 ^ uint64(id))
	}
	b, err := attest.NewSoftBackend(id, epoch, fleet.BinaryHash, rnd)
	if err != nil {
		return nil, err
	}
	st, err := fleet.CA.Issue(b.CertRequest(), fleet.Now.Add(72*time.Hour))
	if err != nil {
		return nil, err
	}
	return b, b.Install(st)
}
