package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wmsr/wmsr/agent"
	"github.com/wmsr/wmsr/attest"
	"github.com/wmsr/wmsr/graph"
	"github.com/wmsr/wmsr/recipe"
	"github.com/wmsr/wmsr/wmsr"
)

// followWait is how long a replica holds one watch request (the long
// poll); a change is seen as soon as it commits, whatever this is.
const followWait = 10 * time.Second

// follower keeps the engine on the fleet configuration log: it watches the
// log (recipe.Client.Changes) and schedules every change of the fleet
// parameters, the topology and the quarantine at the round the log gives
// it (agent.Engine.Schedule), so that every agent switches at the same
// round however late it learned. It trusts the log's order and content
// (the log's replicas are the authority on configuration; what reaches
// them is signed by operators or, for quarantine, proven by evidence),
// and validates the records' shape, refusing and counting what the engine
// could not run.
type follower struct {
	n        *Node
	replicas []string
	seen     map[string]uint64 // key → revision of the record scheduled
	// waiting holds quarantine records whose accused member's record is
	// not known here yet (gossip or the log will bring it): retried after
	// every answer of the watch, at least every followWait.
	waiting map[string]recipe.Record

	scheduled, refused prometheus.Counter
}

// topoChange is a topology scheduled in the engine, for the robustness
// check to adopt when it takes effect.
type topoChange struct {
	at      uint64
	g       *graph.Digraph
	members []attest.MemberID
}

func newFollower(n *Node, replicas []string) *follower {
	c := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: "wmsr_agent_fleetlog_changes_" + name + "_total", Help: help})
	}
	return &follower{
		n: n, replicas: replicas, seen: map[string]uint64{}, waiting: map[string]recipe.Record{},
		scheduled: c("scheduled", "Fleet log records (params, topology, quarantine) scheduled in the engine at their activation round."),
		refused:   c("refused", "Fleet log records this agent could not apply (malformed, a configuration the engine refuses, an attestation its policy refuses)."),
	}
}

func (f *follower) collectors() []prometheus.Collector {
	return []prometheus.Collector{f.scheduled, f.refused}
}

// run follows the log until ctx ends (recipe.Follow: the replicas in
// turn, a long poll each).
func (f *follower) run(ctx context.Context) {
	_ = recipe.Follow(ctx, f.replicas, 0, followWait, f.answer, func(addr string, err error) {
		f.n.log.Debug("node: fleet log watch", "replica", addr, "err", err)
	})
}

// answer applies one answer of the watch, then retries the quarantines
// that wait for a member record.
func (f *follower) answer(ch recipe.Changes) {
	for _, ev := range ch.Events {
		f.apply(ev)
	}
	for key, r := range f.waiting {
		if err := f.quarantine(r); !errors.Is(err, errRecordUnknown) {
			delete(f.waiting, key)
			f.done(r, err)
		}
	}
}

// apply schedules one record of the log, once per revision (a snapshot
// repeats records already scheduled).
func (f *follower) apply(ev recipe.Event) {
	r := ev.Record
	if ev.Op != recipe.OpPut || r.Revision <= f.seen[r.Key] {
		return
	}
	if strings.HasPrefix(r.Key, recipe.PrefixAgent) {
		f.seen[r.Key] = r.Revision
		if err := f.agent(r); err != nil {
			f.refused.Inc()
			f.n.log.Warn("node: agent record from the fleet log not applied", "key", r.Key, "revision", r.Revision, "err", err)
		}
		return
	}
	var err error
	switch {
	case r.Key == recipe.KeyParams:
		err = f.params(r)
	case r.Key == recipe.KeyTopology:
		err = f.topology(r)
	case strings.HasPrefix(r.Key, recipe.PrefixQuarantine):
		err = f.quarantine(r)
	default:
		return // kv/ and member records are not the engine's
	}
	f.seen[r.Key] = r.Revision
	delete(f.waiting, r.Key) // a newer record of the key replaces a waiting one
	if errors.Is(err, errRecordUnknown) {
		f.waiting[r.Key] = r
		f.n.log.Info("node: quarantine record waits for the accused member's record", "key", r.Key, "revision", r.Revision)
		return
	}
	f.done(r, err)
}

// done counts and logs the outcome of one record.
func (f *follower) done(r recipe.Record, err error) {
	if err != nil {
		f.refused.Inc()
		f.n.log.Error("node: fleet log record not applied", "key", r.Key, "revision", r.Revision, "round", r.ActivateAt, "err", err)
		return
	}
	f.scheduled.Inc()
	f.n.log.Info("node: fleet log change scheduled", "key", r.Key, "revision", r.Revision, "round", r.ActivateAt)
}

// errRecordUnknown: a quarantine's proof cannot be checked yet, for want
// of the accused member's record.
var errRecordUnknown = errors.New("the accused member's record is not known here yet")

func (f *follower) params(r recipe.Record) error {
	var p recipe.FleetParams
	if err := json.Unmarshal(r.Value, &p); err != nil {
		return fmt.Errorf("params record: %w", err)
	}
	cfg := f.n.eng.Config()
	if _, ok := cfg.Scope.(wmsr.Total); !ok {
		return fmt.Errorf("params record sets F = %d for the whole fleet, but this agent trims by a %T scope", p.F, cfg.Scope)
	}
	// What the engine cannot switch at a round is said, not ignored.
	if p.RoundPeriodMs != 0 && time.Duration(p.RoundPeriodMs)*time.Millisecond != cfg.Period {
		f.n.log.Warn("node: the fleet log's round period differs from this agent's; it applies only at restart (the round clock is fixed while running)",
			"log_ms", p.RoundPeriodMs, "agent", cfg.Period)
	}
	if len(p.Weights) > 0 {
		f.n.log.Warn("node: the fleet log sets weights; this agent uses the uniform weights 1/(1+kept) (weights are not applied)")
	}
	return f.n.eng.Schedule(agent.Change{At: r.ActivateAt, Scope: wmsr.Total(p.F)})
}

func (f *follower) topology(r recipe.Record) error {
	var t recipe.Topology
	if err := json.Unmarshal(r.Value, &t); err != nil {
		return fmt.Errorf("topology record: %w", err)
	}
	g, members, err := TopologyGraph(t)
	if err != nil {
		return err
	}
	cfg := f.n.eng.Config()
	in, err := inNeighbours(g, members, cfg.ID)
	if err != nil {
		return err
	}
	c := agent.Change{At: r.ActivateAt, Neighbours: in}
	if cfg.Suite.Pairwise() {
		c.OutNeighbours = outNeighbours(g, members, cfg.ID)
	}
	if err := f.n.eng.Schedule(c); err != nil {
		return err
	}
	f.n.mu.Lock()
	f.n.topoNext = append(f.n.topoNext, topoChange{at: r.ActivateAt, g: g, members: members})
	f.n.mu.Unlock()
	return nil
}

// agent applies an agent record: the attestation is admitted against this
// agent's own policy (Options.Admitter) and the member record given to the
// engine, which from then on refuses that member's older epochs, whether
// gossip brings them or not. An epoch the engine already holds, or an
// older one, is nothing new. Without an admitter (no gossip, a static
// fleet) records are not applied: there is no policy to check them by.
func (f *follower) agent(r recipe.Record) error {
	adm := f.n.opts.Admitter
	if adm == nil {
		return nil
	}
	var a recipe.AgentRecord
	if err := json.Unmarshal(r.Value, &a); err != nil {
		return fmt.Errorf("agent record: %w", err)
	}
	att, err := attest.ParseAttestation(a.Attestation)
	if err != nil {
		return fmt.Errorf("agent record of member %d: %w", a.Member, err)
	}
	id := att.Claim.ID
	if id == f.n.opts.Engine.ID {
		return nil
	}
	var prev *attest.Member
	if m, ok := f.n.eng.Member(id); ok {
		if m.Epoch >= att.Claim.Epoch {
			return nil
		}
		prev = &m
	}
	m, err := adm.Admit(att, prev, time.Now())
	if err != nil {
		return fmt.Errorf("agent record of member %d epoch %d: %w", id, att.Claim.Epoch, err)
	}
	if _, err := f.n.eng.UpdateMember(m); err != nil {
		return err
	}
	f.n.log.Info("node: member record from the fleet log", "member", id, "epoch", m.Epoch)
	return nil
}

// quarantine schedules a quarantine record only on evidence this agent
// verifies itself: Ed25519 equivocation proof against the member record it
// admitted. The log checks a record's shape, not its proof, and any
// admitted member may propose one, so a compromised member could otherwise
// exclude honest neighbours (each excluded neighbour is an omission).
// HMAC evidence convinces only its receiver, so it is refused here; an
// operator who wants a member out without proof changes the topology.
func (f *follower) quarantine(r recipe.Record) error {
	var q recipe.Quarantine
	if err := json.Unmarshal(r.Value, &q); err != nil {
		return fmt.Errorf("quarantine record: %w", err)
	}
	id := attest.MemberID(q.Member)
	if q.Member == 0 || r.Key != recipe.PrefixQuarantine+strconv.FormatUint(q.Member, 10) {
		return errors.New("quarantine record: member does not match its key")
	}
	ev, err := attest.ParseEvidence(q.Evidence)
	if err != nil {
		return fmt.Errorf("quarantine of member %d: evidence: %w", id, err)
	}
	proven, err := ev.Slot()
	if err != nil {
		return fmt.Errorf("quarantine of member %d: evidence: %w", id, err)
	}
	m, ok := f.n.eng.Member(id)
	if !ok || m.Epoch < proven.Epoch {
		return fmt.Errorf("quarantine of member %d epoch %d: %w", id, proven.Epoch, errRecordUnknown)
	}
	slot, err := attest.VerifyEvidence(ev, &m)
	if err != nil {
		return fmt.Errorf("quarantine of member %d: %w", id, err)
	}
	if slot.Sender != id {
		return fmt.Errorf("quarantine of member %d: the evidence is against member %d", id, slot.Sender)
	}
	return f.n.eng.Schedule(agent.Change{At: r.ActivateAt, Quarantine: []attest.MemberID{id}})
}
