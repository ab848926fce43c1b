package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wmsr/wmsr/agent"
	"github.com/wmsr/wmsr/agent/membership"
	"github.com/wmsr/wmsr/agent/mqttfabric"
	"github.com/wmsr/wmsr/agent/node"
	"github.com/wmsr/wmsr/attest"
)

// attackerValue is what the attacker claims: far outside the normal range.
const attackerValue = 1000

// TestFaultAttacker: one admitted member (id 5) is an attacker process, the
// test binary re-executed (WMSR_TEST_ROLE=attacker, attackerMain). It holds
// a real identity from the fleet CA, joins gossip and is admitted, and
// every round publishes on its own topic:
//
//   - phase 1: one signed value of attackerValue per round (a merely
//     malicious member, which W-MSR must trim);
//   - phase 2 (on the test's command): two different signed envelopes under
//     the same counter, +attackerValue and −attackerValue (equivocation);
//
// and in both phases, each round, a forgery (an envelope claiming to be a
// normal member, signed with the attacker's key, at a counter far ahead)
// and a replay (a normal member's envelope captured from the broker some
// rounds earlier). Every normal agent must use and trim the malicious
// value, record evidence, quarantine the attacker, refuse the forgeries and
// replays, stay in the normal range and converge.
func TestFaultAttacker(t *testing.T) {
	forEachBroker(t, func(t *testing.T, kind string) {
		f := newFleet(t, kind)
		normal := idsOf(1, 2, 3, 4)
		const attackerID = 5
		f.addAgents(completeGraph([]float64{0, 10, 20, 30}, attackerID)...)
		attDir := f.dir + "/id-attacker"
		if err := keygenIdentity(attackerID, attDir, 1); err != nil {
			t.Fatal(err)
		}
		f.monitor(normal...)
		f.startAll(normal...)

		exe, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(exe)
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		buf := &lockedBuf{}
		cmd.Stdout, cmd.Stderr = buf, buf
		cmd.Env = append(os.Environ(), roleEnv+"=attacker",
			"FAULT_ID="+strconv.Itoa(attackerID), "FAULT_DIR="+attDir, "FAULT_POLICY="+f.policy,
			"FAULT_FLEET="+f.name, "FAULT_BROKER="+f.broker.URL(), "FAULT_TOKEN="+faultToken,
			"FAULT_JOIN="+f.seedGossip, "FAULT_VICTIMS=1,2,3,4", "FAULT_BINHASH="+faultBuild.hash,
			"FAULT_PERIOD="+faultPeriod.String())
		p := &proc{name: "attacker", cmd: cmd, log: buf, done: make(chan struct{})}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { p.err = cmd.Wait(); close(p.done) }()
		f.mu.Lock()
		f.procs = append(f.procs, p)
		f.mu.Unlock()
		t.Cleanup(func() { stdin.Close() })

		// Phase 1: every normal agent admits the attacker and uses its value
		// (its disagreement gauge spans the attacker's value), yet trims it.
		f.waitMetrics(20*time.Second, "every normal agent admitted 3 peers and the attacker", normal, func(_ int, m promMetrics) (bool, string) {
			if p.exited() {
				t.Fatalf("attacker exited: %v\n%s", p.err, tail(buf.String(), 8<<10))
			}
			return m.get("admitted_total") >= 4, fmt.Sprintf("admitted_total %v", m.get("admitted_total"))
		})
		f.waitFor(10*time.Second, "every normal agent used (and trimmed) the attacker's value", func() (bool, string) {
			for _, id := range normal {
				if d := f.mon.maxDisagreement(id); d < attackerValue/2 {
					return false, fmt.Sprintf("agent %d: largest disagreement seen %v", id, d)
				}
			}
			return true, ""
		})

		// Phase 2: equivocation.
		if _, err := io.WriteString(stdin, "equivocate\n"); err != nil {
			t.Fatal(err)
		}
		f.waitMetrics(10*time.Second, "every normal agent caught and quarantined the attacker, refused forgeries and replays", normal,
			func(_ int, m promMetrics) (bool, string) {
				s := fmt.Sprintf("evidence %v, equivocation %v, quarantined %v, forged %v, replay %v, stale %v",
					m.get("evidence_total"), m.rejected("equivocation"), m.rejected("quarantined"),
					m.rejected("forged"), m.rejected("replay"), m.rejected("stale"))
				return m.get("evidence_total") >= 1 && m.rejected("equivocation") >= 1 && m.rejected("quarantined") >= 1 &&
					m.rejected("forged") >= 1 && m.rejected("replay")+m.rejected("stale") >= 1, s
			})
		f.waitConverged(15*time.Second, normal, 10)
		for id, m := range f.scrape(normal...) {
			t.Logf("agent %d: evidence %v, rejected equivocation %v quarantined %v forged %v replay %v stale %v unknown_sender %v",
				id, m.get("evidence_total"), m.rejected("equivocation"), m.rejected("quarantined"), m.rejected("forged"),
				m.rejected("replay"), m.rejected("stale"), m.rejected("unknown_sender"))
		}
		f.assertSafe()
		if p.exited() {
			t.Errorf("attacker exited early: %v", p.err)
		}
		var last string
		for _, l := range strings.Split(buf.String(), "\n") {
			if strings.HasPrefix(l, "attacker: round") {
				last = l
			}
		}
		t.Log(last)
	})
}

// attackerMain is the attacker process (see TestFaultAttacker). It runs
// until stdin closes or it is killed; "equivocate" on stdin starts phase 2.
func attackerMain() int {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if err := runAttacker(log); err != nil {
		fmt.Fprintln(os.Stderr, "attacker:", err)
		return 1
	}
	return 0
}

func runAttacker(log *slog.Logger) error {
	env := func(k string) string { return os.Getenv("FAULT_" + k) }
	id64, err := strconv.ParseUint(env("ID"), 10, 64)
	if err != nil {
		return err
	}
	id := attest.MemberID(id64)
	dir, fleetName := env("DIR"), env("FLEET")
	period, err := time.ParseDuration(env("PERIOD"))
	if err != nil {
		return err
	}
	var victims []attest.MemberID
	for _, s := range strings.Split(env("VICTIMS"), ",") {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return err
		}
		victims = append(victims, attest.MemberID(n))
	}
	var hash [32]byte
	if h, err := hex.DecodeString(env("BINHASH")); err != nil || len(h) != 32 {
		return fmt.Errorf("FAULT_BINHASH: %v", err)
	} else {
		copy(hash[:], h)
	}

	// The same keys twice: a twin backend from the seed LoadIdentity is
	// about to burn (a fresh directory: epoch 1), and the Ed25519 key itself
	// to sign forgeries.
	seedHex, err := os.ReadFile(node.SeedFile(dir, id, 1))
	if err != nil {
		return err
	}
	seed, err := hex.DecodeString(strings.TrimSpace(string(seedHex)))
	if err != nil {
		return err
	}
	twin, err := attest.NewSoftBackend(id, 1, hash, bytes.NewReader(seed))
	if err != nil {
		return err
	}
	priv := ed25519.NewKeyFromSeed(seed[:ed25519.SeedSize])
	backend, err := node.LoadIdentity(dir, dir, id, hash)
	if err != nil {
		return err
	}
	if c1, c2 := backend.Identity().Claim(), twin.Identity().Claim(); c1.Digest() != c2.Digest() {
		return errors.New("twin backend holds other keys")
	}
	pol, err := os.ReadFile(env("POLICY"))
	if err != nil {
		return err
	}
	policy, err := attest.ParsePolicy(pol)
	if err != nil {
		return err
	}
	admitter, err := attest.NewAdmitter(policy, nil)
	if err != nil {
		return err
	}
	att, err := backend.Attest()
	if err != nil {
		return err
	}

	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer cancel()
	var phase2 atomic.Bool
	go func() {
		// Commands on stdin; EOF ends the attacker.
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			if strings.TrimSpace(sc.Text()) == "equivocate" {
				phase2.Store(true)
				log.Info("attacker: phase 2, equivocation")
			}
		}
		cancel()
	}()

	fc := mqttfabric.DefaultConfig()
	fc.Brokers, fc.Fleet, fc.ID, fc.Password = []string{env("BROKER")}, fleetName, id, []byte(env("TOKEN"))
	fc.PublishTimeout = period / 2
	fc.Logger = log.With("component", "fabric")
	dctx, dcancel := context.WithTimeout(ctx, 10*time.Second)
	fab, err := mqttfabric.Dial(dctx, fc)
	dcancel()
	if err != nil {
		return err
	}
	defer fab.Close()
	if err := fab.Subscribe(ctx, victims); err != nil {
		return err
	}

	mc := membership.DefaultLocalConfig()
	mc.Fleet, mc.Self, mc.Admitter = fleetName, att, admitter
	mc.Logger = log.With("component", "membership")
	ml, err := membership.New(mc)
	if err != nil {
		return err
	}
	defer ml.Close()
	jctx, jcancel := context.WithTimeout(ctx, 10*time.Second)
	_, err = ml.Join(jctx, []string{env("JOIN")})
	jcancel()
	if err != nil {
		return err
	}

	// Capture the normal members' envelopes for replays and forgeries.
	var mu sync.Mutex
	captured := map[attest.MemberID][][]byte{}
	go func() {
		for d := range fab.Inbox() {
			e, err := attest.Parse(d.Envelope)
			if err != nil || e.Sender != d.From {
				continue
			}
			mu.Lock()
			l := append(captured[e.Sender], d.Envelope)
			if len(l) > 16 {
				l = l[len(l)-16:]
			}
			captured[e.Sender] = l
			mu.Unlock()
		}
	}()
	// newest and old return a victim's newest envelope, and one at least 3
	// counters older.
	newest := func(v attest.MemberID) []byte {
		mu.Lock()
		defer mu.Unlock()
		if l := captured[v]; len(l) > 0 {
			return l[len(l)-1]
		}
		return nil
	}
	old := func(v attest.MemberID) []byte {
		mu.Lock()
		defer mu.Unlock()
		if l := captured[v]; len(l) > 4 {
			return l[len(l)-4]
		}
		return nil
	}

	honest, err := attest.NewBroadcastSender(backend.Identity(), agent.DefaultValueChannel, nil)
	if err != nil {
		return err
	}
	evil, err := attest.NewBroadcastSender(twin.Identity(), agent.DefaultValueChannel, nil)
	if err != nil {
		return err
	}
	seal := func(s *attest.Sender, round uint64, v float64) ([]byte, error) {
		p, err := agent.AppendRoundState(nil, agent.RoundState{Round: round, State: []float64{v}})
		if err != nil {
			return nil, err
		}
		return s.Seal(nil, agent.KindRoundValue, p)
	}
	// forge builds an envelope in victim v's name (its current epoch, a
	// counter far ahead of its own), signed with the attacker's key.
	forge := func(v attest.MemberID, round uint64) []byte {
		raw := newest(v)
		if raw == nil {
			return nil
		}
		e, err := attest.Parse(raw)
		if err != nil {
			return nil
		}
		p, _ := agent.AppendRoundState(nil, agent.RoundState{Round: round, State: []float64{attackerValue}})
		fe := attest.Envelope{Suite: attest.SuiteEd25519, Kind: agent.KindRoundValue, Sender: v, Epoch: e.Epoch,
			Stream: attest.Channel(agent.DefaultValueChannel), Counter: e.Counter + 1000, Payload: p,
			Auth: make([]byte, ed25519.SignatureSize)}
		b, err := fe.AppendBinary(nil)
		if err != nil {
			return nil
		}
		copy(b[len(b)-ed25519.SignatureSize:], ed25519.Sign(priv, b[:len(b)-ed25519.SignatureSize]))
		return b
	}

	var pairs, singles, forged, replayed, errs int
	publish := func(env []byte, n *int) {
		if env == nil {
			return
		}
		if err := fab.Publish(ctx, env); err != nil {
			errs++
			return
		}
		*n++
	}
	log.Info("attacker: running", "member", uint64(id), "epoch", uint64(backend.Identity().Epoch()), "gossip", ml.Addr())
	for t := uint64(time.Now().UnixNano()/int64(period)) + 1; ; t++ {
		start := time.Unix(0, int64(t)*int64(period))
		select {
		case <-ctx.Done():
			log.Info("attacker: done", "pairs", pairs, "singles", singles, "forged", forged, "replayed", replayed)
			return nil
		case <-time.After(time.Until(start)):
		}
		if late := time.Since(start); late > period/2 {
			continue
		}
		// Both senders seal every round, so their counters stay equal.
		a, err := seal(honest, t, attackerValue)
		if err != nil {
			return err
		}
		b, err := seal(evil, t, -attackerValue)
		if err != nil {
			return err
		}
		publish(a, &singles)
		if phase2.Load() {
			publish(b, &pairs)
		}
		publish(forge(victims[t%uint64(len(victims))], t), &forged)
		publish(old(victims[(t+1)%uint64(len(victims))]), &replayed)
		if t%10 == 0 {
			fmt.Printf("attacker: round %d: published %d values, %d equivocating twins, %d forgeries, %d replays (%d publish errors)\n",
				t, singles, pairs, forged, replayed, errs)
		}
	}
}
