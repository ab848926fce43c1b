package main

// The harness of the multi-process fault tests (fault_test.go,
// attacker_test.go): it builds wmsr-agent once per package run, issues real
// identities with "wmsr-agent keygen" from one fleet CA, runs a broker
// ("wmsr-agent broker" or mosquitto) and N agents on loopback, scrapes their
// /metrics, and checks safety all along.

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/wmsr/wmsr/agent/mqtttest"
	"github.com/wmsr/wmsr/agent/mqtttopic"
	"github.com/wmsr/wmsr/attest"
)

const (
	// faultPeriod is the round period of every fault-test fleet.
	faultPeriod = 100 * time.Millisecond
	// faultEps is the agreement the fleets must reach (initial values span
	// tens).
	faultEps = 0.05
	// faultToken is the fleet token (MQTT password of every agent).
	faultToken = "fault-token"
	// tapUser is the MQTT username of the test's own observer clients.
	tapUser = "999"
	// roleEnv re-executes the test binary as another process (attacker).
	roleEnv = "WMSR_TEST_ROLE"
)

func TestMain(m *testing.M) {
	if os.Getenv(roleEnv) == "attacker" {
		os.Exit(attackerMain())
	}
	code := m.Run()
	if faultBuild.dir != "" {
		os.RemoveAll(faultBuild.dir)
	}
	os.Exit(code)
}

// faultBuild is the wmsr-agent binary (plain go build, no -race), its
// SHA-256, and the fleet CA, shared by every fault test of the run.
var faultBuild struct {
	once   sync.Once
	err    error
	dir    string
	bin    string
	hash   string // hex SHA-256 of bin
	ca     string // CA private key file
	policy string // admission policy: the CA and bin
}

// faultSetup skips in -short mode and builds the binary and CA once.
func faultSetup(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds wmsr-agent and runs fleets of processes")
	}
	faultBuild.once.Do(func() { faultBuild.err = buildFaultBinary() })
	if faultBuild.err != nil {
		t.Fatal(faultBuild.err)
	}
}

func buildFaultBinary() error {
	dir, err := os.MkdirTemp("", "wmsr-fault-")
	if err != nil {
		return err
	}
	faultBuild.dir = dir
	bin := filepath.Join(dir, "wmsr-agent")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(b)
	// The fleet CA and the admission policy (this CA, this binary), as an
	// operator makes them.
	ca, policy := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "policy.json")
	if out, err := exec.Command(bin, "keygen", "--ca-out", ca, "--policy-out", policy).CombinedOutput(); err != nil {
		return fmt.Errorf("keygen --ca-out: %v\n%s", err, out)
	}
	faultBuild.bin, faultBuild.hash = bin, hex.EncodeToString(sum[:])
	faultBuild.ca, faultBuild.policy = ca, policy
	return nil
}

// forEachBroker runs fn as sub-tests broker=embedded and broker=mosquitto.
func forEachBroker(t *testing.T, fn func(t *testing.T, kind string)) {
	faultSetup(t)
	for _, kind := range []string{"embedded", "mosquitto"} {
		t.Run("broker="+kind, func(t *testing.T) { fn(t, kind) })
	}
}

// lockedBuf is a goroutine-safe log buffer.
type lockedBuf struct {
	mu sync.Mutex
	b  []byte
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b = append(l.b, p...)
	return len(p), nil
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.b)
}

// proc is one child process.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  *lockedBuf
	done chan struct{} // closed when the process has exited
	err  error         // Wait's result, valid after done
}

// kill sends SIGKILL and waits for the exit.
func (p *proc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// fleet is one test's processes: a broker and agents, all on loopback.
type fleet struct {
	t      *testing.T
	name   string // fleet name
	dir    string
	policy string

	mu    sync.Mutex
	procs []*proc

	broker     *faultBroker
	seedGossip string // gossip address of agent 1, which the others join
	agents     map[int]*agentProc
	mon        *safetyMonitor
	agentArgs  []string // appended to every agent's command line
}

// agentProc is one agent: its configuration and its current process.
type agentProc struct {
	id         int
	neighbours []int
	initial    float64
	brokerURL  string
	metrics    string // host:port
	idDir      string
	starts     int
	portRetry  int // starts that lost a free port to another process
	proc       *proc
}

// newFleet starts a broker of the given kind ("embedded" or "mosquitto";
// the test is skipped if mosquitto is not installed). Every process is
// killed when the test ends, and on failure every log is dumped.
func newFleet(t *testing.T, kind string) *fleet {
	t.Helper()
	clearFaultEnv(t)
	f := &fleet{t: t, dir: t.TempDir(), agents: map[int]*agentProc{}, policy: faultBuild.policy}
	f.name = "fault-" + strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	f.broker = &faultBroker{f: f, kind: kind}
	switch kind {
	case "embedded":
		f.broker.addr = mqtttest.FreeAddr(t)
	case "mosquitto":
		users := map[string][]byte{tapUser: []byte(faultToken)}
		for id := 1; id <= 20; id++ {
			users[strconv.Itoa(id)] = []byte(faultToken)
		}
		// Skips when mosquitto is not installed (fails under CI).
		f.broker.mosq = mqtttest.StartMosquitto(t, f.name, users)
		f.broker.addr = f.broker.mosq.Addr()
	default:
		t.Fatalf("unknown broker kind %q", kind)
	}
	// Registered after mosquitto's own cleanup, so it runs first: agents
	// stop before their broker.
	t.Cleanup(f.cleanup)
	if kind == "embedded" {
		f.broker.start()
	}
	return f
}

// clearFaultEnv keeps the test's WMSR_ environment away from the children.
func clearFaultEnv(t *testing.T) {
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "WMSR_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
}

func (f *fleet) cleanup() {
	if f.mon != nil && !f.mon.asserted {
		// The test ended early: still report what the monitor saw.
		f.assertSafe()
	}
	f.mu.Lock()
	procs := slices.Clone(f.procs)
	f.mu.Unlock()
	// Agents first, the broker last, so that the logs end with the test
	// rather than with every agent losing its broker.
	for i := len(procs) - 1; i >= 0; i-- {
		procs[i].kill()
	}
	if f.t.Failed() || os.Getenv("FAULT_TEST_LOGS") != "" {
		for _, p := range procs {
			f.t.Logf("--- log of %s (exit: %v) ---\n%s", p.name, p.err, tail(p.log.String(), 24<<10))
		}
		if m := f.broker.mosq; m != nil {
			f.t.Logf("--- mosquitto.log ---\n%s", tail(m.Log(), 16<<10))
		}
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "[...]\n" + s[len(s)-n:]
}

// start runs a child process with env (added to a WMSR_-free environment).
func (f *fleet) start(name, bin string, args, env []string) *proc {
	f.t.Helper()
	cmd := exec.Command(bin, args...)
	buf := &lockedBuf{}
	cmd.Stdout, cmd.Stderr = buf, buf
	cmd.Env = append(os.Environ(), env...)
	p := &proc{name: name, cmd: cmd, log: buf, done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		f.t.Fatalf("start %s: %v", name, err)
	}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	f.mu.Lock()
	f.procs = append(f.procs, p)
	f.mu.Unlock()
	return p
}

// faultBroker is the broker of a fleet, restartable on its address: a
// "wmsr-agent broker" process or mosquitto (agent/mqtttest).
type faultBroker struct {
	f    *fleet
	kind string
	addr string
	mosq *mqtttest.Mosquitto
	p    *proc // the embedded broker's process
	runs int
}

func (b *faultBroker) URL() string { return "tcp://" + b.addr }

// start runs the broker on its address and waits until it accepts
// connections (retrying if the port is not free yet after a kill).
func (b *faultBroker) start() {
	t := b.f.t
	t.Helper()
	if b.mosq != nil {
		b.mosq.Start(t)
		return
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		b.runs++
		b.p = b.f.start(fmt.Sprintf("broker#%d", b.runs), faultBuild.bin,
			[]string{"broker", "--listen", b.addr, "--fleet", b.f.name}, []string{"WMSR_TOKEN=" + faultToken})
		for !b.p.exited() && time.Now().Before(deadline) {
			c, err := net.DialTimeout("tcp", b.addr, 100*time.Millisecond)
			if err == nil {
				c.Close()
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		if time.Now().After(deadline) {
			t.Fatalf("embedded broker did not listen on %s within 10 s", b.addr)
		}
		time.Sleep(100 * time.Millisecond) // it exited (port busy?): retry
	}
}

// kill stops the broker with SIGKILL, as a crash would.
func (b *faultBroker) kill() {
	if b.mosq != nil {
		b.mosq.Kill()
		return
	}
	b.p.kill()
}

// addAgents issues identities (6 epochs each) for the given agents.
func (f *fleet) addAgents(specs ...agentProc) {
	f.t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, len(specs))
	for i := range specs {
		a := specs[i]
		a.metrics = mqtttest.FreeAddr(f.t)
		a.idDir = filepath.Join(f.dir, "id-"+strconv.Itoa(a.id))
		if a.brokerURL == "" {
			a.brokerURL = f.broker.URL()
		}
		f.agents[a.id] = &a
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			// Epochs for a kill-and-restart plus a few starts that lose
			// their free port to another process (see waitReady).
			errs[i] = keygenIdentity(a.id, a.idDir, 6)
		}(i)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			f.t.Fatal(err)
		}
	}
}

func keygenIdentity(id int, dir string, epochs int) error {
	out, err := exec.Command(faultBuild.bin, "keygen", "--id", strconv.Itoa(id), "--epochs", strconv.Itoa(epochs),
		"--ca", faultBuild.ca, "--out", dir).CombinedOutput()
	if err != nil {
		return fmt.Errorf("keygen --id %d: %v\n%s", id, err, out)
	}
	return nil
}

// completeGraph returns agent specs 1..n, everyone everyone's neighbour
// (plus extra, e.g. an attacker), with the given initial values.
func completeGraph(initial []float64, extra ...int) []agentProc {
	n := len(initial)
	var out []agentProc
	for id := 1; id <= n; id++ {
		var ns []int
		for j := 1; j <= n; j++ {
			if j != id {
				ns = append(ns, j)
			}
		}
		out = append(out, agentProc{id: id, neighbours: append(ns, extra...), initial: initial[id-1]})
	}
	return out
}

// startAgent (re)starts agent id: the next unused epoch of its identity.
func (f *fleet) startAgent(id int) {
	f.t.Helper()
	a := f.agents[id]
	a.starts++
	ns := make([]string, len(a.neighbours))
	for i, n := range a.neighbours {
		ns[i] = strconv.Itoa(n)
	}
	args := []string{"run", "--id", strconv.Itoa(id), "--neighbours", strings.Join(ns, ","),
		"--broker", a.brokerURL, "--initial", strconv.FormatFloat(a.initial, 'g', -1, 64),
		"--metrics", a.metrics, "--period", faultPeriod.String(), "--log-level", "info"}
	args = append(args, f.agentArgs...)
	if id == 1 {
		if f.seedGossip == "" {
			f.seedGossip = mqtttest.FreeAddr(f.t)
		}
		args = append(args, "--gossip-bind", f.seedGossip)
	} else {
		args = append(args, "--gossip-bind", "127.0.0.1:0", "--gossip-join", f.seedGossip)
	}
	env := []string{"WMSR_TOKEN=" + faultToken, "WMSR_IDENTITY_DIR=" + a.idDir, "WMSR_POLICY=" + f.policy,
		"WMSR_GOSSIP_PROFILE=local", "WMSR_FLEET=" + f.name}
	a.proc = f.start(fmt.Sprintf("agent%d#%d", id, a.starts), faultBuild.bin, args, env)
}

// startAll starts agent 1 (the gossip seed), waits until it is ready, then
// starts the others and waits until all are ready.
func (f *fleet) startAll(ids ...int) {
	f.t.Helper()
	slices.Sort(ids)
	if ids[0] != 1 {
		f.t.Fatal("startAll: agent 1 is the gossip seed and must be started first")
	}
	f.startAgent(1)
	f.waitReady(1)
	for _, id := range ids[1:] {
		f.startAgent(id)
	}
	f.waitReady(ids[1:]...)
}

// waitReady waits until /readyz answers 200 (fabric connected, node built).
func (f *fleet) waitReady(ids ...int) {
	f.t.Helper()
	f.waitFor(20*time.Second, fmt.Sprintf("agents %v ready", ids), func() (bool, string) {
		for _, id := range ids {
			a := f.agents[id]
			if a.proc.exited() {
				// A port picked free a moment ago can be taken by another
				// test process before the agent binds it: pick new ones.
				if strings.Contains(a.proc.log.String(), "address already in use") && a.portRetry < 3 {
					a.portRetry++
					a.metrics = mqtttest.FreeAddr(f.t)
					if id == 1 {
						f.seedGossip = mqtttest.FreeAddr(f.t)
					}
					f.startAgent(id)
					return false, fmt.Sprintf("agent %d: restarted on new ports", id)
				}
				f.t.Fatalf("agent %d exited: %v\n%s", id, a.proc.err, tail(a.proc.log.String(), 8<<10))
			}
			if code := readyz(a.metrics); code != http.StatusOK {
				return false, fmt.Sprintf("agent %d: readyz %d", id, code)
			}
		}
		return true, ""
	})
}

var faultHTTP = &http.Client{Timeout: time.Second}

// readyz returns the status of /readyz, or 0 if unreachable.
func readyz(addr string) int {
	resp, err := faultHTTP.Get("http://" + addr + "/readyz")
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// waitFor polls cond every 50 ms until it holds, or fails the test after
// timeout with the last status cond reported.
func (f *fleet) waitFor(timeout time.Duration, what string, cond func() (bool, string)) {
	f.t.Helper()
	deadline := time.Now().Add(timeout)
	start := time.Now()
	for {
		ok, status := cond()
		if ok {
			f.t.Logf("%s after %v", what, time.Since(start).Round(10*time.Millisecond))
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("timed out after %v waiting for %s: %s", timeout, what, status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// promMetrics are one scrape: "name" or `name{label="v"}` → value.
type promMetrics map[string]float64

func scrapeMetrics(addr string) (promMetrics, error) {
	resp, err := faultHTTP.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("metrics: %s", resp.Status)
	}
	m := promMetrics{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		l := sc.Text()
		if !strings.HasPrefix(l, "wmsr_agent_") {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(l[i+1:], 64); err == nil {
			m[l[:i]] = v
		}
	}
	return m, sc.Err()
}

// get returns wmsr_agent_<name>, NaN if absent.
func (m promMetrics) get(name string) float64 {
	v, ok := m["wmsr_agent_"+name]
	if !ok {
		return math.NaN()
	}
	return v
}

func (m promMetrics) rejected(reason string) float64 {
	return m[`wmsr_agent_envelopes_rejected_total{reason="`+reason+`"}`]
}

// scrape scrapes the given agents; an unreachable agent has no entry.
func (f *fleet) scrape(ids ...int) map[int]promMetrics {
	out := map[int]promMetrics{}
	for _, id := range ids {
		if m, err := scrapeMetrics(f.agents[id].metrics); err == nil {
			out[id] = m
		}
	}
	return out
}

// waitMetrics polls until cond holds for every agent in ids.
func (f *fleet) waitMetrics(timeout time.Duration, what string, ids []int, cond func(id int, m promMetrics) (bool, string)) {
	f.t.Helper()
	f.waitFor(timeout, what, func() (bool, string) {
		ms := f.scrape(ids...)
		for _, id := range ids {
			m, ok := ms[id]
			if !ok {
				return false, fmt.Sprintf("agent %d: no metrics", id)
			}
			if ok, why := cond(id, m); !ok {
				return false, fmt.Sprintf("agent %d: %s", id, why)
			}
		}
		return true, ""
	})
}

// waitConverged waits until every agent in ids has run at least minRounds
// more rounds than now and all their values lie within faultEps.
func (f *fleet) waitConverged(timeout time.Duration, ids []int, minRounds float64) {
	f.t.Helper()
	base := map[int]float64{}
	for id, m := range f.scrape(ids...) {
		base[id] = m.get("rounds_total")
	}
	f.waitFor(timeout, fmt.Sprintf("agents %v converged to ε = %v", ids, faultEps), func() (bool, string) {
		ms := f.scrape(ids...)
		lo, hi := math.Inf(1), math.Inf(-1)
		var vals []string
		for _, id := range ids {
			m, ok := ms[id]
			if !ok {
				return false, fmt.Sprintf("agent %d: no metrics", id)
			}
			r := m.get("rounds_total")
			b, ok := base[id]
			if !ok || math.IsNaN(b) {
				base[id] = r
				return false, fmt.Sprintf("agent %d: no round baseline yet", id)
			}
			if r < b+minRounds {
				return false, fmt.Sprintf("agent %d: %v rounds since the baseline, want %v", id, r-b, minRounds)
			}
			v := m.get("value")
			lo, hi = min(lo, v), max(hi, v)
			vals = append(vals, fmt.Sprintf("%d:%.4f", id, v))
		}
		if !(hi-lo <= faultEps) {
			return false, fmt.Sprintf("spread %.4f > %v: %v", hi-lo, faultEps, vals)
		}
		f.t.Logf("values %v", vals)
		return true, ""
	})
}

// safetyMonitor scrapes the normal agents' values every 50 ms and records
// any value outside [lo, hi], the hull of their initial values.
type safetyMonitor struct {
	lo, hi float64
	addrs  map[int]string

	mu           sync.Mutex
	samples      int
	violations   []string
	disagreement map[int]float64 // largest wmsr_agent_disagreement seen

	quit     chan struct{}
	done     chan struct{}
	once     sync.Once
	asserted bool
}

// monitor starts the safety monitor over the given (normal) agents.
func (f *fleet) monitor(ids ...int) *safetyMonitor {
	s := &safetyMonitor{lo: math.Inf(1), hi: math.Inf(-1), addrs: map[int]string{},
		disagreement: map[int]float64{}, quit: make(chan struct{}), done: make(chan struct{})}
	for _, id := range ids {
		a := f.agents[id]
		s.lo, s.hi = min(s.lo, a.initial), max(s.hi, a.initial)
		s.addrs[id] = a.metrics
	}
	if s.lo > 0 || s.hi < 0 {
		// Before its first round an agent's value gauge reads 0.
		f.t.Fatalf("the initial values [%v, %v] must contain 0", s.lo, s.hi)
	}
	f.mon = s
	go s.run()
	return s
}

func (s *safetyMonitor) run() {
	defer close(s.done)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		for id, addr := range s.addrs {
			m, err := scrapeMetrics(addr)
			if err != nil {
				continue // down or restarting
			}
			v, ok := m["wmsr_agent_value"]
			if !ok {
				continue // serving /metrics, but the node is not built yet
			}
			d := m.get("disagreement")
			s.mu.Lock()
			s.samples++
			if !(v >= s.lo-1e-9 && v <= s.hi+1e-9) {
				s.violations = append(s.violations, fmt.Sprintf("%s agent %d value %v outside [%v, %v]",
					time.Now().Format("15:04:05.000"), id, v, s.lo, s.hi))
			}
			if d > s.disagreement[id] {
				s.disagreement[id] = d
			}
			s.mu.Unlock()
		}
		select {
		case <-s.quit:
			return
		case <-tick.C:
		}
	}
}

func (s *safetyMonitor) stop() {
	s.once.Do(func() { close(s.quit) })
	<-s.done
}

func (s *safetyMonitor) maxDisagreement(id int) float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.disagreement[id]
}

// assertSafe stops the monitor and fails on any value outside the hull.
func (f *fleet) assertSafe() {
	f.t.Helper()
	s := f.mon
	s.stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asserted = true
	if len(s.violations) > 0 {
		f.t.Errorf("safety violated (%d samples out of the normal range):\n%s", len(s.violations),
			strings.Join(s.violations[:min(len(s.violations), 20)], "\n"))
		return
	}
	if s.samples < 20 {
		f.t.Errorf("safety monitor took only %d samples", s.samples)
	}
	f.t.Logf("safety: %d value samples, all within [%v, %v]", s.samples, s.lo, s.hi)
}

// tap is an MQTT observer that records every value envelope of the fleet.
type tap struct {
	c paho.Client

	mu   sync.Mutex
	envs map[attest.MemberID][][]byte // newest last, at most 64 per sender
}

func (f *fleet) newTap(clientID string) *tap {
	f.t.Helper()
	tp := &tap{envs: map[attest.MemberID][][]byte{}}
	topic := mqtttopic.Root + "/" + f.name + "/+/" + mqtttopic.Value
	o := paho.NewClientOptions().AddBroker(f.broker.URL()).SetClientID(clientID).
		SetUsername(tapUser).SetPassword(faultToken).SetCleanSession(true).
		SetAutoReconnect(true).SetMaxReconnectInterval(500 * time.Millisecond).
		SetOnConnectHandler(func(c paho.Client) {
			c.Subscribe(topic, 0, func(_ paho.Client, m paho.Message) {
				env, err := attest.Parse(m.Payload())
				if err != nil {
					return
				}
				tp.mu.Lock()
				l := append(tp.envs[env.Sender], slices.Clone(m.Payload()))
				if len(l) > 64 {
					l = l[len(l)-64:]
				}
				tp.envs[env.Sender] = l
				tp.mu.Unlock()
			})
		})
	tp.c = paho.NewClient(o)
	if tok := tp.c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		f.t.Fatalf("tap connect: %v", tok.Error())
	}
	f.t.Cleanup(func() { tp.c.Disconnect(100) })
	return tp
}

// latest returns up to n of the newest envelopes of id under epoch, oldest
// first.
func (tp *tap) latest(id attest.MemberID, epoch attest.Epoch, n int) [][]byte {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	var out [][]byte
	for _, raw := range tp.envs[id] {
		if e, _ := attest.Parse(raw); e.Epoch == epoch {
			out = append(out, raw)
		}
	}
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return out
}

// maxEpoch returns the highest epoch seen from id (0 if none).
func (tp *tap) maxEpoch(id attest.MemberID) attest.Epoch {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	var ep attest.Epoch
	for _, raw := range tp.envs[id] {
		if e, _ := attest.Parse(raw); e.Epoch > ep {
			ep = e.Epoch
		}
	}
	return ep
}

// publishAs publishes raw envelopes on agent id's value topic, logged in
// as that agent (the broker's ACL lets only that username write there).
func (f *fleet) publishAs(id attest.MemberID, envs [][]byte) {
	f.t.Helper()
	o := paho.NewClientOptions().AddBroker(f.broker.URL()).SetClientID("fault-replayer-" + mqtttopic.Agent(id)).
		SetUsername(mqtttopic.Agent(id)).SetPassword(faultToken).SetCleanSession(true)
	c := paho.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		f.t.Fatalf("replayer connect as %d: %v", id, tok.Error())
	}
	defer c.Disconnect(100)
	for _, raw := range envs {
		// QoS 1 to the broker, so that it surely has it; subscribers get it
		// at their QoS 0.
		if tok := c.Publish(mqtttopic.ValueTopic(f.name, id), 1, false, raw); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			f.t.Fatalf("replay publish: %v", tok.Error())
		}
	}
}

func idsOf(ids ...int) []int { return ids }
