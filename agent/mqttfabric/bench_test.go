package mqttfabric_test

import (
	"context"
	"encoding/binary"
	"slices"
	"testing"
	"time"

	"github.com/wmsr/wmsr/agent"
	"github.com/wmsr/wmsr/attest"
)

// benchBrokers runs fn against the embedded broker and, if installed,
// mosquitto, in the same run.
func benchBrokers(b *testing.B, fn func(b *testing.B, br testBroker)) {
	b.Run("broker=embedded", func(b *testing.B) { fn(b, startEmbedded(b, embeddedConfig())) })
	b.Run("broker=mosquitto", func(b *testing.B) { fn(b, startMosquitto(b)) })
}

// BenchmarkLatency: one 64-byte value at a time, publish to delivery in
// the subscriber's Inbox (one-way, both clients in this process, loopback).
func BenchmarkLatency(b *testing.B) {
	benchBrokers(b, func(b *testing.B, br testBroker) {
		pub, sub := benchPair(b, br, 0)
		payload := make([]byte, 64)
		lat := make([]time.Duration, 0, b.N)
		ctx := context.Background()
		b.ResetTimer()
		for i := range b.N {
			binary.BigEndian.PutUint64(payload, uint64(i))
			start := time.Now()
			if err := pub.Publish(ctx, payload); err != nil {
				b.Fatal(err)
			}
			for {
				select {
				case d := <-sub.Inbox():
					if binary.BigEndian.Uint64(d.Envelope) != uint64(i) {
						continue // a straggler of an earlier iteration
					}
				case <-time.After(5 * time.Second):
					b.Fatalf("value %d lost", i)
				}
				break
			}
			lat = append(lat, time.Since(start))
		}
		b.StopTimer()
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	})
}

// BenchmarkThroughput: 64-byte values pipelined with at most window in
// flight (so that neither the Inbox nor the broker drops), messages/s.
func BenchmarkThroughput(b *testing.B) {
	const window = 256
	benchBrokers(b, func(b *testing.B, br testBroker) {
		pub, sub := benchPair(b, br, 4*window)
		payload := make([]byte, 64)
		ctx := context.Background()
		got := 0
		b.ResetTimer()
		start := time.Now()
		for i := range b.N {
			for i-got >= window {
				select {
				case <-sub.Inbox():
					got++
				case <-time.After(5 * time.Second):
					b.Fatalf("stalled at %d/%d: %+v", got, i, sub.Stats())
				}
			}
			if err := pub.Publish(ctx, payload); err != nil {
				b.Fatal(err)
			}
		}
		for got < b.N {
			select {
			case <-sub.Inbox():
				got++
			case <-time.After(5 * time.Second):
				b.Fatalf("stalled at %d/%d: %+v", got, b.N, sub.Stats())
			}
		}
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
	})
}

func benchPair(b *testing.B, br testBroker, inboxCap int) (pub, sub agent.Fabric) {
	b.Helper()
	p := dial(b, clientConfig(br.URL(), 1))
	cfg := clientConfig(br.URL(), 2)
	cfg.InboxCapacity = inboxCap
	s := dial(b, cfg)
	b.Cleanup(func() { p.Close(); s.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Subscribe(ctx, []attest.MemberID{1}); err != nil {
		b.Fatal(err)
	}
	return p, s
}
