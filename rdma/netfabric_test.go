package rdma_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/wmsr/wmsr/attest"
	"github.com/wmsr/wmsr/rdma"
	"github.com/wmsr/wmsr/rdma/rdmatest"
)

// The NetFabric runs here over the EmulatedTCP provider (not RDMA): see
// the package documentation for what that exercises.

func newNet(t testing.TB, dir rdma.Peers, id attest.MemberID, sink rdma.Sink, l rdma.Layout) *rdma.NetFabric {
	t.Helper()
	f, err := rdma.NewNetFabric(rdma.NetConfig{
		ID: id, Provider: rdma.EmulatedTCP{}, Listen: "127.0.0.1:0", Peers: dir,
		Sink: sink, Layout: l, RetryMax: 100 * time.Millisecond, SetupTimeout: 2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if d, ok := dir.(*rdmatest.Directory); ok {
		d.Set(id, f.Addr().String())
	}
	return f
}

func chanSinkOf(n int) *chanSink { return &chanSink{ch: make(chan delivery, n)} }

func expect(t *testing.T, ch <-chan delivery, from attest.MemberID, env string) {
	t.Helper()
	select {
	case d := <-ch:
		if d.from != from || string(d.env) != env {
			t.Fatalf("got %q from %d, want %q from %d", d.env, d.from, env, from)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("%q from %d did not arrive", env, from)
	}
}

func publishOK(t *testing.T, f *rdma.NetFabric, env string) {
	t.Helper()
	if err := f.Publish(context.Background(), []byte(env)); err != nil {
		t.Fatalf("Publish(%q): %v", env, err)
	}
}

func TestNetFabric(t *testing.T) {
	ctx := context.Background()
	dir := rdmatest.NewDirectory()
	// More than a ring holds, published without waiting: the ring
	// refuses (ErrFull) rather than queue; the refused ones are retried.
	// (The test's sink holds them all: it must not drop.)
	const n = 3000
	sa, sb := chanSinkOf(n+16), chanSinkOf(256)
	a := newNet(t, dir, 1, sa, rdma.Layout{})
	b := newNet(t, dir, 2, sb, rdma.Layout{})
	if err := b.Subscribe(ctx, []attest.MemberID{1}); err != nil {
		t.Fatal(err)
	}
	if err := a.Subscribe(ctx, []attest.MemberID{2}); err != nil {
		t.Fatal(err)
	}
	go func() {
		for i := 0; i < n; {
			err := b.Publish(ctx, []byte{byte(i), byte(i >> 8)})
			if errors.Is(err, rdma.ErrFull) {
				time.Sleep(100 * time.Microsecond)
				continue
			}
			if err != nil {
				t.Error(err)
				return
			}
			i++
		}
	}()
	for i := range n {
		select {
		case d := <-sa.ch:
			if d.from != 2 || len(d.env) != 2 || int(d.env[0])|int(d.env[1])<<8 != i {
				t.Fatalf("delivery %d: from %d env %v", i, d.from, d.env)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("delivery %d missing: %+v", i, a.Stats())
		}
	}
	publishOK(t, a, "to b")
	expect(t, sb.ch, 1, "to b")
	if s := a.Stats(); s.Received != n || s.Connects != 2 || s.ConnLost != 0 || s.Published != 1 {
		t.Errorf("a: %+v", s)
	}
	if s := b.Stats(); s.Published != n || s.Connects != 2 {
		t.Errorf("b: %+v", s)
	}

	// Unsubscribing is an orderly close: the sender drops the ring
	// without reporting an error.
	if err := b.Subscribe(ctx, nil); err != nil {
		t.Fatal(err)
	}
	for range 100 {
		publishOK(t, a, "nobody listens")
		time.Sleep(100 * time.Microsecond)
	}
	if s := a.Stats(); s.ConnLost != 0 || s.PublishErrors != 0 {
		t.Errorf("a after b unsubscribed: %+v", s)
	}

	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	a.Close()
	if err := a.Publish(ctx, []byte{0}); !errors.Is(err, rdma.ErrClosed) {
		t.Errorf("Publish after Close: %v", err)
	}
	if err := a.Subscribe(ctx, nil); !errors.Is(err, rdma.ErrClosed) {
		t.Errorf("Subscribe after Close: %v", err)
	}
}

// TestNetFabricRestart: a receiver subscribed to a sender that does not
// exist yet; the sender starts (its offer connects the ring before its
// first Publish), closes, and starts again elsewhere (a new incarnation on
// a new port): the receiver counts the loss and is connected again, by
// the new sender's offer, before that one's first Publish.
func TestNetFabricRestart(t *testing.T) {
	ctx := context.Background()
	dir := rdmatest.NewDirectory()
	sb := chanSinkOf(64)
	b := newNet(t, dir, 2, sb, rdma.Layout{})
	if err := b.Subscribe(ctx, []attest.MemberID{1}); err != nil {
		t.Fatalf("Subscribe to an unknown member: %v", err)
	}
	a1 := newNet(t, dir, 1, chanSinkOf(1), rdma.Layout{})
	publishOK(t, a1, "first")
	expect(t, sb.ch, 1, "first")

	a1.Close()
	eventually(t, "loss counted", func() bool { return b.Stats().ConnLost == 1 })
	dir.Delete(1)
	a2 := newNet(t, dir, 1, chanSinkOf(1), rdma.Layout{})
	publishOK(t, a2, "second")
	expect(t, sb.ch, 1, "second")
	if s := b.Stats(); s.Connects != 2 || s.ConnLost != 1 || s.Received != 2 {
		t.Errorf("b: %+v", s)
	}
}

// TestNetFabricNetworkCut: every connection is reset (as by a network
// failure): the sender reports the lost ring once, typed, and the
// receiver re-dials on its own; values flow again.
func TestNetFabricNetworkCut(t *testing.T) {
	ctx := context.Background()
	dir := rdmatest.NewDirectory()
	sb := chanSinkOf(64)
	a := newNet(t, dir, 1, chanSinkOf(1), rdma.Layout{})
	proxy := rdmatest.NewProxy(t, a.Addr().String())
	dir.Set(1, proxy.Addr()) // b reaches a through the proxy
	b := newNet(t, dir, 2, sb, rdma.Layout{})
	if err := b.Subscribe(ctx, []attest.MemberID{1}); err != nil {
		t.Fatal(err)
	}
	publishOK(t, a, "before")
	expect(t, sb.ch, 1, "before")

	proxy.Cut()
	var lost error
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		err := a.Publish(ctx, []byte("during"))
		if err != nil {
			lost = err
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the lost ring was never reported")
		}
	}
	if !errors.Is(lost, rdma.ErrPeerLost) {
		t.Fatalf("Publish after the cut: %v, want ErrPeerLost", lost)
	}
	// Values flow again once b re-dialed (and "during" values that went
	// into the ring before the loss was noticed were lost with it).
	for deadline := time.Now().Add(5 * time.Second); ; {
		if err := a.Publish(ctx, []byte("after")); err != nil {
			t.Fatalf("Publish: %v", err)
		}
		select {
		case d := <-sb.ch:
			if string(d.env) == "after" {
				if s := b.Stats(); s.ConnLost != 1 || s.Connects != 2 {
					t.Errorf("b: %+v", s)
				}
				if s := a.Stats(); s.ConnLost != 1 || s.PublishErrors != 1 {
					t.Errorf("a: %+v", s)
				}
				return
			}
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("values did not flow again")
		}
	}
}

// TestNetFabricFull: a receiver that does not drain makes Publish refuse
// at once with ErrFull, counted.
func TestNetFabricFull(t *testing.T) {
	ctx := context.Background()
	dir := rdmatest.NewDirectory()
	l := rdma.Layout{Slots: 4, SlotSize: 64}
	g := gateSink{release: make(chan struct{})}
	b := newNet(t, dir, 2, g, l)
	defer close(g.release) // before b's Close (a cleanup), which waits for the poller
	a := newNet(t, dir, 1, chanSinkOf(1), l)
	if err := b.Subscribe(ctx, []attest.MemberID{1}); err != nil {
		t.Fatal(err)
	}
	for i := range 2 * l.Slots {
		start := time.Now()
		err := a.Publish(ctx, []byte{byte(i)})
		if d := time.Since(start); d > 100*time.Millisecond {
			t.Errorf("Publish took %v", d)
		}
		if errors.Is(err, rdma.ErrFull) {
			if s := a.Stats(); s.PublishErrors != 1 || s.Published != uint64(i) {
				t.Errorf("stats after ErrFull at %d: %+v", i, s)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Fatal("ring never refused")
}

// TestNetFabricLayoutMismatch: a receiver with another layout is refused;
// Subscribe still returns (the set takes effect if the sender changes).
func TestNetFabricLayoutMismatch(t *testing.T) {
	ctx := context.Background()
	dir := rdmatest.NewDirectory()
	newNet(t, dir, 1, chanSinkOf(1), rdma.Layout{Slots: 8, SlotSize: 64})
	b := newNet(t, dir, 2, chanSinkOf(1), rdma.Layout{Slots: 16, SlotSize: 64})
	if err := b.Subscribe(ctx, []attest.MemberID{1}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if s := b.Stats(); s.Connects != 0 {
		t.Errorf("a ring of another layout was set up: %+v", s)
	}
}

// TestNetFabricNoDevice: over the ibverbs provider on a host without a
// device (or a binary without the rdma tag), NewNetFabric fails at once
// with the typed error, the signal to fall back to another fabric.
func TestNetFabricNoDevice(t *testing.T) {
	if (rdma.IBVerbs{}).Probe() == nil {
		t.Skip("an RDMA device is present")
	}
	_, err := rdma.NewNetFabric(rdma.NetConfig{
		ID: 1, Provider: rdma.IBVerbs{}, Listen: "127.0.0.1:0", Peers: rdma.StaticPeers{}, Sink: chanSinkOf(1),
	})
	if !errors.Is(err, rdma.ErrNoDevice) && !errors.Is(err, rdma.ErrNotBuilt) {
		t.Fatalf("NewNetFabric over ibverbs: %v", err)
	}
	t.Log(err)
}

func TestNetFabricConfig(t *testing.T) {
	ok := rdma.NetConfig{ID: 1, Provider: rdma.EmulatedTCP{}, Listen: "127.0.0.1:0", Peers: rdma.StaticPeers{}, Sink: chanSinkOf(1)}
	for name, mutate := range map[string]func(*rdma.NetConfig){
		"provider": func(c *rdma.NetConfig) { c.Provider = nil },
		"listen":   func(c *rdma.NetConfig) { c.Listen = "" },
		"peers":    func(c *rdma.NetConfig) { c.Peers = nil },
		"sink":     func(c *rdma.NetConfig) { c.Sink = nil },
		"layout":   func(c *rdma.NetConfig) { c.Layout = rdma.Layout{Slots: 3, SlotSize: 64} },
		"address":  func(c *rdma.NetConfig) { c.Listen = "127.0.0.1:http-not-a-port" },
	} {
		c := ok
		mutate(&c)
		if f, err := rdma.NewNetFabric(c); err == nil {
			f.Close()
			t.Errorf("without a valid %s: accepted", name)
		}
	}
}
