// Package mqtttest runs a real mosquitto broker for tests and benchmarks,
// as attest/attesttest provides fleets: the MQTT fabric's conformance
// suite, the fabric benchmarks and wmsr-agent's multi-process fault tests
// all run against the embedded broker and against mosquitto, the external
// broker CI installs.
package mqtttest

import (
	"crypto/rand"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wmsr/wmsr/agent/mqtttopic"
)

// Mosquitto is a mosquitto process on a loopback port, with a password
// file and the ACL of agent/broker: an agent may publish only under its
// own topic, and read the whole fleet.
type Mosquitto struct {
	dir, conf, addr, bin string
	cmd                  *exec.Cmd
}

// StartMosquitto starts mosquitto for fleet with users (agent name →
// password). It skips the test when the binary is missing, except under
// CI (CI set), where .ci/run installs it and a missing binary is a broken
// set-up. The broker is stopped by t.Cleanup.
func StartMosquitto(t testing.TB, fleet string, users map[string][]byte) *Mosquitto {
	t.Helper()
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/mosquitto"); serr == nil {
			bin, err = "/usr/sbin/mosquitto", nil
		}
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("mosquitto binary not found in PATH under CI")
		}
		t.Skip("mosquitto binary not found in PATH: skipping (apt-get install -y mosquitto)")
	}
	m := &Mosquitto{dir: t.TempDir(), addr: FreeAddr(t), bin: bin}
	names := make([]string, 0, len(users))
	for u := range users {
		names = append(names, u)
	}
	sort.Strings(names)
	var pw strings.Builder
	for _, u := range names {
		fmt.Fprintf(&pw, "%s:%s\n", u, hash(users[u]))
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
		// Without it every small value waits for Nagle's algorithm (QoS 1
		// p99 near 47 ms).
		"set_tcp_nodelay true",
		"persistence false",
		"max_queued_messages 10000",
		"log_dest file " + filepath.Join(m.dir, "mosquitto.log"),
		// Started as root, mosquitto would switch to user "mosquitto",
		// which cannot read the test's private temporary directory.
		"user " + currentUser(),
		"",
	}, "\n"))
	m.start(t)
	t.Cleanup(m.Close)
	return m
}

// hash is mosquitto's "$6$" password format: SHA-512 over password then
// salt, both base64 encoded.
func hash(pw []byte) string {
	salt := make([]byte, 12)
	_, _ = rand.Read(salt)
	h := sha512.Sum512(append(append([]byte(nil), pw...), salt...))
	return "$6$" + base64.StdEncoding.EncodeToString(salt) + "$" + base64.StdEncoding.EncodeToString(h[:])
}

func (m *Mosquitto) start(t testing.TB) {
	t.Helper()
	m.cmd = exec.Command(m.bin, "-c", m.conf)
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
			t.Fatalf("mosquitto did not listen on %s: %v\n%s", m.addr, err, m.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// URL is the broker's tcp:// URL.
func (m *Mosquitto) URL() string { return "tcp://" + m.addr }

// Addr is the broker's host:port.
func (m *Mosquitto) Addr() string { return m.addr }

// Log returns what mosquitto logged so far.
func (m *Mosquitto) Log() string {
	b, _ := os.ReadFile(filepath.Join(m.dir, "mosquitto.log"))
	return string(b)
}

// Restart stops the broker gracefully and starts it again on the same
// address (clients must reconnect and resubscribe: persistence is off).
func (m *Mosquitto) Restart(t testing.TB) {
	m.Close()
	m.start(t)
}

// Kill stops the broker with SIGKILL, as a crash would.
func (m *Mosquitto) Kill() {
	if m.cmd == nil || m.cmd.Process == nil {
		return
	}
	_ = m.cmd.Process.Kill()
	_ = m.cmd.Wait()
	m.cmd = nil
}

// Start starts a stopped (Close, Kill) broker again on the same address.
func (m *Mosquitto) Start(t testing.TB) { m.start(t) }

// Close stops the broker (SIGTERM, then SIGKILL after 5 s). It is
// idempotent.
func (m *Mosquitto) Close() {
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

// FreeAddr returns a loopback host:port that was free a moment ago.
func FreeAddr(t testing.TB) string {
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
