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
	"github.com/wmsr/wmsr/attest"
	"github.com/wmsr/wmsr/recipe"
)

// QuarantineDelay is how many rounds after the proof a proposed quarantine
// takes effect: the fleet switches together at an agreed future round, and
// the log needs a few rounds to commit it.
const QuarantineDelay = 20

// evidenceQueue bounds the proofs waiting to be proposed; beyond it a
// proof is dropped and counted (another neighbour of the equivocator, or
// this one's next proof, will carry it).
const evidenceQueue = 16

// publisher proposes equivocation evidence to the fleet configuration log
// as quarantine records, signed as this member (recipe.MemberKey), trying
// the replicas in turn. It runs beside the round loop: NotifyEvidence never
// blocks.
type publisher struct {
	replicas []string
	key      recipe.ClientKey
	eng      *agent.Engine
	log      *slog.Logger
	next     agent.Delegate // the caller's delegate, if any
	queue    chan attest.Evidence

	proposed, failed, dropped prometheus.Counter

	mu     sync.Mutex
	client *recipe.Client
	at     int // replica the client talks to
}

func newPublisher(replicas []string, b attest.Backend, eng *agent.Engine, log *slog.Logger, next agent.Delegate) (*publisher, error) {
	key, err := recipe.MemberKey(b)
	if err != nil {
		return nil, fmt.Errorf("node: fleet log key: %w", err)
	}
	c := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: "wmsr_agent_evidence_" + name + "_total", Help: help})
	}
	return &publisher{
		replicas: replicas, key: key, eng: eng, log: log, next: next,
		queue:    make(chan attest.Evidence, evidenceQueue),
		proposed: c("proposed", "Equivocation proofs committed to the fleet configuration log as quarantine records."),
		failed:   c("propose_failed", "Equivocation proofs no replica committed."),
		dropped:  c("dropped", "Equivocation proofs dropped because the proposal queue was full."),
	}, nil
}

func (p *publisher) collectors() []prometheus.Collector {
	return []prometheus.Collector{p.proposed, p.failed, p.dropped}
}

// NotifyRound forwards to the caller's delegate.
func (p *publisher) NotifyRound(r agent.RoundReport) {
	if p.next != nil {
		p.next.NotifyRound(r)
	}
}

// NotifyEvidence queues the proof (never blocking) and forwards it.
func (p *publisher) NotifyEvidence(ev attest.Evidence) {
	select {
	case p.queue <- ev:
	default:
		p.dropped.Inc()
	}
	if p.next != nil {
		p.next.NotifyEvidence(ev)
	}
}

// run records this agent in the log, then proposes queued proofs, until
// ctx is done.
func (p *publisher) run(ctx context.Context) {
	defer p.closeClient()
	p.announce(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-p.queue:
			if err := p.propose(ctx, ev); err != nil {
				if ctx.Err() != nil {
					return
				}
				p.failed.Inc()
				p.log.Warn("node: equivocation evidence not committed to the fleet log", "err", err)
			}
		}
	}
}

// announce records this agent's attestation (its epoch) in the log as
// agent/<id>, retrying with backoff until a replica commits it: from then
// on every agent following the log refuses this member's older epochs,
// even one that never met this epoch (a restart from an old disk is
// refused fleet-wide, not only by the peers that saw the newer epoch).
// The log refusing it (ErrStaleEpoch) means it holds a newer epoch of this
// member: this process runs on rolled-back state, and peers will refuse
// it. That is logged as an error and not retried.
func (p *publisher) announce(ctx context.Context) {
	cmd, err := recipe.AgentCommand(p.key)
	if err != nil {
		p.log.Error("node: agent record not proposed", "err", err)
		return
	}
	// ProposeAny retries through leader changes and unreachable replicas
	// until ctx ends, and tells a late answer to an earlier attempt that
	// did commit from a refusal.
	_, err = recipe.ProposeAny(ctx, p.replicas, p.key, cmd)
	switch {
	case err == nil:
		p.log.Info("node: agent record committed to the fleet log", "key", cmd.Key)
	case ctx.Err() != nil:
	case errors.Is(err, recipe.ErrStaleEpoch):
		p.log.Error("node: the fleet log holds a newer epoch of this agent: this process runs on rolled-back state (an old identity state directory?) and peers following the log refuse it", "err", err)
	default:
		p.log.Warn("node: the fleet log refuses this agent's record", "err", err)
	}
}

// propose commits one quarantine record, trying each replica at most once.
func (p *publisher) propose(ctx context.Context, ev attest.Evidence) error {
	slot, err := ev.Slot()
	if err != nil {
		return err
	}
	enc, err := ev.MarshalBinary()
	if err != nil {
		return err
	}
	round, _ := p.eng.Round()
	cmd, err := recipe.PutQuarantine(recipe.Quarantine{
		Member: uint64(slot.Sender), Reason: "equivocation", Evidence: enc,
	}, round+QuarantineDelay)
	if err != nil {
		return err
	}
	var errs []error
	for range p.replicas {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := p.try(pctx, cmd)
		cancel()
		if err == nil {
			p.proposed.Inc()
			p.log.Info("node: equivocation evidence committed to the fleet log", "member", slot.Sender,
				"epoch", slot.Epoch, "counter", slot.Counter, "activate_at", round+QuarantineDelay)
			return nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		p.closeClient()
		p.mu.Lock()
		p.at = (p.at + 1) % len(p.replicas)
		p.mu.Unlock()
	}
	return errors.Join(errs...)
}

func (p *publisher) try(ctx context.Context, cmd recipe.Command) error {
	p.mu.Lock()
	c, addr := p.client, p.replicas[p.at]
	p.mu.Unlock()
	if c == nil {
		var err error
		if c, err = recipe.DialClient(ctx, addr, p.key); err != nil {
			return err
		}
		p.mu.Lock()
		p.client = c
		p.mu.Unlock()
	}
	if err := c.Propose(ctx, cmd); err != nil {
		return fmt.Errorf("replica %s: %w", addr, err)
	}
	return nil
}

func (p *publisher) closeClient() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.client != nil {
		p.client.Close()
		p.client = nil
	}
}
