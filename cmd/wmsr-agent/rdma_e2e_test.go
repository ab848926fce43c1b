package main

import (
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Three processes with --fabric rdma and --rdma-listen agree over the
// mailbox fabric across hosts (on loopback, with the emulated-tcp
// provider: this machine has no RDMA device); a fourth asking for ibverbs
// finds no device and falls back to MQTT with a log line.
func TestRDMANetFabricEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs 4 processes")
	}
	clearEnv(t)
	const n = 3
	listen := make([]string, n)
	var peers []string
	for i := range n {
		listen[i] = freePort(t)
		peers = append(peers, strconv.Itoa(i+1)+"="+listen[i])
	}
	ps := newProcesses(t, "WMSR_TOKEN=rdma-token", "WMSR_INSECURE_TEST_FLEET=true", "WMSR_FLEET=rdmanet",
		"WMSR_FABRIC=rdma", "WMSR_RDMA_PEERS="+strings.Join(peers, ","))
	start, logs := ps.start, ps.logs
	metrics := make([]string, n)
	for i := range n {
		id := i + 1
		var ns []string
		for j := 1; j <= n; j++ {
			if j != id {
				ns = append(ns, strconv.Itoa(j))
			}
		}
		start("agent"+strconv.Itoa(id), "run", "--rdma-listen", listen[i], "--rdma-provider", "emulated-tcp",
			"--id", strconv.Itoa(id), "--neighbours", strings.Join(ns, ","), "--f", "0", "--period", "50ms",
			"--initial", strconv.Itoa(10*id), "--metrics", "127.0.0.1:0")
	}
	for i := range n {
		metrics[i] = metricsAddr(t, logs["agent"+strconv.Itoa(i+1)])
	}
	start("ibverbs", "run", "--rdma-listen", "127.0.0.1:0", "--id", "9", "--neighbours", "1", "--f", "0",
		"--period", "50ms", "--broker-listen", "127.0.0.1:0")
	waitAgree(t, metrics, 10, 30)
	if !strings.Contains(logs["agent1"].String(), `fabric="rdma emulated-tcp `) || !strings.Contains(logs["agent1"].String(), "NOT RDMA") {
		t.Fatal("agent 1 does not report the emulated provider")
	}
	deadline := time.Now().Add(10 * time.Second)
	for l := logs["ibverbs"].String(); !strings.Contains(l, "falling back to mqtt") || !strings.Contains(l, "embedded broker started"); l = logs["ibverbs"].String() {
		if time.Now().After(deadline) {
			t.Fatal("the ibverbs agent did not fall back to mqtt")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitAgree waits until every agent ran 20 rounds and all values agree
// within 1e-6, inside [lo, hi].
func waitAgree(t *testing.T, metrics []string, lo, hi float64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		mn, mx, ok := math.Inf(1), math.Inf(-1), true
		for _, m := range metrics {
			v, r, err := scrape(m)
			if err != nil || math.IsNaN(r) || r < 20 {
				ok = false
				break
			}
			mn, mx = min(mn, v), max(mx, v)
		}
		if ok && mx-mn < 1e-6 {
			if mn < lo || mx > hi {
				t.Fatalf("agreed on %v, outside the initial values [%v, %v]", mn, lo, hi)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no agreement within 20 s (last spread %v)", mx-mn)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Three processes with --fabric rdma agree over shared-memory mailboxes,
// with no broker at all; a fourth whose mailbox directory cannot be
// created falls back to MQTT (its embedded broker) and says so.
func TestRDMAFabricEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs 4 processes")
	}
	clearEnv(t)
	tmp := t.TempDir()
	shm := tmp
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if shm, err = os.MkdirTemp("/dev/shm", "wmsr-e2e-"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(shm) })
	}
	ps := newProcesses(t, "WMSR_TOKEN=rdma-token", "WMSR_INSECURE_TEST_FLEET=true", "WMSR_FLEET=rdmae2e")
	start, logs := ps.start, ps.logs
	const n = 3
	metrics := make([]string, n)
	for i := range n {
		id := i + 1
		var ns []string
		for j := 1; j <= n; j++ {
			if j != id {
				ns = append(ns, strconv.Itoa(j))
			}
		}
		start("agent"+strconv.Itoa(id), "run", "--fabric", "rdma", "--rdma-dir", shm, "--id", strconv.Itoa(id),
			"--neighbours", strings.Join(ns, ","), "--f", "0", "--period", "50ms", "--initial", strconv.Itoa(10*id),
			"--metrics", "127.0.0.1:0")
	}
	for i := range n {
		metrics[i] = metricsAddr(t, logs["agent"+strconv.Itoa(i+1)])
	}
	// A mailbox directory below a regular file cannot exist.
	notDir := filepath.Join(tmp, "file")
	os.WriteFile(notDir, nil, 0o600)
	start("fallback", "run", "--fabric", "rdma", "--rdma-dir", filepath.Join(notDir, "x"), "--id", "9",
		"--neighbours", "1", "--f", "0", "--period", "50ms", "--broker-listen", "127.0.0.1:0")

	waitAgree(t, metrics, 10, 30)
	if !strings.Contains(logs["agent1"].String(), `fabric="rdma shm `) {
		t.Fatal("agent 1 does not report running on the rdma fabric")
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs["fallback"].String(), "falling back to mqtt") || !strings.Contains(logs["fallback"].String(), "embedded broker started") {
		if time.Now().After(deadline) {
			t.Fatal("the agent without a usable mailbox directory did not fall back to mqtt")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
