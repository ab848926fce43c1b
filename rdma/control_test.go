package rdma

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/wmsr/wmsr/attest"
)

func TestCtlRoundTrip(t *testing.T) {
	frames := []ctlFrame{
		{Type: ctlWant, Sender: 1, Receiver: 2, Inc: 3, Layout: DefaultLayout.word(), Provider: "emulated-tcp"},
		{Type: ctlOffer, Sender: ^attest.MemberID(0), Receiver: 0, Inc: 1, Layout: 7, Provider: "ibverbs"},
		{Type: ctlAccept, Inc: 42},
		{Type: ctlRefuse, Reason: refuseBusy},
	}
	for _, f := range frames {
		b := appendCtl(nil, f)
		got, err := decodeCtl(b)
		if err != nil || got != f {
			t.Fatalf("%+v: decoded %+v, %v", f, got, err)
		}
		got, err = readCtl(io.MultiReader(bytes.NewReader(b), bytes.NewReader([]byte("provider bytes"))))
		if err != nil || got != f {
			t.Fatalf("%+v: read %+v, %v", f, got, err)
		}
	}
	bad := [][]byte{
		nil,
		{0, 2, ctlVersion},
		{0, 2, 2, ctlAccept},                         // version 2
		{0, 2, ctlVersion, 9},                        // unknown type
		{0, 3, ctlVersion, ctlRefuse, 0},             // reason 0
		{0, 3, ctlVersion, ctlRefuse, 99},            // unknown reason
		{0, 4, ctlVersion, ctlRefuse, 1, 0},          // trailing byte
		{0, 9, ctlVersion, ctlAccept, 1, 2, 3, 4, 5}, // short accept
	}
	for _, b := range bad {
		if f, err := decodeCtl(b); !errors.Is(err, errBadControl) {
			t.Errorf("decodeCtl(%x) = %+v, %v", b, f, err)
		}
	}
	req := appendCtl(nil, frames[0])
	req[len(req)-1] = 'X' // provider name with an upper-case letter
	if _, err := decodeCtl(req); !errors.Is(err, errBadControl) {
		t.Errorf("bad provider name accepted: %v", err)
	}
	if _, err := decodeCtl([]byte{0, 2, 7, ctlAccept}); !errors.Is(err, errCtlVersion) {
		t.Errorf("version 7: %v", err)
	}
}

// FuzzCtlFrame: the decoder never panics, refuses with errBadControl, and
// is canonical: what it accepts re-encodes to the same bytes.
func FuzzCtlFrame(f *testing.F) {
	f.Add(appendCtl(nil, ctlFrame{Type: ctlWant, Sender: 1, Receiver: 2, Inc: 3, Layout: 4, Provider: "ibverbs"}))
	f.Add(appendCtl(nil, ctlFrame{Type: ctlOffer, Sender: 1, Receiver: 2, Inc: 3, Layout: 4, Provider: "emulated-tcp"}))
	f.Add(appendCtl(nil, ctlFrame{Type: ctlAccept, Inc: 5}))
	f.Add(appendCtl(nil, ctlFrame{Type: ctlRefuse, Reason: refuseLayout}))
	f.Add([]byte{0, 2, 1, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := decodeCtl(b)
		if err != nil {
			if !errors.Is(err, errBadControl) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if again := appendCtl(nil, fr); !bytes.Equal(again, b) {
			t.Fatalf("%x decodes to %+v, which encodes to %x", b, fr, again)
		}
		if got, err := readCtl(bytes.NewReader(b)); err != nil || got != fr {
			t.Fatalf("readCtl: %+v, %v", got, err)
		}
	})
}

func record(off, n uint64, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, off)
	b = binary.LittleEndian.AppendUint64(b, n)
	return append(b, data...)
}

// FuzzApplyStream: the emulated provider's receive side never panics and
// never writes outside the region, whatever the peer sends.
func FuzzApplyStream(f *testing.F) {
	f.Add(record(0, 8, []byte("12345678")))
	f.Add(append(record(16, 16, make([]byte, 16)), record(emuCloseOff, 0, nil)...))
	f.Add(record(8, 8, nil))
	f.Add(record(^uint64(0)-7, 16, make([]byte, 16)))
	f.Fuzz(func(t *testing.T, stream []byte) {
		const size = 64
		mem := alignedRegion(size + 64)
		region := mem[:size:size]
		for i := size; i < len(mem); i++ {
			mem[i] = 0xaa
		}
		closed, err := applyStream(bytes.NewReader(stream), region, make([]byte, 16))
		if closed == (err != nil) {
			t.Fatalf("closed %v, err %v", closed, err)
		}
		for i := size; i < len(mem); i++ {
			if mem[i] != 0xaa {
				t.Fatalf("byte %d beyond the region written", i)
			}
		}
	})
}

func TestApplyStream(t *testing.T) {
	mem := alignedRegion(64)
	stream := append(record(8, 16, []byte("abcdefgh12345678")), record(emuCloseOff, 0, nil)...)
	stream = append(stream, "ignored after the close"...)
	closed, err := applyStream(bytes.NewReader(stream), mem, make([]byte, 8))
	if !closed || err != nil || string(mem[8:24]) != "abcdefgh12345678" {
		t.Fatalf("closed %v err %v mem %q", closed, err, mem)
	}
	for _, bad := range [][]byte{record(4, 8, make([]byte, 8)), record(0, 4, make([]byte, 4)), record(0, 72, make([]byte, 72)), record(0, 0, nil)} {
		if closed, err := applyStream(bytes.NewReader(bad), mem, make([]byte, 8)); closed || err == nil {
			t.Errorf("stream %x accepted", bad)
		}
	}
}

func tcpPair(t *testing.T) (a, b net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ch := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		ch <- c
	}()
	a, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b = <-ch
	if b == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5 s", what)
		}
	}
}

// TestPeerLink: the ibverbs provider's liveness watch (the only part of
// its ring lifetime handling that can run without a device).
func TestPeerLink(t *testing.T) {
	a, b := tcpPair(t)
	la, lb := newPeerLink(a), newPeerLink(b)
	if la.err() != nil || lb.err() != nil {
		t.Fatal("link down at start")
	}
	la.close()
	eventually(t, "bye seen", func() bool { return errors.Is(lb.err(), ErrPeerClosed) })

	c, d := tcpPair(t)
	lc := newPeerLink(c)
	_ = d.(*net.TCPConn).SetLinger(0)
	d.Close() // a crash: reset, no bye
	eventually(t, "loss seen", func() bool { return errors.Is(lc.err(), ErrPeerLost) })
}

// TestHandleRefusals: the connection manager answers malformed or
// unacceptable requests with the documented refusal, and keeps serving.
func TestHandleRefusals(t *testing.T) {
	f, err := NewNetFabric(NetConfig{
		ID: 1, Provider: EmulatedTCP{}, Listen: "127.0.0.1:0", Peers: StaticPeers{},
		Sink: sinkFunc(func(attest.MemberID, []byte) {}), SetupTimeout: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ask := func(raw []byte) (ctlFrame, error) {
		c, err := net.Dial("tcp", f.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write(raw); err != nil {
			t.Fatal(err)
		}
		return readCtl(c)
	}
	want := ctlFrame{Type: ctlWant, Sender: 1, Receiver: 2, Inc: 9, Layout: DefaultLayout.word(), Provider: "emulated-tcp"}
	cases := []struct {
		name string
		raw  []byte
		want refusal
	}{
		{"version", []byte{0, 2, 2, ctlWant}, refuseVersion},
		{"layout", appendCtl(nil, func() ctlFrame { w := want; w.Layout = 1; return w }()), refuseLayout},
		{"provider", appendCtl(nil, func() ctlFrame { w := want; w.Provider = "ibverbs"; return w }()), refuseProvider},
		{"want names another sender", appendCtl(nil, func() ctlFrame { w := want; w.Sender = 3; return w }()), refuseWrongPeer},
		{"offer names another receiver", appendCtl(nil, func() ctlFrame { w := want; w.Type, w.Sender, w.Receiver = ctlOffer, 2, 3; return w }()), refuseWrongPeer},
		{"offer while not subscribed", appendCtl(nil, func() ctlFrame { w := want; w.Type, w.Sender, w.Receiver = ctlOffer, 2, 1; return w }()), refuseNotSubscribed},
	}
	for _, c := range cases {
		rep, err := ask(c.raw)
		if err != nil || rep.Type != ctlRefuse || rep.Reason != c.want {
			t.Errorf("%s: reply %+v, %v; want refusal %v", c.name, rep, err, c.want)
		}
	}
	// Garbage: the connection is dropped without a reply.
	if _, err := ask([]byte("GET / HTTP/1.0\r\n\r\n")); err == nil {
		t.Error("garbage got a reply")
	}
	// A well-formed want is still accepted.
	if rep, err := ask(appendCtl(nil, want)); err != nil || rep.Type != ctlAccept || rep.Inc != f.inc {
		t.Errorf("want: %+v, %v", rep, err)
	}
}

type sinkFunc func(attest.MemberID, []byte)

func (s sinkFunc) Deliver(from attest.MemberID, env []byte) { s(from, env) }
