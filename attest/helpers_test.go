package attest_test

import (
	"testing"

	"github.com/wmsr/wmsr/attest"
	"github.com/wmsr/wmsr/attest/attesttest"
)

// node is one admitted soft member with a receiver that knows every other
// member of its fleet.
type node struct {
	b *attest.SoftBackend
	m attest.Member
	r *attest.Receiver
}

func (n *node) id() *attest.Identity { return n.b.Identity() }

const valueChannel = 7

// newNodes admits n soft members with ids 1..n at epoch 1 and wires their
// receivers: each accepts every other member and subscribes to
// valueChannel in plaintext.
func newNodes(t testing.TB, seed uint64, n int) (*attesttest.Fleet, []*node) {
	t.Helper()
	f := attesttest.NewFleet(seed)
	nodes := make([]*node, n)
	for i := range nodes {
		b, m, err := f.Join(attest.MemberID(i+1), 1, nil)
		if err != nil {
			t.Fatal(err)
		}
		nodes[i] = &node{b: b, m: m, r: attest.NewReceiver(b.Identity(), attest.ReceiverConfig{})}
	}
	for _, a := range nodes {
		if err := a.r.Subscribe(valueChannel, nil); err != nil {
			t.Fatal(err)
		}
		for _, b := range nodes {
			if a != b {
				if err := a.r.AddMember(b.m); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	return f, nodes
}

func mustSeal(t testing.TB, s *attest.Sender, kind uint8, payload []byte) []byte {
	t.Helper()
	env, err := s.Seal(nil, kind, payload)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func unicast(t testing.TB, from, to *node, suite attest.Suite, encrypt bool) *attest.Sender {
	t.Helper()
	s, err := attest.NewUnicastSender(from.id(), &to.m, suite, encrypt)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func broadcast(t testing.TB, from *node, ch uint64, key []byte) *attest.Sender {
	t.Helper()
	s, err := attest.NewBroadcastSender(from.id(), ch, key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// wantReason fails unless err's Reason is want.
func wantReason(t testing.TB, err error, want attest.Reason) {
	t.Helper()
	if got := attest.ReasonOf(err); got != want {
		t.Fatalf("reason %v (err %v), want %v", got, err, want)
	}
}

// forgeSameSlot plays a compromised member n: it re-signs env's header with
// a different payload, producing a second authentic envelope for env's slot
// (to is the receiver, needed for HMAC envelopes; nil otherwise).
func forgeSameSlot(t testing.TB, n, to *node, env, payload []byte) []byte {
	t.Helper()
	e, err := attest.Parse(env)
	if err != nil {
		t.Fatal(err)
	}
	alen := len(e.Auth)
	e.Payload = payload
	raw, err := e.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	signed := raw[:len(raw)-alen]
	var auth []byte
	switch e.Suite {
	case attest.SuiteEd25519:
		auth = attest.SignForTest(n.id(), signed)
	default:
		k, err := n.id().OutboundKey(&to.m)
		if err != nil {
			t.Fatal(err)
		}
		auth = attest.MACForTest(k, signed)
	}
	copy(raw[len(raw)-alen:], auth)
	return raw
}
