package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
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
	topo := filepath.Join(tmp, "k3.txt")
	if err := os.WriteFile(topo, []byte("# K3\n3 6\n0 1\n1 0\n0 2\n2 0\n1 2\n2 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ps := newProcesses(t, "WMSR_TOKEN=hmac-token", "WMSR_INSECURE_TEST_FLEET=true", "WMSR_FLEET=hmace2e")
	start, logs := ps.start, ps.logs
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
