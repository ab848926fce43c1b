package rdmafabric_test

import (
	"context"
	"testing"
	"time"

	"github.com/wmsr/wmsr/agent"
	"github.com/wmsr/wmsr/agent/broker"
	"github.com/wmsr/wmsr/agent/fabrictest"
	"github.com/wmsr/wmsr/agent/mqttfabric"
	"github.com/wmsr/wmsr/agent/mqtttest"
	"github.com/wmsr/wmsr/agent/mqtttopic"
	"github.com/wmsr/wmsr/agent/rdmafabric"
	"github.com/wmsr/wmsr/attest"
	"github.com/wmsr/wmsr/rdma"
	"github.com/wmsr/wmsr/rdma/rdmatest"
)

// The benchmarks compare, in one run, the shm mailbox fabric, the
// networked mailbox fabric over the EmulatedTCP provider (loopback TCP,
// not RDMA) and the MQTT fabric over the embedded broker and over
// mosquitto on loopback (all agent.Fabric, both clients in this process,
// 64-byte values). The bare ring between two
// processes is benchmarked in rdma.
//
//	go test -run '^$' -bench . -benchtime 20000x ./agent/rdmafabric/

type pairFunc func(b *testing.B, inboxCap int) (pub, sub agent.Fabric)

func fabrics(b *testing.B, fn func(b *testing.B, pair pairFunc)) {
	b.Run("fabric=shm", func(b *testing.B) { fn(b, shmPair) })
	b.Run("fabric=net-emulated-tcp", func(b *testing.B) { fn(b, netPair) })
	b.Run("fabric=mqtt-embedded", func(b *testing.B) { fn(b, mqttPair) })
	b.Run("fabric=mqtt-mosquitto", func(b *testing.B) { fn(b, mosquittoPair) })
}

func shmPair(b *testing.B, inboxCap int) (pub, sub agent.Fabric) {
	dir := testDir(b)
	p := newFabric(b, dir, 1, 0, rdma.Layout{})
	s := newFabric(b, dir, 2, inboxCap, rdma.Layout{})
	b.Cleanup(func() { p.Close(); s.Close() })
	if err := s.Subscribe(context.Background(), []attest.MemberID{1}); err != nil {
		b.Fatal(err)
	}
	return p, s
}

// netPair: the networked mailbox fabric over the EmulatedTCP provider on
// loopback (not RDMA: every frame crosses two sockets), without proxies.
func netPair(b *testing.B, inboxCap int) (pub, sub agent.Fabric) {
	dir := rdmatest.NewDirectory()
	open := func(id attest.MemberID, inboxCap int) *rdmafabric.Fabric {
		f, err := rdmafabric.NewNet(rdma.NetConfig{ID: id, Provider: rdma.EmulatedTCP{}, Listen: "127.0.0.1:0", Peers: dir}, inboxCap)
		if err != nil {
			b.Fatal(err)
		}
		dir.Set(id, f.ListenAddr())
		b.Cleanup(func() { f.Close() })
		return f
	}
	p, s := open(1, 0), open(2, inboxCap)
	if err := s.Subscribe(context.Background(), []attest.MemberID{1}); err != nil {
		b.Fatal(err)
	}
	return p, s
}

const benchFleet = "bench"

func benchPassword(id attest.MemberID) []byte { return []byte("pw-" + mqtttopic.Agent(id)) }

func mosquittoPair(b *testing.B, inboxCap int) (pub, sub agent.Fabric) {
	m := mqtttest.StartMosquitto(b, benchFleet, map[string][]byte{
		mqtttopic.Agent(1): benchPassword(1), mqtttopic.Agent(2): benchPassword(2)})
	return dialPair(b, m.URL(), inboxCap)
}

func mqttPair(b *testing.B, inboxCap int) (pub, sub agent.Fabric) {
	const fleet = benchFleet
	pw := benchPassword
	cfg := broker.DefaultConfig()
	cfg.Fleet = fleet
	cfg.Passwords = map[string][]byte{mqtttopic.Agent(1): pw(1), mqtttopic.Agent(2): pw(2)}
	br, err := broker.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	// The broker lives as long as its Start context: not a timeout one.
	addr, err := br.Start(context.Background(), "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { br.Close() })
	return dialPair(b, "tcp://"+addr, inboxCap)
}

// dialPair connects publisher 1 and subscriber 2 to the broker at url.
func dialPair(b *testing.B, url string, inboxCap int) (pub, sub agent.Fabric) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dial := func(id attest.MemberID, inboxCap int) *mqttfabric.Fabric {
		c := mqttfabric.DefaultConfig()
		c.Brokers = []string{url}
		c.Fleet = benchFleet
		c.ID = id
		c.Password = benchPassword(id)
		c.InboxCapacity = inboxCap
		f, err := mqttfabric.Dial(ctx, c)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { f.Close() })
		return f
	}
	p, s := dial(1, 0), dial(2, inboxCap)
	if err := s.Subscribe(ctx, []attest.MemberID{1}); err != nil {
		b.Fatal(err)
	}
	return p, s
}

// BenchmarkLatency: one 64-byte value at a time, Publish to delivery in
// the subscriber's Inbox (one way).
func BenchmarkLatency(b *testing.B) {
	fabrics(b, func(b *testing.B, pair pairFunc) {
		pub, sub := pair(b, 0)
		fabrictest.BenchLatency(b, pub, sub)
	})
}

// BenchmarkThroughput: 64-byte values pipelined, messages/s.
func BenchmarkThroughput(b *testing.B) {
	fabrics(b, func(b *testing.B, pair pairFunc) {
		pub, sub := pair(b, 4*fabrictest.BenchWindow)
		fabrictest.BenchThroughput(b, pub, sub)
	})
}
