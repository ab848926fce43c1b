package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Three agent processes with --suite hmac (pairwise HMAC bundles, the
// out-neighbours taken from the topology file) agree over a broker
// process; without a topology, hmac is refused as a usage error.
func TestHMACEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs 4 processes")
	}
	clearEnv(t)
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "wmsr-agent")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	topo := filepath.Join(tmp, "k3.txt")
	if err := os.WriteFile(topo, []byte("# K3\n3 6\n0 1\n1 0\n0 2\n2 0\n1 2\n2 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var procs []*exec.Cmd
	logs := map[string]*syncBuf{}
	start := func(name string, args ...string) {
		cmd := exec.Command(bin, args...)
		buf := &syncBuf{}
		cmd.Stdout, cmd.Stderr = buf, buf
		cmd.Env = append(os.Environ(), "WMSR_TOKEN=hmac-token", "WMSR_INSECURE_TEST_FLEET=true", "WMSR_FLEET=hmace2e")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		procs = append(procs, cmd)
		logs[name] = buf
	}
	t.Cleanup(func() {
		for _, p := range procs {
			_ = p.Process.Kill()
			_ = p.Wait()
		}
		if t.Failed() {
			for n, b := range logs {
				t.Logf("--- %s ---\n%s", n, b.String())
			}
		}
	})
	brokerAddr := freePort(t)
	start("broker", "broker", "--listen", brokerAddr, "--fleet", "hmace2e")
	waitListening(t, brokerAddr)
	metrics := make([]string, 3)
	for i := range 3 {
		start("agent"+strconv.Itoa(i+1), "run", "--suite", "hmac", "--topology", topo, "--id", strconv.Itoa(i+1),
			"--broker", "tcp://"+brokerAddr, "--f", "0", "--period", "50ms", "--initial", strconv.Itoa(10*(i+1)),
			"--metrics", "127.0.0.1:0")
	}
	for i := range 3 {
		metrics[i] = metricsAddr(t, logs["agent"+strconv.Itoa(i+1)])
	}
	waitAgree(t, metrics, 10, 30)
	for i := range 3 {
		if l := logs["agent"+strconv.Itoa(i+1)].String(); !strings.Contains(l, "suite=hmac") {
			t.Fatalf("agent %d does not run with hmac:\n%s", i+1, l)
		}
	}

	code, _, errs := runT(t, "run", "--check-config", "--insecure-test-fleet", "--token", "x", "--id", "1",
		"--neighbours", "2", "--suite", "hmac")
	if code != exitUsage || !strings.Contains(errs, "invalid suite") {
		t.Fatalf("hmac without a topology: code %d, %q", code, errs)
	}
}

// waitListening waits until something accepts TCP connections on addr.
func waitListening(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := (&netDialer).Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on %s", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var netDialer = net.Dialer{Timeout: 200 * time.Millisecond}
