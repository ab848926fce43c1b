package rdma_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/wmsr/wmsr/rdma"
)

// connPair returns the two ends of a loopback TCP connection.
func connPair(t *testing.T) (dialed, accepted *net.TCPConn) {
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
	d, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	a := <-ch
	if a == nil {
		t.Fatal("accept failed")
	}
	return d.(*net.TCPConn), a.(*net.TCPConn)
}

// emuPair sets up one emulated ring over a loopback connection; it also
// returns the sender's raw connection, to break it.
func emuPair(t *testing.T, l rdma.Layout) (rdma.Sender, rdma.Receiver, *net.TCPConn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sc, rc := connPair(t)
	type res struct {
		r   rdma.Receiver
		err error
	}
	ch := make(chan res, 1)
	go func() {
		r, err := rdma.EmulatedTCP{}.ReceiveOn(ctx, rc, l)
		ch <- res{r, err}
	}()
	s, err := rdma.EmulatedTCP{}.SendOn(ctx, sc, l)
	if err != nil {
		t.Fatal(err)
	}
	rr := <-ch
	if rr.err != nil {
		t.Fatal(rr.err)
	}
	t.Cleanup(func() { s.Close(); rr.r.Close() })
	return s, rr.r, sc
}

// poll waits for the next frame (the emulated writes arrive
// asynchronously).
func poll(t *testing.T, r rdma.Receiver) ([]byte, error) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; {
		got, ok, err := r.Poll(nil)
		if ok || err != nil {
			return got, err
		}
		if time.Now().After(deadline) {
			t.Fatal("no frame within 5 s")
		}
		time.Sleep(50 * time.Microsecond)
	}
}

// TestEmulatedTCPProvider: the provider API end to end, with the typed
// refusals: back-pressure from a full ring, recovery once the receiver's
// head comes back, an orderly close seen as ErrPeerClosed on both sides.
func TestEmulatedTCPProvider(t *testing.T) {
	l := rdma.Layout{Slots: 4, SlotSize: 64}
	s, r, _ := emuPair(t, l)
	for i := range 4 {
		if err := s.Write([]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Write([]byte{4}); !errors.Is(err, rdma.ErrFull) {
		t.Fatalf("fifth write into 4 slots: %v", err)
	}
	if err := s.Write(make([]byte, l.MaxPayload()+1)); !errors.Is(err, rdma.ErrTooLarge) {
		t.Fatalf("oversize: %v", err)
	}
	for i := range 4 {
		got, err := poll(t, r)
		if err != nil || len(got) != 1 || got[0] != byte(i) {
			t.Fatalf("frame %d: %v %v", i, got, err)
		}
	}
	if _, ok, err := r.Poll(nil); ok || err != nil {
		t.Fatalf("a fifth frame: %v %v", ok, err) // this empty poll also pushes the head
	}
	for deadline := time.Now().Add(5 * time.Second); ; {
		err := s.Write([]byte{4})
		if err == nil {
			break
		}
		if !errors.Is(err, rdma.ErrFull) || time.Now().After(deadline) {
			t.Fatalf("write after the receiver drained: %v", err)
		}
		time.Sleep(100 * time.Microsecond)
	}
	if got, err := poll(t, r); err != nil || got[0] != 4 {
		t.Fatalf("frame 4: %v %v", got, err)
	}

	// The sender closes: the receiver drains, then sees the close.
	if err := s.Write([]byte{5}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if got, err := poll(t, r); err != nil || got[0] != 5 {
		t.Fatalf("frame written before the close: %v %v", got, err)
	}
	if _, err := poll(t, r); !errors.Is(err, rdma.ErrPeerClosed) {
		t.Fatalf("after the sender closed: %v", err)
	}

	// The receiver closes: the sender's writes fail with ErrPeerClosed.
	s2, r2, _ := emuPair(t, l)
	r2.Close()
	eventually(t, "sender sees the close", func() bool { return errors.Is(s2.Write([]byte{0}), rdma.ErrPeerClosed) })
}

// TestEmulatedTCPLost: a connection that breaks (reset, no close record)
// is ErrPeerLost on both sides, the receiver first delivering what
// arrived.
func TestEmulatedTCPLost(t *testing.T) {
	l := rdma.Layout{Slots: 8, SlotSize: 64}
	s, r, raw := emuPair(t, l)
	if err := s.Write([]byte("before")); err != nil {
		t.Fatal(err)
	}
	if got, err := poll(t, r); err != nil || string(got) != "before" {
		t.Fatalf("%q %v", got, err)
	}
	_ = raw.SetLinger(0)
	raw.Close()
	if _, err := poll(t, r); !errors.Is(err, rdma.ErrPeerLost) {
		t.Fatalf("receiver after the reset: %v", err)
	}
	eventually(t, "sender sees the loss", func() bool { return errors.Is(s.Write([]byte{0}), rdma.ErrPeerLost) })
}

// TestEmulatedTCPLayout: both sides refuse a ring of another layout.
func TestEmulatedTCPLayout(t *testing.T) {
	sc, rc := connPair(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		_, err := rdma.EmulatedTCP{}.ReceiveOn(ctx, rc, rdma.Layout{Slots: 8, SlotSize: 64})
		errc <- err
	}()
	if _, err := (rdma.EmulatedTCP{}).SendOn(ctx, sc, rdma.Layout{Slots: 4, SlotSize: 64}); !errors.Is(err, rdma.ErrLayout) {
		t.Fatalf("sender: %v", err)
	}
	if err := <-errc; !errors.Is(err, rdma.ErrLayout) {
		t.Fatalf("receiver: %v", err)
	}
}

// TestEmulatedTCPStandalone: the Provider methods (listen on an address,
// dial it), and their bound: a receiver nobody dials gives up with ctx.
func TestEmulatedTCPStandalone(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // a free port for OpenReceiver
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	l := rdma.Layout{Slots: 4, SlotSize: 64}
	ch := make(chan rdma.Receiver, 1)
	go func() {
		r, err := rdma.EmulatedTCP{}.OpenReceiver(ctx, addr, l)
		if err != nil {
			t.Error(err)
		}
		ch <- r
	}()
	var s rdma.Sender
	eventually(t, "dial the receiver", func() bool {
		s, err = rdma.EmulatedTCP{}.OpenSender(ctx, addr, l)
		return err == nil
	})
	defer s.Close()
	r := <-ch
	if r == nil {
		t.FailNow()
	}
	defer r.Close()
	if err := s.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if got, err := poll(t, r); err != nil || string(got) != "hello" {
		t.Fatalf("%q %v", got, err)
	}

	short, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	if _, err := (rdma.EmulatedTCP{}).OpenReceiver(short, "127.0.0.1:0", l); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("receiver without a sender: %v", err)
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5 s", what)
		}
	}
}
