package recipe

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/wmsr/wmsr/graph"
)

// TopologyOf is the log record of fleet graph g whose node i is member
// members[i] (members nil: member i+1), the inverse of reading a record
// into a graph.
func TopologyOf(g *graph.Digraph, members []uint64) (Topology, error) {
	if members != nil && len(members) != g.N() {
		return Topology{}, fmt.Errorf("%d member ids for a graph of %d nodes", len(members), g.N())
	}
	t := Topology{Members: make([]uint64, g.N()), Edges: make([][2]uint64, 0, g.M())}
	for i := range t.Members {
		t.Members[i] = uint64(i + 1)
		if members != nil {
			t.Members[i] = members[i]
		}
	}
	for v := range g.N() {
		for _, u := range g.In(v) {
			t.Edges = append(t.Edges, [2]uint64{t.Members[u], t.Members[v]})
		}
	}
	return t, nil
}

// ProposeAny submits cmd, signed with key, to the replicas at addrs in
// turn until one commits it or ctx ends, and returns the replica that did.
// A replica without a leader, or unreachable, is skipped; a refusal (bad
// key, forbidden, malformed, a past activation round) is final and
// returned at once, since every replica would refuse it alike.
func ProposeAny(ctx context.Context, addrs []string, key ClientKey, cmd Command) (string, error) {
	if len(addrs) == 0 {
		return "", errors.New("recipe: no replica addresses")
	}
	var last error
	uncertain := false // an attempt may have committed without our hearing
	for i := 0; ; i++ {
		addr := addrs[i%len(addrs)]
		err := proposeOnce(ctx, addr, key, cmd)
		if err == nil {
			return addr, nil
		}
		if uncertain && errors.Is(err, ErrPastRound) && committed(ctx, addr, cmd) {
			// The earlier attempt did commit; this one was refused
			// because its activation round is no longer ahead of the
			// key's (it is the same).
			return addr, nil
		}
		if !errors.Is(err, ErrNotLeader) && !isTransport(err) {
			return addr, err
		}
		uncertain = uncertain || isTransport(err)
		last = fmt.Errorf("replica %s: %w", addr, err)
		if i%len(addrs) == len(addrs)-1 {
			select {
			case <-ctx.Done():
				return "", fmt.Errorf("%w (last: %w)", ctx.Err(), last)
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
}

func proposeOnce(ctx context.Context, addr string, key ClientKey, cmd Command) error {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c, err := DialClient(cctx, addr, key)
	if err != nil {
		return transportError{err}
	}
	defer c.Close()
	err = c.Propose(cctx, cmd)
	var refused bool
	for _, e := range refusals[1:] {
		refused = refused || errors.Is(err, e)
	}
	if err != nil && !refused && !errors.Is(err, ErrPastRound) && !errors.Is(err, ErrStaleEpoch) && !errors.Is(err, ErrNotLeader) {
		return transportError{err}
	}
	return err
}

// committed reports whether key's committed record is cmd's.
func committed(ctx context.Context, addr string, cmd Command) bool {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c, err := DialClient(cctx, addr, nil)
	if err != nil {
		return false
	}
	defer c.Close()
	ch, err := c.Changes(cctx, 0, 0)
	if err != nil {
		return false
	}
	for _, e := range ch.Events {
		if e.Record.Key == cmd.Key {
			return e.Record.ActivateAt == cmd.ActivateAt && string(e.Record.Value) == string(cmd.Value)
		}
	}
	return false
}

// transportError marks a failure to talk to a replica (as opposed to an
// answer from it).
type transportError struct{ err error }

func (e transportError) Error() string { return e.err.Error() }
func (e transportError) Unwrap() error { return e.err }

func isTransport(err error) bool {
	var t transportError
	return errors.As(err, &t)
}
