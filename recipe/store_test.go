package recipe

import (
	"errors"
	"testing"
)

// TestStoreTypedEntries drives the configuration store through a clean
// simulated cluster: typed entries are validated at apply, activation
// rounds only move forward, linearizable reads see acknowledged writes,
// and the watch stream reports every change in revision order.
func TestStoreTypedEntries(t *testing.T) {
	s := newSim(t, 11, 3, true, adversary{})
	s.run(200, false)
	leader := s.leader()
	if leader == nil {
		t.Fatal("no leader")
	}
	n := leader.node
	await := s.await
	params, _ := PutParams(FleetParams{F: 1, Weights: []float64{0.5, 0.5}, RoundPeriodMs: 100}, 10)
	if err := n.Propose(1, params); err != nil {
		t.Fatal(err)
	}
	if r := await(1); r.Err != nil {
		t.Fatal(r.Err)
	}
	// Same key, earlier round: refused at apply on every replica.
	old, _ := PutParams(FleetParams{F: 2}, 5)
	_ = n.Propose(2, old)
	if r := await(2); !errors.Is(r.Err, ErrPastRound) {
		t.Fatalf("activation in the past: %v", r.Err)
	}
	topo, _ := PutTopology(Topology{Members: []uint64{1, 2, 3}, Edges: [][2]uint64{{1, 2}, {2, 3}}}, 10)
	_ = n.Propose(3, topo)
	q, _ := PutQuarantine(Quarantine{Member: 7, Reason: "equivocation"}, 12)
	_ = n.Propose(4, q)
	await(3)
	await(4)
	// Untyped garbage under a typed key is refused before proposing.
	if err := n.Propose(5, Command{Op: OpPut, Key: KeyParams, Value: []byte(`{"f":1,"bogus":2}`), ActivateAt: 20}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("bad params: %v", err)
	}
	// A linearizable read from a follower sees the write.
	var follower *simReplica
	for _, r := range s.reps {
		if r != leader {
			follower = r
		}
	}
	follower.node.Read(6, KeyParams)
	s.flush(follower)
	r6 := s.await(6)
	got := &r6
	if got == nil || !got.Found {
		t.Fatalf("follower read: %+v", got)
	}
	p, ok := follower.node.Store().Params()
	if !ok || p.F != 1 {
		t.Fatalf("params on follower: %+v", p)
	}
	evs, ok := follower.node.Store().Events(0)
	if !ok {
		t.Fatal("events lost")
	}
	var keys []string
	for _, e := range evs {
		if e.Member == nil {
			keys = append(keys, e.Record.Key)
		}
	}
	want := []string{KeyParams, KeyTopology, "quarantine/7"}
	if len(keys) != len(want) {
		t.Fatalf("watch events %v, want %v", keys, want)
	}
	for i := range want {
		if keys[i] != want[i] {
			t.Fatalf("watch events %v, want %v", keys, want)
		}
	}
	for i := 1; i < len(evs); i++ {
		if evs[i].Revision <= evs[i-1].Revision {
			t.Fatal("events out of order")
		}
	}
}
