package agent_test

import (
	"bytes"
	"errors"
	"math"
	"testing"

	"github.com/wmsr/wmsr/agent"
	"github.com/wmsr/wmsr/attest"
	"github.com/wmsr/wmsr/wmsr"
)

// hmacEngines returns engines for ids, each hearing and heard by all the
// others, with SuiteHMACSHA256.
func hmacEngines(t *testing.T, tf *testFleet, ids ...attest.MemberID) map[attest.MemberID]*agent.Engine {
	t.Helper()
	out := map[attest.MemberID]*agent.Engine{}
	for _, id := range ids {
		var others []attest.MemberID
		for _, o := range ids {
			if o != id {
				others = append(others, o)
			}
		}
		cfg := engineConfig(id, others...)
		cfg.Suite, cfg.OutNeighbours, cfg.Scope = attest.SuiteHMACSHA256T128, others, wmsr.Total(0)
		cfg.Initial = []float64{float64(id)}
		out[id] = newEngine(t, tf, cfg)
	}
	return out
}

// With SuiteHMACSHA256 every agent publishes one bundle a round holding an
// envelope per out-neighbour, each neighbour opens its own, and the values
// are the same as with Ed25519; a lost round does not block the pairwise
// stream (counter gaps are omissions), a replayed bundle is refused.
func TestEngineHMACBundles(t *testing.T) {
	tf := newTestFleet(t, 81, 1, 2, 3)
	es := hmacEngines(t, tf, 1, 2, 3)
	envs := map[attest.MemberID][]byte{}
	round := func(r uint64, deliver bool) {
		t.Helper()
		for id, e := range es {
			envs[id] = mustBegin(t, e, r)
			if envs[id] == nil {
				t.Fatalf("agent %d has nothing to send", id)
			}
		}
		if deliver {
			for id, e := range es {
				for from, env := range envs {
					if from != id {
						deliverOK(t, e, env)
					}
				}
			}
		}
		for _, e := range es {
			mustEnd(t, e, r)
		}
	}
	round(0, true)
	if v := es[1].Value(); math.Abs(v-2) > 1e-12 {
		t.Fatalf("value after one round %v, want 2", v)
	}
	old := envs[2]
	round(1, false) // lost
	round(2, true)
	o := es[1].Deliver(agent.Delivery{Envelope: old})
	if o.Accepted || o.Reason != attest.ReasonReplay.String() {
		t.Fatalf("replayed bundle: %+v", o)
	}
	truncated := envs[2][:len(envs[2])-1]
	if o := es[1].Deliver(agent.Delivery{Envelope: truncated}); o.Accepted || o.Reason != attest.ReasonMalformed.String() {
		t.Fatalf("a truncated bundle: %+v", o)
	}
	// A MAC flipped in the envelope for 1, bundled again.
	round(3, false)
	var parts [][]byte
	if err := agent.DecodeBundle(envs[2], func(one []byte) bool {
		one = bytes.Clone(one)
		if env, err := attest.Parse(one); err == nil && env.Stream.Dest == 1 {
			one[len(one)-1] ^= 1 // the MAC closes the envelope
		}
		parts = append(parts, one)
		return true
	}); err != nil {
		t.Fatal(err)
	}
	tampered, err := agent.AppendBundle(nil, parts)
	if err != nil {
		t.Fatal(err)
	}
	if o := es[1].Deliver(agent.Delivery{Envelope: tampered}); o.Accepted || o.Reason != attest.ReasonForged.String() {
		t.Fatalf("a tampered bundle: %+v", o)
	}
	// A bundle with no envelope for the receiver is misrouted: 3's
	// envelope for 2, alone.
	var for2 []byte
	if err := agent.DecodeBundle(envs[3], func(one []byte) bool {
		if env, err := attest.Parse(one); err == nil && env.Stream.Dest == 2 {
			for2 = bytes.Clone(one)
		}
		return true
	}); err != nil || for2 == nil {
		t.Fatalf("no envelope for 2 in 3's bundle: %v", err)
	}
	b, err := agent.AppendBundle(nil, [][]byte{for2})
	if err != nil {
		t.Fatal(err)
	}
	if o := es[1].Deliver(agent.Delivery{Envelope: b}); o.Accepted || o.Reason != attest.ReasonMisrouted.String() {
		t.Fatalf("a bundle without an envelope for 1: %+v", o)
	}
}

// An HMAC agent whose out-neighbour restarts seals for the new epoch once
// the new record is applied; until any out-neighbour is admitted it has
// nothing to send.
func TestEngineHMACOutNeighbourRecords(t *testing.T) {
	tf := newTestFleet(t, 82, 1, 2)
	cfg := engineConfig(1, 2)
	cfg.Suite, cfg.OutNeighbours = attest.SuiteHMACSHA256, []attest.MemberID{2}
	lonely, err := agent.NewEngine(cfg, tf.backends[1].Identity(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if env := mustBegin(t, lonely, 0); env != nil {
		t.Fatalf("sealed %d bytes with no out-neighbour admitted", len(env))
	}
	e := newEngine(t, tf, cfg)
	b2, rec2, err := tf.fleet.Join(2, 2, ptr(tf.record[2]))
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := e.UpdateMember(rec2); !ok || err != nil {
		t.Fatalf("UpdateMember: %v %v", ok, err)
	}
	if ok, err := e.UpdateMember(tf.record[2]); ok || !errors.Is(err, attest.ErrStale) {
		t.Fatalf("old record: %v %v", ok, err)
	}
	env := mustBegin(t, e, 0)
	// Agent 2's new incarnation opens it.
	cfg2 := engineConfig(2, 1)
	cfg2.Suite, cfg2.OutNeighbours = attest.SuiteHMACSHA256, []attest.MemberID{1}
	e2, err := agent.NewEngine(cfg2, b2.Identity(), []attest.Member{tf.record[1]})
	if err != nil {
		t.Fatal(err)
	}
	mustBegin(t, e2, 0)
	deliverOK(t, e2, env)
	bad := cfg
	bad.OutNeighbours = nil
	if _, err := agent.NewEngine(bad, tf.backends[1].Identity(), tf.members); !errors.Is(err, agent.ErrConfig) {
		t.Fatalf("hmac without out-neighbours: %v", err)
	}
}
