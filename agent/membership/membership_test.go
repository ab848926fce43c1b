package membership_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wmsr/wmsr/agent/membership"
	"github.com/wmsr/wmsr/attest"
	"github.com/wmsr/wmsr/attest/attesttest"
)

const fleetName = "test-fleet"

// Timeouts for polling; generous because -race on two cores is slow. The
// expected times (DefaultLocalConfig) are far shorter and are logged.
const (
	convergeTimeout = 15 * time.Second
	detectTimeout   = 10 * time.Second
)

var gossipKey = bytes.Repeat([]byte{0x5a}, 32)

// recorder is a Delegate that keeps every call, per member id.
type recorder struct {
	mu       sync.Mutex
	log      map[attest.MemberID][]string // "admitted <epoch>", "dead"
	members  map[attest.MemberID]attest.Member
	rejected map[attest.MemberID][]error
}

func newRecorder() *recorder {
	return &recorder{
		log:      make(map[attest.MemberID][]string),
		members:  make(map[attest.MemberID]attest.Member),
		rejected: make(map[attest.MemberID][]error),
	}
}

func (r *recorder) NotifyAdmitted(m attest.Member) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log[m.ID] = append(r.log[m.ID], fmt.Sprintf("admitted %d", m.Epoch))
	r.members[m.ID] = m
}

func (r *recorder) NotifyDead(id attest.MemberID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log[id] = append(r.log[id], "dead")
}

func (r *recorder) NotifyRejected(id attest.MemberID, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rejected[id] = append(r.rejected[id], err)
}

func (r *recorder) events(id attest.MemberID) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.log[id])
}

// usable reports whether the last call for id was NotifyAdmitted at epoch.
func (r *recorder) usable(id attest.MemberID, epoch attest.Epoch) bool {
	ev := r.events(id)
	return len(ev) > 0 && ev[len(ev)-1] == fmt.Sprintf("admitted %d", epoch)
}

func (r *recorder) dead(id attest.MemberID) bool {
	ev := r.events(id)
	return len(ev) > 0 && ev[len(ev)-1] == "dead"
}

func (r *recorder) rejections(id attest.MemberID) []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.rejected[id])
}

func (r *recorder) member(id attest.MemberID) attest.Member {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.members[id]
}

// testLogger discards logs unless the tests run with -v, where they go to
// stderr (not t.Log: memberlist goroutines may log after a test ends).
func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.DiscardHandler)
}

type agent struct {
	id    attest.MemberID
	epoch attest.Epoch
	att   attest.Attestation
	rec   attest.Member // the record the fleet admitted: the expected keys
	m     *membership.Membership
	d     *recorder
}

// config returns a DefaultLocalConfig for a fresh member id at epoch of
// fleet f, admitting with f's Admitter.
func config(t *testing.T, f *attesttest.Fleet, id attest.MemberID, epoch attest.Epoch) (membership.Config, attest.Member) {
	t.Helper()
	b, rec, err := f.Join(id, epoch, nil)
	if err != nil {
		t.Fatal(err)
	}
	att, err := b.Attest()
	if err != nil {
		t.Fatal(err)
	}
	cfg := membership.DefaultLocalConfig()
	cfg.Fleet = fleetName
	cfg.Self = att
	cfg.Admitter = f.Admitter
	cfg.Keyring = [][]byte{gossipKey}
	cfg.Logger = testLogger()
	cfg.Now = func() time.Time { return f.Now }
	return cfg, rec
}

func start(t *testing.T, f *attesttest.Fleet, id attest.MemberID, epoch attest.Epoch, opts ...func(*membership.Config)) *agent {
	t.Helper()
	cfg, rec := config(t, f, id, epoch)
	a := &agent{id: id, epoch: epoch, att: cfg.Self, rec: rec, d: newRecorder()}
	cfg.Delegate = a.d
	for _, o := range opts {
		o(&cfg)
	}
	m, err := membership.New(cfg)
	if err != nil {
		t.Fatalf("New(member %d): %v", id, err)
	}
	t.Cleanup(func() { _ = m.Close() })
	a.m = m
	return a
}

func (a *agent) join(t *testing.T, seed *agent) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if n, err := a.m.Join(ctx, []string{seed.m.Addr()}); err != nil || n != 1 {
		t.Fatalf("member %d joining %s: %d, %v", a.id, seed.m.Addr(), n, err)
	}
}

// eventually polls cond until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() error) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(timeout)
	for {
		err := cond()
		if err == nil {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v: %v", what, timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sees checks that a has admitted b's current record and reports it
// usable.
func sees(a, b *agent) error {
	got, ok := a.m.Member(b.id)
	if !ok {
		return fmt.Errorf("member %d has no record of %d", a.id, b.id)
	}
	if got.Epoch != b.epoch || !bytes.Equal(got.SignKey, b.rec.SignKey) || !bytes.Equal(got.KexKey, b.rec.KexKey) {
		return fmt.Errorf("member %d holds %d at epoch %d, want epoch %d with the fleet's keys", a.id, b.id, got.Epoch, b.epoch)
	}
	if !a.d.usable(b.id, b.epoch) {
		return fmt.Errorf("member %d: delegate calls for %d: %v", a.id, b.id, a.d.events(b.id))
	}
	if n := a.d.member(b.id); !bytes.Equal(n.SignKey, b.rec.SignKey) || !bytes.Equal(n.Attestation, b.rec.Attestation) {
		return fmt.Errorf("member %d: delegate got another record of %d", a.id, b.id)
	}
	return nil
}

func allSee(agents []*agent) error {
	for _, a := range agents {
		for _, b := range agents {
			if a != b {
				if err := sees(a, b); err != nil {
					return err
				}
			}
		}
		alive := 0
		for _, in := range a.m.Members() {
			if in.Alive && in.Admitted {
				alive++
			}
		}
		if alive != len(agents)-1 {
			return fmt.Errorf("member %d: Members() has %d alive admitted peers, want %d: %+v", a.id, alive, len(agents)-1, a.m.Members())
		}
	}
	return nil
}

// TestFleetLifecycle: five agents join through one seed and admit each
// other; one is killed (no Leave) and the others report it dead; it
// restarts under a higher epoch with new keys and is admitted again.
func TestFleetLifecycle(t *testing.T) {
	f := attesttest.NewFleet(1)
	var agents []*agent
	for id := attest.MemberID(1); id <= 5; id++ {
		agents = append(agents, start(t, f, id, 1))
	}
	for _, a := range agents[1:] {
		a.join(t, agents[0])
	}
	took := eventually(t, convergeTimeout, "five agents admit each other", func() error { return allSee(agents) })
	t.Logf("converged in %v", took)

	// Kill member 5 abruptly: Close does not broadcast a leave.
	victim := agents[4]
	if err := victim.m.Close(); err != nil {
		t.Fatal(err)
	}
	rest := agents[:4]
	took = eventually(t, detectTimeout, "member 5 reported dead", func() error {
		for _, a := range rest {
			if !a.d.dead(5) {
				return fmt.Errorf("member %d: calls for 5: %v", a.id, a.d.events(5))
			}
			for _, in := range a.m.Members() {
				if in.ID == 5 && in.Alive {
					return fmt.Errorf("member %d: Members() still has 5 alive", a.id)
				}
			}
		}
		return nil
	})
	t.Logf("failure detected by all in %v", took)
	if err := victim.m.Close(); err != nil { // idempotent
		t.Fatalf("second Close: %v", err)
	}

	// Restart member 5: a new process, same member id (node name), higher
	// epoch, fresh keys, a new port.
	reborn := start(t, f, 5, 2)
	if bytes.Equal(reborn.rec.SignKey, victim.rec.SignKey) {
		t.Fatal("test fleet reused keys")
	}
	reborn.join(t, agents[0])
	agents = append(rest, reborn)
	took = eventually(t, convergeTimeout, "restarted member 5 admitted at epoch 2", func() error { return allSee(agents) })
	t.Logf("restart readmitted in %v", took)
	for _, a := range rest {
		checkRestartCalls(t, a, 5, 1, 2)
	}
}

// checkRestartCalls checks the Delegate calls a received for member id
// that restarted from epoch old to epoch new: admitted (old), dead once,
// admitted (new). memberlist may add a brief dead/alive flap of the new
// incarnation right after the restart: gossip of the old process's death
// still in flight can carry an incarnation number as high as the new
// process's first one (memberlist cannot tell two processes of one name
// apart), and the new process refutes it at once. Such flaps are tolerated
// here, but the old epoch must die exactly once and never come back.
func checkRestartCalls(t *testing.T, a *agent, id attest.MemberID, old, new attest.Epoch) {
	t.Helper()
	got := a.d.events(id)
	oldAdm, newAdm := fmt.Sprintf("admitted %d", old), fmt.Sprintf("admitted %d", new)
	ok := len(got) >= 3 && slices.Equal(got[:3], []string{oldAdm, "dead", newAdm}) && len(got)%2 == 1
	for i := 3; ok && i < len(got); i += 2 {
		ok = got[i] == "dead" && got[i+1] == newAdm
	}
	if !ok {
		t.Errorf("member %d: delegate calls for %d = %v, want [%s dead %s] (then only dead/%s flaps)", a.id, id, got, oldAdm, newAdm, newAdm)
	}
	if len(got) > 3 {
		t.Logf("member %d: the new incarnation of %d flapped: %v", a.id, id, got)
	}
}

// TestForeignCARejected: an agent with the gossip key but an attestation
// from another fleet CA joins memberlist, but is refused admission by
// everyone and reported through NotifyRejected.
func TestForeignCARejected(t *testing.T) {
	f := attesttest.NewFleet(2)
	a := start(t, f, 1, 1)
	b := start(t, f, 2, 1)
	b.join(t, a)
	// The rogue's own Admitter trusts its own CA, so New accepts it.
	rogue := start(t, attesttest.NewFleet(99), 3, 1)
	rogue.join(t, a)
	eventually(t, convergeTimeout, "rogue rejected", func() error {
		if err := allSee([]*agent{a, b}); err != nil {
			return err
		}
		for _, x := range []*agent{a, b} {
			errs := x.d.rejections(3)
			if len(errs) == 0 {
				return fmt.Errorf("member %d has not rejected 3", x.id)
			}
			if !errors.Is(errs[0], attest.ErrPolicy) {
				return fmt.Errorf("member %d rejected 3 with %v, want attest.ErrPolicy", x.id, errs[0])
			}
			var alive bool
			for _, in := range x.m.Members() {
				if in.ID == 3 {
					alive = in.Alive
					if in.Admitted {
						return fmt.Errorf("member %d: Members() says 3 is admitted", x.id)
					}
				}
			}
			if !alive {
				return fmt.Errorf("member %d does not see 3 alive in memberlist", x.id)
			}
		}
		return nil
	})
	for _, x := range []*agent{a, b} {
		if _, ok := x.m.Member(3); ok {
			t.Errorf("member %d admitted the rogue", x.id)
		}
		if ev := x.d.events(3); len(ev) != 0 {
			t.Errorf("member %d: delegate calls for 3: %v", x.id, ev)
		}
		if n := len(x.d.rejections(3)); n != 1 {
			t.Errorf("member %d: %d rejections of the same attestation, want 1 (repeats are deduplicated)", x.id, n)
		}
		if s := x.m.Stats(); s.Rejected != 1 {
			t.Errorf("member %d: Stats = %+v", x.id, s)
		}
	}
}

// TestReplayRejected: after a member restarts (here gracefully, with
// Leave), its old attestation replayed over the network is refused as
// stale, and an attestation for its current epoch with other keys is
// refused as not matching its gossiped metadata; the record is unchanged.
func TestReplayRejected(t *testing.T) {
	f := attesttest.NewFleet(3)
	a := start(t, f, 1, 1)
	b := start(t, f, 2, 1)
	b.join(t, a)
	eventually(t, convergeTimeout, "two agents admit each other", func() error { return allSee([]*agent{a, b}) })

	if err := b.m.Leave(2 * time.Second); err != nil {
		t.Fatalf("Leave: %v", err)
	}
	took := eventually(t, detectTimeout, "left member reported dead", func() error {
		if !a.d.dead(2) {
			return fmt.Errorf("calls for 2: %v", a.d.events(2))
		}
		return nil
	})
	t.Logf("leave seen in %v", took)
	if err := b.m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.m.Leave(time.Second); !errors.Is(err, membership.ErrClosed) {
		t.Fatalf("Leave after Close: %v", err)
	}
	b2 := start(t, f, 2, 2)
	b2.join(t, a)
	eventually(t, convergeTimeout, "restarted member admitted", func() error { return allSee([]*agent{a, b2}) })

	// Replay the epoch-1 attestation to a.
	if err := membership.SendAttestation(b2.m, a.m, b.att); err != nil {
		t.Fatal(err)
	}
	eventually(t, detectTimeout, "replay rejected", func() error {
		errs := a.d.rejections(2)
		if len(errs) == 0 {
			return errors.New("no rejection")
		}
		if !errors.Is(errs[0], attest.ErrStale) {
			t.Fatalf("replay rejected with %v, want attest.ErrStale", errs[0])
		}
		return nil
	})

	// A CA-certified claim for epoch 2 with other keys: valid on its own,
	// but not what member 2's node gossips.
	other, _ := config(t, f, 2, 2)
	if err := membership.SendAttestation(b2.m, a.m, other.Self); err != nil {
		t.Fatal(err)
	}
	eventually(t, detectTimeout, "mismatching claim rejected", func() error {
		errs := a.d.rejections(2)
		if len(errs) < 2 {
			return fmt.Errorf("%d rejections", len(errs))
		}
		if !errors.Is(errs[1], membership.ErrMetaMismatch) {
			t.Fatalf("mismatching claim rejected with %v, want ErrMetaMismatch", errs[1])
		}
		return nil
	})
	if err := sees(a, b2); err != nil {
		t.Fatalf("record changed: %v", err)
	}
	checkRestartCalls(t, a, 2, 1, 2)
}

// TestWrongGossipKey: agents with another gossip key, or none, cannot join,
// and the bounded Join reports it.
func TestWrongGossipKey(t *testing.T) {
	f := attesttest.NewFleet(4)
	a := start(t, f, 1, 1)
	for name, keys := range map[string][][]byte{
		"other key": {bytes.Repeat([]byte{0xa5}, 32)},
		"plaintext": nil,
	} {
		t.Run(name, func(t *testing.T) {
			x := start(t, f, 2, 1, func(c *membership.Config) { c.Keyring = keys })
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			begin := time.Now()
			n, err := x.m.Join(ctx, []string{a.m.Addr()})
			if err == nil || n != 0 {
				t.Fatalf("Join = %d, %v; want an error", n, err)
			}
			t.Logf("Join failed after %v: %v", time.Since(begin), err)
			if _, ok := a.m.Member(2); ok {
				t.Fatal("seed admitted an agent with the wrong gossip key")
			}
			if len(a.m.Members()) != 0 || len(x.m.Members()) != 0 {
				t.Fatalf("members: %+v / %+v", a.m.Members(), x.m.Members())
			}
		})
	}
}

// TestJoinBoundedByContext: a seed that accepts the connection but never
// answers does not hold Join beyond its context.
func TestJoinBoundedByContext(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // hold it open, silent, until the listener closes
		}
	}()
	a := start(t, attesttest.NewFleet(5), 1, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	begin := time.Now()
	n, err := a.m.Join(ctx, []string{ln.Addr().String()})
	if !errors.Is(err, context.DeadlineExceeded) || n != 0 {
		t.Fatalf("Join = %d, %v; want DeadlineExceeded", n, err)
	}
	if took := time.Since(begin); took > time.Second {
		t.Fatalf("Join returned after %v", took)
	}
	if _, err := a.m.Join(context.Background(), nil); err == nil {
		t.Fatal("Join without seeds succeeded")
	}
	if err := a.m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.m.Join(context.Background(), []string{ln.Addr().String()}); !errors.Is(err, membership.ErrClosed) {
		t.Fatalf("Join after Close: %v", err)
	}
}

// TestNameConflict: a second process with a member id already in the
// cluster, at another address, is a memberlist name conflict, counted and
// logged loudly.
func TestNameConflict(t *testing.T) {
	f := attesttest.NewFleet(6)
	a := start(t, f, 1, 1)
	b := start(t, f, 2, 1)
	b.join(t, a)
	eventually(t, convergeTimeout, "two agents admit each other", func() error { return allSee([]*agent{a, b}) })
	twin := start(t, f, 2, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = twin.m.Join(ctx, []string{a.m.Addr()}) // may succeed: the stream sync itself works
	eventually(t, detectTimeout, "conflict detected", func() error {
		if a.m.Stats().Conflicts == 0 && b.m.Stats().Conflicts == 0 && twin.m.Stats().Conflicts == 0 {
			return errors.New("no conflict counted")
		}
		return nil
	})
}

// TestConfigValidation: New refuses bad configurations with ErrConfig and
// a message naming the field.
func TestConfigValidation(t *testing.T) {
	f := attesttest.NewFleet(7)
	good, _ := config(t, f, 1, 1)
	other, _ := config(t, attesttest.NewFleet(8), 1, 1)
	for _, tc := range []struct {
		field string
		mod   func(c *membership.Config)
	}{
		{"Fleet", func(c *membership.Config) { c.Fleet = "" }},
		{"Fleet", func(c *membership.Config) { c.Fleet = "a b" }},
		{"Fleet", func(c *membership.Config) { c.Fleet = strings.Repeat("x", 65) }},
		{"Self", func(c *membership.Config) { c.Self = attest.Attestation{} }},
		{"Self", func(c *membership.Config) { c.Self.Claim.Epoch = 0 }},
		{"Self", func(c *membership.Config) { c.Self = other.Self }}, // not admissible by our CA
		{"Self", func(c *membership.Config) { c.Now = func() time.Time { return f.Now.Add(48 * time.Hour) } }},
		{"Admitter", func(c *membership.Config) { c.Admitter = nil }},
		{"Admitter", func(c *membership.Config) { c.Admitter = (*attest.Admitter)(nil) }},
		{"Keyring[0]", func(c *membership.Config) { c.Keyring = [][]byte{make([]byte, 15)} }},
		{"Keyring[1]", func(c *membership.Config) { c.Keyring = [][]byte{make([]byte, 16), make([]byte, 33)} }},
		{"Keyring[1]", func(c *membership.Config) { c.Keyring = [][]byte{make([]byte, 16), make([]byte, 16)} }},
		{"Keyring", func(c *membership.Config) { c.Keyring = [][]byte{} }},
		{"BindAddr", func(c *membership.Config) { c.BindAddr = "" }},
		{"BindAddr", func(c *membership.Config) { c.BindAddr = "localhost" }},
		{"AdvertiseAddr", func(c *membership.Config) { c.AdvertiseAddr = "nowhere" }},
		{"BindPort", func(c *membership.Config) { c.BindPort = -1 }},
		{"AdvertisePort", func(c *membership.Config) { c.AdvertisePort = 70000 }},
		{"ProbeInterval", func(c *membership.Config) { c.ProbeInterval = 0 }},
		{"ProbeTimeout", func(c *membership.Config) { c.ProbeTimeout = 2 * c.ProbeInterval }},
		{"PushPullInterval", func(c *membership.Config) { c.PushPullInterval = 0 }},
		{"TCPTimeout", func(c *membership.Config) { c.TCPTimeout = -time.Second }},
		{"DeadNodeReclaimTime", func(c *membership.Config) { c.DeadNodeReclaimTime = -1 }},
		{"SuspicionMult", func(c *membership.Config) { c.SuspicionMult = 0 }},
		{"GossipNodes", func(c *membership.Config) { c.GossipNodes = 0 }},
		{"QueueSize", func(c *membership.Config) { c.QueueSize = 0 }},
		{"zero Config", func(c *membership.Config) { *c = membership.Config{} }},
	} {
		c := good
		tc.mod(&c)
		m, err := membership.New(c)
		if err == nil {
			_ = m.Close()
			t.Errorf("%s: New succeeded", tc.field)
			continue
		}
		if !errors.Is(err, membership.ErrConfig) {
			t.Errorf("%s: err = %v, want ErrConfig", tc.field, err)
		}
		if tc.field != "zero Config" && !strings.Contains(err.Error(), tc.field+":") {
			t.Errorf("%s: error does not name the field: %v", tc.field, err)
		}
	}

	// The good one works, binds a free port, and plaintext is allowed.
	for _, keys := range [][][]byte{good.Keyring, nil} {
		c := good
		c.Keyring = keys
		m, err := membership.New(c)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		host, port, err := net.SplitHostPort(m.Addr())
		if err != nil || host != "127.0.0.1" || port == "0" {
			t.Errorf("Addr() = %q", m.Addr())
		}
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
	}
	for name, c := range map[string]membership.Config{"LAN": membership.DefaultLANConfig(), "Local": membership.DefaultLocalConfig()} {
		c.Fleet, c.Self, c.Admitter = good.Fleet, good.Self, good.Admitter
		if err := c.Validate(); err != nil {
			t.Errorf("Default%sConfig with identity: %v", name, err)
		}
	}
}
