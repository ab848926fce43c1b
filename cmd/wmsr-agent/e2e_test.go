package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// scrape returns the value and rounds_total gauges of an agent.
func scrape(addr string) (value, rounds float64, err error) {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	value, rounds = math.NaN(), math.NaN()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 {
			continue
		}
		x, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "wmsr_agent_value":
			value = x
		case "wmsr_agent_rounds_total":
			rounds = x
		}
	}
	return value, rounds, sc.Err()
}

func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs 5 processes")
	}
	clearEnv(t)
	ps := newProcesses(t, "WMSR_TOKEN=e2e-token")
	start, logs := ps.start, ps.logs

	brokerAddr := freePort(t)
	start("broker", "broker", "--listen", brokerAddr, "--fleet", "e2e")
	waitListening(t, brokerAddr)

	const n = 4
	metrics := make([]string, n)
	agents := make([]*exec.Cmd, n)
	for i := range n {
		id := i + 1
		var ns []string
		for j := 1; j <= n; j++ {
			if j != id {
				ns = append(ns, strconv.Itoa(j))
			}
		}
		agents[i] = start(fmt.Sprintf("agent%d", id), "run", "--insecure-test-fleet",
			"--id", strconv.Itoa(id), "--neighbours", strings.Join(ns, ","),
			"--fleet", "e2e", "--broker", "tcp://"+brokerAddr, "--f", "1", "--period", "100ms",
			"--delay", "2", "--initial", strconv.Itoa(10*id), "--metrics", "127.0.0.1:0", "--log-level", "info")
	}
	for i := range n {
		metrics[i] = metricsAddr(t, logs[fmt.Sprintf("agent%d", i+1)])
	}

	// Wait for ~30 rounds on every agent after all are up.
	var base [n]float64
	deadline := time.Now().Add(15 * time.Second)
	for i := range n {
		for {
			_, r, err := scrape(metrics[i])
			if err == nil && !math.IsNaN(r) {
				base[i] = r
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("agent %d: no metrics: %v", i+1, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	deadline = time.Now().Add(15 * time.Second)
	for {
		done := true
		for i := range n {
			_, r, err := scrape(metrics[i])
			if err != nil || r < base[i]+30 {
				done = false
			}
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("rounds did not advance by 30 on every agent")
		}
		time.Sleep(200 * time.Millisecond)
	}
	var vals [n]float64
	lo, hi := math.Inf(1), math.Inf(-1)
	for i := range n {
		v, r, err := scrape(metrics[i])
		if err != nil {
			t.Fatal(err)
		}
		vals[i] = v
		lo, hi = min(lo, v), max(hi, v)
		t.Logf("agent %d: value %.6f after %v rounds", i+1, v, r)
	}
	if hi-lo > 0.05 {
		t.Fatalf("values disagree by %v > 0.05: %v", hi-lo, vals)
	}
	if lo < 10 || hi > 40 {
		t.Fatalf("values %v left the hull of the initial values [10, 40]", vals)
	}
	// /readyz and graceful shutdown on SIGTERM.
	resp, err := http.Get("http://" + metrics[0] + "/readyz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("readyz: %v %v", resp, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err := agents[0].Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- agents[0].Wait() }()
	select {
	case err := <-waited:
		if err != nil {
			t.Fatalf("agent 1 after SIGTERM: %v", err)
		}
		ps.waited("agent1")
	case <-time.After(5 * time.Second):
		t.Fatal("agent 1 did not stop within 5 s of SIGTERM")
	}
}

// metricsAddrRE finds the metrics address an agent logs at start-up.
var metricsAddrRE = regexp.MustCompile(`msg="metrics listening".* addr=(127\.0\.0\.1:[0-9]+)`)

// metricsAddr waits for an agent started with --metrics 127.0.0.1:0 to log
// the address it bound: a port picked free beforehand could be taken by
// another test process before the agent binds it.
func metricsAddr(t *testing.T, log *syncBuf) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if m := metricsAddrRE.FindStringSubmatch(log.String()); m != nil {
			return m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no metrics address logged:\n%s", log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// processes runs wmsr-agent processes for an end-to-end test, built once
// for it: each one's output is kept (logs, by name), every process is
// killed when the test ends, and on failure every log is printed.
type processes struct {
	t    *testing.T
	bin  string
	env  []string
	cmds map[string]*exec.Cmd
	logs map[string]*syncBuf
}

func newProcesses(t *testing.T, env ...string) *processes {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "wmsr-agent")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	p := &processes{t: t, bin: bin, env: env, cmds: map[string]*exec.Cmd{}, logs: map[string]*syncBuf{}}
	t.Cleanup(func() {
		for _, c := range p.cmds {
			_ = c.Process.Kill()
			_ = c.Wait()
		}
		if t.Failed() {
			for n, b := range p.logs {
				t.Logf("--- %s ---\n%s", n, b.String())
			}
		}
	})
	return p
}

// start starts the binary with args under name.
func (p *processes) start(name string, args ...string) *exec.Cmd {
	p.t.Helper()
	cmd := exec.Command(p.bin, args...)
	buf := &syncBuf{}
	cmd.Stdout, cmd.Stderr = buf, buf
	cmd.Env = append(os.Environ(), p.env...)
	if err := cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	p.cmds[name], p.logs[name] = cmd, buf
	return cmd
}

// waited drops a process the test already waited for from the clean-up.
func (p *processes) waited(name string) { delete(p.cmds, name) }

// waitListening waits until something accepts TCP connections on addr.
func waitListening(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on %s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
