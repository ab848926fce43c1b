package node_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/wmsr/wmsr/agent"
	"github.com/wmsr/wmsr/agent/node"
	"github.com/wmsr/wmsr/attest"
	"github.com/wmsr/wmsr/attest/attesttest"
	"github.com/wmsr/wmsr/recipe"
	"github.com/wmsr/wmsr/recipe/replicacmd"
	"github.com/wmsr/wmsr/wmsr"
)

// reports records every agent's round reports.
type reports struct {
	mu   sync.Mutex
	reps []agent.RoundReport
}

func (r *reports) NotifyRound(rep agent.RoundReport) {
	r.mu.Lock()
	r.reps = append(r.reps, rep)
	r.mu.Unlock()
}

func (r *reports) NotifyEvidence(attest.Evidence) {}

func (r *reports) snapshot() []agent.RoundReport {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.reps)
}

// Agents follow the fleet configuration log (three recipe replicas on
// loopback): an operator sets F, then a new topology, each at a future
// round, and every agent switches exactly at that round, not one round
// earlier or later; a quarantine record with a valid equivocation proof
// excludes the member from its round on, while one whose proof does not
// verify is refused by every agent.
func TestFleetFollowsLog(t *testing.T) {
	const seed, fleetName = 79, "follow"
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	fleet, clients := startLog(t, seed, []ed25519.PublicKey{pub})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)

	backend, members := admittedMembers(t, fleet, seed, 4)
	url := startBroker(t, fleetName)
	period := 50 * time.Millisecond
	epoch := time.Now().Add(300 * time.Millisecond).Truncate(time.Millisecond)
	rec := map[attest.MemberID]*reports{}
	nodes := map[attest.MemberID]*node.Node{}
	for id := attest.MemberID(1); id <= 4; id++ {
		fab := dialFabric(t, ctx, url, fleetName, id)
		cfg := agent.DefaultConfig()
		cfg.ID, cfg.Initial, cfg.Scope, cfg.Period, cfg.Epoch = id, []float64{float64(id)}, wmsr.Total(0), period, epoch
		for n := attest.MemberID(1); n <= 4; n++ {
			if n != id {
				cfg.Neighbours = append(cfg.Neighbours, n)
			}
		}
		rec[id] = &reports{}
		nd, err := node.New(ctx, node.Options{Engine: cfg, Backend: backend[id], Members: members, Fabric: fab, FleetLog: clients, Delegate: rec[id]})
		if err != nil {
			t.Fatal(err)
		}
		nodes[id] = nd
		done := make(chan struct{})
		go func() { defer close(done); _ = nd.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
	}

	op, err := recipe.DialClient(ctx, clients[0], recipe.OperatorKey(priv))
	if err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	propose := func(cmd recipe.Command) {
		t.Helper()
		waitFor(t, "the log to commit "+cmd.Key, 10*time.Second, func() bool {
			pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
			defer pcancel()
			return op.Propose(pctx, cmd) == nil
		})
	}
	now := func() uint64 { return uint64(max(time.Since(epoch), 0) / period) }
	propose(recipe.Command{Op: recipe.OpPut, Key: "kv/warm-up", Value: []byte("leader elected")})
	// Far enough ahead for the log to commit and every agent to hear.
	rF := now() + 40
	params, _ := recipe.PutParams(recipe.FleetParams{F: 1}, rF)
	propose(params)
	rTopo := rF + 10
	topo := recipe.Topology{Members: []uint64{1, 2, 3, 4}}
	for u := uint64(1); u <= 4; u++ {
		for v := uint64(1); v <= 4; v++ {
			if u != v && !(v == 1 && u == 4) { // 1 stops hearing 4
				topo.Edges = append(topo.Edges, [2]uint64{u, v})
			}
		}
	}
	tc, _ := recipe.PutTopology(topo, rTopo)
	propose(tc)

	// Quarantines: member 4 with a proof (two envelopes sealed by two
	// holders of its keys under one counter), member 3 with a bogus one.
	twinA, _ := replicacmd.Backend(fleet, seed, 4, 1)
	twinB, _ := replicacmd.Backend(fleet, seed, 4, 1)
	proof := equivocationProof(t, twinA, twinB)
	rQ := rTopo + 10
	q4, _ := recipe.PutQuarantine(recipe.Quarantine{Member: 4, Reason: "equivocation", Evidence: proof}, rQ)
	propose(q4)
	bogus := slices.Clone(proof)
	bogus[len(bogus)-1] ^= 1
	q3, _ := recipe.PutQuarantine(recipe.Quarantine{Member: 3, Reason: "equivocation", Evidence: bogus}, rQ)
	propose(q3)
	if now() >= rF {
		t.Fatalf("the log took until round %d to commit; the test needs it before round %d", now(), rF)
	}
	waitFor(t, "every agent past the quarantine round", 20*time.Second, func() bool {
		for _, r := range rec {
			reps := r.snapshot()
			if len(reps) == 0 || reps[len(reps)-1].Round < rQ+5 {
				return false
			}
		}
		return true
	})

	for id, r := range rec {
		var quarantined int
		for _, rep := range r.snapshot() {
			wantF := 0
			if rep.Round >= rF {
				wantF = 1
			}
			if rep.F != wantF {
				t.Errorf("agent %d round %d: F = %d, want %d (F changes at round %d)", id, rep.Round, rep.F, wantF, rF)
			}
			if rep.Round >= rQ {
				quarantined += rep.Rejected[agent.ReasonQuarantined]
			}
			if hears := rep.Used + rep.Omissions; id == 1 && (rep.Round >= rTopo) != (hears == 2) {
				t.Errorf("agent 1 round %d: %d in-neighbours; from round %d on it hears only 2 and 3", rep.Round, hears, rTopo)
			}
		}
		cfg := nodes[id].Engine().Config()
		if id == 1 && !slices.Equal(cfg.Neighbours, []attest.MemberID{2, 3}) {
			t.Errorf("agent 1 neighbours %v after the topology change", cfg.Neighbours)
		}
		if id != 4 {
			if q := nodes[id].Engine().Quarantined(); id != 1 && !slices.Equal(q, []attest.MemberID{4}) {
				t.Errorf("agent %d quarantined %v, want [4] (3's proof is bogus)", id, q)
			}
			if id != 1 && quarantined == 0 {
				t.Errorf("agent %d refused nothing from member 4 after round %d", id, rQ)
			}
		}
	}
	// Nothing scheduled is left over.
	for id, nd := range nodes {
		if p := nd.Engine().Pending(); p != 0 {
			t.Errorf("agent %d: %d changes still pending", id, p)
		}
	}
}

// An agent records its epoch in the fleet log, and agents following the
// log learn their neighbours' epochs from it: a neighbour restarted from
// an old disk (an epoch the log has seen surpassed) is refused both by the
// log and by an agent that never met the newer epoch itself.
func TestAgentRecordsFromLog(t *testing.T) {
	const seed, fleetName = 81, "records"
	opPub, opPriv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	fleet, clients := startLog(t, seed, []ed25519.PublicKey{opPub})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	url := startBroker(t, fleetName)

	b1, err := replicacmd.Backend(fleet, seed, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	fab := dialFabric(t, ctx, url, fleetName, 1)
	cfg := agent.DefaultConfig()
	cfg.ID, cfg.Neighbours, cfg.Initial, cfg.Scope = 1, []attest.MemberID{2}, []float64{0}, wmsr.Total(0)
	nd, err := node.New(ctx, node.Options{Engine: cfg, Backend: b1, Fabric: fab, FleetLog: clients, Admitter: fleet.Admitter})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = nd.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	// Agent 2 restarted once: its epoch 2 is in the log. Before agent 1
	// knows that record, a proof that epoch 2 equivocated is logged: agent
	// 1 cannot check it yet, keeps it, and applies it once the record
	// arrives.
	// Epoch 2's keys from a fixed seed, so that two holders of them (the
	// equivocator's twins) can be made.
	epoch2 := func() *attest.SoftBackend {
		t.Helper()
		b, err := attest.NewSoftBackend(2, 2, fleet.BinaryHash, attesttest.Rand(seed<<8|2))
		if err != nil {
			t.Fatal(err)
		}
		st, err := fleet.CA.Issue(b.CertRequest(), time.Now().Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Install(st); err != nil {
			t.Fatal(err)
		}
		return b
	}
	b2 := epoch2()
	proof := equivocationProof(t, epoch2(), epoch2())
	var round uint64
	waitFor(t, "agent 1 running rounds", 10*time.Second, func() bool {
		r, started := nd.Engine().Round()
		round = r
		return started
	})
	rQ := round + 20 // two seconds ahead
	q2, _ := recipe.PutQuarantine(recipe.Quarantine{Member: 2, Reason: "equivocation", Evidence: proof}, rQ)
	waitFor(t, "the quarantine of member 2 committed", 10*time.Second, func() bool {
		pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
		defer pcancel()
		_, err := recipe.ProposeAny(pctx, clients, recipe.OperatorKey(opPriv), q2)
		return err == nil
	})
	time.Sleep(300 * time.Millisecond) // agent 1 sees it, without the record
	if _, ok := nd.Engine().Member(2); ok {
		t.Fatal("agent 1 knows member 2 before its record is logged")
	}
	key2, err := recipe.MemberKey(b2)
	if err != nil {
		t.Fatal(err)
	}
	rec2, err := recipe.AgentCommand(key2)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "agent 2's epoch-2 record committed", 10*time.Second, func() bool {
		pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
		defer pcancel()
		_, err := recipe.ProposeAny(pctx, clients, key2, rec2)
		return err == nil
	})
	waitFor(t, "agent 1 to learn epoch 2 from the log", 10*time.Second, func() bool {
		m, ok := nd.Engine().Member(2)
		return ok && m.Epoch == 2
	})
	if r, _ := nd.Engine().Round(); r+1 < rQ && slices.Contains(nd.Engine().Quarantined(), 2) {
		t.Fatalf("member 2 quarantined at round %d, before the logged round %d", r, rQ)
	}
	waitFor(t, "the waiting quarantine of member 2 in effect", 10*time.Second, func() bool {
		return slices.Contains(nd.Engine().Quarantined(), 2)
	})
	if r, _ := nd.Engine().Round(); r < rQ {
		t.Fatalf("member 2 quarantined at round %d, before the logged round %d", r, rQ)
	}
	// Agent 1's own record, announced at start.
	reader, err := recipe.DialClient(ctx, clients[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	waitFor(t, "agent 1's own record in the log", 10*time.Second, func() bool {
		gctx, gcancel := context.WithTimeout(ctx, time.Second)
		defer gcancel()
		_, ok, err := reader.Get(gctx, recipe.PrefixAgent+"1")
		return err == nil && ok
	})

	// Agent 2 from an old disk: epoch 1 again.
	old2, err := replicacmd.Backend(fleet, seed, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	oldKey, err := recipe.MemberKey(old2)
	if err != nil {
		t.Fatal(err)
	}
	oldRec, err := recipe.AgentCommand(oldKey)
	if err != nil {
		t.Fatal(err)
	}
	pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
	defer pcancel()
	// The replica that admitted epoch 2 on its client port refuses the
	// old member's request itself; the log refuses the record whoever
	// proposes it, even an operator.
	if _, err := recipe.ProposeAny(pctx, clients, oldKey, oldRec); !errors.Is(err, recipe.ErrReplayed) && !errors.Is(err, recipe.ErrStaleEpoch) {
		t.Fatalf("the old member's own proposal: %v", err)
	}
	if _, err := recipe.ProposeAny(pctx, clients, recipe.OperatorKey(opPriv), oldRec); !errors.Is(err, recipe.ErrStaleEpoch) {
		t.Fatalf("the log took epoch 1 after epoch 2: %v", err)
	}
	att, err := old2.Attest()
	if err != nil {
		t.Fatal(err)
	}
	m1, err := fleet.Admitter.Admit(att, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nd.Engine().UpdateMember(m1); !errors.Is(err, attest.ErrStale) {
		t.Fatalf("agent 1 accepted neighbour 2's epoch 1 after the log's epoch 2: %v", err)
	}
}
