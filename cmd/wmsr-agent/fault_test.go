package main

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

// The multi-process fault tests run the built wmsr-agent binary as a fleet
// on loopback (real identities from one fleet CA, memberlist gossip with the
// local profile, 100 ms rounds, F = 1) against the embedded broker process
// and against mosquitto, inject one kind of fault each, and assert safety
// (every normal value stays in the hull of the normal initial values,
// sampled every 50 ms throughout) and convergence to faultEps.

// TestFaultKillRestart: kill -9 of an agent and its restart under the next
// epoch. The fleet keeps running without it (the peers declare it dead),
// readmits it, converges again, and never accepts its old epoch's
// envelopes again, as shown by re-publishing captured ones after the
// restart.
func TestFaultKillRestart(t *testing.T) {
	forEachBroker(t, func(t *testing.T, kind string) {
		f := newFleet(t, kind)
		all := idsOf(1, 2, 3, 4, 5)
		// The victim starts (and restarts) at 40, far from where the fleet
		// agrees, so that converging again is not for free.
		const victim = 5
		peers := idsOf(1, 2, 3, 4)
		f.addAgents(completeGraph([]float64{0, 4, 11, 25, 40})...)
		f.monitor(all...)
		tp := f.newTap("fault-tap")
		f.startAll(all...)
		f.waitMetrics(15*time.Second, "every agent admitted its 4 peers", all, func(_ int, m promMetrics) (bool, string) {
			return m.get("admitted_total") >= 4, fmt.Sprintf("admitted_total %v", m.get("admitted_total"))
		})
		f.waitConverged(15*time.Second, all, 10)

		// Capture the victim's newest envelopes of its first epoch.
		old := tp.latest(victim, 1, 3)
		if len(old) < 3 {
			t.Fatalf("tap captured %d envelopes of agent %d epoch 1", len(old), victim)
		}
		before := f.scrape(peers...)
		f.agents[victim].proc.kill()
		f.waitMetrics(15*time.Second, "peers declared the killed agent dead", peers, func(_ int, m promMetrics) (bool, string) {
			return m.get("live_neighbours") == 3, fmt.Sprintf("live_neighbours %v", m.get("live_neighbours"))
		})
		// The others kept going meanwhile.
		f.waitMetrics(5*time.Second, "peers kept running rounds", peers, func(id int, m promMetrics) (bool, string) {
			d := m.get("rounds_total") - before[id].get("rounds_total")
			return d >= 10, fmt.Sprintf("%v rounds since the kill", d)
		})

		admitted := f.scrape(peers...)
		f.startAgent(victim)
		f.waitReady(victim)
		f.waitMetrics(15*time.Second, "peers readmitted the restarted agent", peers, func(id int, m promMetrics) (bool, string) {
			a0 := admitted[id].get("admitted_total")
			return m.get("admitted_total") > a0 && m.get("live_neighbours") == 4,
				fmt.Sprintf("admitted_total %v (was %v), live_neighbours %v", m.get("admitted_total"), a0, m.get("live_neighbours"))
		})
		f.waitFor(5*time.Second, "the restarted agent publishing under epoch 2", func() (bool, string) {
			ep := tp.maxEpoch(victim)
			return ep == 2, fmt.Sprintf("newest epoch seen %d", ep)
		})
		f.waitConverged(15*time.Second, all, 10)

		// Re-publish the old epoch's envelopes on the victim's topic, logged
		// in as the victim: every peer must refuse each one as stale.
		base := f.scrape(peers...)
		f.publishAs(victim, old)
		f.waitMetrics(5*time.Second, "peers refused the old epoch's envelopes as stale", peers, func(id int, m promMetrics) (bool, string) {
			d := m.rejected("stale") - base[id].rejected("stale")
			return d >= float64(len(old)), fmt.Sprintf("stale +%v, replay +%v, want stale +%d", d,
				m.rejected("replay")-base[id].rejected("replay"), len(old))
		})
		// And they never became usable values: the fleet is still agreed.
		f.waitConverged(10*time.Second, all, 5)
		f.assertSafe()
	})
}

// TestFaultBrokerRestart: the broker process is killed (SIGKILL) for about
// 2 s and restarted on the same port; agents keep running rounds, reconnect,
// resubscribe and converge.
func TestFaultBrokerRestart(t *testing.T) {
	forEachBroker(t, func(t *testing.T, kind string) {
		f := newFleet(t, kind)
		all := idsOf(1, 2, 3, 4, 5)
		f.addAgents(completeGraph([]float64{0, 10, 20, 30, 40})...)
		f.monitor(all...)
		f.startAll(all...)
		f.waitMetrics(15*time.Second, "every agent admitted its peers and accepts values", all, func(_ int, m promMetrics) (bool, string) {
			return m.get("admitted_total") >= 4 && m.get("envelopes_accepted_total") >= 8,
				fmt.Sprintf("admitted_total %v, accepted %v", m.get("admitted_total"), m.get("envelopes_accepted_total"))
		})

		f.broker.kill()
		f.waitFor(5*time.Second, "every agent noticed the broker is gone", func() (bool, string) {
			for _, id := range all {
				if c := readyz(f.agents[id].metrics); c != http.StatusServiceUnavailable {
					return false, fmt.Sprintf("agent %d readyz %d", id, c)
				}
			}
			return true, ""
		})
		// The outage lasts about 2 s: 3 rounds for what was in flight to
		// settle, then 15 rounds on every agent during which nothing may be
		// accepted.
		gone := f.scrape(all...)
		f.waitMetrics(5*time.Second, "3 rounds without the broker", all, func(id int, m promMetrics) (bool, string) {
			d := m.get("rounds_total") - gone[id].get("rounds_total")
			return d >= 3, fmt.Sprintf("%v rounds", d)
		})
		down := f.scrape(all...)
		f.waitMetrics(10*time.Second, "15 more rounds without the broker", all, func(id int, m promMetrics) (bool, string) {
			d := m.get("rounds_total") - down[id].get("rounds_total")
			return d >= 15, fmt.Sprintf("%v rounds", d)
		})
		during := f.scrape(all...)
		for _, id := range all {
			if a, b := during[id].get("envelopes_accepted_total"), down[id].get("envelopes_accepted_total"); a != b {
				t.Errorf("agent %d accepted %v envelopes while the broker was down", id, a-b)
			}
			if during[id].get("publish_errors_total") < down[id].get("publish_errors_total")+10 {
				t.Errorf("agent %d: %v publish errors in 15 rounds without a broker", id,
					during[id].get("publish_errors_total")-down[id].get("publish_errors_total"))
			}
		}

		f.broker.start()
		f.waitReady(all...)
		f.waitMetrics(10*time.Second, "every agent accepts values again", all, func(id int, m promMetrics) (bool, string) {
			d := m.get("envelopes_accepted_total") - during[id].get("envelopes_accepted_total")
			return d >= 20, fmt.Sprintf("accepted +%v since the restart", d)
		})
		f.waitConverged(15*time.Second, all, 10)
		f.assertSafe()
	})
}

// TestFaultLossAndDelay: agents 4 and 5 reach the broker through TCP
// proxies that delay every chunk (20-60 ms each way) and cut all their
// connections every 1.5 s, losing what is in flight. The fleet still
// converges and stays safe; omissions prove the loss.
func TestFaultLossAndDelay(t *testing.T) {
	forEachBroker(t, func(t *testing.T, kind string) {
		f := newFleet(t, kind)
		all := idsOf(1, 2, 3, 4, 5)
		specs := completeGraph([]float64{0, 10, 20, 30, 40})
		var proxies []*faultProxy
		for i, id := range []int{4, 5} {
			p := startFaultProxy(t, f.broker.addr, 20*time.Millisecond, 40*time.Millisecond)
			specs[id-1].brokerURL = "tcp://" + p.Addr()
			proxies = append(proxies, p)
			// Staggered cuts, every 1.5 s: agent 4's connections at 0.5 s,
			// 2 s, ...; agent 5's at 1.25 s, 2.75 s, ...
			p.cutEvery(500*time.Millisecond+time.Duration(i)*750*time.Millisecond, 1500*time.Millisecond)
		}
		f.addAgents(specs...)
		f.monitor(all...)
		f.startAll(all...)
		f.waitMetrics(15*time.Second, "every agent admitted its peers", all, func(_ int, m promMetrics) (bool, string) {
			return m.get("admitted_total") >= 4, fmt.Sprintf("admitted_total %v", m.get("admitted_total"))
		})
		f.waitFor(15*time.Second, "two cuts on each proxy", func() (bool, string) {
			for i, p := range proxies {
				if n := p.cuts.Load(); n < 2 {
					return false, fmt.Sprintf("proxy %d: %d cuts", i, n)
				}
			}
			return true, ""
		})
		f.waitConverged(20*time.Second, all, 20)
		ms := f.scrape(all...)
		var omissions, gaps float64
		for _, id := range all {
			omissions += ms[id].get("omissions_total")
			gaps += ms[id].get("counter_gaps_total")
		}
		if !(omissions > 0) {
			t.Errorf("no omissions recorded: the proxies lost nothing")
		}
		for i, p := range proxies {
			t.Logf("proxy %d: %d cuts, %d connections, %d bytes delayed", i, p.cuts.Load(), p.conns.Load(), p.bytes.Load())
		}
		t.Logf("omissions_total %v, counter_gaps_total %v (sum over agents)", omissions, gaps)
		f.assertSafe()
	})
}

// TestFaultRejoinSeed: agent 1, the gossip seed, has no seeds of its own to
// join (as in the README). Killed and restarted on its fixed gossip port
// after its peers declared it dead, it must be readmitted.
//
// memberlist never contacts a node it holds dead, and the restarted agent
// has no one to join, so before agent/membership reconnected to dead
// members' last addresses every PushPullInterval (as Serf does) it stayed
// alone for ever, every neighbour an omission.
func TestFaultRejoinSeed(t *testing.T) {
	faultSetup(t)
	f := newFleet(t, "embedded") // gossip does not depend on the broker
	all := idsOf(1, 2, 3, 4)
	peers := idsOf(2, 3, 4)
	f.addAgents(completeGraph([]float64{0, 10, 20, 30})...)
	f.monitor(all...)
	f.startAll(all...)
	f.waitMetrics(15*time.Second, "every agent admitted its peers", all, func(_ int, m promMetrics) (bool, string) {
		return m.get("admitted_total") >= 3, fmt.Sprintf("admitted_total %v", m.get("admitted_total"))
	})
	admitted := f.scrape(peers...)
	f.agents[1].proc.kill()
	f.waitMetrics(15*time.Second, "peers declared agent 1 dead", peers, func(_ int, m promMetrics) (bool, string) {
		return m.get("live_neighbours") == 2, fmt.Sprintf("live_neighbours %v", m.get("live_neighbours"))
	})
	f.startAgent(1)
	f.waitReady(1)
	f.waitMetrics(15*time.Second, "peers readmitted agent 1", peers, func(id int, m promMetrics) (bool, string) {
		a0 := admitted[id].get("admitted_total")
		return m.get("admitted_total") > a0 && m.get("live_neighbours") == 3,
			fmt.Sprintf("admitted_total %v (was %v), live_neighbours %v", m.get("admitted_total"), a0, m.get("live_neighbours"))
	})
	f.waitConverged(15*time.Second, all, 10)
	f.assertSafe()
}

// TestFaultRejoinFast: an agent killed and restarted at once, at a new
// gossip port, before its peers noticed the death, must be readmitted
// about as fast as one restarted after its death was noticed.
//
// memberlist refuses the new process as a name conflict while the old one
// is alive, and learned of it again only from the new process's next
// push/pull after the old one was declared dead (7-10 s with a 5 s
// push/pull, up to 30 s more on a LAN); agent/membership now remembers the
// conflicting address and pushes/pulls with it when the old node dies.
func TestFaultRejoinFast(t *testing.T) {
	faultSetup(t)
	f := newFleet(t, "embedded")
	all := idsOf(1, 2, 3, 4)
	peers := idsOf(1, 2, 3)
	f.addAgents(completeGraph([]float64{0, 10, 20, 30})...)
	f.monitor(all...)
	f.startAll(all...)
	f.waitMetrics(15*time.Second, "every agent admitted its peers", all, func(_ int, m promMetrics) (bool, string) {
		return m.get("admitted_total") >= 3, fmt.Sprintf("admitted_total %v", m.get("admitted_total"))
	})
	admitted := f.scrape(peers...)
	f.agents[4].proc.kill()
	f.startAgent(4)
	f.waitReady(4)
	// Detection takes 1-3 s with the local profile; allow that and 2 s
	// (unfixed, it takes 7-10 s).
	f.waitMetrics(5*time.Second, "peers readmitted agent 4", peers, func(id int, m promMetrics) (bool, string) {
		a0 := admitted[id].get("admitted_total")
		return m.get("admitted_total") > a0 && m.get("live_neighbours") == 3,
			fmt.Sprintf("admitted_total %v (was %v), live_neighbours %v", m.get("admitted_total"), a0, m.get("live_neighbours"))
	})
	f.waitConverged(15*time.Second, all, 10)
	f.assertSafe()
}
