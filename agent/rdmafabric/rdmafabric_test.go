package rdmafabric_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wmsr/wmsr/agent"
	"github.com/wmsr/wmsr/agent/fabrictest"
	"github.com/wmsr/wmsr/agent/rdmafabric"
	"github.com/wmsr/wmsr/attest"
	"github.com/wmsr/wmsr/rdma"
)

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

func newFabric(t testing.TB, dir string, id attest.MemberID, inboxCap int, l rdma.Layout) *rdmafabric.Fabric {
	t.Helper()
	f, err := rdmafabric.New(rdma.Config{
		Dir: dir, ID: id, Layout: l,
		MaintainEvery: 20 * time.Millisecond,
	}, inboxCap)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestConformance runs the agent.Fabric suite against several shm fabrics
// in one process sharing a directory. Restart wipes the directory, as a
// cleaned /dev/shm would: every agent must re-register on its own.
func TestConformance(t *testing.T) {
	dir := testDir(t)
	fabrictest.Run(t, fabrictest.Harness{
		New: func(t testing.TB, id attest.MemberID, inboxCap int) agent.Fabric {
			return newFabric(t, dir, id, inboxCap, rdma.Layout{})
		},
		Restart: func(t testing.TB) {
			ents, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			var rings []string
			for _, e := range ents {
				if filepath.Ext(e.Name()) == ".ring" {
					rings = append(rings, e.Name())
				}
				if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
					t.Fatal(err)
				}
			}
			// The medium is back once the receivers re-registered the
			// rings that existed (existing mappings survive an unlink, so
			// without this wait traffic could keep flowing through the
			// orphaned memory and nothing would be exercised).
			deadline := time.Now().Add(5 * time.Second)
			for _, name := range rings {
				for {
					if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("ring %s not re-registered", name)
					}
					time.Sleep(time.Millisecond)
				}
			}
		},
		Ordered: true,
		Wait:    5 * time.Second,
	})
}

func TestSinkIsSetByAdapter(t *testing.T) {
	cfg := rdma.Config{Dir: testDir(t), ID: 1, Sink: sinkFunc(func(attest.MemberID, []byte) {})}
	if _, err := rdmafabric.New(cfg, 0); err == nil {
		t.Fatal("New accepted a caller's Sink")
	}
}

type sinkFunc func(attest.MemberID, []byte)

func (f sinkFunc) Deliver(from attest.MemberID, env []byte) { f(from, env) }

// TestErrors: rdma's sentinels surface as agent's, with the originals
// kept in the chain.
func TestErrors(t *testing.T) {
	ctx := context.Background()
	dir := testDir(t)
	l := rdma.Layout{Slots: 4, SlotSize: 64}
	sub := newFabric(t, dir, 2, 0, l)
	defer sub.Close()
	if err := sub.Subscribe(ctx, []attest.MemberID{1}); err != nil {
		t.Fatal(err)
	}
	pub := newFabric(t, dir, 1, 0, l)
	// Fill the ring faster than the poller drains: publish until refused
	// (the poller is not stopped, so a refusal is likely, not certain).
	full := false
	for i := 0; i < 1_000_000 && !full; i++ {
		err := pub.Publish(ctx, []byte{byte(i)})
		switch {
		case err == nil:
		case errors.Is(err, agent.ErrBackPressure) && errors.Is(err, rdma.ErrFull):
			full = true
		default:
			t.Fatalf("Publish: %v", err)
		}
	}
	if !full {
		t.Log("the poller kept up; back-pressure mapping not exercised")
	}

	if err := pub.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := <-pub.Inbox(); ok {
		t.Error("Inbox open after Close")
	}
	err := pub.Publish(ctx, []byte{0})
	if !errors.Is(err, agent.ErrClosed) || !errors.Is(err, rdma.ErrClosed) {
		t.Errorf("Publish after Close: %v", err)
	}
	err = pub.Subscribe(ctx, nil)
	if !errors.Is(err, agent.ErrClosed) || !errors.Is(err, rdma.ErrClosed) {
		t.Errorf("Subscribe after Close: %v", err)
	}
	if err := pub.Close(); err != nil {
		t.Error("second Close:", err)
	}
}
