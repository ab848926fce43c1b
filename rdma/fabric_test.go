package rdma_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/wmsr/wmsr/attest"
	"github.com/wmsr/wmsr/rdma"
)

// The agent.Fabric conformance suite runs against the adapter, in
// agent/rdmafabric; these tests exercise the Fabric through a plain Sink.

// testDir is a fresh directory for one fleet: under /dev/shm when it
// exists (the production medium), else the test's temporary directory.
func testDir(t testing.TB) string {
	t.Helper()
	if fi, err := os.Stat(rdma.DefaultShmDir); err == nil && fi.IsDir() {
		d, err := os.MkdirTemp(rdma.DefaultShmDir, "wmsr-test-")
		if err == nil {
			t.Cleanup(func() { os.RemoveAll(d) })
			return d
		}
	}
	return t.TempDir()
}

type delivery struct {
	from attest.MemberID
	env  []byte
}

// chanSink delivers into a buffered channel, dropping (and counting)
// when it is full: Deliver must not block.
type chanSink struct {
	ch      chan delivery
	dropped int
}

func (s *chanSink) Deliver(from attest.MemberID, env []byte) {
	select {
	case s.ch <- delivery{from, env}:
	default:
		s.dropped++ // only the poller goroutine calls Deliver
	}
}

func newFabric(t testing.TB, dir string, id attest.MemberID, capacity int) (*rdma.Fabric, <-chan delivery) {
	t.Helper()
	if capacity <= 0 {
		capacity = 1024
	}
	s := &chanSink{ch: make(chan delivery, capacity)}
	f, err := rdma.NewFabric(rdma.Config{
		Dir: dir, ID: id, Sink: s,
		MaintainEvery: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, s.ch
}

func TestFabricRequiresSink(t *testing.T) {
	if _, err := rdma.NewFabric(rdma.Config{Dir: testDir(t), ID: 1}); err == nil {
		t.Fatal("NewFabric without a Sink succeeded")
	}
}

func TestFabricSink(t *testing.T) {
	ctx := context.Background()
	dir := testDir(t)
	pub, _ := newFabric(t, dir, 1, 0)
	sub, got := newFabric(t, dir, 2, 0)
	if err := sub.Subscribe(ctx, []attest.MemberID{1}); err != nil {
		t.Fatal(err)
	}
	const n = 100
	for i := range n {
		if err := pub.Publish(ctx, []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		select {
		case d := <-got:
			if d.from != 1 || len(d.env) != 1 || d.env[0] != byte(i) {
				t.Fatalf("delivery %d: from %d env %v", i, d.from, d.env)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("delivery %d missing: %+v", i, sub.Stats())
		}
	}
	if s := pub.Stats(); s.Published != n || s.PublishErrors != 0 {
		t.Errorf("publisher stats %+v", s)
	}
	if s := sub.Stats(); s.Received != n || s.Connects != 1 {
		t.Errorf("subscriber stats %+v", s)
	}

	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	if err := sub.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	if err := sub.Subscribe(ctx, nil); !errors.Is(err, rdma.ErrClosed) {
		t.Errorf("Subscribe after Close: %v", err)
	}
	pub.Close()
	if err := pub.Publish(ctx, []byte{0}); !errors.Is(err, rdma.ErrClosed) {
		t.Errorf("Publish after Close: %v", err)
	}
}

// gateSink blocks in Deliver until released: it breaks the Sink contract
// on purpose, so the poller stops draining and the ring fills.
type gateSink struct{ release chan struct{} }

func (g gateSink) Deliver(attest.MemberID, []byte) { <-g.release }

// TestFabricFull: a receiver that does not drain makes Publish refuse
// with ErrFull at once, counted as a publish error.
func TestFabricFull(t *testing.T) {
	ctx := context.Background()
	dir := testDir(t)
	l := rdma.Layout{Slots: 4, SlotSize: 64}
	g := gateSink{release: make(chan struct{})}
	sub, err := rdma.NewFabric(rdma.Config{Dir: dir, ID: 2, Sink: g, Layout: l})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	defer close(g.release) // before sub.Close, which waits for the poller
	if err := sub.Subscribe(ctx, []attest.MemberID{1}); err != nil {
		t.Fatal(err)
	}
	pub, err := rdma.NewFabric(rdma.Config{Dir: dir, ID: 1, Sink: &chanSink{ch: make(chan delivery, 1)}, Layout: l})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	// The poller takes at most one frame before it blocks in Deliver, so
	// the ring refuses within Slots+2 publishes.
	for i := range l.Slots + 2 {
		err := pub.Publish(ctx, []byte{byte(i)})
		if errors.Is(err, rdma.ErrFull) {
			if s := pub.Stats(); s.PublishErrors != 1 || s.Published != uint64(i) {
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
