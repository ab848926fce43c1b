package rdma_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/wmsr/wmsr/rdma"
)

// The test binary re-executes itself as the peer process of the
// multi-process tests and benchmarks; this variable selects the role.
const childEnv = "WMSR_RDMA_CHILD"

// frameSize is the payload size of the multi-process tests and of every
// benchmark: a 64-byte value.
const frameSize = 64

var testLayout = rdma.Layout{Slots: 1024, SlotSize: 128}

func TestMain(m *testing.M) {
	if role := os.Getenv(childEnv); role != "" {
		if err := child(role); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// child runs a peer role:
//
//	writer: writes frames (incarnation, seq) to the ring at WMSR_RDMA_RING,
//	        WMSR_RDMA_N of them (0: until killed), retrying on ErrFull;
//	echo:   registers WMSR_RDMA_RING (ping), and copies every frame from
//	        it to the ring at WMSR_RDMA_PONG until the frame "stop".
//	net:    a NetFabric peer (netmultiproc_test.go).
func child(role string) error {
	ctx := context.Background()
	shm := rdma.Shm{}
	switch role {
	case "net":
		return netChild()
	case "writer":
		n, _ := strconv.ParseUint(os.Getenv("WMSR_RDMA_N"), 10, 64)
		inc, _ := strconv.ParseUint(os.Getenv("WMSR_RDMA_INC"), 10, 64)
		s, err := shm.OpenSender(ctx, os.Getenv("WMSR_RDMA_RING"), testLayout)
		if err != nil {
			return err
		}
		defer s.Close()
		p := make([]byte, frameSize)
		binary.LittleEndian.PutUint64(p, inc)
		for seq := uint64(0); n == 0 || seq < n; {
			binary.LittleEndian.PutUint64(p[8:], seq)
			if err := s.Write(p); err != nil {
				if !errors.Is(err, rdma.ErrFull) {
					return err
				}
				osYield()
				continue
			}
			seq++
		}
		return nil
	case "echo":
		r, err := shm.OpenReceiver(ctx, os.Getenv("WMSR_RDMA_RING"), testLayout)
		if err != nil {
			return err
		}
		defer r.Close()
		s, err := shm.OpenSender(ctx, os.Getenv("WMSR_RDMA_PONG"), testLayout)
		if err != nil {
			return err
		}
		defer s.Close()
		var buf []byte
		for {
			got, ok, err := r.Poll(buf[:0])
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			buf = got
			if string(got) == "stop" {
				return nil
			}
			for errors.Is(s.Write(got), rdma.ErrFull) {
				osYield()
			}
		}
	}
	return fmt.Errorf("unknown role %q", role)
}

// osYield gives the CPU to another runnable thread: a writer facing a
// full ring waits for the reader, another process, which runtime.Gosched
// does not schedule; on a host with few CPUs it must let the reader run.

func osYield() {
	_, _, _ = syscall.Syscall(syscall.SYS_SCHED_YIELD, 0, 0, 0)
}

// startChild re-executes the test binary in role with env added.
func startChild(t testing.TB, role string, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), childEnv+"="+role), env...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return cmd
}

// readFrame polls r until a frame arrives or the deadline passes. With
// spin it never gives up the CPU (a ping-pong needs the reply at memory
// speed); without, it yields to other processes every 256 empty polls (a
// stream needs the writer process to run, even on a host with few CPUs).
func readFrame(t testing.TB, r rdma.Receiver, buf []byte, deadline time.Time, spin bool) []byte {
	t.Helper()
	for i := 0; ; i++ {
		got, ok, err := r.Poll(buf[:0])
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			return got
		}
		if i%256 == 255 {
			if time.Now().After(deadline) {
				t.Fatal("no frame before the deadline")
			}
			if spin {
				runtime.Gosched()
			} else {
				osYield()
			}
		}
	}
}

// TestMultiProcess: another process writes N frames into a ring this one
// registered; every frame arrives, once, in order, despite the ring being
// 50 times smaller than the stream (back-pressure, not loss).
func TestMultiProcess(t *testing.T) {
	const n = 50000
	path := filepath.Join(testDir(t), "ring")
	r, err := rdma.Shm{}.OpenReceiver(context.Background(), path, testLayout)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd := startChild(t, "writer", "WMSR_RDMA_RING="+path, "WMSR_RDMA_N="+strconv.Itoa(n), "WMSR_RDMA_INC=1")
	deadline := time.Now().Add(30 * time.Second)
	var buf []byte
	for want := uint64(0); want < n; want++ {
		buf = readFrame(t, r, buf, deadline, false)
		inc, seq := binary.LittleEndian.Uint64(buf), binary.LittleEndian.Uint64(buf[8:])
		if inc != 1 || seq != want || len(buf) != frameSize {
			t.Fatalf("frame %d: incarnation %d seq %d (%d bytes)", want, inc, seq, len(buf))
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("writer: %v", err)
	}
	if _, ok, _ := r.Poll(nil); ok {
		t.Fatal("a frame beyond the N written")
	}
}

// TestPeerRestart: the writer process is killed with SIGKILL mid-stream
// and started again. The reader keeps its ring: it sees the first
// incarnation's frames in order up to some point, then the second
// incarnation's from its first frame, in order, and nothing of the first
// after that (recovery rule: the new incarnation re-initialises the ring
// with a new generation; unread frames of the dead one are discarded).
func TestPeerRestart(t *testing.T) {
	const n2 = 20000
	path := filepath.Join(testDir(t), "ring")
	r, err := rdma.Shm{}.OpenReceiver(context.Background(), path, testLayout)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	deadline := time.Now().Add(30 * time.Second)
	first := startChild(t, "writer", "WMSR_RDMA_RING="+path, "WMSR_RDMA_N=0", "WMSR_RDMA_INC=1")
	var buf []byte
	for want := uint64(0); want < 5000; want++ {
		buf = readFrame(t, r, buf, deadline, false)
		if inc, seq := binary.LittleEndian.Uint64(buf), binary.LittleEndian.Uint64(buf[8:]); inc != 1 || seq != want {
			t.Fatalf("before the kill: incarnation %d seq %d, want 1/%d", inc, seq, want)
		}
	}
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := first.Wait(); err == nil {
		t.Fatal("killed writer exited cleanly")
	}
	second := startChild(t, "writer", "WMSR_RDMA_RING="+path, "WMSR_RDMA_N="+strconv.Itoa(n2), "WMSR_RDMA_INC=2")
	next1, next2, leftovers := uint64(5000), uint64(0), 0
	for next2 < n2 {
		buf = readFrame(t, r, buf, deadline, false)
		inc, seq := binary.LittleEndian.Uint64(buf), binary.LittleEndian.Uint64(buf[8:])
		switch {
		case inc == 1 && next2 == 0 && seq == next1:
			next1++ // unread frames of the dead writer, before the reset
			leftovers++
		case inc == 2 && seq == next2:
			next2++
		default:
			t.Fatalf("incarnation %d seq %d; expected 1/%d (before any of 2) or 2/%d", inc, seq, next1, next2)
		}
	}
	if err := second.Wait(); err != nil {
		t.Fatalf("second writer: %v", err)
	}
	t.Logf("read %d frames of the killed writer after the kill, then all %d of its successor", leftovers, n2)
}
