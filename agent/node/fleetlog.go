package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/wmsr/wmsr/attest"
	"github.com/wmsr/wmsr/graph"
	"github.com/wmsr/wmsr/recipe"
)

// ErrNoTopology: the fleet configuration log holds no topology yet.
var ErrNoTopology = errors.New("the fleet configuration log holds no topology")

// TopologyFromLog reads the fleet graph from the configuration log (recipe
// key "topology", a linearizable read), trying the replicas in turn. It
// returns the graph and the member of each node (node i is members[i]).
// The log checks only the record's shape, so the graph is validated here:
// edges between listed members only, no self-loops, no duplicates.
func TopologyFromLog(ctx context.Context, replicas []string) (*graph.Digraph, []attest.MemberID, error) {
	var errs []error
	for _, addr := range replicas {
		g, members, err := readLogTopology(ctx, addr)
		if err == nil || errors.Is(err, ErrNoTopology) || ctx.Err() != nil {
			return g, members, err
		}
		errs = append(errs, err)
	}
	return nil, nil, fmt.Errorf("fleet log: %w", errors.Join(errs...))
}

func readLogTopology(ctx context.Context, addr string) (*graph.Digraph, []attest.MemberID, error) {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c, err := recipe.DialClient(cctx, addr, nil)
	if err != nil {
		return nil, nil, err
	}
	defer c.Close()
	val, ok, err := c.Get(cctx, recipe.KeyTopology)
	if err != nil {
		return nil, nil, fmt.Errorf("replica %s: %w", addr, err)
	}
	if !ok {
		return nil, nil, fmt.Errorf("replica %s: %w", addr, ErrNoTopology)
	}
	var t recipe.Topology
	if err := json.Unmarshal(val, &t); err != nil {
		return nil, nil, fmt.Errorf("replica %s: topology record: %w", addr, err)
	}
	return TopologyGraph(t)
}

// TopologyGraph converts a log topology record to a graph whose node i is
// member t.Members[i], refusing what the log's shape check lets through.
func TopologyGraph(t recipe.Topology) (*graph.Digraph, []attest.MemberID, error) {
	if len(t.Members) == 0 {
		return nil, nil, errors.New("topology record: no members")
	}
	index := make(map[uint64]int, len(t.Members))
	members := make([]attest.MemberID, len(t.Members))
	for i, m := range t.Members {
		if m == 0 {
			return nil, nil, fmt.Errorf("topology record: members[%d] is 0, not a member id", i)
		}
		if _, dup := index[m]; dup {
			return nil, nil, fmt.Errorf("topology record: member %d listed twice", m)
		}
		index[m], members[i] = i, attest.MemberID(m)
	}
	b, err := graph.NewBuilder(len(t.Members))
	if err != nil {
		return nil, nil, fmt.Errorf("topology record: %w", err)
	}
	for i, e := range t.Edges {
		u, okU := index[e[0]]
		v, okV := index[e[1]]
		if !okU || !okV {
			return nil, nil, fmt.Errorf("topology record: edges[%d] %d→%d names a member not listed", i, e[0], e[1])
		}
		if err := b.AddArc(u, v); err != nil {
			return nil, nil, fmt.Errorf("topology record: edges[%d] %d→%d: %w", i, e[0], e[1], err)
		}
	}
	g, err := b.Build()
	if err != nil {
		return nil, nil, fmt.Errorf("topology record: %w", err)
	}
	return g, members, nil
}

// inNeighbours returns the members that id hears in g (node i is
// members[i]).
func inNeighbours(g *graph.Digraph, members []attest.MemberID, id attest.MemberID) ([]attest.MemberID, error) {
	for i, m := range members {
		if m != id {
			continue
		}
		var out []attest.MemberID
		for _, u := range g.In(i) {
			out = append(out, members[u])
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("member %d has no in-neighbours in the fleet topology", id)
		}
		return out, nil
	}
	return nil, fmt.Errorf("member %d is not in the fleet topology (members %s)", id, idList(members))
}

// outNeighbours returns the members that hear id in g (node i is
// members[i], or member i+1 when members is nil).
func outNeighbours(g *graph.Digraph, members []attest.MemberID, id attest.MemberID) []attest.MemberID {
	member := func(i int) attest.MemberID {
		if members == nil {
			return attest.MemberID(i + 1)
		}
		return members[i]
	}
	for i := range g.N() {
		if member(i) != id {
			continue
		}
		var out []attest.MemberID
		for _, v := range g.Out(i) {
			out = append(out, member(int(v)))
		}
		return out
	}
	return nil
}

func idList(ids []attest.MemberID) string {
	s := ""
	for i, id := range ids {
		if i > 0 {
			s += ","
		}
		s += strconv.FormatUint(uint64(id), 10)
	}
	return s
}
