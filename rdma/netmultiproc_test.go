package rdma_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wmsr/wmsr/attest"
	"github.com/wmsr/wmsr/rdma"
	"github.com/wmsr/wmsr/rdma/rdmatest"
)

// The two-process test of the NetFabric: this process is agent 1, a
// re-executed test binary is agent 2 (role "net"); each subscribes to the
// other, over the EmulatedTCP provider on loopback. Agent 2's frames are
// (incarnation, seq, how many of agent 1's frames it has received).

// netSink hands deliveries to a function (the poller's goroutine only).
type netSink func(from attest.MemberID, env []byte)

func (s netSink) Deliver(from attest.MemberID, env []byte) { s(from, env) }

// netChild is agent 2: it prints its address, subscribes to agent 1 and
// publishes until killed, retrying frames the ring refused as full (a
// frame published while no ring exists is lost, as it should be).
func netChild() error {
	ctx := context.Background()
	peers, err := rdma.ParsePeers(os.Getenv("WMSR_RDMA_PEERS"))
	if err != nil {
		return err
	}
	inc, _ := strconv.ParseUint(os.Getenv("WMSR_RDMA_INC"), 10, 64)
	var fromParent atomic.Uint64
	sink := netSink(func(_ attest.MemberID, env []byte) {
		if len(env) == 8 {
			fromParent.Store(binary.LittleEndian.Uint64(env) + 1)
		}
	})
	f, err := rdma.NewNetFabric(rdma.NetConfig{
		ID: 2, Provider: rdma.EmulatedTCP{}, Listen: "127.0.0.1:0", Peers: peers, Sink: sink,
		RetryMax: 100 * time.Millisecond,
	})
	if err != nil {
		return err
	}
	fmt.Printf("addr %s\n", f.Addr())
	if err := f.Subscribe(ctx, []attest.MemberID{1}); err != nil {
		return err
	}
	p := make([]byte, 24)
	for seq := uint64(0); ; {
		binary.LittleEndian.PutUint64(p[0:], inc)
		binary.LittleEndian.PutUint64(p[8:], seq)
		binary.LittleEndian.PutUint64(p[16:], fromParent.Load())
		if err := f.Publish(ctx, p); errors.Is(err, rdma.ErrFull) {
			time.Sleep(100 * time.Microsecond)
			continue
		}
		if seq++; seq%8 == 0 {
			time.Sleep(500 * time.Microsecond)
		}
	}
}

// startNetChild starts agent 2 (incarnation inc) and returns it with the
// address it listens on.
func startNetChild(t *testing.T, inc int, parentAddr string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=net", "WMSR_RDMA_INC="+strconv.Itoa(inc),
		"WMSR_RDMA_PEERS=1="+parentAddr)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		sc.Scan()
		line <- sc.Text()
	}()
	select {
	case l := <-line:
		addr, ok := strings.CutPrefix(l, "addr ")
		if !ok {
			t.Fatalf("child said %q", l)
		}
		return cmd, addr
	case <-time.After(10 * time.Second):
		t.Fatal("child did not start")
	}
	panic("unreachable")
}

type childFrame struct{ inc, seq, fromParent uint64 }

// TestNetMultiProcessRestart: agent 2 runs in another process, is killed
// with SIGKILL mid-stream and started again (a new incarnation, on a new
// port, which the directory learns). Agent 1 drains the dead ring in
// order, counts the loss, and is connected to the new incarnation again
// without help; traffic resumes in both directions. Within each ring no
// frame is lost or reordered. Agent 1's Publish never waits and reports
// only typed errors throughout.
func TestNetMultiProcessRestart(t *testing.T) {
	ctx := context.Background()
	dir := rdmatest.NewDirectory()
	frames := make(chan childFrame, 1<<16)
	sink := netSink(func(from attest.MemberID, env []byte) {
		if from != 2 || len(env) != 24 {
			t.Errorf("delivery of %d bytes from %d", len(env), from)
			return
		}
		select {
		case frames <- childFrame{binary.LittleEndian.Uint64(env), binary.LittleEndian.Uint64(env[8:]), binary.LittleEndian.Uint64(env[16:])}:
		default:
			t.Error("test sink overflow")
		}
	})
	f := newNet(t, dir, 1, sink, rdma.Layout{})
	parentAddr := f.Addr().String()

	// Agent 1 publishes its sequence number every millisecond.
	var pubSeq atomic.Uint64
	var pubMu sync.Mutex
	pubErrs := map[string]int{}
	stopPub := make(chan struct{})
	pubDone := make(chan struct{})
	go func() {
		defer close(pubDone)
		p := make([]byte, 8)
		for {
			select {
			case <-stopPub:
				return
			case <-time.After(time.Millisecond):
			}
			binary.LittleEndian.PutUint64(p, pubSeq.Load())
			start := time.Now()
			err := f.Publish(ctx, p)
			if d := time.Since(start); d > 100*time.Millisecond {
				t.Errorf("Publish took %v", d)
			}
			pubSeq.Add(1)
			if err != nil {
				kind := "untyped"
				switch {
				case errors.Is(err, rdma.ErrPeerLost):
					kind = "ErrPeerLost"
				case errors.Is(err, rdma.ErrFull):
					kind = "ErrFull"
				default:
					t.Errorf("Publish: untyped error %v", err)
				}
				pubMu.Lock()
				pubErrs[kind]++
				pubMu.Unlock()
			}
		}
	}()
	defer func() { close(stopPub); <-pubDone }()

	deadline := time.Now().Add(30 * time.Second)
	next := func() childFrame {
		select {
		case fr := <-frames:
			return fr
		case <-time.After(time.Until(deadline)):
			t.Fatalf("no frame before the deadline; stats %+v", f.Stats())
		}
		panic("unreachable")
	}

	t0 := time.Now()
	first, addr1 := startNetChild(t, 1, parentAddr)
	dir.Set(2, addr1)
	if err := f.Subscribe(ctx, []attest.MemberID{2}); err != nil {
		t.Fatal(err)
	}
	// Incarnation 1: contiguous from its first frame that reached a ring.
	const want = 2000
	fr := next()
	if fr.inc != 1 {
		t.Fatalf("frame of incarnation %d first", fr.inc)
	}
	nextSeq, n1 := fr.seq+1, 1
	for n1 < want || fr.fromParent == 0 {
		fr = next()
		if fr.inc != 1 || fr.seq != nextSeq {
			t.Fatalf("incarnation 1: got %d/%d, want 1/%d", fr.inc, fr.seq, nextSeq)
		}
		nextSeq++
		n1++
	}
	t.Logf("incarnation 1: %d frames in order in %v; it had %d of ours", n1, time.Since(t0).Round(time.Millisecond), fr.fromParent)

	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := first.Wait(); err == nil {
		t.Fatal("killed child exited cleanly")
	}
	killedAt, killSeq := time.Now(), pubSeq.Load()
	_, addr2 := startNetChild(t, 2, parentAddr)
	dir.Set(2, addr2)
	leftovers, n2, firstSeq2 := 0, 0, uint64(0)
	var firstAt time.Time
	for {
		fr = next()
		switch {
		case fr.inc == 1 && n2 == 0 && fr.seq == nextSeq:
			nextSeq++ // the dead ring drained, in order
			leftovers++
			continue
		case fr.inc == 2 && n2 == 0:
			firstAt, firstSeq2, nextSeq = time.Now(), fr.seq, fr.seq
		case fr.inc == 2 && fr.seq == nextSeq:
		default:
			t.Fatalf("got %d/%d; want 1/%d before any of incarnation 2, or 2/%d", fr.inc, fr.seq, nextSeq, nextSeq)
		}
		nextSeq++
		if n2++; n2 >= want && fr.fromParent > killSeq {
			break
		}
	}
	t.Logf("after the kill: %d frames of the dead incarnation drained; the first frame of incarnation 2 to arrive, #%d, "+
		"came %v after the kill; then %d in order, the last one saying it had %d of our frames (we had sent %d at the kill), %v after the kill",
		leftovers, firstSeq2, firstAt.Sub(killedAt).Round(time.Millisecond),
		n2, fr.fromParent, killSeq, time.Since(killedAt).Round(time.Millisecond))

	st := f.Stats()
	if st.ConnLost < 1 || st.Connects < 4 {
		t.Errorf("stats %+v: want the lost ring counted and both rings set up twice", st)
	}
	pubMu.Lock()
	t.Logf("agent 1: %+v; publish errors %v", st, pubErrs)
	pubMu.Unlock()
}
