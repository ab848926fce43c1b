package mqttfabric_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/wmsr/wmsr/agent"
	"github.com/wmsr/wmsr/agent/broker"
	"github.com/wmsr/wmsr/agent/mqttfabric"
	"github.com/wmsr/wmsr/agent/mqtttest"
	"github.com/wmsr/wmsr/agent/mqtttopic"
	"github.com/wmsr/wmsr/attest"
)

const fleet = "test"

// password is the per-agent password every test agent uses, so the same
// clients run against the embedded broker and mosquitto.
func password(id attest.MemberID) []byte { return []byte("pw-" + mqtttopic.Agent(id)) }

// testBroker is a broker the tests can restart on the same address.
type testBroker interface {
	URL() string
	Restart(t testing.TB)
	Close()
}

// embedded runs agent/broker on a loopback port.
type embedded struct {
	cfg  broker.Config
	b    *broker.Broker
	addr string
}

func startEmbedded(t testing.TB, cfg broker.Config) *embedded {
	t.Helper()
	e := &embedded{cfg: cfg}
	e.start(t, "127.0.0.1:0")
	t.Cleanup(e.Close)
	return e
}

func embeddedConfig() broker.Config {
	cfg := broker.DefaultConfig()
	cfg.Fleet = fleet
	// Per-agent passwords for every agent a test may use: "pw-<id>".
	cfg.Passwords = map[string][]byte{}
	for id := attest.MemberID(1); id < 1000; id++ {
		cfg.Passwords[mqtttopic.Agent(id)] = password(id)
	}
	return cfg
}

func (e *embedded) start(t testing.TB, addr string) {
	t.Helper()
	b, err := broker.New(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	// The port of a just-closed listener is normally free at once
	// (SO_REUSEADDR); retry briefly anyway.
	deadline := time.Now().Add(5 * time.Second)
	for {
		e.addr, err = b.Start(context.Background(), addr)
		if err == nil || time.Now().After(deadline) {
			break
		}
		b, _ = broker.New(e.cfg)
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("start broker on %s: %v", addr, err)
	}
	e.b = b
}

func (e *embedded) URL() string {
	if e.cfg.TLS != nil {
		return "ssl://" + e.addr
	}
	return "tcp://" + e.addr
}

func (e *embedded) Restart(t testing.TB) {
	_ = e.b.Close()
	e.start(t, e.addr)
}

func (e *embedded) Close() { _ = e.b.Close() }

// startMosquitto runs mosquitto with the same credentials and ACL as the
// embedded broker.
func startMosquitto(t testing.TB) *mqtttest.Mosquitto {
	t.Helper()
	users := map[string][]byte{}
	for id := attest.MemberID(1); id < 1000; id++ {
		users[mqtttopic.Agent(id)] = password(id)
	}
	return mqtttest.StartMosquitto(t, fleet, users)
}

func freeAddr(t testing.TB) string { return mqtttest.FreeAddr(t) }

func write(t testing.TB, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// clientConfig is the fabric configuration the tests use: short timeouts
// so that a broken case fails fast.
func clientConfig(url string, id attest.MemberID) mqttfabric.Config {
	cfg := mqttfabric.DefaultConfig()
	cfg.Brokers = []string{url}
	cfg.Fleet = fleet
	cfg.ID = id
	cfg.Password = password(id)
	cfg.ConnectTimeout = 2 * time.Second
	cfg.MaxReconnectInterval = 200 * time.Millisecond
	return cfg
}

func dial(t testing.TB, cfg mqttfabric.Config) *mqttfabric.Fabric {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	f, err := mqttfabric.Dial(ctx, cfg)
	if err != nil {
		t.Fatalf("Dial %d: %v", cfg.ID, err)
	}
	return f
}

// newFabric adapts a broker to fabrictest.Harness.New.
func newFabric(b testBroker) func(t testing.TB, id attest.MemberID, inboxCap int) agent.Fabric {
	return func(t testing.TB, id attest.MemberID, inboxCap int) agent.Fabric {
		cfg := clientConfig(b.URL(), id)
		cfg.InboxCapacity = inboxCap
		return dial(t, cfg)
	}
}
