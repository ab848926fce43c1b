package agent

import (
	"fmt"
	"slices"

	"github.com/wmsr/wmsr/attest"
	"github.com/wmsr/wmsr/wmsr"
)

// A Change is a fleet configuration change agreed in the fleet
// configuration log (package recipe), with the round it takes effect:
// every agent applies it at the start of round At, whenever it learned of
// it, so that the whole fleet switches together (recipe.Command's
// ActivateAt). Between two agents that switch at different rounds, W-MSR's
// guarantees would hold for neither configuration: a fleet going from
// F = 1 to F = 2 on a new topology must not run a round in which some
// agents trim one value on the new graph and others two on the old.
type Change struct {
	// At is the first round that uses the change.
	At uint64
	// Scope, if not nil, replaces Config.Scope.
	Scope wmsr.Scope
	// Neighbours, if not nil, replaces Config.Neighbours. Neighbours that
	// stay keep what the engine holds of them (their newest value within
	// D rounds, their counters); new ones start empty, and are accepted
	// once their member record is known (UpdateMember, before or after).
	Neighbours []attest.MemberID
	// OutNeighbours, if not nil, replaces Config.OutNeighbours (with
	// SuiteHMACSHA256, who the values are sealed for).
	OutNeighbours []attest.MemberID
	// Quarantine lists members the fleet excluded (recipe quarantine
	// records): their values are refused as "quarantined" from At on, as
	// after this engine caught one equivocating itself, and the value
	// held of them is dropped. A quarantined
	// neighbour counts as an omission, and W-MSR trims F values whatever
	// they are, so the fleet stays within its budget while the topology
	// is being changed to route around the member.
	Quarantine []attest.MemberID
}

// Schedule queues c to take effect at Begin(c.At), or at the first Begin
// after it when that round is skipped or already begun (a late learner
// catches up at once). It checks c against the configuration it would
// produce now (Config.Validate) and refuses it with an error wrapping
// ErrConfig. Changes take effect in the order of At, a later schedule
// after an earlier one at the same round.
func (e *Engine) Schedule(c Change) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	next := e.cfg
	c.Neighbours = slices.Clone(c.Neighbours)
	c.OutNeighbours = slices.Clone(c.OutNeighbours)
	c.Quarantine = slices.Clone(c.Quarantine)
	c.apply(&next)
	if err := next.Validate(); err != nil {
		return fmt.Errorf("change at round %d: %w", c.At, err)
	}
	if e.cfg.Unauthenticated && c.OutNeighbours != nil {
		return fmt.Errorf("%w: change at round %d: out-neighbours without authentication", ErrConfig, c.At)
	}
	i, _ := slices.BinarySearchFunc(e.pending, c.At, func(p Change, at uint64) int {
		if p.At <= at {
			return -1
		}
		return 1
	})
	e.pending = slices.Insert(e.pending, i, c)
	return nil
}

// Member returns the newest record UpdateMember gave for id (neighbour or
// not).
func (e *Engine) Member(id attest.MemberID) (attest.Member, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	m, ok := e.known[id]
	return m, ok
}

// Pending returns the number of changes scheduled and not yet in effect.
func (e *Engine) Pending() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.pending)
}

func (c *Change) apply(cfg *Config) {
	if c.Scope != nil {
		cfg.Scope = c.Scope
	}
	if c.Neighbours != nil {
		cfg.Neighbours = c.Neighbours
	}
	if c.OutNeighbours != nil {
		cfg.OutNeighbours = c.OutNeighbours
	}
}

// applyPending puts into effect the changes due by round t; called by
// Begin(t) with e.mu held, before sealing, so that round t is sent,
// received and updated under the new configuration. It returns how many
// took effect.
func (e *Engine) applyPending(t uint64) int {
	n := 0
	for n < len(e.pending) && e.pending[n].At <= t {
		c := &e.pending[n]
		// Re-validated: a change is checked at Schedule against the
		// configuration of that moment; one scheduled earlier may have
		// changed what this one combines with.
		next := e.cfg
		c.apply(&next)
		if err := next.Validate(); err != nil {
			e.log.Error("agent: scheduled change refused at its round", "round", t, "at", c.At, "err", err)
			n++
			continue
		}
		if c.Neighbours != nil {
			e.setNeighbours(c.Neighbours)
		}
		if c.OutNeighbours != nil {
			e.cfg.OutNeighbours = c.OutNeighbours
			for _, id := range c.OutNeighbours {
				if m, ok := e.known[id]; ok && e.hmac {
					if _, err := e.outSender(m); err != nil {
						e.log.Warn("agent: out-neighbour not applied", "member", id, "err", err)
					}
				}
			}
		}
		if c.Scope != nil {
			e.cfg.Scope = c.Scope
		}
		for _, id := range c.Quarantine {
			if !e.quar[id] {
				e.quar[id] = true
				if k, ok := e.index[id]; ok {
					e.slots[k].have, e.slots[k].early = false, false
				}
			}
		}
		e.log.Info("agent: configuration change in effect", "round", t, "at", c.At,
			"neighbours", len(e.cfg.Neighbours), "F", e.cfg.fLive(len(e.cfg.Neighbours)))
		n++
	}
	e.pending = slices.Delete(e.pending, 0, n)
	return n
}

// setNeighbours replaces the in-neighbour set, keeping the slots of the
// neighbours that stay.
func (e *Engine) setNeighbours(ids []attest.MemberID) {
	slots := make([]slot, len(ids))
	index := make(map[attest.MemberID]int, len(ids))
	dim := len(e.state)
	for k, id := range ids {
		index[id] = k
		if old, ok := e.index[id]; ok {
			slots[k] = e.slots[old]
			continue
		}
		slots[k] = slot{val: make([]float64, 0, dim), earlyVal: make([]float64, 0, dim), dead: e.gone[id]}
		if m, ok := e.known[id]; ok && e.recv != nil {
			if err := e.recv.AddMember(m); err != nil {
				e.log.Warn("agent: new neighbour's record not applied", "member", id, "epoch", m.Epoch, "err", err)
			}
		}
	}
	if e.recv != nil {
		for _, id := range e.cfg.Neighbours {
			if _, stays := index[id]; !stays {
				e.recv.RemoveMember(id)
			}
		}
	}
	e.cfg.Neighbours, e.index, e.slots = ids, index, slots
}
