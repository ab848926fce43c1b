package main

import (
	"context"
	"crypto/ed25519"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/wmsr/wmsr/agent"
	"github.com/wmsr/wmsr/agent/broker"
	"github.com/wmsr/wmsr/agent/membership"
	"github.com/wmsr/wmsr/agent/mqttfabric"
	"github.com/wmsr/wmsr/agent/node"
	"github.com/wmsr/wmsr/attest"
	"github.com/wmsr/wmsr/graph"
	"github.com/wmsr/wmsr/topology"
	"github.com/wmsr/wmsr/wmsr"
)

// binaryHash is what the fleet CA certifies every drone runs. A real
// fleet certifies the hash of the wmsr-agent binary (attest.HashBinary);
// the drones here are goroutines of one process, so the example certifies
// a fixed, named stand-in and lists exactly that one in the policy.
var binaryHash = sha256.Sum256([]byte("wmsr examples/drones: in-process drone agent v1"))

// Gains of the DP-MSR controller, per round (see the package doc): the
// damping b = B·T and the largest coupling a = A·T² that
// wmsr.DP.NonnegativeFor allows for the drone's in-degree.
const dampingPerRound = 1.5

// gains returns drone i's DP-MSR controller for in-degree d and period T
// (seconds): B = 1.5/T and the largest A below 2/(T²d) for which
// NonnegativeFor(d) holds, found by bisection on the scaled controller
// itself so that no rounding can break the condition afterwards.
func gains(d int, T float64) (wmsr.DP, float64, error) {
	B := dampingPerRound / T
	lo, hi := 0.0, 2/(T*T*float64(max(d, 1)))
	var c float64
	for range 64 {
		mid := lo + (hi-lo)/2
		if cc, ok := (wmsr.DP{A: mid, B: B, T: T}).NonnegativeFor(d); ok {
			lo, c = mid, cc
		} else {
			hi = mid
		}
	}
	dp, err := wmsr.NewDP(lo, B, T)
	if err == nil {
		if _, ok := dp.NonnegativeFor(d); !ok {
			err = fmt.Errorf("no DP-MSR gains keep the invariant for in-degree %d", d)
		}
	}
	return dp, c, err
}

// netFleet is one networked run: the broker, the fleet CA, the normal
// drones (agent/node) and the attackers, and what they report.
type netFleet struct {
	o     options
	g     *graph.Digraph
	log   *slog.Logger
	w     io.Writer
	name  string // fleet name (MQTT topic level, memberlist label)
	token []byte
	url   string

	brk       *broker.Broker
	ca        *attest.FleetCA
	admitter  *attest.Admitter
	notAfter  time.Time
	normal    []int // graph nodes of the normal drones (trace rows)
	isAttack  map[int]int
	nodes     []*node.Node
	attackers []*attacker
	seedAddr  string
	tr        *trace
	epoch     time.Time
}

// id is the member id of graph node v.
func id(v int) attest.MemberID { return attest.MemberID(v + 1) }

// flyNet flies the networked fleet (see the package doc) and reports.
func flyNet(ctx context.Context, o options, stdout, stderr io.Writer) (res result, err error) {
	began := time.Now()
	rng := rand.New(rand.NewPCG(o.seed, 0xd1a5))
	pl, err := topologyFor(ctx, o, rng, stdout)
	if err != nil {
		return result{}, err
	}
	g := pl.g
	n := g.N()
	if n > maxNetDrones {
		return result{}, usageError{fmt.Errorf("-topology %s: %d drones; the networked fleet runs %d at most (use -sim)", o.topology, n, maxNetDrones)}
	}
	if o.attackers >= n {
		return result{}, usageError{fmt.Errorf("-attackers %d: the topology has only %d drones", o.attackers, n)}
	}
	// Positions: the placement's, or uniform in the box for a topology
	// file (which has none); the box's floor is at 20 m.
	initial := make([]point, n)
	for v := range n {
		for c := range dim {
			if pl.pos != nil {
				initial[v][c] = pl.pos[v][c]
			} else {
				initial[v][c] = pl.side * rng.Float64()
			}
		}
		initial[v][2] += floor
	}
	perm := rng.Perm(n)
	attackNodes := slices.Clone(perm[:o.attackers])
	slices.Sort(attackNodes)

	f := &netFleet{o: o, g: g, w: stdout, isAttack: map[int]int{}}
	for k, a := range attackNodes {
		f.isAttack[a] = k
	}
	for v := range n {
		if _, bad := f.isAttack[v]; bad {
			continue
		}
		if g.InDegree(v) == 0 {
			return result{}, usageError{fmt.Errorf("-topology %s: drone %d hears nobody (in-degree 0); every normal drone needs an in-neighbour", o.topology, v+1)}
		}
		f.normal = append(f.normal, v)
	}
	f.log = slog.New(slog.DiscardHandler)
	if o.verbose {
		f.log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	defer f.close()
	if err := f.setup(ctx, initial, attackNodes); err != nil {
		return result{}, err
	}
	if err := f.fly(ctx); err != nil {
		return result{}, err
	}
	out := f.tr.analyse(o.epsilon)
	ok := f.report(out)
	if o.out != "" {
		if err := f.writeOutputs(out); err != nil {
			return result{}, err
		}
		fmt.Fprintf(stdout, "wrote %s, %s and %s\n", filepath.Join(o.out, "trace.csv"),
			filepath.Join(o.out, "rendezvous.png"), filepath.Join(o.out, "altitude.png"))
	}
	fmt.Fprintf(stdout, "done in %.1f s\n", time.Since(began).Seconds())
	return result{ok: ok}, nil
}

// setup creates the fleet CA, the broker, every drone's identity, MQTT
// connection and gossip member, and the shared epoch; then it waits (until
// the epoch at most) for gossip to admit every drone at its neighbours.
func (f *netFleet) setup(ctx context.Context, initial []point, attackNodes []int) error {
	o, g := f.o, f.g
	setupStart := time.Now()

	// The fleet CA exists only in this process, for this run: a fresh key,
	// one statement per drone, a policy naming that CA and binaryHash.
	_, caKey, err := ed25519.GenerateKey(crand.Reader)
	if err != nil {
		return err
	}
	if f.ca, err = attest.NewFleetCA(caKey); err != nil {
		return err
	}
	policy := &attest.Policy{Soft: &attest.SoftPolicy{
		CAKeys:       []ed25519.PublicKey{f.ca.PublicKey()},
		BinaryHashes: [][32]byte{binaryHash},
	}}
	if f.admitter, err = attest.NewAdmitter(policy, nil); err != nil {
		return err
	}
	f.notAfter = time.Now().Add(o.timeout + time.Hour)

	f.name = o.fleet
	if f.name == "" {
		f.name = "drones-" + randomHex(4)
	}
	switch {
	case o.token != "":
		f.token = []byte(o.token)
	case o.broker == "":
		f.token = []byte(randomHex(16))
	}
	if o.broker != "" {
		f.url = o.broker
		fmt.Fprintf(f.w, "broker: %s (external), fleet %q\n", f.url, f.name)
	} else {
		bc := broker.DefaultConfig()
		bc.Fleet, bc.FleetToken, bc.Logger = f.name, f.token, f.log.With("component", "broker")
		if f.brk, err = broker.New(bc); err != nil {
			return err
		}
		addr, err := f.brk.Start(ctx, "127.0.0.1:0")
		if err != nil {
			return err
		}
		f.url = "tcp://" + addr
		fmt.Fprintf(f.w, "broker: embedded at %s, fleet %q\n", f.url, f.name)
	}

	// The shared clock: round 0 starts at the epoch, a whole number of
	// periods from the Unix epoch, once setup and admission are done.
	f.epoch = time.Now().Add(o.start()).Truncate(o.period).Add(o.period)
	T := o.period.Seconds()

	ids := make([]attest.MemberID, len(f.normal))
	rows := make([]point, len(f.normal))
	for r, v := range f.normal {
		ids[r], rows[r] = id(v), initial[v]
	}
	attackIDs := make([]attest.MemberID, len(attackNodes))
	for k, a := range attackNodes {
		attackIDs[k] = id(a)
	}
	f.tr = newTrace(o.rounds, ids, rows, attackIDs)

	minA, maxA := 0.0, 0.0
	for r, v := range f.normal {
		backend, err := f.identity(id(v), crand.Reader)
		if err != nil {
			return err
		}
		dp, _, err := gains(g.InDegree(v), T)
		if err != nil {
			return err
		}
		a := dp.A * T * T * float64(g.InDegree(v))
		if r == 0 || a < minA {
			minA = a
		}
		maxA = max(maxA, a)
		fab, err := f.dial(ctx, id(v))
		if err != nil {
			return err
		}
		cfg := agent.DefaultConfig()
		cfg.ID = id(v)
		for _, u := range g.In(v) {
			cfg.Neighbours = append(cfg.Neighbours, id(int(u)))
		}
		cfg.Initial = initial[v][:]
		cfg.DP = &dp
		cfg.Scope = wmsr.Total(o.f)
		cfg.Period, cfg.Epoch = o.period, f.epoch
		gc := membership.DefaultLocalConfig()
		gc.Fleet, gc.PushPullInterval = f.name, pushPull
		opts := node.Options{
			Engine: cfg, Backend: backend, Fabric: fab,
			Gossip: &gc, Admitter: f.admitter,
			Topology: g, Model: topology.Total,
			Delegate: f.tr.delegate(r),
			Logger:   f.log.With("drone", uint64(id(v))),
		}
		if f.seedAddr != "" {
			opts.Join = []string{f.seedAddr}
		}
		nd, err := node.New(ctx, opts)
		if err != nil {
			fab.Close()
			return fmt.Errorf("drone %d: %w", id(v), err)
		}
		f.nodes = append(f.nodes, nd)
		if f.seedAddr == "" {
			f.seedAddr = nd.Membership().Addr()
		}
	}
	for k, a := range attackNodes {
		at, err := f.newAttacker(ctx, k, a)
		if err != nil {
			return err
		}
		f.attackers = append(f.attackers, at)
	}
	fmt.Fprintf(f.w, "fleet: %d drones (%d attackers), each with its own identity (fleet CA, soft backend), MQTT connection and gossip member; set up in %d ms\n",
		g.N(), len(attackNodes), time.Since(setupStart).Milliseconds())
	fmt.Fprintf(f.w, "dynamics: DP-MSR, T = %v (one round), damping b = B·T = %.2f, coupling a·d = A·T²·in-degree in [%.3f, %.3f] (the largest NonnegativeFor(in-degree) allows)\n",
		o.period, dampingPerRound, minA, maxA)

	// Admission: every normal drone must hold the record of each of its
	// in-neighbours, attackers included (they are certified too), or its
	// values are refused as from an unknown sender.
	waitStart, lastSync := time.Now(), time.Now()
	pending, lagging := f.pendingAdmissions()
	for pending > 0 && time.Until(f.epoch) > o.period/2 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if pending, lagging = f.pendingAdmissions(); pending > 0 && time.Since(lastSync) > resyncAfter {
			// Memberlist spreads joins by UDP gossip, which a loaded host
			// can lose, and repairs that only at the next push/pull. The
			// seed heard every join first-hand: a drone still missing
			// neighbours syncs with it now (a push/pull, as on join).
			for _, r := range lagging {
				if _, err := f.nodes[r].Membership().Join(ctx, []string{f.seedAddr}); err != nil {
					f.log.Warn("gossip re-sync with the seed", "drone", uint64(id(f.normal[r])), "err", err)
				}
			}
			lastSync = time.Now()
		}
	}
	if pending == 0 {
		fmt.Fprintf(f.w, "gossip: every drone admitted all its in-neighbours' attestations after %d ms; round 0 at %s\n",
			time.Since(waitStart).Milliseconds(), f.epoch.Format("15:04:05.000"))
	} else {
		fmt.Fprintf(f.w, "gossip: %d in-neighbour records still not admitted at round 0 (their values are refused as unknown_sender until they are; raise -start-delay)\n", pending)
	}
	return nil
}

// identity creates member id's soft backend from rnd and certifies it.
func (f *netFleet) identity(mid attest.MemberID, rnd io.Reader) (*attest.SoftBackend, error) {
	b, err := attest.NewSoftBackend(mid, 1, binaryHash, rnd)
	if err != nil {
		return nil, err
	}
	st, err := f.ca.Issue(b.CertRequest(), f.notAfter)
	if err != nil {
		return nil, err
	}
	if err := b.Install(st); err != nil {
		return nil, err
	}
	return b, nil
}

// dial connects member id to the broker.
func (f *netFleet) dial(ctx context.Context, mid attest.MemberID) (*mqttfabric.Fabric, error) {
	fc := mqttfabric.DefaultConfig()
	fc.Brokers, fc.Fleet, fc.ID, fc.Password = []string{f.url}, f.name, mid, f.token
	fc.PublishTimeout = min(fc.PublishTimeout, f.o.period/2)
	fc.Logger = f.log.With("component", "fabric", "drone", uint64(mid))
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	fab, err := mqttfabric.Dial(dctx, fc)
	if err != nil {
		return nil, fmt.Errorf("drone %d: connect to broker %s: %w", mid, f.url, err)
	}
	return fab, nil
}

// newAttacker creates attacker k on graph node a: a certified identity
// (and, for a two-faced plan, a second attest identity over the same keys:
// the same seed makes the same keys, the way a compromised drone's keys
// could be copied), its MQTT connection and its gossip member.
func (f *netFleet) newAttacker(ctx context.Context, k, a int) (*attacker, error) {
	p := netStrategies[f.o.strategy](k, f.o.seed)
	at := &attacker{k: k, id: id(a), node: a, plan: p, log: f.log.With("attacker", uint64(id(a)))}
	var seed [32]byte
	if _, err := crand.Read(seed[:]); err != nil {
		return nil, err
	}
	faces := 1
	if p.twoFaced {
		faces = 2
	}
	var first *attest.SoftBackend
	for i := range faces {
		b, err := f.identity(at.id, rand.NewChaCha8(seed))
		if err != nil {
			return nil, err
		}
		if i == 0 {
			first = b
		}
		s, err := attest.NewBroadcastSender(b.Identity(), agent.DefaultValueChannel, nil)
		if err != nil {
			return nil, err
		}
		at.senders = append(at.senders, s)
	}
	att, err := first.Attest()
	if err != nil {
		return nil, err
	}
	if at.record, err = f.admitter.Admit(att, nil, time.Now()); err != nil {
		return nil, fmt.Errorf("attacker %d: %w", at.id, err)
	}
	if at.fab, err = f.dial(ctx, at.id); err != nil {
		return nil, err
	}
	gc := membership.DefaultLocalConfig()
	gc.Fleet, gc.Self, gc.Admitter, gc.PushPullInterval = f.name, att, f.admitter, pushPull
	gc.Logger = at.log.With("component", "membership")
	if at.ml, err = membership.New(gc); err != nil {
		at.close()
		return nil, err
	}
	if _, err := at.ml.Join(ctx, []string{f.seedAddr}); err != nil {
		at.close()
		return nil, fmt.Errorf("attacker %d: %w", at.id, err)
	}
	return at, nil
}

// resyncAfter is how long admission may lag before lagging drones re-sync
// with the seed.
const resyncAfter = 250 * time.Millisecond

// pushPull is the interval of memberlist's full state syncs, its
// anti-entropy. DefaultLocalConfig's 5 s would leave a member that missed
// a join's gossip unable to use that neighbour for 5 s, which is most of a
// short flight; on loopback a sync per second is cheap.
const pushPull = time.Second

// pendingAdmissions counts (drone, in-neighbour) pairs where the drone's
// membership has not yet admitted a live record of the neighbour, and
// returns the drones (rows) with any.
func (f *netFleet) pendingAdmissions() (pending int, lagging []int) {
	for r, nd := range f.nodes {
		ok := map[attest.MemberID]bool{}
		for _, in := range nd.Membership().Members() {
			ok[in.ID] = in.Admitted && in.Alive
		}
		before := pending
		for _, u := range f.g.In(f.normal[r]) {
			if !ok[id(int(u))] {
				pending++
			}
		}
		if pending > before {
			lagging = append(lagging, r)
		}
	}
	return pending, lagging
}

// fly runs every drone and attacker from the epoch until every normal
// drone has reported the last round (or a deadline a few rounds later),
// then stops them all and waits for them.
func (f *netFleet) fly(ctx context.Context) error {
	o := f.o
	deadline := f.epoch.Add(time.Duration(o.rounds+10)*o.period + 5*time.Second)
	runCtx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, len(f.nodes))
	for i, nd := range f.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = nd.Run(runCtx)
		}()
	}
	for _, a := range f.attackers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.run(runCtx, f.epoch, o.period, o.rounds, f.tr)
			a.close() // now, while the drones still gossip
		}()
	}
	fmt.Fprintf(f.w, "flying %d rounds of %v...\n", o.rounds, o.period)
	select {
	case <-f.tr.done:
	case <-runCtx.Done():
	}
	cancel()
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("-timeout %v reached before the fleet finished: %w", o.timeout, err)
	}
	for i, err := range errs {
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("drone %d: %w", id(f.normal[i]), err)
		}
	}
	return nil
}

// close releases everything setup created; nodes that ran are closed
// already (Node.Run closes its node), and closing is idempotent.
func (f *netFleet) close() {
	var wg sync.WaitGroup
	for _, nd := range f.nodes {
		wg.Add(1)
		go func() { defer wg.Done(); _ = nd.Close() }()
	}
	for _, a := range f.attackers {
		wg.Add(1)
		go func() { defer wg.Done(); a.close() }()
	}
	wg.Wait()
	if f.brk != nil {
		_ = f.brk.Close()
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = crand.Read(b) // never fails (crypto/rand panics instead)
	return hex.EncodeToString(b)
}
