package recipe

import (
	"errors"
	"testing"
	"time"

	"github.com/wmsr/wmsr/attest"
	"github.com/wmsr/wmsr/attest/attesttest"
)

// TestAgentRecords: the log keeps each agent's highest epoch. A record of
// an epoch at or below the logged one is refused at apply (a restart from
// an old disk), as are records whose key, attestation and epoch disagree
// or that name an activation round.
func TestAgentRecords(t *testing.T) {
	fleet := attesttest.NewFleet(5)
	enc := func(id attest.MemberID, epoch attest.Epoch) []byte {
		t.Helper()
		att, err := testMember(t, fleet, id, epoch, fleet.Now.Add(time.Hour)).Attest()
		if err != nil {
			t.Fatal(err)
		}
		b, err := att.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	s := NewStore()
	index := uint64(0)
	apply := func(c Command) error {
		index++
		return s.apply(index, &c)
	}
	put := func(id attest.MemberID, epoch attest.Epoch) Command {
		t.Helper()
		c, err := PutAgent(enc(id, epoch))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if err := apply(put(7, 2)); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]Command{"same epoch": put(7, 2), "older epoch": put(7, 1)} {
		if err := apply(c); !errors.Is(err, ErrStaleEpoch) {
			t.Errorf("%s: %v, want ErrStaleEpoch", name, err)
		}
	}
	if err := apply(put(7, 3)); err != nil {
		t.Fatal(err)
	}
	if err := apply(put(8, 1)); err != nil { // another agent
		t.Fatal(err)
	}
	wrongKey := put(7, 4)
	wrongKey.Key = PrefixAgent + "8"
	withRound := put(7, 4)
	withRound.ActivateAt = 5
	garbage := Command{Op: OpPut, Key: PrefixAgent + "7", Value: []byte(`{"member":7,"epoch":4,"attestation":"AAAA"}`)}
	for name, c := range map[string]Command{"key of another member": wrongKey, "activation round": withRound, "garbage attestation": garbage} {
		if err := apply(c); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
	if _, err := PutAgent([]byte("not an attestation")); !errors.Is(err, ErrMalformed) {
		t.Errorf("PutAgent(garbage): %v", err)
	}
	if r, ok := s.Get(PrefixAgent + "7"); !ok || r.Revision != 4 {
		t.Fatalf("agent/7: %+v %v, want the epoch-3 record of revision 4", r, ok)
	}
}

// TestClientSessionAgentRecord: an admitted member may record itself, with
// the attestation it was admitted by in the session, and nobody else.
func TestClientSessionAgentRecord(t *testing.T) {
	fleet := attesttest.NewFleet(6)
	auth := newClientAuth(nil, fleet.Admitter, func() time.Time { return fleet.Now })
	ch := challengeOf(0x3c)
	sess := newClientSession(auth, ch)
	cs := &clientConn{challenge: ch}
	b := testMember(t, fleet, 21, 1, fleet.Now.Add(time.Hour))
	key, err := MemberKey(b)
	if err != nil {
		t.Fatal(err)
	}
	own, err := AgentCommand(key)
	if err != nil {
		t.Fatal(err)
	}
	other, err := PutAgent(key.(*memberKey).att)
	if err != nil {
		t.Fatal(err)
	}
	other.Key = PrefixAgent + "22"
	// The same member's record with another attestation (a later
	// statement for the same keys is another byte string).
	att2, err := testMember(t, fleet, 21, 1, fleet.Now.Add(2*time.Hour)).Attest()
	if err != nil {
		t.Fatal(err)
	}
	enc2, _ := att2.MarshalBinary()
	reissued, err := PutAgent(enc2)
	if err != nil {
		t.Fatal(err)
	}
	body := func(c Command) clientBody {
		return clientBody{Op: opPut, Key: c.Key, Value: c.Value, Activate: c.ActivateAt}
	}
	if _, _, err := sess.authenticate(sealFor(t, key, cs, body(own))); err != nil {
		t.Fatalf("own record: %v", err)
	}
	for name, c := range map[string]Command{"another member's record": other, "own record, other attestation": reissued} {
		if _, _, err := newClientSession(auth, ch).authenticate(sealFor(t, key, &clientConn{challenge: ch}, body(c))); !errors.Is(err, ErrForbidden) {
			t.Errorf("%s: %v, want ErrForbidden", name, err)
		}
	}
	if _, err := AgentCommand(OperatorKey(testOperator(9))); !errors.Is(err, ErrMalformed) {
		t.Errorf("AgentCommand(operator key): %v", err)
	}
}
