package agent_test

import (
	"context"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/wmsr/wmsr/agent"
	"github.com/wmsr/wmsr/agent/broker"
	"github.com/wmsr/wmsr/agent/mqttfabric"
	"github.com/wmsr/wmsr/attest"
	"github.com/wmsr/wmsr/attest/attesttest"
	"github.com/wmsr/wmsr/wmsr"
)

// countingDelegate records reports and evidence of one agent.
type countingDelegate struct {
	mu       sync.Mutex
	reports  []agent.RoundReport
	evidence []attest.Evidence
}

func (d *countingDelegate) NotifyRound(r agent.RoundReport) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.reports = append(d.reports, r)
}

func (d *countingDelegate) NotifyEvidence(ev attest.Evidence) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.evidence = append(d.evidence, ev)
}

func (d *countingDelegate) rounds() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.reports)
}

// TestNetworkConvergesUnderAttack runs seven agents, each with its own
// MQTT client on the embedded broker, on a complete graph with F = 1 and
// real time. Agent 7 is compromised: it sends an extreme value every
// round and, once, two different signed envelopes under one counter. The
// six normal agents must never leave their initial range, must converge,
// and at least one must catch agent 7 with verifiable evidence.
func TestNetworkConvergesUnderAttack(t *testing.T) {
	if testing.Short() {
		t.Skip("real network and clock")
	}
	const (
		n          = 7
		attacker   = attest.MemberID(n)
		period     = 50 * time.Millisecond
		wantRounds = 40
		minRounds  = 20
		equivRound = 15 // round (after the first) at which 7 equivocates
		eps        = 0.05
		fleetName  = "enginetest"
	)
	ctx, cancel := context.WithTimeout(context.Background(), 19*time.Second)
	defer cancel()

	bcfg := broker.DefaultConfig()
	bcfg.Fleet = fleetName
	bcfg.FleetToken = []byte("fleet-token")
	b, err := broker.New(bcfg)
	if err != nil {
		t.Fatal(err)
	}
	addr, err := b.Start(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })

	fleet := attesttest.NewFleet(77)
	backends := map[attest.MemberID]*attest.SoftBackend{}
	var members []attest.Member
	for id := attest.MemberID(1); id < attacker; id++ {
		bk, m, err := fleet.Join(id, 1, nil)
		if err != nil {
			t.Fatal(err)
		}
		backends[id] = bk
		members = append(members, m)
	}
	identA, identB, rec7 := equivocator(t, fleet, attacker, 9999)
	members = append(members, rec7)

	dial := func(id attest.MemberID) *mqttfabric.Fabric {
		c := mqttfabric.DefaultConfig()
		c.Brokers = []string{"tcp://" + addr}
		c.Fleet = fleetName
		c.ID = id
		c.Password = bcfg.FleetToken
		// Generous bounds for loaded CI machines; values are QoS 0
		// anyway and a late one is just an omission.
		c.PublishTimeout = period
		f, err := mqttfabric.Dial(ctx, c)
		if err != nil {
			t.Fatalf("dial %d: %v", id, err)
		}
		t.Cleanup(func() { _ = f.Close() })
		return f
	}

	// Normal agents start in [10, 60]; the attacker claims 1e6.
	lo, hi := 10.0, 60.0
	type node struct {
		runner *agent.Runner
		del    *countingDelegate
	}
	nodes := map[attest.MemberID]*node{}
	fabrics := map[attest.MemberID]*mqttfabric.Fabric{}
	for id := attest.MemberID(1); id <= attacker; id++ {
		fabrics[id] = dial(id)
	}
	epoch := time.Now().Add(300 * time.Millisecond)
	for id := attest.MemberID(1); id < attacker; id++ {
		cfg := agent.DefaultConfig()
		cfg.ID = id
		for j := attest.MemberID(1); j <= n; j++ {
			if j != id {
				cfg.Neighbours = append(cfg.Neighbours, j)
			}
		}
		cfg.Scope, cfg.D = wmsr.Total(1), 3
		cfg.Initial = []float64{lo + (hi-lo)*float64(id-1)/float64(n-2)}
		cfg.Period, cfg.Epoch = period, epoch
		eng, err := agent.NewEngine(cfg, backends[id].Identity(), members)
		if err != nil {
			t.Fatal(err)
		}
		del := &countingDelegate{}
		reg := prometheus.WrapRegistererWith(prometheus.Labels{"agent": fmt.Sprint(id)}, prometheus.NewRegistry())
		r, err := agent.NewRunner(eng, fabrics[id], agent.RunnerOptions{Delegate: del, Registerer: reg})
		if err != nil {
			t.Fatal(err)
		}
		nodes[id] = &node{r, del}
	}

	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for id, nd := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := nd.runner.Run(runCtx); err != nil && runCtx.Err() == nil {
				t.Errorf("agent %d: %v", id, err)
			}
		}()
	}
	// The attacker: one envelope per round with an extreme value, and at
	// one round a second, different envelope under the same counter (its
	// two identities hold the same keys and count in lockstep).
	wg.Add(1)
	go func() {
		defer wg.Done()
		sa, err := attest.NewBroadcastSender(identA, agent.DefaultValueChannel, nil)
		if err != nil {
			t.Error(err)
			return
		}
		sb, err := attest.NewBroadcastSender(identB, agent.DefaultValueChannel, nil)
		if err != nil {
			t.Error(err)
			return
		}
		fab := fabrics[attacker]
		first := uint64(0)
		for k := 0; ; k++ {
			now := time.Now()
			r := uint64(0)
			if now.After(epoch) {
				r = uint64(now.Sub(epoch)/period) + 1
			}
			if k == 0 {
				first = r
			}
			select {
			case <-runCtx.Done():
				return
			case <-time.After(time.Until(epoch.Add(time.Duration(r) * period))):
			}
			pa, _ := agent.AppendRoundValue(nil, agent.RoundValue{Round: r, Value: 1e6})
			pb, _ := agent.AppendRoundValue(nil, agent.RoundValue{Round: r, Value: -1e6})
			ea, err1 := sa.Seal(nil, agent.KindRoundValue, pa)
			eb, err2 := sb.Seal(nil, agent.KindRoundValue, pb)
			if err1 != nil || err2 != nil {
				t.Error(err1, err2)
				return
			}
			_ = fab.Publish(runCtx, ea)
			if r >= first+equivRound && r < first+equivRound+3 {
				_ = fab.Publish(runCtx, eb)
			}
		}
	}()

	// Run until every normal agent completed wantRounds rounds, or at
	// least minRounds with the normal values already within eps/10 of
	// each other, or until the budget is spent (a heavily loaded machine
	// skips rounds): the verdict is on convergence, not on timing.
	budget := time.After(14 * time.Second)
	spread := func() float64 {
		a, b := math.Inf(1), math.Inf(-1)
		for _, nd := range nodes {
			v := nd.runner.Value()
			a, b = min(a, v), max(b, v)
		}
		return b - a
	}
	for waiting := true; waiting; {
		least := math.MaxInt
		for _, nd := range nodes {
			least = min(least, nd.del.rounds())
		}
		caughtAny := false
		for _, nd := range nodes {
			caughtAny = caughtAny || len(nd.runner.Evidence()) > 0
		}
		if least >= wantRounds || least >= minRounds && caughtAny && spread() <= eps/10 {
			break
		}
		select {
		case <-budget:
			for id, nd := range nodes {
				t.Logf("agent %d: %d rounds completed when the budget ran out", id, nd.del.rounds())
			}
			if least < minRounds {
				t.Errorf("an agent completed only %d rounds", least)
			}
			waiting = false
		case <-time.After(20 * time.Millisecond):
		}
	}
	stop()
	wg.Wait()

	// Safety: every normal value ever held stays in the initial range.
	vmin, vmax := math.Inf(1), math.Inf(-1)
	caught, sawAttack := 0, 0
	var omissions, accepted, skipped int
	for id, nd := range nodes {
		nd.del.mu.Lock()
		for _, rep := range nd.del.reports {
			if rep.Value < lo || rep.Value > hi {
				t.Errorf("agent %d left the normal range in round %d: %v", id, rep.Round, rep.Value)
			}
			omissions += rep.Omissions
			if rep.Max == 1e6 {
				sawAttack++
			}
			accepted += rep.Accepted
		}
		for _, ev := range nd.del.evidence {
			slot, err := attest.VerifyEvidence(ev, &rec7)
			if err != nil || slot.Sender != attacker {
				t.Errorf("agent %d: bad evidence: %v %+v", id, err, slot)
			}
		}
		if len(nd.del.evidence) > 0 {
			caught++
			if len(nd.runner.Evidence()) == 0 {
				t.Errorf("agent %d: delegate saw evidence but Evidence() is empty", id)
			}
		}
		nd.del.mu.Unlock()
		skipped += int(counterValue(t, nd.runner.Metrics().RoundsSkipped))
		v := nd.runner.Value()
		vmin, vmax = min(vmin, v), max(vmax, v)
	}
	t.Logf("final normal values within [%v, %v] (spread %g); %d accepted, %d omissions, %d rounds skipped; %d updates saw the attack; %d of %d agents caught the equivocation",
		vmin, vmax, vmax-vmin, accepted, omissions, skipped, sawAttack, caught, n-1)
	if vmax-vmin > eps {
		t.Errorf("normal agents did not converge: spread %g > %g", vmax-vmin, eps)
	}
	if sawAttack == 0 {
		t.Error("the attacker's value never reached an update: the test did not exercise trimming")
	}
	if caught == 0 {
		t.Error("no agent caught the equivocating agent with evidence")
	}
}
