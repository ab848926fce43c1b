package attest_test

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"

	"github.com/wmsr/wmsr/attest"
	"github.com/wmsr/wmsr/attest/attesttest"
)

// Example walks the whole path for two soft members: fleet CA, admission,
// a broadcast neighbour value, and what a receiver does with it.
func Example() {
	now := time.Unix(1_700_000_000, 0)
	binHash := [32]byte{1}

	// The operator's fleet CA and the admission policy.
	ca, _ := attest.NewFleetCA(ed25519.NewKeyFromSeed(make([]byte, 32)))
	policy := &attest.Policy{Soft: &attest.SoftPolicy{
		CAKeys:       []ed25519.PublicKey{ca.PublicKey()},
		BinaryHashes: [][32]byte{binHash},
	}}
	admitter, _ := attest.NewAdmitter(policy, nil)

	join := func(id attest.MemberID) (*attest.SoftBackend, attest.Member) {
		b, _ := attest.NewSoftBackend(id, 1, binHash, attesttest.Rand(uint64(id)))
		st, _ := ca.Issue(b.CertRequest(), now.Add(time.Hour))
		_ = b.Install(st)
		att, _ := b.Attest()
		m, err := admitter.Admit(att, nil, now)
		if err != nil {
			panic(err)
		}
		return b, m
	}
	alice, aliceRec := join(1)
	bob, _ := join(2)
	fmt.Println("hardware protected:", alice.Protection().HardwareProtected)

	// Alice broadcasts her value on channel 7; Bob accepts from her.
	out, _ := attest.NewBroadcastSender(alice.Identity(), 7, nil)
	payload, _ := attest.AppendValue(nil, 21.5)
	env, _ := out.Seal(nil, 1, payload)

	in := attest.NewReceiver(bob.Identity(), attest.ReceiverConfig{})
	_ = in.AddMember(aliceRec)
	_ = in.Subscribe(7, nil)
	msg, err := in.Open(env)
	if err != nil {
		panic(err)
	}
	v, _ := attest.DecodeValue(msg.Payload)
	fmt.Println("from", msg.Sender, "counter", msg.Counter, "value", v)

	// A replay is refused, with a reason for the metrics.
	_, err = in.Open(env)
	fmt.Println("replay:", attest.ReasonOf(err), errors.Is(err, attest.ErrReplay))
	// Output:
	// hardware protected: false
	// from 1 counter 1 value 21.5
	// replay: replay true
}
