package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wmsr/wmsr/agent"
	"github.com/wmsr/wmsr/agent/membership"
	"github.com/wmsr/wmsr/attest"
	"github.com/wmsr/wmsr/graph"
	"github.com/wmsr/wmsr/topology"
)

// Options assemble one agent. Engine, Backend and Fabric are required;
// the rest is optional.
type Options struct {
	// Engine configures the round engine (ID, Neighbours, Initial, Scope,
	// D, Period, Epoch, ...).
	Engine agent.Config
	// Backend holds this member's keys and produces its attestation.
	Backend attest.Backend
	// Members are records known at start (an insecure test fleet derives
	// them); the others are admitted by gossip.
	Members []attest.Member
	// Fabric carries the values; the Node closes it.
	Fabric agent.Fabric

	// Gossip, if not nil, runs memberlist (agent/membership): peers'
	// attestations are admitted with Admitter and applied to the engine,
	// and neighbours declared dead leave the in-neighbour set. The Node
	// fills in Fleet-independent fields Self, Admitter, Delegate and
	// Logger.
	Gossip *membership.Config
	// Admitter admits peers' attestations (required with Gossip): an
	// *attest.Admitter with the fleet's policy.
	Admitter membership.Admitter
	// Join are memberlist addresses to join at start (none: this member
	// waits to be joined).
	Join []string

	// Topology, if not nil, is the whole fleet graph (node i is member
	// i+1), and Model the threat model the configured F is meant for: on
	// every death or return the node decides with topology/ whether the
	// live part of the graph still tolerates F, and warns when it does
	// not. Without a topology it can only check the necessary local
	// condition (live in-degree ≥ F+1).
	Topology *graph.Digraph
	// TopologyMembers, if not nil, names the member of each node of
	// Topology (from the fleet log); nil means node i is member i+1.
	TopologyMembers []attest.MemberID
	Model           topology.Model
	// CheckTimeout bounds each robustness decision (default 10 s).
	CheckTimeout time.Duration
	// LeaveTimeout bounds the gossip leave at Close (default 1 s): long
	// enough for peers to hear it, short enough that a whole fleet
	// stopping together does not wait on members already gone.
	LeaveTimeout time.Duration

	// FleetLog lists client addresses of fleet configuration log replicas
	// (recipe, "wmsr-agent replica"). Each equivocation proof the engine
	// finds is proposed there as a quarantine record signed as this
	// member, to take effect QuarantineDelay rounds later; empty: proofs
	// are only logged, counted and handed to Delegate.
	FleetLog []string

	// Registerer receives the runner's and the node's metrics.
	Registerer prometheus.Registerer
	// Delegate receives round reports and evidence.
	Delegate agent.Delegate
	// Clock defaults to agent.RealClock.
	Clock agent.Clock
	// Logger defaults to discarding.
	Logger *slog.Logger
}

// Node is one running agent: engine, runner, fabric and, optionally,
// membership, wired together. It is the composition wmsr-agent and the
// drones example share.
type Node struct {
	opts   Options
	log    *slog.Logger
	pub    *publisher
	eng    *agent.Engine
	runner *agent.Runner
	ml     *membership.Membership
	m      nodeMetrics

	follow *follower      // nil without FleetLog
	next   agent.Delegate // where round reports and evidence go on to

	mu      sync.Mutex
	dead    map[attest.MemberID]bool
	verdict Verdict
	dirty   chan struct{}
	// topo and topoMembers are the fleet graph the robustness check
	// decides on (Options.Topology at start, then each topology from the
	// log once it takes effect); topoNext are those scheduled.
	topo        *graph.Digraph
	topoMembers []attest.MemberID
	topoNext    []topoChange

	closeOnce sync.Once
	closeErr  error
}

// Verdict is the node's latest robustness check of the live topology.
type Verdict struct {
	// Tolerated: 1 the sufficient condition for F holds on the live
	// graph, 0 a necessary condition fails (F is no longer tolerated), −1
	// undecided (no topology to decide on, theory silent, or timeout).
	Tolerated int
	Live      int    // live in-neighbours
	Why       string // the reason, for logs
}

type nodeMetrics struct {
	live      prometheus.Gauge
	tolerated prometheus.Gauge
	rejected  prometheus.Counter
	admitted  prometheus.Counter
}

// New assembles a node: engine, runner and, with Gossip, membership
// (joined to Join within ctx). Close releases it if Run is never called.
func New(ctx context.Context, o Options) (*Node, error) {
	if o.Backend == nil || o.Fabric == nil {
		return nil, fmt.Errorf("%w: node needs a backend and a fabric", agent.ErrConfig)
	}
	if o.Gossip != nil && o.Admitter == nil {
		return nil, fmt.Errorf("%w: gossip needs an admitter for peers' attestations", agent.ErrConfig)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.CheckTimeout <= 0 {
		o.CheckTimeout = 10 * time.Second
	}
	if o.LeaveTimeout <= 0 {
		o.LeaveTimeout = time.Second
	}
	if o.Model == "" {
		o.Model = topology.Total
	}
	if o.Engine.Logger == nil {
		o.Engine.Logger = o.Logger
	}
	n := &Node{opts: o, log: o.Logger, dead: map[attest.MemberID]bool{}, dirty: make(chan struct{}, 1),
		topo: o.Topology, topoMembers: o.TopologyMembers}
	eng, err := agent.NewEngine(o.Engine, o.Backend.Identity(), o.Members)
	if err != nil {
		return nil, err
	}
	n.eng = eng
	reg := o.Registerer
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	del := o.Delegate
	if len(o.FleetLog) > 0 {
		if n.pub, err = newPublisher(o.FleetLog, o.Backend, eng, o.Logger, o.Delegate); err != nil {
			return nil, err
		}
		for _, c := range n.pub.collectors() {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("node: metrics: %w", err)
			}
		}
		del = n.pub
		n.follow = newFollower(n, o.FleetLog)
		for _, c := range n.follow.collectors() {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("node: metrics: %w", err)
			}
		}
	}
	n.next = del
	if n.runner, err = agent.NewRunner(eng, o.Fabric, agent.RunnerOptions{Clock: o.Clock, Delegate: (*roundDelegate)(n), Registerer: reg}); err != nil {
		return nil, err
	}
	n.m = nodeMetrics{
		live: prometheus.NewGauge(prometheus.GaugeOpts{Name: "wmsr_agent_live_neighbours",
			Help: "In-neighbours not declared dead by membership."}),
		tolerated: prometheus.NewGauge(prometheus.GaugeOpts{Name: "wmsr_agent_topology_tolerates_f",
			Help: "Robustness of the live topology for the configured F: 1 tolerated (sufficient condition holds), 0 not tolerated (necessary condition fails), -1 undecided."}),
		rejected: prometheus.NewCounter(prometheus.CounterOpts{Name: "wmsr_agent_admission_rejected_total",
			Help: "Peer attestations that failed admission."}),
		admitted: prometheus.NewCounter(prometheus.CounterOpts{Name: "wmsr_agent_admitted_total",
			Help: "Peer member records admitted (first admission or a new epoch)."}),
	}
	for _, c := range []prometheus.Collector{n.m.live, n.m.tolerated, n.m.rejected, n.m.admitted} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("node: metrics: %w", err)
		}
	}
	n.m.live.Set(float64(len(o.Engine.Neighbours)))
	n.m.tolerated.Set(-1)
	if o.Gossip != nil {
		att, err := o.Backend.Attest()
		if err != nil {
			return nil, fmt.Errorf("node: attestation: %w", err)
		}
		gc := *o.Gossip
		gc.Self, gc.Admitter, gc.Delegate = att, o.Admitter, (*gossipDelegate)(n)
		if gc.Logger == nil {
			gc.Logger = o.Logger.With("component", "membership")
		}
		if n.ml, err = membership.New(gc); err != nil {
			return nil, err
		}
		if len(o.Join) > 0 {
			if _, err := n.ml.Join(ctx, o.Join); err != nil {
				n.ml.Close()
				return nil, fmt.Errorf("node: gossip join %v: %w", o.Join, err)
			}
		}
	}
	return n, nil
}

// Engine returns the node's round engine.
func (n *Node) Engine() *agent.Engine { return n.eng }

// Runner returns the node's runner.
func (n *Node) Runner() *agent.Runner { return n.runner }

// Membership returns the node's membership, or nil without gossip.
func (n *Node) Membership() *membership.Membership { return n.ml }

// Verdict returns the latest robustness check of the live topology.
func (n *Node) Verdict() Verdict {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.verdict
}

// Run runs rounds until ctx is done, re-checking robustness as membership
// changes; it returns nil on cancellation. It closes the node on return.
func (n *Node) Run(ctx context.Context) error {
	defer n.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); n.watchRobustness(ctx) }()
	if n.pub != nil {
		wg.Add(1)
		go func() { defer wg.Done(); n.pub.run(ctx) }()
	}
	if n.follow != nil {
		wg.Add(1)
		go func() { defer wg.Done(); n.follow.run(ctx) }()
	}
	n.markDirty()
	err := n.runner.Run(ctx)
	cancel()
	wg.Wait()
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// Close leaves the gossip group (so peers learn at once rather than by
// failure detection) and closes membership and fabric. It is idempotent.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		var errs []error
		if n.ml != nil {
			if err := n.ml.Leave(n.opts.LeaveTimeout); err != nil {
				n.log.Debug("node: gossip leave", "err", err)
			}
			errs = append(errs, n.ml.Close())
		}
		errs = append(errs, n.opts.Fabric.Close())
		n.closeErr = errors.Join(errs...)
	})
	return n.closeErr
}

func (n *Node) markDirty() {
	select {
	case n.dirty <- struct{}{}:
	default:
	}
}

// watchRobustness re-decides after every membership change, one decision
// at a time (a burst of deaths costs one decision, not one each).
func (n *Node) watchRobustness(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.dirty:
		}
		v := n.check(ctx)
		n.mu.Lock()
		prev := n.verdict
		n.verdict = v
		n.mu.Unlock()
		n.m.tolerated.Set(float64(v.Tolerated))
		n.m.live.Set(float64(v.Live))
		switch {
		case v.Tolerated == 0:
			n.log.Warn("node: the live topology no longer tolerates the configured F",
				"F", n.opts.Engine.F(), "model", n.opts.Model, "live_neighbours", v.Live, "why", v.Why)
		case v != prev:
			n.log.Info("node: robustness of the live topology", "tolerated", v.Tolerated,
				"live_neighbours", v.Live, "why", v.Why)
		}
	}
}

// check decides whether the live topology tolerates F.
func (n *Node) check(ctx context.Context) Verdict {
	cfg := n.eng.Config()
	f := cfg.Scope.F(cfg.Node, len(cfg.Neighbours))
	live := len(n.eng.Live())
	v := Verdict{Tolerated: -1, Live: live}
	if f >= 1 && live < f+1 {
		// (F+1)-robustness, necessary under every model the agent runs,
		// needs in-degree ≥ F+1 at every node for F+1 ≥ 2.
		v.Tolerated, v.Why = 0, fmt.Sprintf("live in-degree %d < F+1 = %d", live, f+1)
		return v
	}
	n.mu.Lock()
	g, members := n.topo, n.topoMembers
	if g == nil {
		n.mu.Unlock()
		v.Why = "no fleet topology to decide on (only the local in-degree condition was checked)"
		return v
	}
	keep := make([]bool, g.N())
	for i := range keep {
		m := attest.MemberID(i + 1)
		if members != nil {
			m = members[i]
		}
		keep[i] = !n.dead[m]
	}
	n.mu.Unlock()
	sub, _ := g.Induced(keep)
	cctx, cancel := context.WithTimeout(ctx, n.opts.CheckTimeout)
	defer cancel()
	ok, refuted, decided, why, _, err := topology.Tolerates(cctx, sub, n.opts.Model, f, topology.Options{Workers: 1})
	switch {
	case err != nil:
		v.Why = err.Error()
	case !decided:
		v.Why = "robustness check timed out"
	case ok:
		v.Tolerated, v.Why = 1, why
	case refuted:
		v.Tolerated, v.Why = 0, why
	default:
		v.Why = "not decided by theory: " + why
	}
	return v
}

// roundDelegate is the runner's delegate: it adopts, for the robustness
// check, the topologies that took effect at a round (RoundReport.Changes),
// and passes everything on.
type roundDelegate Node

func (d *roundDelegate) NotifyRound(r agent.RoundReport) {
	n := (*Node)(d)
	if r.Changes > 0 {
		n.mu.Lock()
		adopted := false
		for len(n.topoNext) > 0 && n.topoNext[0].at <= r.Round {
			// Scheduled in log order, so ascending rounds.
			n.topo, n.topoMembers = n.topoNext[0].g, n.topoNext[0].members
			n.topoNext = n.topoNext[1:]
			adopted = true
		}
		n.mu.Unlock()
		if adopted {
			n.m.live.Set(float64(len(n.eng.Live())))
		}
		// F or the neighbours changed: decide again.
		n.markDirty()
	}
	if n.next != nil {
		n.next.NotifyRound(r)
	}
}

func (d *roundDelegate) NotifyEvidence(ev attest.Evidence) {
	if n := (*Node)(d); n.next != nil {
		n.next.NotifyEvidence(ev)
	}
}

// gossipDelegate applies membership events to the engine.
type gossipDelegate Node

func (d *gossipDelegate) NotifyAdmitted(m attest.Member) {
	n := (*Node)(d)
	n.m.admitted.Inc()
	if _, err := n.eng.UpdateMember(m); err != nil {
		n.log.Warn("node: admitted record not applied", "member", m.ID, "epoch", m.Epoch, "err", err)
		return
	}
	n.mu.Lock()
	wasDead := n.dead[m.ID]
	delete(n.dead, m.ID)
	n.mu.Unlock()
	if n.eng.SetAlive(m.ID, true) || wasDead {
		n.markDirty()
	}
	n.log.Info("node: member admitted", "member", m.ID, "epoch", m.Epoch)
}

func (d *gossipDelegate) NotifyDead(id attest.MemberID) {
	n := (*Node)(d)
	n.mu.Lock()
	n.dead[id] = true
	n.mu.Unlock()
	neighbour := n.eng.SetAlive(id, false)
	n.log.Warn("node: member declared dead", "member", id, "neighbour", neighbour)
	n.markDirty()
}

func (d *gossipDelegate) NotifyRejected(id attest.MemberID, err error) {
	n := (*Node)(d)
	n.m.rejected.Inc()
	n.log.Warn("node: attestation refused", "member", id, "err", err)
}
