package agent_test

import (
	"encoding/binary"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/wmsr/wmsr/agent"
	"github.com/wmsr/wmsr/attest"
	"github.com/wmsr/wmsr/attest/attesttest"
	"github.com/wmsr/wmsr/wmsr"
	"pgregory.net/rapid"
)

// tb is what the helpers need from *testing.T and *rapid.T.
type tb interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

// testFleet is a set of admitted soft members with one broadcast sender
// each, for driving an Engine by hand.
type testFleet struct {
	fleet    *attesttest.Fleet
	backends map[attest.MemberID]*attest.SoftBackend
	members  []attest.Member
	record   map[attest.MemberID]attest.Member
	senders  map[attest.MemberID]*attest.Sender
}

func newTestFleet(t tb, seed uint64, ids ...attest.MemberID) *testFleet {
	t.Helper()
	tf := &testFleet{
		fleet:    attesttest.NewFleet(seed),
		backends: map[attest.MemberID]*attest.SoftBackend{},
		record:   map[attest.MemberID]attest.Member{},
		senders:  map[attest.MemberID]*attest.Sender{},
	}
	for _, id := range ids {
		b, m, err := tf.fleet.Join(id, 1, nil)
		if err != nil {
			t.Fatal(err)
		}
		tf.backends[id], tf.record[id] = b, m
		tf.members = append(tf.members, m)
	}
	return tf
}

// sender returns a broadcast sender for id (not for the engine's own id,
// whose identity the engine's sender reserves).
func (tf *testFleet) sender(t tb, id attest.MemberID) *attest.Sender {
	t.Helper()
	if s, ok := tf.senders[id]; ok {
		return s
	}
	s, err := attest.NewBroadcastSender(tf.backends[id].Identity(), agent.DefaultValueChannel, nil)
	if err != nil {
		t.Fatal(err)
	}
	tf.senders[id] = s
	return s
}

func seal(t tb, s *attest.Sender, round uint64, v float64) []byte {
	t.Helper()
	p, err := agent.AppendRoundValue(nil, agent.RoundValue{Round: round, Value: v})
	if err != nil {
		t.Fatal(err)
	}
	env, err := s.Seal(nil, agent.KindRoundValue, p)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// equivocator admits member id and returns two independent identities
// holding its keys (a compromised member): each can seal its own envelope
// under the same counter.
func equivocator(t tb, f *attesttest.Fleet, id attest.MemberID, seed uint64) (a, b *attest.Identity, rec attest.Member) {
	t.Helper()
	ba, err := attest.NewSoftBackend(id, 1, f.BinaryHash, attesttest.Rand(seed))
	if err != nil {
		t.Fatal(err)
	}
	bb, err := attest.NewSoftBackend(id, 1, f.BinaryHash, attesttest.Rand(seed))
	if err != nil {
		t.Fatal(err)
	}
	st, err := f.CA.Issue(ba.CertRequest(), f.Now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if err := ba.Install(st); err != nil {
		t.Fatal(err)
	}
	att, err := ba.Attest()
	if err != nil {
		t.Fatal(err)
	}
	if rec, err = f.Admitter.Admit(att, nil, f.Now); err != nil {
		t.Fatal(err)
	}
	return ba.Identity(), bb.Identity(), rec
}

func engineConfig(id attest.MemberID, neighbours ...attest.MemberID) agent.Config {
	cfg := agent.DefaultConfig()
	cfg.ID = id
	cfg.Neighbours = neighbours
	cfg.Initial = []float64{0}
	return cfg
}

func newEngine(t tb, tf *testFleet, cfg agent.Config) *agent.Engine {
	t.Helper()
	e, err := agent.NewEngine(cfg, tf.backends[cfg.ID].Identity(), tf.members)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func mustBegin(t tb, e *agent.Engine, r uint64) []byte {
	t.Helper()
	env, err := e.Begin(r)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func mustEnd(t tb, e *agent.Engine, r uint64) (float64, agent.RoundReport) {
	t.Helper()
	v, rep, err := e.End(r)
	if err != nil {
		t.Fatal(err)
	}
	return v, rep
}

func TestConfigValidate(t *testing.T) {
	ok := engineConfig(1, 2, 3)
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	for name, mod := range map[string]func(*agent.Config){
		"no neighbours":      func(c *agent.Config) { c.Neighbours = nil },
		"self neighbour":     func(c *agent.Config) { c.Neighbours = []attest.MemberID{2, 1} },
		"duplicate":          func(c *agent.Config) { c.Neighbours = []attest.MemberID{2, 2} },
		"zero period":        func(c *agent.Config) { c.Period = 0 },
		"negative D":         func(c *agent.Config) { c.D = -1 },
		"negative F":         func(c *agent.Config) { c.Scope = wmsr.Total(-1) },
		"nil scope":          func(c *agent.Config) { c.Scope = nil },
		"local out of range": func(c *agent.Config) { c.Scope, c.Node = wmsr.Local{1, 1}, 2 },
		"fraction too big":   func(c *agent.Config) { c.Scope = wmsr.Fraction(0.5) },
		"NaN initial":        func(c *agent.Config) { c.Initial = []float64{math.NaN()} },
		"negative evidence":  func(c *agent.Config) { c.MaxEvidence = -1 },
	} {
		c := engineConfig(1, 2, 3)
		mod(&c)
		err := c.Validate()
		if !errors.Is(err, agent.ErrConfig) {
			t.Errorf("%s: Validate() = %v, want ErrConfig", name, err)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}

// A neighbour whose record membership has not admitted yet is refused as
// unknown_sender and counts as an omission, until UpdateMember gives it.
func TestNeighbourWithoutRecordUntilAdmitted(t *testing.T) {
	tf := newTestFleet(t, 1, 1, 2)
	late := newTestFleet(t, 1, 3) // same fleet seed: same CA, so 3's record is valid
	cfg := engineConfig(1, 2, 3)
	e, err := agent.NewEngine(cfg, tf.backends[1].Identity(), tf.members)
	if err != nil {
		t.Fatal(err)
	}
	mustBegin(t, e, 0)
	o := e.Deliver(agent.Delivery{Envelope: seal(t, late.sender(t, 3), 0, 7)})
	if o.Accepted || o.Reason != attest.ReasonUnknownSender.String() {
		t.Fatalf("value of a neighbour without a record: %+v", o)
	}
	if _, rep := mustEnd(t, e, 0); rep.Omissions != 2 {
		t.Fatalf("omissions %d, want 2", rep.Omissions)
	}
	if ok, err := e.UpdateMember(late.record[3]); !ok || err != nil {
		t.Fatalf("UpdateMember: %v %v", ok, err)
	}
	mustBegin(t, e, 1)
	if o := e.Deliver(agent.Delivery{Envelope: seal(t, late.sender(t, 3), 1, 7)}); !o.Accepted {
		t.Fatalf("after admission: %+v", o)
	}
	cfg = engineConfig(2, 1)
	if _, err := agent.NewEngine(cfg, tf.backends[1].Identity(), tf.members); !errors.Is(err, agent.ErrConfig) {
		t.Fatalf("identity of another member: %v", err)
	}
}

func TestRoundOrder(t *testing.T) {
	tf := newTestFleet(t, 2, 1, 2)
	e := newEngine(t, tf, engineConfig(1, 2))
	mustBegin(t, e, 5)
	if _, err := e.Begin(6); !errors.Is(err, agent.ErrRound) {
		t.Fatalf("Begin before End: %v", err)
	}
	if _, _, err := e.End(4); !errors.Is(err, agent.ErrRound) {
		t.Fatalf("End of another round: %v", err)
	}
	mustEnd(t, e, 5)
	if _, err := e.Begin(5); !errors.Is(err, agent.ErrRound) {
		t.Fatalf("Begin of an old round: %v", err)
	}
	mustBegin(t, e, 9) // rounds may be skipped
	mustEnd(t, e, 9)
}

// TestBeginSealsRoundValue checks what Begin publishes: a broadcast
// envelope a neighbour accepts, carrying the round and the value.
func TestBeginSealsRoundValue(t *testing.T) {
	tf := newTestFleet(t, 3, 1, 2)
	cfg := engineConfig(1, 2)
	cfg.Initial = []float64{4.25}
	e := newEngine(t, tf, cfg)
	env := mustBegin(t, e, 7)
	rx := attest.NewReceiver(tf.backends[2].Identity(), attest.ReceiverConfig{})
	if err := rx.Subscribe(agent.DefaultValueChannel, nil); err != nil {
		t.Fatal(err)
	}
	if err := rx.AddMember(tf.record[1]); err != nil {
		t.Fatal(err)
	}
	msg, err := rx.Open(env)
	if err != nil {
		t.Fatal(err)
	}
	rv, err := agent.DecodeRoundValue(msg.Payload)
	if err != nil || msg.Kind != agent.KindRoundValue || rv != (agent.RoundValue{Round: 7, Value: 4.25}) {
		t.Fatalf("published %+v kind %d (%v)", rv, msg.Kind, err)
	}
}

// TestDeliverReasons is the table of accept/reject decisions, each
// against a fresh engine at round 10 with D = 2.
func TestDeliverReasons(t *testing.T) {
	const round = 10
	nanPayload := func() []byte {
		p := []byte{agent.PayloadVersion1}
		p = binary.BigEndian.AppendUint64(p, round)
		return binary.BigEndian.AppendUint64(p, math.Float64bits(math.NaN()))
	}
	infPayload := func() []byte {
		p := []byte{agent.PayloadVersion1}
		p = binary.BigEndian.AppendUint64(p, round)
		return binary.BigEndian.AppendUint64(p, math.Float64bits(math.Inf(-1)))
	}
	type step struct {
		env    func(t *testing.T, tf *testFleet) []byte
		reason string // "" = accepted
	}
	valid := func(r uint64) func(t *testing.T, tf *testFleet) []byte {
		return func(t *testing.T, tf *testFleet) []byte { return seal(t, tf.sender(t, 2), r, 1) }
	}
	raw := func(kind uint8, p []byte) func(t *testing.T, tf *testFleet) []byte {
		return func(t *testing.T, tf *testFleet) []byte {
			env, err := tf.sender(t, 2).Seal(nil, kind, p)
			if err != nil {
				t.Fatal(err)
			}
			return env
		}
	}
	var replayed []byte
	cases := map[string][]step{
		"current round":  {{valid(round), ""}},
		"next round":     {{valid(round + 1), ""}},
		"oldest in D":    {{valid(round - 2), ""}},
		"stale round":    {{valid(round - 3), agent.ReasonStaleRound}},
		"future round":   {{valid(round + 2), agent.ReasonFutureRound}},
		"NaN payload":    {{raw(agent.KindRoundValue, nanPayload()), "invalid_value"}},
		"Inf payload":    {{raw(agent.KindRoundValue, infPayload()), "invalid_value"}},
		"bad payload":    {{raw(agent.KindRoundValue, []byte{1, 2, 3}), agent.ReasonBadPayload}},
		"bad version":    {{raw(agent.KindRoundValue, append([]byte{2}, make([]byte, 16)...)), agent.ReasonBadPayload}},
		"wrong kind":     {{raw(9, make([]byte, 17)), agent.ReasonWrongKind}},
		"garbage":        {{func(*testing.T, *testFleet) []byte { return []byte{1} }, "truncated"}},
		"unknown sender": {{func(t *testing.T, tf *testFleet) []byte { return seal(t, tf.sender(t, 99), round, 1) }, "unknown_sender"}},
		"forged": {{func(t *testing.T, tf *testFleet) []byte {
			env := seal(t, tf.sender(t, 2), round, 1)
			env[len(env)-1] ^= 1
			return env
		}, "forged"}},
		"forged payload": {{func(t *testing.T, tf *testFleet) []byte {
			env := seal(t, tf.sender(t, 2), round, 1)
			env[len(env)-65] ^= 0x40 // a byte of the value, just before the signature
			return env
		}, "forged"}},
		"impostor keys": {{func(t *testing.T, tf *testFleet) []byte {
			// Member 2's id and epoch, but keys that were never admitted.
			b, err := attest.NewSoftBackend(2, 1, tf.fleet.BinaryHash, attesttest.Rand(777))
			if err != nil {
				t.Fatal(err)
			}
			s, err := attest.NewBroadcastSender(b.Identity(), agent.DefaultValueChannel, nil)
			if err != nil {
				t.Fatal(err)
			}
			return seal(t, s, round, 1)
		}, "forged"}},
		"replayed": {
			{func(t *testing.T, tf *testFleet) []byte {
				replayed = seal(t, tf.sender(t, 2), round, 1)
				return replayed
			}, ""},
			{func(*testing.T, *testFleet) []byte { return replayed }, "replay"},
		},
		"older counter": {
			{func(t *testing.T, tf *testFleet) []byte {
				replayed = seal(t, tf.sender(t, 2), round, 1)
				return replayed
			}, ""},
			{valid(round), ""},
			{func(*testing.T, *testFleet) []byte { return replayed }, "replay"},
		},
	}
	for name, steps := range cases {
		t.Run(name, func(t *testing.T) {
			tf := newTestFleet(t, 4, 1, 2, 3, 99)
			e := newEngine(t, tf, engineConfig(1, 2, 3))
			mustBegin(t, e, round)
			want := map[string]int{}
			accepted := 0
			for i, s := range steps {
				o := e.Deliver(agent.Delivery{From: 2, Envelope: s.env(t, tf)})
				if o.Accepted != (s.reason == "") || o.Reason != s.reason {
					t.Fatalf("step %d: accepted %v reason %q (%v), want reason %q", i, o.Accepted, o.Reason, o.Err, s.reason)
				}
				if s.reason == "" {
					accepted++
				} else {
					want[s.reason]++
				}
			}
			_, rep := mustEnd(t, e, round)
			if rep.Accepted != accepted || len(rep.Rejected) != len(want) {
				t.Fatalf("report accepted %d rejected %v, want %d %v", rep.Accepted, rep.Rejected, accepted, want)
			}
			for r, n := range want {
				if rep.Rejected[r] != n {
					t.Fatalf("report rejected %v, want %v", rep.Rejected, want)
				}
			}
		})
	}
}

func TestRejectReasonsCoverAttest(t *testing.T) {
	have := map[string]bool{}
	for _, r := range agent.RejectReasons() {
		if have[r] {
			t.Fatalf("reason %q twice", r)
		}
		have[r] = true
	}
	for _, r := range []string{"forged", "replay", "unknown_sender", "equivocation", "invalid_value",
		agent.ReasonStaleRound, agent.ReasonFutureRound, agent.ReasonQuarantined} {
		if !have[r] {
			t.Fatalf("reason %q missing from %v", r, agent.RejectReasons())
		}
	}
}

// TestEquivocationEvidence: a neighbour whose keys seal two different
// values under one counter is caught with evidence that a third party
// verifies, counted once, and quarantined.
func TestEquivocationEvidence(t *testing.T) {
	for _, keep := range []bool{false, true} {
		tf := newTestFleet(t, 5, 1, 2)
		ia, ib, rec := equivocator(t, tf.fleet, 7, 4242)
		cfg := engineConfig(1, 2, 7)
		cfg.KeepEquivocators = keep
		e, err := agent.NewEngine(cfg, tf.backends[1].Identity(), append(tf.members, rec))
		if err != nil {
			t.Fatal(err)
		}
		sa, err := attest.NewBroadcastSender(ia, agent.DefaultValueChannel, nil)
		if err != nil {
			t.Fatal(err)
		}
		sb, err := attest.NewBroadcastSender(ib, agent.DefaultValueChannel, nil)
		if err != nil {
			t.Fatal(err)
		}
		mustBegin(t, e, 0)
		first, second := seal(t, sa, 0, 1), seal(t, sb, 0, 1e9)
		if o := e.Deliver(agent.Delivery{Envelope: first}); !o.Accepted {
			t.Fatalf("first: %+v", o)
		}
		o := e.Deliver(agent.Delivery{Envelope: second})
		if o.Accepted || o.Reason != "equivocation" || o.Evidence == nil {
			t.Fatalf("second: %+v", o)
		}
		slot, err := attest.VerifyEvidence(*o.Evidence, &rec)
		if err != nil || slot.Sender != 7 || slot.Counter != 1 {
			t.Fatalf("VerifyEvidence: %+v, %v", slot, err)
		}
		// The same proof again is not new evidence.
		o = e.Deliver(agent.Delivery{Envelope: second})
		if o.Evidence != nil {
			t.Fatalf("evidence reported twice: %+v", o)
		}
		if keep && o.Reason != "equivocation" || !keep && o.Reason != agent.ReasonQuarantined {
			t.Fatalf("keep=%v: repeat: %q", keep, o.Reason)
		}
		ev := e.Evidence()
		if len(ev) != 1 || e.EvidenceCount() != 1 {
			t.Fatalf("Evidence() = %d proofs, count %d", len(ev), e.EvidenceCount())
		}
		if _, err := attest.VerifyEvidence(ev[0], &rec); err != nil {
			t.Fatal(err)
		}
		_, rep := mustEnd(t, e, 0)
		if rep.Evidence != 1 || rep.Rejected["equivocation"] < 1 {
			t.Fatalf("report: %+v", rep)
		}
		// Later values: quarantined unless kept.
		mustBegin(t, e, 1)
		o = e.Deliver(agent.Delivery{Envelope: seal(t, sa, 1, 2)})
		if keep != o.Accepted {
			t.Fatalf("keep=%v: value after equivocation: %+v", keep, o)
		}
		if q := e.Quarantined(); keep && len(q) != 0 || !keep && (len(q) != 1 || q[0] != 7) {
			t.Fatalf("keep=%v: quarantined %v", keep, q)
		}
		mustEnd(t, e, 1)
	}
}

// TestDelayBufferAndOmissions: with D = 2 a neighbour's value is used for
// two more rounds after it falls silent, then counts as an omission; a
// neighbour never heard from is an omission every round.
func TestDelayBufferAndOmissions(t *testing.T) {
	tf := newTestFleet(t, 6, 1, 2, 3, 4)
	cfg := engineConfig(1, 2, 3, 4)
	cfg.Scope = wmsr.Total(0)
	cfg.D = 2
	e := newEngine(t, tf, cfg)
	want := []struct{ used, omitted int }{{2, 1}, {2, 1}, {2, 1}, {1, 2}, {1, 2}}
	for r := uint64(0); r < uint64(len(want)); r++ {
		mustBegin(t, e, r)
		if r == 0 { // 3 speaks once
			e.Deliver(agent.Delivery{Envelope: seal(t, tf.sender(t, 3), r, 3)})
		}
		e.Deliver(agent.Delivery{Envelope: seal(t, tf.sender(t, 2), r, 2)}) // 2 always; 4 never
		_, rep := mustEnd(t, e, r)
		if rep.Used != want[r].used || rep.Omissions != want[r].omitted {
			t.Fatalf("round %d: used %d omitted %d, want %+v", r, rep.Used, rep.Omissions, want[r])
		}
	}
	// Counter gaps: 2 seals three values but only the last arrives.
	mustBegin(t, e, 5)
	seal(t, tf.sender(t, 2), 5, 0)
	seal(t, tf.sender(t, 2), 5, 0)
	if o := e.Deliver(agent.Delivery{Envelope: seal(t, tf.sender(t, 2), 5, 2)}); !o.Accepted || o.Gap != 2 {
		t.Fatalf("gap: %+v", o)
	}
	if _, rep := mustEnd(t, e, 5); rep.CounterGaps != 2 {
		t.Fatalf("report gaps %d", rep.CounterGaps)
	}
}

// TestEarlyValueDoesNotHideCurrent: a neighbour that already sealed round
// t+1 before this agent's deadline for t still counts with its round-t
// value at End(t), and with its round-t+1 value at End(t+1).
func TestEarlyValueDoesNotHideCurrent(t *testing.T) {
	tf := newTestFleet(t, 7, 1, 2)
	cfg := engineConfig(1, 2)
	cfg.Scope, cfg.D = wmsr.Total(0), 0
	e := newEngine(t, tf, cfg)
	mustBegin(t, e, 0)
	e.Deliver(agent.Delivery{Envelope: seal(t, tf.sender(t, 2), 0, 10)})
	e.Deliver(agent.Delivery{Envelope: seal(t, tf.sender(t, 2), 1, 20)})
	v, rep := mustEnd(t, e, 0)
	if rep.Used != 1 || v != 5 {
		t.Fatalf("round 0: used %d value %v", rep.Used, v)
	}
	mustBegin(t, e, 1)
	v, rep = mustEnd(t, e, 1)
	if rep.Used != 1 || v != 12.5 {
		t.Fatalf("round 1: used %d value %v", rep.Used, v)
	}
	// Between End and Begin, a value for the round just ended is still
	// taken (usable with D ≥ 1), and one for the next round is held.
	if o := e.Deliver(agent.Delivery{Envelope: seal(t, tf.sender(t, 2), 2, 30)}); !o.Accepted {
		t.Fatalf("between rounds: %+v", o)
	}
	mustBegin(t, e, 2)
	if v, _ := mustEnd(t, e, 2); v != (12.5+30)/2 {
		t.Fatalf("round 2: %v", v)
	}
}

// TestDeliverBeforeFirstRound: values delivered before the first Begin
// are held and used from the round they were sealed for; one sealed far
// ahead is dropped at the first Begin instead of being held forever.
func TestDeliverBeforeFirstRound(t *testing.T) {
	tf := newTestFleet(t, 9, 1, 2, 3)
	cfg := engineConfig(1, 2, 3)
	cfg.Scope, cfg.D, cfg.Initial = wmsr.Total(0), 0, []float64{0}
	e := newEngine(t, tf, cfg)
	for _, d := range []agent.Delivery{
		{Envelope: seal(t, tf.sender(t, 2), 5, 6)},
		{Envelope: seal(t, tf.sender(t, 3), 1000, 9)},
	} {
		if o := e.Deliver(d); !o.Accepted {
			t.Fatalf("before the first round: %+v", o)
		}
	}
	mustBegin(t, e, 5)
	if v, rep := mustEnd(t, e, 5); v != 3 || rep.Used != 1 || rep.Omissions != 1 {
		t.Fatalf("round 5: value %v report %+v", v, rep)
	}
	mustBegin(t, e, 6)
	if o := e.Deliver(agent.Delivery{Envelope: seal(t, tf.sender(t, 3), 7, 9)}); !o.Accepted {
		t.Fatalf("early value: %+v", o)
	}
	mustEnd(t, e, 6)
	mustBegin(t, e, 7)
	if _, rep := mustEnd(t, e, 7); rep.Used != 1 || rep.Max != 9 {
		t.Fatalf("round 7: %+v", rep)
	}
}

// TestUpdateMatchesWMSR: the engine's update is wmsr.Update over the
// values in neighbour order, with F from the scope, and the report's
// disagreement is the spread of own and used values.
func TestUpdateMatchesWMSR(t *testing.T) {
	for i, scope := range []wmsr.Scope{wmsr.Total(1), wmsr.Local{0, 2}, wmsr.Fraction(0.25)} {
		tf := newTestFleet(t, 8+uint64(i), 1, 2, 3, 4, 5, 6)
		cfg := engineConfig(1, 2, 3, 4, 5, 6)
		cfg.Scope, cfg.Node, cfg.Initial = scope, 1, []float64{3}
		if _, ok := scope.(wmsr.Local); !ok {
			cfg.Node = 0
		}
		e := newEngine(t, tf, cfg)
		vals := []float64{-100, 1, 2, 4, 1000}
		mustBegin(t, e, 0)
		for i, v := range vals {
			e.Deliver(agent.Delivery{Envelope: seal(t, tf.sender(t, attest.MemberID(i+2)), 0, v)})
		}
		v, rep := mustEnd(t, e, 0)
		if want := wmsr.Update(3, vals, cfg.F()); v != want || rep.F != cfg.F() {
			t.Fatalf("%T: value %v F %d, want %v F %d", scope, v, rep.F, want, cfg.F())
		}
		if rep.Min != -100 || rep.Max != 1000 || rep.Disagreement != 1100 || rep.Own != 3 {
			t.Fatalf("report %+v", rep)
		}
		if e.Value() != v {
			t.Fatal("Value() differs from End")
		}
	}
}

// TestSafetyRapid is W-MSR's safety property through the whole engine:
// with at most F attackers among the in-neighbours (sending arbitrary,
// possibly extreme, early or late values) and random omissions, every
// update stays within the hull of the agent's own value and the normal
// values sealed within the delay window, hence within the initial normal
// range.
func TestSafetyRapid(t *testing.T) {
	const maxN = 10
	ids := make([]attest.MemberID, maxN+1)
	for i := range ids {
		ids[i] = attest.MemberID(i + 1)
	}
	rapid.Check(t, func(rt *rapid.T) {
		n := rapid.IntRange(1, maxN).Draw(rt, "neighbours")
		f := rapid.IntRange(0, 3).Draw(rt, "F")
		attackers := rapid.IntRange(0, min(f, n)).Draw(rt, "attackers")
		d := rapid.IntRange(0, 3).Draw(rt, "D")
		lo, hi := -10.0, 10.0
		tf := newTestFleet(rt, rapid.Uint64().Draw(rt, "seed"), ids[:n+1]...)
		cfg := engineConfig(1, ids[1:n+1]...)
		cfg.Scope, cfg.D = wmsr.Total(f), d
		cfg.Initial = []float64{rapid.Float64Range(lo, hi).Draw(rt, "initial")}
		e := newEngine(rt, tf, cfg)
		// sent[r] are the normal values sealed for round r.
		sent := map[uint64][]float64{}
		for r := uint64(0); r < 6; r++ {
			own := e.Value()
			mustBegin(rt, e, r)
			for k := 0; k < n; k++ {
				id := ids[k+1]
				if rapid.Bool().Draw(rt, "omit") {
					continue
				}
				if k < attackers {
					v := rapid.SampledFrom([]float64{-1e300, 1e300, -1e6, 1e6, 0, hi + 1}).Draw(rt, "attack")
					ar := r + uint64(rapid.IntRange(0, 1).Draw(rt, "ahead"))
					e.Deliver(agent.Delivery{Envelope: seal(rt, tf.sender(rt, id), ar, v)})
					continue
				}
				sr := r
				if back := uint64(rapid.IntRange(0, 2).Draw(rt, "late")); back <= r {
					sr = r - back
				}
				v := rapid.Float64Range(lo, hi).Draw(rt, "value")
				if o := e.Deliver(agent.Delivery{Envelope: seal(rt, tf.sender(rt, id), sr, v)}); o.Accepted {
					sent[sr] = append(sent[sr], v)
				}
			}
			next, rep := mustEnd(rt, e, r)
			wlo, whi := own, own
			for s := uint64(0); s <= r; s++ {
				if s+uint64(d) >= r {
					for _, v := range sent[s] {
						wlo, whi = min(wlo, v), max(whi, v)
					}
				}
			}
			if next < wlo || next > whi || next < lo || next > hi {
				rt.Fatalf("round %d: value %v outside normal hull [%v, %v] (report %+v)", r, next, wlo, whi, rep)
			}
		}
	})
}
