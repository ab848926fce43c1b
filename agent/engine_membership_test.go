package agent_test

import (
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/wmsr/wmsr/agent"
	"github.com/wmsr/wmsr/attest"
	"github.com/wmsr/wmsr/wmsr"
)

func sealState(t *testing.T, s *attest.Sender, round uint64, st ...float64) []byte {
	t.Helper()
	p, err := agent.AppendRoundState(nil, agent.RoundState{Round: round, State: st})
	if err != nil {
		t.Fatal(err)
	}
	env, err := s.Seal(nil, agent.KindRoundValue, p)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func deliverOK(t *testing.T, e *agent.Engine, env []byte) {
	t.Helper()
	if o := e.Deliver(agent.Delivery{Envelope: env}); !o.Accepted {
		t.Fatalf("rejected: %s: %v", o.Reason, o.Err)
	}
}

// A vector state is trimmed coordinate by coordinate: the result is
// wmsr.UpdateVec of the same values, bit for bit.
func TestEngineVectorState(t *testing.T) {
	tf := newTestFleet(t, 71, 1, 2, 3, 4)
	cfg := engineConfig(1, 2, 3, 4)
	cfg.Initial = []float64{0, 10, -5}
	e, err := agent.NewEngine(cfg, tf.backends[1].Identity(), tf.members)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Begin(0); err != nil {
		t.Fatal(err)
	}
	nb := map[attest.MemberID][]float64{2: {1, 11, -4}, 3: {2, 9, 100}, 4: {-50, 12, -6}}
	var vals []float64
	for _, id := range []attest.MemberID{2, 3, 4} {
		deliverOK(t, e, sealState(t, tf.sender(t, id), 0, nb[id]...))
		vals = append(vals, nb[id]...)
	}
	_, rep, err := e.End(0)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]float64, 3)
	wmsr.UpdateVec(cfg.Initial, vals, 1, want)
	if !slices.Equal(e.State(), want) || !slices.Equal(rep.State, want) || rep.Value != want[0] {
		t.Fatalf("state %v, report %v / %v; want %v", e.State(), rep.State, rep.Value, want)
	}
	if rep.Disagreement != 106 { // coordinate 2: −6 … 100
		t.Fatalf("disagreement %v, want 106", rep.Disagreement)
	}
	// A scalar from a neighbour of this 3-D fleet is a bad payload.
	if _, err := e.Begin(1); err != nil {
		t.Fatal(err)
	}
	if o := e.Deliver(agent.Delivery{Envelope: seal(t, tf.sender(t, 2), 1, 3)}); o.Accepted || o.Reason != agent.ReasonBadPayload {
		t.Fatalf("scalar into a 3-D engine: %+v", o)
	}
}

// Under DP (second-order dynamics) the engine steps wmsr.DP on each
// coordinate with its private velocity.
func TestEngineDPStep(t *testing.T) {
	tf := newTestFleet(t, 72, 1, 2, 3, 4)
	dp, err := wmsr.NewDP(0.5, 1.5, 0.1)
	if err != nil {
		t.Fatal(err)
	}
	cfg := engineConfig(1, 2, 3, 4)
	cfg.Initial, cfg.Velocity, cfg.DP = []float64{0, 0}, []float64{1, -1}, &dp
	e, err := agent.NewEngine(cfg, tf.backends[1].Identity(), tf.members)
	if err != nil {
		t.Fatal(err)
	}
	x, v := []float64{0, 0}, []float64{1, -1}
	nb := [][]float64{{4, 2}, {-3, 8}, {1000, 1}}
	for r := uint64(0); r < 3; r++ {
		if _, err := e.Begin(r); err != nil {
			t.Fatal(err)
		}
		for i, id := range []attest.MemberID{2, 3, 4} {
			deliverOK(t, e, sealState(t, tf.sender(t, id), r, nb[i]...))
		}
		if _, _, err := e.End(r); err != nil {
			t.Fatal(err)
		}
		for c := range x {
			x[c], v[c], _ = dp.Step(x[c], v[c], []float64{nb[0][c], nb[1][c], nb[2][c]}, 1)
		}
	}
	if !slices.Equal(e.State(), x) {
		t.Fatalf("state %v, want %v", e.State(), x)
	}
	bad := cfg
	bad.Velocity = []float64{1}
	if _, err := agent.NewEngine(bad, tf.backends[1].Identity(), tf.members); !errors.Is(err, agent.ErrConfig) {
		t.Fatalf("velocity of the wrong dimension: %v", err)
	}
	bad = cfg
	bad.DP = &wmsr.DP{A: -1, B: 1, T: 1}
	if _, err := agent.NewEngine(bad, tf.backends[1].Identity(), tf.members); !errors.Is(err, agent.ErrConfig) {
		t.Fatalf("negative gain: %v", err)
	}
}

// A neighbour declared dead leaves the in-neighbour set: no omission, its
// value is forgotten and refused, and a fraction scope trims on the live
// in-degree. Declared alive again, it counts as before.
func TestEngineDeadNeighbour(t *testing.T) {
	tf := newTestFleet(t, 73, 1, 2, 3, 4, 5)
	cfg := engineConfig(1, 2, 3, 4, 5)
	cfg.Scope, cfg.D = wmsr.Fraction(0.25), 0 // F = ⌊d/4⌋: 1 of 4, 0 of 3
	e, err := agent.NewEngine(cfg, tf.backends[1].Identity(), tf.members)
	if err != nil {
		t.Fatal(err)
	}
	var deadID attest.MemberID // the neighbour currently declared dead
	round := func(r uint64, from ...attest.MemberID) agent.RoundReport {
		t.Helper()
		if _, err := e.Begin(r); err != nil {
			t.Fatal(err)
		}
		for _, id := range from {
			o := e.Deliver(agent.Delivery{Envelope: seal(t, tf.sender(t, id), r, float64(id))})
			if id == 5 && o.Accepted == (deadID == 5) {
				t.Fatalf("neighbour 5 accepted=%v while dead=%v (%s)", o.Accepted, deadID == 5, o.Reason)
			}
		}
		_, rep, err := e.End(r)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	deadID = 0
	if rep := round(0, 2, 3, 4, 5); rep.F != 1 || rep.Used != 4 || rep.Omissions != 0 || rep.Removed != 0 {
		t.Fatalf("all live: %+v", rep)
	}
	if !e.SetAlive(5, false) || e.SetAlive(5, false) || e.SetAlive(9, false) {
		t.Fatal("SetAlive did not report the change exactly once for a neighbour")
	}
	deadID = 5
	rep := round(1, 2, 3, 4, 5)
	if rep.F != 0 || rep.Used != 3 || rep.Omissions != 0 || rep.Removed != 1 || rep.Rejected[agent.ReasonNotLive] != 1 {
		t.Fatalf("5 dead: %+v", rep)
	}
	if live := e.Live(); !slices.Equal(live, []attest.MemberID{2, 3, 4}) {
		t.Fatalf("live %v", live)
	}
	e.SetAlive(5, true)
	deadID = 0
	if rep := round(2, 2, 3, 4); rep.F != 1 || rep.Used != 3 || rep.Omissions != 1 || rep.Removed != 0 {
		t.Fatalf("5 back but silent: %+v", rep)
	}
}

// A neighbour that restarts under a higher epoch is accepted again once
// its new record is applied, and its old epoch's envelopes are refused.
func TestEngineUpdateMemberNewEpoch(t *testing.T) {
	tf := newTestFleet(t, 74, 1, 2, 3)
	cfg := engineConfig(1, 2, 3)
	e, err := agent.NewEngine(cfg, tf.backends[1].Identity(), tf.members)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Begin(0); err != nil {
		t.Fatal(err)
	}
	old := seal(t, tf.sender(t, 2), 0, 1)
	deliverOK(t, e, old)
	b2, rec2, err := tf.fleet.Join(2, 2, ptr(tf.record[2]))
	if err != nil {
		t.Fatal(err)
	}
	s2, err := attest.NewBroadcastSender(b2.Identity(), agent.DefaultValueChannel, nil)
	if err != nil {
		t.Fatal(err)
	}
	fresh := seal(t, s2, 0, 2)
	if o := e.Deliver(agent.Delivery{Envelope: fresh}); o.Accepted {
		t.Fatal("an envelope of a not yet admitted epoch was accepted")
	}
	if ok, err := e.UpdateMember(rec2); !ok || err != nil {
		t.Fatalf("UpdateMember: %v %v", ok, err)
	}
	deliverOK(t, e, fresh)
	if o := e.Deliver(agent.Delivery{Envelope: seal(t, tf.sender(t, 2), 0, 3)}); o.Accepted || o.Reason != attest.ReasonStale.String() {
		t.Fatalf("old epoch after the restart: %+v", o)
	}
	if ok, err := e.UpdateMember(tf.record[2]); ok || !errors.Is(err, attest.ErrStale) {
		t.Fatalf("re-applying the old record: %v %v", ok, err)
	}
	if ok, err := e.UpdateMember(tf.record[1]); ok || err != nil {
		t.Fatalf("a non-neighbour's record: %v %v", ok, err)
	}
}

func ptr[T any](v T) *T { return &v }

// The unauthenticated baseline carries the same values without attest, and
// refuses frames from non-neighbours and garbage.
func TestEngineUnauthenticated(t *testing.T) {
	mk := func(id attest.MemberID, nb ...attest.MemberID) *agent.Engine {
		cfg := engineConfig(id, nb...)
		cfg.Unauthenticated, cfg.Initial, cfg.Scope = true, []float64{float64(id)}, wmsr.Total(0)
		e, err := agent.NewEngine(cfg, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	a, b, c := mk(1, 2, 3), mk(2, 1, 3), mk(3, 1, 2)
	envs := map[string][]byte{}
	for name, e := range map[string]*agent.Engine{"a": a, "b": b, "c": c} {
		env, err := e.Begin(0)
		if err != nil {
			t.Fatal(err)
		}
		envs[name] = env
	}
	deliverOK(t, a, envs["b"])
	deliverOK(t, a, envs["c"])
	if o := a.Deliver(agent.Delivery{Envelope: envs["a"]}); o.Accepted || o.Reason != attest.ReasonUnknownSender.String() {
		t.Fatalf("own frame: %+v", o)
	}
	if o := a.Deliver(agent.Delivery{Envelope: []byte("garbage!!!!!!")}); o.Accepted || o.Reason != attest.ReasonMalformed.String() {
		t.Fatalf("garbage: %+v", o)
	}
	if v, _, err := a.End(0); err != nil || math.Abs(v-2) > 1e-15 {
		t.Fatalf("value %v, %v; want the average 2", v, err)
	}
}
