package mqttfabric_test

import (
	"context"
	"testing"
	"time"

	"github.com/wmsr/wmsr/agent"
	"github.com/wmsr/wmsr/agent/fabrictest"
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
		fabrictest.BenchLatency(b, pub, sub)
	})
}

// BenchmarkThroughput: 64-byte values pipelined, messages/s.
func BenchmarkThroughput(b *testing.B) {
	benchBrokers(b, func(b *testing.B, br testBroker) {
		pub, sub := benchPair(b, br, 4*fabrictest.BenchWindow)
		fabrictest.BenchThroughput(b, pub, sub)
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
