package agent_test

import (
	"errors"
	"testing"

	"github.com/wmsr/wmsr/agent"
	"github.com/wmsr/wmsr/attest"
	"github.com/wmsr/wmsr/wmsr"
)

// A scheduled change takes effect at the start of its round, not before:
// until then the old neighbours and F are used and the new neighbours'
// values are refused; from then on the reverse, a neighbour that stays
// keeps its held value, a new one is authenticated with the record
// UpdateMember gave before it was a neighbour, and one declared dead
// before it became a neighbour is out of the live set at once.
func TestEngineScheduledChange(t *testing.T) {
	tf := newTestFleet(t, 91, 1, 2, 3, 4, 5, 6)
	cfg := engineConfig(1, 2, 3)
	cfg.Scope = wmsr.Total(0)
	e := newEngine(t, tf, cfg)
	e.SetAlive(6, false) // not a neighbour yet
	if err := e.Schedule(agent.Change{At: 3, Scope: wmsr.Total(1), Neighbours: []attest.MemberID{2, 4, 5, 6}}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []agent.Change{
		{At: 4, Neighbours: []attest.MemberID{1, 2}},
		{At: 4, Neighbours: []attest.MemberID{}},
		{At: 4, Scope: wmsr.Local{}, Neighbours: []attest.MemberID{2}},
		{At: 4, OutNeighbours: []attest.MemberID{2}, Scope: wmsr.Total(-1)},
	} {
		if err := e.Schedule(bad); !errors.Is(err, agent.ErrConfig) {
			t.Fatalf("Schedule(%+v) = %v, want ErrConfig", bad, err)
		}
	}
	if e.Pending() != 1 {
		t.Fatalf("%d pending", e.Pending())
	}
	for r := uint64(1); r <= 2; r++ {
		mustBegin(t, e, r)
		deliverOK(t, e, seal(t, tf.sender(t, 2), r, 10))
		deliverOK(t, e, seal(t, tf.sender(t, 3), r, 20))
		if o := e.Deliver(agent.Delivery{Envelope: seal(t, tf.sender(t, 4), r, 30)}); o.Accepted || o.Reason != attest.ReasonUnknownSender.String() {
			t.Fatalf("round %d: a future neighbour's value: %+v", r, o)
		}
		if _, rep := mustEnd(t, e, r); rep.F != 0 || rep.Used != 2 || rep.Changes != 0 {
			t.Fatalf("round %d before the change: %+v", r, rep)
		}
	}
	own := e.Value()
	mustBegin(t, e, 3)
	if o := e.Deliver(agent.Delivery{Envelope: seal(t, tf.sender(t, 3), 3, 20)}); o.Accepted || o.Reason != attest.ReasonUnknownSender.String() {
		t.Fatalf("a former neighbour's value: %+v", o)
	}
	deliverOK(t, e, seal(t, tf.sender(t, 4), 3, 30))
	deliverOK(t, e, seal(t, tf.sender(t, 5), 3, -40))
	if o := e.Deliver(agent.Delivery{Envelope: seal(t, tf.sender(t, 6), 3, 50)}); o.Accepted || o.Reason != agent.ReasonNotLive {
		t.Fatalf("a dead new neighbour's value: %+v", o)
	}
	v, rep := mustEnd(t, e, 3)
	// Neighbour 2 sent nothing in round 3: its round-2 value (10) is
	// within D = 2 and still held.
	want := wmsr.Update(own, []float64{10, 30, -40}, 1)
	if rep.Changes != 1 || rep.F != 1 || rep.Used != 3 || rep.Removed != 1 || v != want {
		t.Fatalf("round 3: value %v (want %v), report %+v", v, want, rep)
	}
	if got := e.Config().Neighbours; len(got) != 4 || e.Pending() != 0 {
		t.Fatalf("neighbours %v, %d pending", got, e.Pending())
	}

	// A change learned after its round takes effect at the next Begin.
	if err := e.Schedule(agent.Change{At: 2, Scope: wmsr.Total(0)}); err != nil {
		t.Fatal(err)
	}
	mustBegin(t, e, 4)
	if _, rep := mustEnd(t, e, 4); rep.Changes != 1 || rep.F != 0 {
		t.Fatalf("late change: %+v", rep)
	}

	// A quarantine from the log: refused from its round on, and the held
	// value is not used either.
	if err := e.Schedule(agent.Change{At: 6, Quarantine: []attest.MemberID{4}}); err != nil {
		t.Fatal(err)
	}
	mustBegin(t, e, 5)
	deliverOK(t, e, seal(t, tf.sender(t, 4), 5, 30))
	mustEnd(t, e, 5)
	mustBegin(t, e, 6)
	if o := e.Deliver(agent.Delivery{Envelope: seal(t, tf.sender(t, 4), 6, 30)}); o.Accepted || o.Reason != agent.ReasonQuarantined {
		t.Fatalf("quarantined by the log: %+v", o)
	}
	if _, rep := mustEnd(t, e, 6); rep.Used != 0 || rep.Omissions != 3 {
		t.Fatalf("round 6: %+v", rep)
	}
}

// With SuiteHMACSHA256 a change of out-neighbours changes who the values
// are sealed for, from the change's round on.
func TestEngineScheduledOutNeighbours(t *testing.T) {
	tf := newTestFleet(t, 92, 1, 2, 3, 4)
	es := hmacEngines(t, tf, 1, 2, 3)
	e := es[1]
	// Member 4 is known (tf.members) but not an out-neighbour yet.
	count := func(env []byte) (n int, for4 bool) {
		t.Helper()
		if err := agent.DecodeBundle(env, func(one []byte) bool {
			n++
			if p, err := attest.Parse(one); err == nil && p.Stream.Dest == 4 {
				for4 = true
			}
			return true
		}); err != nil {
			t.Fatal(err)
		}
		return n, for4
	}
	if err := e.Schedule(agent.Change{At: 2, OutNeighbours: []attest.MemberID{2, 4}}); err != nil {
		t.Fatal(err)
	}
	env := mustBegin(t, e, 1)
	if n, for4 := count(env); n != 2 || for4 {
		t.Fatalf("round 1: %d envelopes, one for 4: %v", n, for4)
	}
	mustEnd(t, e, 1)
	env = mustBegin(t, e, 2)
	if n, for4 := count(env); n != 2 || !for4 {
		t.Fatalf("round 2: %d envelopes, one for 4: %v", n, for4)
	}
	mustEnd(t, e, 2)
}
