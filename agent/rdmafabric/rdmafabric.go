// Package rdmafabric adapts the rdma mailbox fabrics to agent.Fabric: the
// shm Fabric for co-located agents (New) and the networked NetFabric for
// agents on different hosts (NewNet).
//
// rdma knows nothing of agent: its fabrics hand drained envelopes to an
// rdma.Sink and report their own errors and counters. This package
// supplies the Sink (an agent.Inbox, with its drop-oldest policy), maps
// rdma.ErrClosed to agent.ErrClosed, rdma.ErrFull to
// agent.ErrBackPressure and rdma.ErrPeerLost to agent.ErrNotConnected, and
// merges rdma's counters with the Inbox's into agent.Stats.
package rdmafabric

import (
	"context"
	"errors"
	"fmt"

	"github.com/wmsr/wmsr/agent"
	"github.com/wmsr/wmsr/attest"
	"github.com/wmsr/wmsr/rdma"
)

// Fabric is an agent.Fabric over an rdma.Fabric or an rdma.NetFabric.
// Per-sender order is preserved within a writer incarnation (a ring).
type Fabric struct {
	f     mailbox
	inbox *agent.Inbox
}

// mailbox is what rdma.Fabric and rdma.NetFabric have in common.
type mailbox interface {
	Publish(ctx context.Context, env []byte) error
	Subscribe(ctx context.Context, from []attest.MemberID) error
	Stats() rdma.Stats
	Close() error
}

var _ agent.Fabric = (*Fabric)(nil)

// sink puts each delivery into the Inbox (never blocking: a full Inbox
// evicts its oldest delivery and counts it). The env the poller passes is
// fresh and owned by the sink, so it goes into the Delivery as is.
type sink struct{ inbox *agent.Inbox }

func (s sink) Deliver(from attest.MemberID, env []byte) {
	s.inbox.Put(agent.Delivery{From: from, Envelope: env})
}

// Backlog lets the poller yield only when the round engine keeps up.
func (s sink) Backlog() int { return len(s.inbox.C()) }

// New opens the shm fabric of agent cfg.ID in cfg.Dir with an Inbox
// holding inboxCapacity deliveries (agent.DefaultInboxCapacity if ≤ 0).
// cfg.Sink must be nil: the adapter supplies it.
func New(cfg rdma.Config, inboxCapacity int) (*Fabric, error) {
	if cfg.Sink != nil {
		return nil, errors.New("rdmafabric: Config.Sink is set by the adapter; leave it nil")
	}
	inbox := agent.NewInbox(inboxCapacity)
	cfg.Sink = sink{inbox: inbox}
	f, err := rdma.NewFabric(cfg)
	if err != nil {
		return nil, err
	}
	return &Fabric{f: f, inbox: inbox}, nil
}

// NewNet opens the networked fabric of agent cfg.ID (listening on
// cfg.Listen, finding peers in cfg.Peers) with an Inbox holding
// inboxCapacity deliveries (agent.DefaultInboxCapacity if ≤ 0). cfg.Sink
// must be nil: the adapter supplies it. An error wrapping rdma.ErrNoDevice
// or rdma.ErrNotBuilt means the provider cannot run on this host.
func NewNet(cfg rdma.NetConfig, inboxCapacity int) (*Fabric, error) {
	if cfg.Sink != nil {
		return nil, errors.New("rdmafabric: NetConfig.Sink is set by the adapter; leave it nil")
	}
	inbox := agent.NewInbox(inboxCapacity)
	cfg.Sink = sink{inbox: inbox}
	f, err := rdma.NewNetFabric(cfg)
	if err != nil {
		return nil, err
	}
	return &Fabric{f: f, inbox: inbox}, nil
}

// ListenAddr is the address a networked fabric's connection manager
// listens on (to advertise to peers), "" for the shm fabric.
func (a *Fabric) ListenAddr() string {
	if nf, ok := a.f.(*rdma.NetFabric); ok {
		return nf.Addr().String()
	}
	return ""
}

// mapErr makes rdma's sentinels recognisable as agent's, keeping the
// original in the chain.
func mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, rdma.ErrClosed):
		return fmt.Errorf("%w: %w", agent.ErrClosed, err)
	case errors.Is(err, rdma.ErrPeerLost):
		return fmt.Errorf("%w: %w", agent.ErrNotConnected, err)
	case errors.Is(err, rdma.ErrFull):
		return fmt.Errorf("%w: %w", agent.ErrBackPressure, err)
	}
	return err
}

// Publish implements agent.Fabric. It never waits: a full ring is reported
// at once as an error wrapping agent.ErrBackPressure and rdma.ErrFull, a
// networked ring found lost as one wrapping agent.ErrNotConnected and
// rdma.ErrPeerLost.
func (a *Fabric) Publish(ctx context.Context, env []byte) error {
	return mapErr(a.f.Publish(ctx, env))
}

// Subscribe implements agent.Fabric.
func (a *Fabric) Subscribe(ctx context.Context, from []attest.MemberID) error {
	return mapErr(a.f.Subscribe(ctx, from))
}

// Inbox implements agent.Fabric.
func (a *Fabric) Inbox() <-chan agent.Delivery { return a.inbox.C() }

// Stats implements agent.Fabric: rdma's counters, with Received and
// Dropped taken from the Inbox.
func (a *Fabric) Stats() agent.Stats {
	s := a.f.Stats()
	return agent.Stats{
		Published:     s.Published,
		PublishErrors: s.PublishErrors,
		Received:      a.inbox.Received(),
		Dropped:       a.inbox.Dropped(),
		Malformed:     s.Malformed,
		Connects:      s.Connects,
		ConnLost:      s.ConnLost,
	}
}

// Close implements agent.Fabric: it closes the rdma fabric (after which
// no delivery arrives) and then the Inbox. Idempotent.
func (a *Fabric) Close() error {
	err := a.f.Close()
	a.inbox.Close()
	return err
}
