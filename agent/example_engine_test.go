package agent_test

import (
	"fmt"

	"github.com/wmsr/wmsr/agent"
	"github.com/wmsr/wmsr/attest"
	"github.com/wmsr/wmsr/attest/attesttest"
	"github.com/wmsr/wmsr/wmsr"
)

// Driving the deterministic core by hand: agent 1 with neighbours 2, 3 and
// 4, trimming F = 1, where neighbour 4 claims an extreme value.
func ExampleEngine() {
	fleet := attesttest.NewFleet(1)
	backends := map[attest.MemberID]*attest.SoftBackend{}
	var members []attest.Member
	for id := attest.MemberID(1); id <= 4; id++ {
		b, m, err := fleet.Join(id, 1, nil)
		if err != nil {
			panic(err)
		}
		backends[id], members = b, append(members, m)
	}
	cfg := agent.DefaultConfig()
	cfg.ID, cfg.Neighbours, cfg.Initial = 1, []attest.MemberID{2, 3, 4}, []float64{10}
	cfg.Scope = wmsr.Total(1)
	eng, err := agent.NewEngine(cfg, backends[1].Identity(), members)
	if err != nil {
		panic(err)
	}

	env, _ := eng.Begin(0) // publish env on the fabric
	fmt.Println("publish", len(env), "bytes")
	for id, v := range map[attest.MemberID]float64{2: 12, 3: 14, 4: 1e9} {
		s, _ := attest.NewBroadcastSender(backends[id].Identity(), agent.DefaultValueChannel, nil)
		p, _ := agent.AppendRoundValue(nil, agent.RoundValue{Round: 0, Value: v})
		e, _ := s.Seal(nil, agent.KindRoundValue, p)
		eng.Deliver(agent.Delivery{From: id, Envelope: e})
	}
	v, rep, _ := eng.End(0)
	fmt.Printf("value %v, used %d, disagreement %g\n", v, rep.Used, rep.Disagreement)
	// Output:
	// publish 127 bytes
	// value 12, used 3, disagreement 9.9999999e+08
}
