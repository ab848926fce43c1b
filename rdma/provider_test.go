package rdma_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/wmsr/wmsr/rdma"
)

func TestProbe(t *testing.T) {
	dir := testDir(t)
	res := rdma.Probe(dir)
	if len(res) != 2 || res[0].Provider != "shm" || res[1].Provider != "ibverbs" {
		t.Fatalf("providers %+v", res)
	}
	if res[0].Err != nil {
		t.Fatalf("shm unavailable in %s: %v", dir, res[0].Err)
	}
	// Without the rdma tag: ErrNotBuilt. With it, on this host (no HCA,
	// no rxe): ErrNoDevice; on a host with a device, nil.
	if err := res[1].Err; err != nil && !errors.Is(err, rdma.ErrNotBuilt) && !errors.Is(err, rdma.ErrNoDevice) {
		t.Fatalf("ibverbs probe: untyped error %v", err)
	}
	t.Logf("ibverbs: %v", res[1].Err)
	if err := (rdma.Shm{Dir: filepath.Join(dir, "missing")}).Probe(); err == nil {
		t.Fatal("shm probe in a missing directory succeeded")
	}
}

// TestIBVerbsUnavailable: without a device (or without the tag) opening
// either side fails at once with the typed error, never hangs.
func TestIBVerbsUnavailable(t *testing.T) {
	p := rdma.IBVerbs{}
	if p.Probe() == nil {
		t.Skip("an RDMA device is present")
	}
	ctx := context.Background()
	if _, err := p.OpenSender(ctx, "127.0.0.1:1", rdma.DefaultLayout); !errors.Is(err, rdma.ErrNoDevice) && !errors.Is(err, rdma.ErrNotBuilt) {
		t.Fatalf("OpenSender: %v", err)
	}
	if _, err := p.OpenReceiver(ctx, "127.0.0.1:0", rdma.DefaultLayout); !errors.Is(err, rdma.ErrNoDevice) && !errors.Is(err, rdma.ErrNotBuilt) {
		t.Fatalf("OpenReceiver: %v", err)
	}
}

// TestShmProvider: the provider API end to end in one process, including
// the typed refusals.
func TestShmProvider(t *testing.T) {
	shm := rdma.Shm{Dir: testDir(t)}
	ctx := context.Background()
	l := rdma.Layout{Slots: 4, SlotSize: 64}
	if _, err := shm.OpenSender(ctx, "r", l); !errors.Is(err, rdma.ErrNoPeer) {
		t.Fatalf("sender before the receiver registered: %v", err)
	}
	r, err := shm.OpenReceiver(ctx, "r", l)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := shm.OpenSender(ctx, "r", rdma.Layout{Slots: 8, SlotSize: 64}); !errors.Is(err, rdma.ErrLayout) {
		t.Fatalf("sender with a larger layout: %v", err)
	}
	s, err := shm.OpenSender(ctx, "r", l)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
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
		got, ok, err := r.Poll(nil)
		if err != nil || !ok || len(got) != 1 || got[0] != byte(i) {
			t.Fatalf("frame %d: %v %v %v", i, got, ok, err)
		}
	}
	if err := s.Write([]byte{4}); err != nil {
		t.Fatalf("write after the receiver drained: %v", err)
	}
}
