package main

import (
	"context"
	"encoding/binary"
	"log/slog"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/wmsr/wmsr/agent"
	"github.com/wmsr/wmsr/agent/membership"
	"github.com/wmsr/wmsr/agent/mqttfabric"
	"github.com/wmsr/wmsr/attest"
	"github.com/wmsr/wmsr/wmsr/sim"
)

// plan is what one attacker of the networked fleet seals each round: one
// state, or two for an equivocator (both under the same counter). view is
// the bounding box of the normal drones' latest positions: attackers are
// omniscient, like the simulator's.
type plan struct {
	name string
	// twoFaced: faces returns two states, sealed under one counter.
	twoFaced bool
	faces    func(t int, view box) []point
}

func same(v float64) point { return point{v, v, v} }

// netStrategies mirrors the simulator's strategies (same names) for the
// networked fleet, in 3-D: the k-th attacker's plan.
var netStrategies = map[string]func(k int, seed uint64) plan{
	"constant": func(k int, _ uint64) plan {
		return plan{"constant", false, func(int, box) []point { return []point{same(500 + 100*float64(k))} }}
	},
	"ramp": func(k int, _ uint64) plan {
		slope := 2 - 4*float64(k%2)
		return plan{"ramp", false, func(t int, _ box) []point { return []point{same(50 + slope*float64(t))} }}
	},
	"oscillate": func(k int, _ uint64) plan {
		o := sim.Oscillate{Lo: -50, Hi: 150, Period: 1 + k}
		return plan{"oscillate", false, func(t int, _ box) []point { return []point{same(o.Send(0, 0, t, sim.View{}))} }}
	},
	"random": func(k int, seed uint64) plan {
		return plan{"random", false, func(t int, _ box) []point {
			r := rand.New(rand.NewPCG(seed+uint64(k), uint64(t)))
			var p point
			for c := range p {
				p[c] = -200 + 500*r.Float64()
			}
			return []point{p}
		}}
	},
	"extreme": func(k int, _ uint64) plan {
		e := sim.Extreme(k)
		return plan{"extreme", false, func(t int, _ box) []point { return []point{same(e.Send(0, 0, t, sim.View{}))} }}
	},
	"nonfinite": func(int, uint64) plan {
		// NaN, +Inf, −Inf in turn: agent.AppendRoundState refuses them,
		// so the attacker writes the bits itself (encodeState); the
		// receivers refuse them as "invalid_value" after checking the
		// signature.
		return plan{"nonfinite", false, func(t int, _ box) []point {
			return []point{same(sim.NonFinite{}.Send(0, 0, t, sim.View{}))}
		}}
	},
	"pull": func(k int, _ uint64) plan {
		// The corner of the normal drones' box nearest a point far below
		// (even k) or far above (odd k): never an outlier, so trimming
		// cannot single it out; it can bias where the fleet meets, not
		// stop it from meeting.
		return plan{"pull", false, func(_ int, v box) []point {
			if k%2 == 0 {
				return []point{v.lo}
			}
			return []point{v.hi}
		}}
	},
	"equivocate": func(int, uint64) plan { return equivocator() },
	"mixed": func(k int, _ uint64) plan {
		// A two-faced drone telling half its story from the low corner of
		// the fleet and half from the high one, and a drone that climbs
		// for ever: the lie only signatures expose, and the one trimming
		// alone defeats.
		if k%2 == 0 {
			return equivocator()
		}
		return plan{"climb", false, func(t int, v box) []point {
			p := v.centre()
			p[2] = 60 + 5*float64(t)
			return []point{p}
		}}
	},
}

// equivocator seals two states under every counter, the low and the high
// corner of the normal drones' box: within the hull, so trimming cannot
// tell them from honest values, and different, so whoever receives both
// holds a signed proof.
func equivocator() plan {
	return plan{"equivocate", true, func(_ int, v box) []point { return []point{v.lo, v.hi} }}
}

// encodeState is agent.AppendRoundState without the finiteness check:
// version(1)=2 round(8) dim(1) values(8 each, IEEE-754 big-endian), so an
// attacker can send NaN and ±Inf.
func encodeState(t uint64, p point) []byte {
	var finite point
	for c, v := range p {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			finite[c] = v
		}
	}
	b, err := agent.AppendRoundState(nil, agent.RoundState{Round: t, State: finite[:]})
	if err != nil {
		panic(err) // cannot happen: finite, dimension 3
	}
	for c, v := range p {
		binary.BigEndian.PutUint64(b[10+8*c:], math.Float64bits(v))
	}
	return b
}

// attacker is a compromised drone on the network: a certified identity
// (two attest identities over the same keys for an equivocator), its own
// MQTT connection and its own gossip member, so the normal drones admit it
// like any other.
type attacker struct {
	k       int // index among the attackers
	id      attest.MemberID
	node    int // graph node
	plan    plan
	senders []*attest.Sender // one per face, counters in lockstep
	record  attest.Member    // its admitted record, to verify evidence against
	fab     *mqttfabric.Fabric
	ml      *membership.Membership
	log     *slog.Logger

	sealed, published int
	closeOnce         sync.Once
}

// run seals and publishes the attacker's faces for rounds 0 … rounds−1, a
// tenth of a period after each round starts (so that its view includes
// the previous round's updates), until ctx is done.
func (a *attacker) run(ctx context.Context, epoch time.Time, period time.Duration, rounds int, tr *trace) {
	for t := 0; t < rounds; t++ {
		at := epoch.Add(time.Duration(t)*period + period/10)
		if late := time.Since(at); late > period {
			// Stalled past the round (a loaded host): skip to the
			// current one, as the agents' runners do.
			t += int(late / period)
			if t >= rounds {
				return
			}
			at = epoch.Add(time.Duration(t)*period + period/10)
		}
		if d := time.Until(at); d > 0 {
			timer := time.NewTimer(d)
			select {
			case <-ctx.Done():
				timer.Stop()
				return
			case <-timer.C:
			}
		}
		faces := a.plan.faces(t, tr.latest())
		tr.recordSent(a.k, t, faces)
		for i, p := range faces {
			env, err := a.senders[i%len(a.senders)].Seal(nil, agent.KindRoundValue, encodeState(uint64(t), p))
			if err != nil {
				a.log.Warn("attacker: seal", "round", t, "err", err)
				continue
			}
			a.sealed++
			pctx, cancel := context.WithTimeout(ctx, period/2)
			err = a.fab.Publish(pctx, env)
			cancel()
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				a.log.Debug("attacker: publish", "round", t, "err", err)
				continue
			}
			a.published++
		}
	}
}

// close disconnects; idempotent. An attacker does not say goodbye (no
// gossip leave): it vanishes, and a Leave with nobody left to tell would
// wait out its whole timeout.
func (a *attacker) close() {
	a.closeOnce.Do(func() {
		if a.ml != nil {
			_ = a.ml.Close()
		}
		if a.fab != nil {
			_ = a.fab.Close()
		}
	})
}
