package fabrictest

import (
	"context"
	"encoding/binary"
	"errors"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/wmsr/wmsr/agent"
)

// BenchFrameSize is the payload of the fabric benchmarks: a 64-byte value,
// the size of a signed round value's payload class.
const BenchFrameSize = 64

// BenchWindow is how many values BenchThroughput keeps in flight; the
// subscriber's inbox should hold 4× as many, so neither it nor the medium
// drops.
const BenchWindow = 256

// BenchLatency measures one-way latency: one value at a time, from Publish
// on pub to its arrival in sub's Inbox, reported as p50-µs and p99-µs.
// Every fabric's benchmark calls it, so their figures compare in one run.
func BenchLatency(b *testing.B, pub, sub agent.Fabric) {
	payload := make([]byte, BenchFrameSize)
	lat := make([]time.Duration, 0, b.N)
	ctx := context.Background()
	b.ResetTimer()
	for i := range b.N {
		binary.BigEndian.PutUint64(payload, uint64(i))
		start := time.Now()
		if err := pub.Publish(ctx, payload); err != nil {
			b.Fatal(err)
		}
	wait:
		for {
			select {
			case d := <-sub.Inbox():
				if binary.BigEndian.Uint64(d.Envelope) == uint64(i) {
					break wait
				} // else a straggler of an earlier iteration
			case <-time.After(5 * time.Second):
				b.Fatalf("value %d lost", i)
			}
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds())/1e3, "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds())/1e3, "p99-µs")
}

// BenchThroughput measures messages/s with values pipelined, at most
// BenchWindow in flight. A fabric that refuses a value because its send
// window is full (agent.ErrBackPressure, the contract's answer instead of
// queueing) gets it again once a delivery made room; the refusals are
// reported per value sent.
func BenchThroughput(b *testing.B, pub, sub agent.Fabric) {
	payload := make([]byte, BenchFrameSize)
	ctx := context.Background()
	got, refused := 0, 0
	recv := func(i int) {
		select {
		case <-sub.Inbox():
			got++
		case <-time.After(5 * time.Second):
			b.Fatalf("stalled at %d/%d: %+v", got, i, sub.Stats())
		}
	}
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		for i-got >= BenchWindow {
			recv(i)
		}
		for {
			err := pub.Publish(ctx, payload)
			if err == nil {
				break
			}
			if !errors.Is(err, agent.ErrBackPressure) {
				b.Fatal(err)
			}
			refused++
			if got < i {
				recv(i)
			} else {
				runtime.Gosched()
			}
		}
	}
	for got < b.N {
		recv(b.N)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
	b.ReportMetric(float64(refused)/float64(b.N), "refused/op")
}
