package recipe

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/wmsr/wmsr/attest"
	"github.com/wmsr/wmsr/attest/attesttest"
)

// testOperator returns a deterministic operator key.
func testOperator(seed byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
}

// testMember returns a soft member of fleet at epoch, certified until
// notAfter.
func testMember(t testing.TB, fleet *attesttest.Fleet, id attest.MemberID, epoch attest.Epoch, notAfter time.Time) *attest.SoftBackend {
	t.Helper()
	b, err := attest.NewSoftBackend(id, epoch, fleet.BinaryHash, attesttest.Rand(uint64(id)<<8|uint64(epoch)))
	if err != nil {
		t.Fatal(err)
	}
	st, err := fleet.CA.Issue(b.CertRequest(), notAfter)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Install(st); err != nil {
		t.Fatal(err)
	}
	return b
}

// sealFor returns the frame key would send for body in a session with
// challenge ch (cs carries the client's per-connection state).
func sealFor(t testing.TB, key ClientKey, cs *clientConn, body clientBody) []byte {
	t.Helper()
	b, err := key.seal(cs, body.appendTo(nil))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func challengeOf(b byte) [challengeSize]byte {
	var c [challengeSize]byte
	for i := range c {
		c[i] = b
	}
	return c
}

// TestClientSession checks the client port's authentication, one refusal
// reason at a time, on the session alone (no network).
func TestClientSession(t *testing.T) {
	fleet := attesttest.NewFleet(7)
	now := fleet.Now
	op, stranger := testOperator(1), testOperator(2)
	auth := newClientAuth([]ed25519.PublicKey{op.Public().(ed25519.PublicKey)}, fleet.Admitter, func() time.Time { return now })
	ch := challengeOf(0xa5)
	sess := newClientSession(auth, ch)
	cs := &clientConn{challenge: ch}
	put := clientBody{Req: 1, Op: opPut, Key: "kv/x", Value: []byte("v")}

	check := func(name string, frame []byte, want error) {
		t.Helper()
		_, _, err := sess.authenticate(frame)
		auth.count(err)
		if want == nil && err != nil || want != nil && !errors.Is(err, want) {
			t.Fatalf("%s: err %v, want %v", name, err, want)
		}
	}
	// Operators.
	good := sealFor(t, OperatorKey(op), cs, put)
	check("operator put", good, nil)
	check("operator replay, same session", good, ErrReplayed)
	tampered := bytes.Clone(sealFor(t, OperatorKey(op), cs, put))
	tampered[len(tampered)-ed25519.SignatureSize-1] ^= 1 // the value
	check("operator tampered", tampered, ErrForged)
	other := sealFor(t, OperatorKey(op), &clientConn{challenge: challengeOf(1), counter: 100}, put)
	check("operator request of another session", other, ErrReplayed)
	check("unlisted operator", sealFor(t, OperatorKey(stranger), &clientConn{challenge: ch}, put), ErrUnknownClient)
	check("operator params", sealFor(t, OperatorKey(op), cs, clientBody{Op: opPut, Key: KeyParams, Value: []byte(`{"f":1}`), Activate: 9}), nil)
	unsigned := clientRequest{Auth: authNone, Body: put}
	check("unsigned put", unsigned.appendTo(nil), ErrUnsigned)
	unsigned.Body.Op = opDelete
	check("unsigned delete", unsigned.appendTo(nil), ErrUnsigned)
	unsigned.Body.Op = opGet
	check("unsigned get", unsigned.appendTo(nil), nil)
	check("garbage", []byte("Qxyz"), ErrMalformed)

	// Members.
	drone := testMember(t, fleet, 50, 2, now.Add(time.Hour))
	mk, err := MemberKey(drone)
	if err != nil {
		t.Fatal(err)
	}
	mcs := &clientConn{challenge: ch}
	q := clientBody{Req: 2, Op: opPut, Key: "quarantine/9", Value: []byte(`{"member":9,"reason":"equivocation"}`), Activate: 5}
	first := sealFor(t, mk, mcs, q)
	check("member quarantine evidence", first, nil)
	check("member replay", first, ErrReplayed)
	// The same replay carrying a re-issued statement for the same keys.
	reissued, err := testMember(t, fleet, 50, 2, now.Add(2*time.Hour)).Attest()
	if err != nil {
		t.Fatal(err)
	}
	r, err := parseRequest(first)
	if err != nil {
		t.Fatal(err)
	}
	if r.Att, err = reissued.MarshalBinary(); err != nil {
		t.Fatal(err)
	}
	check("member replay with a re-issued statement", r.appendTo(nil), ErrReplayed)
	later := sealFor(t, mk, mcs, q) // no attestation: admitted earlier in the session
	check("member second request", later, nil)
	mt := bytes.Clone(sealFor(t, mk, mcs, q))
	mt[len(mt)-ed25519.SignatureSize-2] ^= 1
	check("member tampered", mt, ErrForged)
	check("member params", sealFor(t, mk, mcs, clientBody{Op: opPut, Key: KeyParams, Value: []byte(`{"f":0}`), Activate: 9}), ErrForbidden)
	check("member lifts a quarantine", sealFor(t, mk, mcs, clientBody{Op: opDelete, Key: "quarantine/50"}), ErrForbidden)
	// A fresh session has not seen the attestation.
	sess = newClientSession(auth, ch)
	check("member without attestation", sealFor(t, mk, mcs, q), ErrUnknownClient)
	// A member of another fleet (a CA the policy does not trust).
	alien, err := MemberKey(testMember(t, attesttest.NewFleet(8), 51, 1, now.Add(time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	check("member of another fleet", sealFor(t, alien, &clientConn{challenge: ch}, q), ErrUnknownClient)
	// An older epoch of a member already seen signing with epoch 2.
	old, err := MemberKey(testMember(t, fleet, 50, 1, now.Add(time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	check("member older epoch", sealFor(t, old, &clientConn{challenge: ch}, q), ErrReplayed)
	// An expired statement.
	expired, err := MemberKey(testMember(t, fleet, 52, 1, now.Add(-time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	check("member with expired statement", sealFor(t, expired, &clientConn{challenge: ch}, q), ErrUnknownClient)

	got := auth.stats()
	want := ClientStats{Accepted: 5, Forged: 2, Replayed: 5, UnknownKey: 4, Unsigned: 2, Forbidden: 2, Malformed: 1}
	if got != want {
		t.Fatalf("stats %+v, want %+v", got, want)
	}
}

// startClientPortReplica runs a one-replica log (member 1, epoch 1) with
// its client port on loopback until ctx ends, and returns the client
// port's address and the operator key the replica accepts.
func startClientPortReplica(t *testing.T, ctx context.Context) (string, ed25519.PrivateKey) {
	t.Helper()
	fleet := attesttest.NewFleet(11)
	self := testMember(t, fleet, 1, 1, time.Now().Add(time.Hour))
	att, err := self.Attest()
	if err != nil {
		t.Fatal(err)
	}
	gm, err := fleet.Admitter.Admit(att, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	op := testOperator(3)
	ctx, cancel := context.WithCancel(ctx)
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- RunReplica(ctx, ReplicaConfig{
			ID: 1, Epoch: 1, Listen: "127.0.0.1:0", Addrs: map[attest.MemberID]string{1: "127.0.0.1:1"},
			ClientListen: "127.0.0.1:0", OperatorKeys: []ed25519.PublicKey{op.Public().(ed25519.PublicKey)},
			Backend: self, Admitter: fleet.Admitter, Genesis: []attest.Member{gm}, GenesisTime: time.Now(),
			Tick: 5 * time.Millisecond, Ready: func(_, client string) { ready <- client },
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	select {
	case addr := <-ready:
		return addr, op
	case err := <-done:
		done <- err // for the clean-up
		t.Fatalf("replica did not start: %v", err)
	}
	return "", nil
}

// TestClientPort runs a one-replica log with its client port on loopback:
// signed writes commit, unsigned reads work, and a forged request, a
// request replayed into the same connection and one replayed into another
// connection are refused with their reason, counted, and end the session.
func TestClientPort(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	addr, op := startClientPortReplica(t, ctx)

	c, err := DialClient(ctx, addr, OperatorKey(op))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if id, e := c.Replica(); id != 1 || e != 1 {
		t.Fatalf("hello from member %d epoch %d", id, e)
	}
	for i := 0; ; i++ {
		err := c.Put(ctx, "kv/a", []byte("1"))
		if err == nil {
			break
		}
		if !errors.Is(err, ErrNotLeader) || i > 200 {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := c.Propose(ctx, Command{Op: OpPut, Key: KeyTopology, Value: []byte(`{"members":[1],"edges":[]}`)}); !errors.Is(err, ErrPastRound) {
		t.Fatalf("topology without activation round: %v", err)
	}
	reader, err := DialClient(ctx, addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	if v, found, err := reader.Get(ctx, "kv/a"); err != nil || !found || string(v) != "1" {
		t.Fatalf("get: %q %v %v", v, found, err)
	}
	if err := reader.Put(ctx, "kv/b", nil); !errors.Is(err, ErrUnsigned) {
		t.Fatalf("put without key: %v", err)
	}

	// Raw sessions, to send what a Client never would.
	type raw struct {
		c  net.Conn
		r  *bufio.Reader
		cs clientConn
	}
	dial := func() *raw {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		r := bufio.NewReader(conn)
		h, err := readFrame(r)
		if err != nil || len(h) != helloSize {
			t.Fatalf("hello: %v", err)
		}
		s := &raw{c: conn, r: r}
		copy(s.cs.challenge[:], h[18:])
		return s
	}
	roundTrip := func(s *raw, frame []byte) (byte, error) {
		if err := writeFrame(s.c, frame); err != nil {
			return 0, err
		}
		b, err := readFrame(s.r)
		if err != nil {
			return 0, err
		}
		_, status, _, v, err := decodeAnswer(b)
		if err != nil {
			return 0, err
		}
		if status != statusOK {
			return status, answerError(status, v)
		}
		return status, nil
	}
	put := clientBody{Req: 7, Op: opPut, Key: "kv/r", Value: []byte("once")}
	s1 := dial()
	defer s1.c.Close()
	captured := sealFor(t, OperatorKey(op), &s1.cs, put)
	if _, err := roundTrip(s1, captured); err != nil {
		t.Fatalf("first send: %v", err)
	}
	if _, err := roundTrip(s1, captured); !errors.Is(err, ErrReplayed) {
		t.Fatalf("replay into the same session: %v", err)
	}
	if _, err := readFrame(s1.r); err == nil {
		t.Fatal("session still open after a refusal")
	}
	s2 := dial()
	defer s2.c.Close()
	if _, err := roundTrip(s2, captured); !errors.Is(err, ErrReplayed) {
		t.Fatalf("replay into another session: %v", err)
	}
	s3 := dial()
	defer s3.c.Close()
	forged := sealFor(t, OperatorKey(op), &s3.cs, put)
	forged[len(forged)-ed25519.SignatureSize-1] ^= 0x20 // "once" → "oncE"
	if _, err := roundTrip(s3, forged); !errors.Is(err, ErrForged) {
		t.Fatalf("forged: %v", err)
	}
	s4 := dial()
	defer s4.c.Close()
	unsigned := clientRequest{Auth: authNone, Body: put}
	if _, err := roundTrip(s4, unsigned.appendTo(nil)); !errors.Is(err, ErrUnsigned) {
		t.Fatalf("unsigned put: %v", err)
	}
	st, err := reader.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Clients.Forged != 1 || st.Clients.Replayed != 2 || st.Clients.Unsigned != 1 || !st.Voter || st.Leader != st.Self {
		t.Fatalf("status %+v", st)
	}
}

// fuzzSeeds are valid frames of every kind, sealed for challenge 0x11…
// (the fuzz session uses another challenge, so even they are refused).
func fuzzSeeds(t testing.TB) [][]byte {
	fleet := attesttest.NewFleet(7)
	cs := &clientConn{challenge: challengeOf(0x11)}
	body := clientBody{Req: 1, Op: opPut, Key: "kv/x", Value: []byte("value"), Activate: 3}
	mk, err := MemberKey(testMember(t, fleet, 50, 1, fleet.Now.Add(time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	get := clientRequest{Auth: authNone, Body: clientBody{Req: 2, Op: opGet, Key: "params"}}
	return [][]byte{
		sealFor(t, OperatorKey(testOperator(1)), cs, body),
		sealFor(t, mk, cs, body), // with attestation
		sealFor(t, mk, cs, body), // without
		get.appendTo(nil),
		{frameRequest, authNone},
	}
}

// FuzzParseClientRequest feeds arbitrary frames to the client port's
// decoder and to a session: no panic; whatever parses re-encodes to the
// same bytes (one encoding per request, so a signature covers exactly
// what is executed); and nothing writes without a valid signature for
// this session.
//
//	go test -fuzz=FuzzParseClientRequest ./recipe/
func FuzzParseClientRequest(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	fleet := attesttest.NewFleet(7)
	auth := newClientAuth([]ed25519.PublicKey{testOperator(1).Public().(ed25519.PublicKey)}, fleet.Admitter,
		func() time.Time { return fleet.Now })
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parseRequest(b)
		if err == nil {
			if enc := r.appendTo(nil); !bytes.Equal(enc, b) {
				t.Fatalf("re-encoding differs:\n%x\n%x", b, enc)
			}
		}
		body, _, err := newClientSession(auth, challengeOf(0x22)).authenticate(b)
		if err == nil && (body.Op == opPut || body.Op == opDelete) {
			t.Fatalf("write accepted from a frame sealed for another session: %x", b)
		}
	})
}

// TestWriteFuzzCorpus regenerates the seed corpora of FuzzParseClientRequest
// and FuzzDecodeChanges in testdata/fuzz
// (RECIPE_WRITE_CORPUS=1 go test ./recipe/ -run TestWriteFuzzCorpus).
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("RECIPE_WRITE_CORPUS") == "" {
		t.Skip("set RECIPE_WRITE_CORPUS=1")
	}
	for name, seeds := range map[string][][]byte{"FuzzParseClientRequest": fuzzSeeds(t), "FuzzDecodeChanges": changesSeeds(t)} {
		dir := filepath.Join("testdata", "fuzz", name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, s := range seeds {
			body := fmt.Sprintf("go test fuzz v1\n[]byte(%s)\n", strconv.Quote(string(s)))
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%d", i)), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
