package agent_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/wmsr/wmsr/agent"
	"github.com/wmsr/wmsr/attest"
	"github.com/wmsr/wmsr/wmsr"
)

// fakeClock is a manual clock: After registers a waiter that Advance
// fires.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []fakeWaiter
	changed chan struct{}
}

type fakeWaiter struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock(now time.Time) *fakeClock {
	return &fakeClock{now: now, changed: make(chan struct{}, 1)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, fakeWaiter{c.now.Add(d), ch})
	select {
	case c.changed <- struct{}{}:
	default:
	}
	return ch
}

// Advance moves the clock and fires the waiters that are due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(c.now) {
			w.ch <- c.now
		} else {
			kept = append(kept, w)
		}
	}
	c.waiters = kept
}

// blockUntilWaiters waits until n timers are pending.
func (c *fakeClock) blockUntilWaiters(t *testing.T, n int) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		c.mu.Lock()
		k := len(c.waiters)
		c.mu.Unlock()
		if k >= n {
			return
		}
		select {
		case <-c.changed:
		case <-time.After(time.Millisecond):
		case <-deadline:
			t.Fatalf("timed out waiting for %d timers", n)
		}
	}
}

// memFabric is an in-memory agent.Fabric whose inbox is unbuffered, so a
// test's send returns only once the runner has taken the delivery.
type memFabric struct {
	inbox     chan agent.Delivery
	published chan []byte
	subs      chan []attest.MemberID
}

func newMemFabric() *memFabric {
	return &memFabric{inbox: make(chan agent.Delivery), published: make(chan []byte, 16), subs: make(chan []attest.MemberID, 1)}
}

func (f *memFabric) Publish(_ context.Context, env []byte) error {
	f.published <- env
	return nil
}

func (f *memFabric) Subscribe(_ context.Context, from []attest.MemberID) error {
	f.subs <- from
	return nil
}
func (f *memFabric) Inbox() <-chan agent.Delivery { return f.inbox }
func (f *memFabric) Stats() agent.Stats           { return agent.Stats{} }
func (f *memFabric) Close() error                 { return nil }

// recorder is a Delegate that hands events to the test.
type recorder struct {
	rounds   chan agent.RoundReport
	evidence chan attest.Evidence
}

func newRecorder() *recorder {
	return &recorder{rounds: make(chan agent.RoundReport, 100), evidence: make(chan attest.Evidence, 100)}
}
func (r *recorder) NotifyRound(rep agent.RoundReport) { r.rounds <- rep }
func (r *recorder) NotifyEvidence(ev attest.Evidence) { r.evidence <- ev }

func recv[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("timed out")
		panic("unreachable")
	}
}

func counterValue(t *testing.T, c prometheus.Collector) float64 {
	t.Helper()
	m, ok := c.(prometheus.Metric)
	if !ok {
		t.Fatalf("%T is not a metric", c)
	}
	var out dto.Metric
	if err := m.Write(&out); err != nil {
		t.Fatal(err)
	}
	if out.Counter != nil {
		return out.Counter.GetValue()
	}
	return out.Gauge.GetValue()
}

func decodePublished(t *testing.T, env []byte) agent.RoundValue {
	t.Helper()
	e, err := attest.Parse(env)
	if err != nil {
		t.Fatal(err)
	}
	rv, err := agent.DecodeRoundValue(e.Payload)
	if err != nil {
		t.Fatal(err)
	}
	return rv
}

// TestRunnerFakeClock drives a Runner on a fake clock: it publishes at
// each round start, hands deliveries to the engine, updates at the
// deadline, reports to the delegate and the metrics, and skips rounds
// when it falls behind.
func TestRunnerFakeClock(t *testing.T) {
	tf := newTestFleet(t, 20, 1, 2, 3, 4)
	cfg := engineConfig(1, 2, 3, 4)
	cfg.Scope, cfg.D, cfg.Initial = wmsr.Total(1), 1, []float64{5}
	cfg.Period = time.Second
	cfg.Epoch = time.Unix(1000, 0)
	eng := newEngine(t, tf, cfg)
	fab := newMemFabric()
	clock := newFakeClock(cfg.Epoch.Add(3 * cfg.Period)) // exactly at the start of round 3
	rec := newRecorder()
	reg := prometheus.NewPedanticRegistry()
	r, err := agent.NewRunner(eng, fab, agent.RunnerOptions{Clock: clock, Delegate: rec, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := agent.NewRunner(eng, fab, agent.RunnerOptions{Registerer: reg}); err == nil {
		t.Fatal("registering the metrics twice succeeded")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()

	if subs := recv(t, fab.subs); len(subs) != 3 {
		t.Fatalf("subscribed to %v", subs)
	}
	if rv := decodePublished(t, recv(t, fab.published)); rv != (agent.RoundValue{Round: 3, Value: 5}) {
		t.Fatalf("first publication %+v", rv)
	}
	fab.inbox <- agent.Delivery{Envelope: seal(t, tf.sender(t, 2), 3, 1)}
	fab.inbox <- agent.Delivery{Envelope: seal(t, tf.sender(t, 3), 3, 9)}
	fab.inbox <- agent.Delivery{Envelope: seal(t, tf.sender(t, 4), 3, 1e9)}
	fab.inbox <- agent.Delivery{Envelope: seal(t, tf.sender(t, 4), 9, 1)} // future
	clock.blockUntilWaiters(t, 1)
	clock.Advance(cfg.Period)
	rep := recv(t, rec.rounds)
	if want := wmsr.Update(5, []float64{1, 9, 1e9}, 1); rep.Round != 3 || rep.Value != want || rep.Accepted != 3 ||
		rep.Rejected[agent.ReasonFutureRound] != 1 || rep.Used != 3 || rep.Latency != 0 {
		t.Fatalf("round 3 report %+v, want value %v", rep, want)
	}
	if rv := decodePublished(t, recv(t, fab.published)); rv.Round != 4 || rv.Value != rep.Value {
		t.Fatalf("round 4 publication %+v", rv)
	}
	// Fall behind: the clock jumps 2.5 rounds past round 4's deadline.
	clock.blockUntilWaiters(t, 1)
	clock.Advance(3*cfg.Period + cfg.Period/2)
	rep = recv(t, rec.rounds)
	if rep.Round != 4 || rep.Latency != 2*cfg.Period+cfg.Period/2 || rep.Omissions != 0 {
		t.Fatalf("round 4 report %+v", rep)
	}
	if rv := decodePublished(t, recv(t, fab.published)); rv.Round != 7 {
		t.Fatalf("after falling behind published round %d, want 7", rv.Round)
	}
	m := r.Metrics()
	if got := counterValue(t, m.RoundsSkipped); got != 2 {
		t.Fatalf("skipped %v rounds", got)
	}
	if got := counterValue(t, m.Rounds); got != 2 {
		t.Fatalf("rounds %v", got)
	}
	if got := counterValue(t, m.Accepted); got != 3 {
		t.Fatalf("accepted %v", got)
	}
	if got := counterValue(t, m.Rejected.WithLabelValues(agent.ReasonFutureRound)); got != 1 {
		t.Fatalf("future rejected %v", got)
	}
	if got := counterValue(t, m.Value); got != r.Value() {
		t.Fatalf("value gauge %v, value %v", got, r.Value())
	}
	if _, err := reg.Gather(); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := recv(t, done); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v", err)
	}
}

// TestRunnerInboxClosed: Run ends with ErrClosed when the fabric closes.
func TestRunnerInboxClosed(t *testing.T) {
	tf := newTestFleet(t, 21, 1, 2)
	cfg := engineConfig(1, 2)
	cfg.Epoch = time.Unix(0, 0)
	fab := newMemFabric()
	clock := newFakeClock(cfg.Epoch.Add(cfg.Period / 2))
	r, err := agent.NewRunner(newEngine(t, tf, cfg), fab, agent.RunnerOptions{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background()) }()
	recv(t, fab.subs)
	close(fab.inbox)
	if err := recv(t, done); !errors.Is(err, agent.ErrClosed) {
		t.Fatalf("Run returned %v", err)
	}
}
