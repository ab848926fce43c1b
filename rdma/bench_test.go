package rdma_test

import (
	"context"
	"encoding/binary"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/wmsr/wmsr/rdma"
)

// The benchmarks measure the bare shm ring between two processes. The
// mailbox Fabric in one process, against the MQTT fabric in the same run,
// is measured in agent/rdmafabric.
//
//	go test -run '^$' -bench . -benchtime 20000x ./rdma/

func reportLatency(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds())/1e3, "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds())/1e3, "p99-µs")
}

// BenchmarkLatency: one 64-byte value at a time, Publish to delivery in
// the subscriber's Inbox (one way).
func BenchmarkLatency(b *testing.B) {
	// Two processes: a ping-pong through two rings with an echo process;
	// one way is half the round trip (the processes share no clock).
	b.Run("ring=shm-2proc", func(b *testing.B) {
		dir := testDir(b)
		ping, pong := filepath.Join(dir, "ping"), filepath.Join(dir, "pong")
		shm := rdma.Shm{}
		ctx := context.Background()
		r, err := shm.OpenReceiver(ctx, pong, testLayout)
		if err != nil {
			b.Fatal(err)
		}
		defer r.Close()
		cmd := startChild(b, "echo", "WMSR_RDMA_RING="+ping, "WMSR_RDMA_PONG="+pong)
		var s rdma.Sender
		for deadline := time.Now().Add(10 * time.Second); ; {
			if s, err = shm.OpenSender(ctx, ping, testLayout); err == nil {
				break
			}
			if time.Now().After(deadline) {
				b.Fatal(err)
			}
			time.Sleep(time.Millisecond)
		}
		defer s.Close()
		payload := make([]byte, frameSize)
		lat := make([]time.Duration, 0, b.N)
		var buf []byte
		b.ResetTimer()
		for i := range b.N {
			binary.BigEndian.PutUint64(payload, uint64(i))
			start := time.Now()
			if err := s.Write(payload); err != nil {
				b.Fatal(err)
			}
			buf = readFrame(b, r, buf, start.Add(5*time.Second), true)
			lat = append(lat, time.Since(start)/2)
			if binary.BigEndian.Uint64(buf) != uint64(i) {
				b.Fatalf("echo %d for %d", binary.BigEndian.Uint64(buf), i)
			}
		}
		b.StopTimer()
		reportLatency(b, lat)
		_ = s.Write([]byte("stop"))
		if err := cmd.Wait(); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkThroughput: 64-byte values pipelined with at most window in
// flight (so that neither the Inbox nor the medium drops), messages/s.
func BenchmarkThroughput(b *testing.B) {
	const window = 256
	// Two processes: another process writes b.N frames into a ring this
	// one drains (back-pressure by ErrFull, no loss).
	b.Run("ring=shm-2proc", func(b *testing.B) {
		path := filepath.Join(testDir(b), "ring")
		r, err := rdma.Shm{}.OpenReceiver(context.Background(), path, testLayout)
		if err != nil {
			b.Fatal(err)
		}
		defer r.Close()
		b.ResetTimer()
		start := time.Now()
		cmd := startChild(b, "writer", "WMSR_RDMA_RING="+path, "WMSR_RDMA_N="+strconv.Itoa(b.N), "WMSR_RDMA_INC=1")
		var buf []byte
		var first time.Time
		for i := range b.N {
			buf = readFrame(b, r, buf, start.Add(30*time.Second), false)
			if i == 0 {
				first = time.Now() // exclude the child's start-up
			}
		}
		elapsed := time.Since(first)
		b.StopTimer()
		if err := cmd.Wait(); err != nil {
			b.Fatal(err)
		}
		if b.N > 1 {
			b.ReportMetric(float64(b.N-1)/elapsed.Seconds(), "msgs/s")
		}
	})
}
