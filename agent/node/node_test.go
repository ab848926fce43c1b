package node_test

import (
	"context"
	"log/slog"
	"math"
	"testing"
	"time"

	"github.com/wmsr/wmsr/agent"
	"github.com/wmsr/wmsr/agent/broker"
	"github.com/wmsr/wmsr/agent/membership"
	"github.com/wmsr/wmsr/agent/mqttfabric"
	"github.com/wmsr/wmsr/agent/node"
	"github.com/wmsr/wmsr/attest"
	"github.com/wmsr/wmsr/attest/attesttest"
	"github.com/wmsr/wmsr/graph"
	"github.com/wmsr/wmsr/wmsr"
)

const token = "node-test-token"

func startBroker(t *testing.T, fleet string) string {
	t.Helper()
	bc := broker.DefaultConfig()
	bc.Fleet, bc.FleetToken, bc.Logger = fleet, []byte(token), slog.New(slog.DiscardHandler)
	b, err := broker.New(bc)
	if err != nil {
		t.Fatal(err)
	}
	addr, err := b.Start(context.Background(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return "tcp://" + addr
}

type fleetNode struct {
	n      *node.Node
	cancel context.CancelFunc
	done   chan error
}

// startNode assembles member id of a complete-graph fleet of size n, with
// its own MQTT connection and gossip member, admitted by fleet's policy.
func startNode(t *testing.T, f *attesttest.Fleet, fleet, url string, g *graph.Digraph, id attest.MemberID, epoch time.Time, join []string) *fleetNode {
	t.Helper()
	b, _, err := f.Join(id, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := agent.DefaultConfig()
	cfg.ID, cfg.Initial, cfg.Scope, cfg.D = id, []float64{10 * float64(id)}, wmsr.Total(1), 2
	for _, u := range g.In(int(id) - 1) {
		cfg.Neighbours = append(cfg.Neighbours, attest.MemberID(u)+1)
	}
	cfg.Period, cfg.Epoch = 40*time.Millisecond, epoch
	fc := mqttfabric.DefaultConfig()
	fc.Brokers, fc.Fleet, fc.ID, fc.Password = []string{url}, fleet, id, []byte(token)
	fc.PublishTimeout = 20 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fab, err := mqttfabric.Dial(ctx, fc)
	if err != nil {
		t.Fatal(err)
	}
	gc := membership.DefaultLocalConfig()
	gc.Fleet = fleet
	gc.Now = func() time.Time { return f.Now }
	gc.Logger = slog.New(slog.DiscardHandler)
	nd, err := node.New(ctx, node.Options{
		Engine: cfg, Backend: b, Fabric: fab, Gossip: &gc, Admitter: f.Admitter, Join: join, Topology: g,
	})
	if err != nil {
		fab.Close()
		t.Fatal(err)
	}
	rctx, rcancel := context.WithCancel(context.Background())
	fnode := &fleetNode{n: nd, cancel: rcancel, done: make(chan error, 1)}
	go func() { fnode.done <- nd.Run(rctx) }()
	t.Cleanup(func() { fnode.stop(t) })
	return fnode
}

func (f *fleetNode) stop(t *testing.T) {
	f.cancel()
	select {
	case err := <-f.done:
		if err != nil {
			t.Errorf("node: %v", err)
		}
		f.done <- nil // later stops return at once
	case <-time.After(10 * time.Second):
		t.Error("node did not stop within 10 s")
	}
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Five agents learn each other's records by gossip alone (no records at
// start), agree, and when members leave, the survivors drop them from
// their in-neighbour sets and re-decide robustness: K4 and K3 still
// tolerate F = 1 (both are (2,2)-robust), K2 does not.
func TestFleetOverGossip(t *testing.T) {
	const fleet, n = "nodetest", 5
	f := attesttest.NewFleet(91)
	url := startBroker(t, fleet)
	g, err := graph.Complete(n)
	if err != nil {
		t.Fatal(err)
	}
	epoch := time.Now().Add(300 * time.Millisecond).Truncate(time.Millisecond)
	nodes := []*fleetNode{startNode(t, f, fleet, url, g, 1, epoch, nil)}
	seed := []string{nodes[0].n.Membership().Addr()}
	for id := attest.MemberID(2); id <= n; id++ {
		nodes = append(nodes, startNode(t, f, fleet, url, g, id, epoch, seed))
	}
	agreed := func(live []*fleetNode) func() bool {
		return func() bool {
			lo, hi := math.Inf(1), math.Inf(-1)
			for _, fn := range live {
				v := fn.n.Engine().Value()
				lo, hi = min(lo, v), max(hi, v)
			}
			return hi-lo < 1e-3 && lo >= 10 && hi <= 50
		}
	}
	waitFor(t, "agreement within 1e-3", 15*time.Second, agreed(nodes))
	waitFor(t, "verdict: K5 tolerates F=1", 5*time.Second, func() bool { return nodes[0].n.Verdict().Tolerated == 1 })

	nodes[4].stop(t)
	waitFor(t, "member 5 out of every live set, K4 still tolerated", 10*time.Second, func() bool {
		for _, fn := range nodes[:4] {
			if len(fn.n.Engine().Live()) != 3 || fn.n.Verdict().Tolerated != 1 {
				return false
			}
		}
		return true
	})
	nodes[3].stop(t)
	waitFor(t, "K3 still tolerates F=1 ((2,2)-robust: every singleton hears 2 outside)", 10*time.Second, func() bool {
		for _, fn := range nodes[:3] {
			if v := fn.n.Verdict(); v.Tolerated != 1 || v.Live != 2 {
				return false
			}
		}
		return true
	})
	nodes[2].stop(t)
	waitFor(t, "K2 no longer tolerates F=1", 10*time.Second, func() bool {
		for _, fn := range nodes[:2] {
			if v := fn.n.Verdict(); v.Tolerated != 0 || v.Live != 1 {
				return false
			}
		}
		return true
	})
	for _, fn := range nodes[:2] {
		t.Logf("verdict: %+v", fn.n.Verdict())
	}
}
