package node_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/wmsr/wmsr/agent"
	"github.com/wmsr/wmsr/agent/mqttfabric"
	"github.com/wmsr/wmsr/agent/node"
	"github.com/wmsr/wmsr/attest"
	"github.com/wmsr/wmsr/attest/attesttest"
	"github.com/wmsr/wmsr/recipe"
	"github.com/wmsr/wmsr/recipe/replicacmd"
	"github.com/wmsr/wmsr/wmsr"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startLog runs three recipe replicas (members 101-103 of the test fleet
// of seed) on loopback until the test ends, accepting writes signed by
// operators, and returns the fleet and their client addresses.
func startLog(t *testing.T, seed uint64, operators []ed25519.PublicKey) (*attesttest.Fleet, []string) {
	t.Helper()
	replicas := []attest.MemberID{101, 102, 103}
	fleet, genesis, gtime, err := replicacmd.TestFleet(seed, replicas)
	if err != nil {
		t.Fatal(err)
	}
	peers, clients := map[attest.MemberID]string{}, []string{}
	for _, id := range replicas {
		peers[id] = freeAddr(t)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, len(replicas))
	t.Cleanup(func() {
		cancel()
		for range replicas {
			<-done
		}
	})
	for _, id := range replicas {
		b, err := replicacmd.Backend(fleet, seed, id, 1)
		if err != nil {
			t.Fatal(err)
		}
		client := freeAddr(t)
		clients = append(clients, client)
		go func() {
			done <- recipe.RunReplica(ctx, recipe.ReplicaConfig{
				ID: id, Epoch: 1, Listen: peers[id], Addrs: peers, ClientListen: client, OperatorKeys: operators,
				Backend: b, Admitter: fleet.Admitter, Genesis: genesis, GenesisTime: gtime,
				Tick: 10 * time.Millisecond, Logger: slog.New(slog.DiscardHandler),
			})
		}()
	}
	return fleet, clients
}

// admittedMembers returns the epoch-1 backends of members 1..n of the
// test fleet of seed, and their records as the fleet's policy admits them.
func admittedMembers(t *testing.T, fleet *attesttest.Fleet, seed uint64, n int) (map[attest.MemberID]*attest.SoftBackend, []attest.Member) {
	t.Helper()
	backend := map[attest.MemberID]*attest.SoftBackend{}
	var members []attest.Member
	for id := attest.MemberID(1); id <= attest.MemberID(n); id++ {
		b, err := replicacmd.Backend(fleet, seed, id, 1)
		if err != nil {
			t.Fatal(err)
		}
		att, err := b.Attest()
		if err != nil {
			t.Fatal(err)
		}
		m, err := fleet.Admitter.Admit(att, nil, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		backend[id], members = b, append(members, m)
	}
	return backend, members
}

// dialFabric connects member id of fleetName to the broker at url.
func dialFabric(t *testing.T, ctx context.Context, url, fleetName string, id attest.MemberID) *mqttfabric.Fabric {
	t.Helper()
	fc := mqttfabric.DefaultConfig()
	fc.Brokers, fc.Fleet, fc.ID, fc.Password = []string{url}, fleetName, id, []byte(token)
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	f, err := mqttfabric.Dial(dctx, fc)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// equivocationProof returns encoded evidence that the member whose keys a
// and b both hold signed two values under one counter.
func equivocationProof(t *testing.T, a, b attest.Backend) []byte {
	t.Helper()
	var envs [][]byte
	for i, holder := range []attest.Backend{a, b} {
		s, err := attest.NewBroadcastSender(holder.Identity(), 99, nil)
		if err != nil {
			t.Fatal(err)
		}
		env, err := s.Seal(nil, agent.KindRoundValue, []byte{byte(i)})
		if err != nil {
			t.Fatal(err)
		}
		envs = append(envs, env)
	}
	ev, err := attest.NewEvidence(envs[0], envs[1])
	if err != nil {
		t.Fatal(err)
	}
	proof, err := ev.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return proof
}

// An equivocating neighbour is caught, and the proof ends up in the fleet
// configuration log (three recipe replicas on loopback) as a quarantine
// record signed by the agent that caught it, verifiable by anyone.
func TestEvidenceReachesFleetLog(t *testing.T) {
	const seed, fleetName = 77, "evidence"
	fleet, clients := startLog(t, seed, nil)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)

	// Agents 1-3 are normal, 4 equivocates; every record is known up front.
	backend, members := admittedMembers(t, fleet, seed, 4)
	url := startBroker(t, fleetName)
	dial := func(id attest.MemberID) *mqttfabric.Fabric { return dialFabric(t, ctx, url, fleetName, id) }
	period := 50 * time.Millisecond
	epoch := time.Now().Add(300 * time.Millisecond).Truncate(time.Millisecond)
	for id := attest.MemberID(1); id <= 3; id++ {
		cfg := agent.DefaultConfig()
		cfg.ID, cfg.Initial, cfg.Scope, cfg.Period, cfg.Epoch = id, []float64{float64(id)}, wmsr.Total(1), period, epoch
		for n := attest.MemberID(1); n <= 4; n++ {
			if n != id {
				cfg.Neighbours = append(cfg.Neighbours, n)
			}
		}
		nd, err := node.New(ctx, node.Options{Engine: cfg, Backend: backend[id], Members: members, Fabric: dial(id), FleetLog: clients})
		if err != nil {
			t.Fatal(err)
		}
		go func() { _ = nd.Run(ctx) }()
	}
	// The equivocator holds its keys twice and seals two values under one
	// counter every round.
	twin, err := replicacmd.Backend(fleet, seed, 4, 1)
	if err != nil {
		t.Fatal(err)
	}
	sa, err := attest.NewBroadcastSender(backend[4].Identity(), agent.DefaultValueChannel, nil)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := attest.NewBroadcastSender(twin.Identity(), agent.DefaultValueChannel, nil)
	if err != nil {
		t.Fatal(err)
	}
	fab4 := dial(4)
	t.Cleanup(func() { fab4.Close() })
	go func() {
		for r := uint64(0); ctx.Err() == nil; r++ {
			time.Sleep(time.Until(epoch.Add(time.Duration(r) * period)))
			for i, s := range []*attest.Sender{sa, sb} {
				p, _ := agent.AppendRoundState(nil, agent.RoundState{Round: r, State: []float64{float64(100 * (2*i - 1))}})
				env, err := s.Seal(nil, agent.KindRoundValue, p)
				if err == nil {
					_ = fab4.Publish(ctx, env)
				}
			}
		}
	}()

	reader, err := recipe.DialClient(ctx, clients[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	var q recipe.Quarantine
	waitFor(t, "a quarantine record for member 4 in the fleet log", 20*time.Second, func() bool {
		gctx, gcancel := context.WithTimeout(ctx, time.Second)
		defer gcancel()
		val, ok, err := reader.Get(gctx, recipe.PrefixQuarantine+"4")
		if err != nil || !ok {
			return false
		}
		if err := json.Unmarshal(val, &q); err != nil {
			t.Fatalf("quarantine record %q: %v", val, err)
		}
		return true
	})
	ev, err := attest.ParseEvidence(q.Evidence)
	if err != nil {
		t.Fatal(err)
	}
	if slot, err := attest.VerifyEvidence(ev, &members[3]); err != nil || slot.Sender != 4 {
		t.Fatalf("the logged evidence does not convict member 4: %v %+v", err, slot)
	}
	if q.Member != 4 || q.Reason != "equivocation" {
		t.Fatalf("record %+v", q)
	}
}
