package mqttfabric_test

import (
	"context"
	"crypto/rand"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wmsr/wmsr/agent"
	"github.com/wmsr/wmsr/agent/broker"
	"github.com/wmsr/wmsr/agent/mqttfabric"
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

// mosquitto runs the mosquitto binary on a free loopback port with the
// same credentials and ACL as the embedded broker.
type mosquitto struct {
	dir, conf, addr string
	cmd             *exec.Cmd
}

func startMosquitto(t testing.TB) *mosquitto {
	t.Helper()
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		if os.Getenv("CI") != "" {
			// .ci/run installs mosquitto: in CI a missing binary is a broken
			// setup, not a reason to pass without the real broker.
			t.Fatal("mosquitto binary not found in PATH under CI")
		}
		t.Skip("mosquitto binary not found in PATH: skipping the mosquitto suite (apt-get install -y mosquitto)")
	}
	m := &mosquitto{dir: t.TempDir(), addr: freeAddr(t)}
	var pw strings.Builder
	for id := attest.MemberID(1); id < 1000; id++ {
		fmt.Fprintf(&pw, "%s:%s\n", mqtttopic.Agent(id), mosquittoHash(password(id)))
	}
	write(t, filepath.Join(m.dir, "passwd"), pw.String())
	write(t, filepath.Join(m.dir, "acl"), fmt.Sprintf(
		"pattern write %[1]s/%[2]s/%%u/#\npattern read %[1]s/%[2]s/#\n", mqtttopic.Root, fleet))
	_, port, _ := net.SplitHostPort(m.addr)
	m.conf = filepath.Join(m.dir, "mosquitto.conf")
	write(t, m.conf, strings.Join([]string{
		"listener " + port + " 127.0.0.1",
		"allow_anonymous false",
		"password_file " + filepath.Join(m.dir, "passwd"),
		"acl_file " + filepath.Join(m.dir, "acl"),
		// Without it every small value waits for Nagle's algorithm.
		"set_tcp_nodelay true",
		"persistence false",
		"max_queued_messages 10000",
		"log_dest file " + filepath.Join(m.dir, "mosquitto.log"),
		// Started as root, mosquitto would switch to user "mosquitto",
		// which cannot read the test's private temporary directory.
		"user " + currentUser(),
		"",
	}, "\n"))
	m.start(t, bin)
	t.Cleanup(m.Close)
	return m
}

// mosquittoHash is mosquitto's "$6$" password format: SHA-512 over
// password then salt, both base64 encoded.
func mosquittoHash(pw []byte) string {
	salt := make([]byte, 12)
	_, _ = rand.Read(salt)
	h := sha512.Sum512(append(append([]byte(nil), pw...), salt...))
	return "$6$" + base64.StdEncoding.EncodeToString(salt) + "$" + base64.StdEncoding.EncodeToString(h[:])
}

func (m *mosquitto) start(t testing.TB, bin string) {
	t.Helper()
	m.cmd = exec.Command(bin, "-c", m.conf)
	// Its stderr (a warning about running as root) goes with the log.
	if f, err := os.OpenFile(filepath.Join(m.dir, "stderr"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600); err == nil {
		m.cmd.Stderr = f
		t.Cleanup(func() { f.Close() })
	}
	if err := m.cmd.Start(); err != nil {
		t.Fatalf("start mosquitto: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", m.addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(m.dir, "mosquitto.log"))
			t.Fatalf("mosquitto did not listen on %s: %v\n%s", m.addr, err, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (m *mosquitto) URL() string { return "tcp://" + m.addr }

func (m *mosquitto) Restart(t testing.TB) {
	bin := m.cmd.Path
	m.Close()
	m.start(t, bin)
}

func (m *mosquitto) Close() {
	if m.cmd == nil || m.cmd.Process == nil {
		return
	}
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = m.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = m.cmd.Process.Kill()
		<-done
	}
	m.cmd = nil
}

func currentUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "root"
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

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
