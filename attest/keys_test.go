package attest_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/wmsr/wmsr/attest"
	"github.com/wmsr/wmsr/attest/attesttest"
)

// TestWeakKeysRefused: admission refuses Ed25519 keys of small order (under
// cofactored verification they verify forged signatures, so such a member
// could be framed by anyone) and malformed key-exchange keys.
func TestWeakKeysRefused(t *testing.T) {
	f := attesttest.NewFleet(71)
	b, _, err := f.Join(1, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	att, _ := b.Attest()
	identity := append([]byte{1}, make([]byte, 31)...) // the neutral element
	for name, tc := range map[string]func(c *attest.Claim){
		"small-order sign key": func(c *attest.Claim) { c.SignKey = identity },
		"not a point":          func(c *attest.Claim) { c.SignKey = bytes.Repeat([]byte{0xff}, 32) },
		"short sign key":       func(c *attest.Claim) { c.SignKey = c.SignKey[:31] },
		"short kex key":        func(c *attest.Claim) { c.KexKey = c.KexKey[:31] },
	} {
		bad := att
		bad.Claim = b.Identity().Claim()
		tc(&bad.Claim)
		if _, err := f.Admitter.Admit(bad, nil, f.Now); !errors.Is(err, attest.ErrInvalidKey) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := attest.NewSoftBackend(1, 0, [32]byte{}, nil); !errors.Is(err, attest.ErrMalformed) {
		t.Fatalf("epoch 0: %v", err)
	}
	if _, err := attest.NewFleetCA(make([]byte, 5)); !errors.Is(err, attest.ErrInvalidKey) {
		t.Fatalf("short CA key: %v", err)
	}
}

func TestAccessors(t *testing.T) {
	_, ns := newNodes(t, 72, 2)
	id := ns[0].id()
	if id.ID() != 1 || id.Epoch() != 1 {
		t.Fatal(id.ID(), id.Epoch())
	}
	s := unicast(t, ns[0], ns[1], attest.SuiteEd25519, false)
	if s.Stream() != attest.To(2, 1) || s.Counter() != 0 {
		t.Fatal(s.Stream(), s.Counter())
	}
	good := mustSeal(t, s, 0, []byte("a"))
	if s.Counter() != 1 {
		t.Fatal(s.Counter())
	}
	if _, err := ns[1].r.Open(good); err != nil {
		t.Fatal(err)
	}
	_, err := ns[1].r.Open(forgeSameSlot(t, ns[0], ns[1], good, []byte("b")))
	if !strings.Contains(err.Error(), "equivocation by member 1 epoch 1 on member 2@1 at counter 1") {
		t.Fatal(err)
	}
	k, _ := id.OutboundKey(&ns[1].m)
	if to, te := k.To(); to != 2 || te != 1 {
		t.Fatal(to, te)
	}
	if _, err := attest.NewUnicastSender(id, &ns[1].m, attest.Suite(9), false); !errors.Is(err, attest.ErrSuite) {
		t.Fatal(err)
	}
}
