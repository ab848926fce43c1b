package node_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wmsr/wmsr/agent/node"
	"github.com/wmsr/wmsr/attest"
	"github.com/wmsr/wmsr/recipe"
)

func TestTopologyGraph(t *testing.T) {
	g, members, err := node.TopologyGraph(recipe.Topology{Members: []uint64{7, 3, 9}, Edges: [][2]uint64{{3, 7}, {9, 7}, {7, 3}}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(members, []attest.MemberID{7, 3, 9}) || g.N() != 3 || g.M() != 3 || !g.HasArc(1, 0) || !g.HasArc(2, 0) || !g.HasArc(0, 1) {
		t.Fatalf("graph %v, members %v", g.Arcs(), members)
	}
	for _, tc := range []struct {
		t    recipe.Topology
		want string
	}{
		{recipe.Topology{}, "no members"},
		{recipe.Topology{Members: []uint64{1, 0}}, "is 0"},
		{recipe.Topology{Members: []uint64{1, 1}}, "listed twice"},
		{recipe.Topology{Members: []uint64{1, 2}, Edges: [][2]uint64{{1, 5}}}, "not listed"},
		{recipe.Topology{Members: []uint64{1, 2}, Edges: [][2]uint64{{1, 1}}}, "edges[0]"},
		{recipe.Topology{Members: []uint64{1, 2}, Edges: [][2]uint64{{1, 2}, {1, 2}}}, "topology record"},
	} {
		if _, _, err := node.TopologyGraph(tc.t); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.t, err, tc.want)
		}
	}
}

// An agent without a neighbour list reads the fleet graph from the log.
func TestTopologyFromLog(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	_, clients := startLog(t, 78, []ed25519.PublicKey{pub})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var err2 error
	waitFor(t, "a leader that answers reads", 10*time.Second, func() bool {
		_, _, err2 = node.TopologyFromLog(ctx, clients)
		return errors.Is(err2, node.ErrNoTopology)
	})
	op, err := recipe.DialClient(ctx, clients[1], recipe.OperatorKey(priv))
	if err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	cmd, err := recipe.PutTopology(recipe.Topology{Members: []uint64{1, 2, 3}, Edges: [][2]uint64{{1, 2}, {3, 2}, {2, 1}, {2, 3}}}, 10)
	if err != nil {
		t.Fatal(err)
	}
	if err := op.Propose(ctx, cmd); err != nil {
		t.Fatal(err)
	}
	g, members, err := node.TopologyFromLog(ctx, clients)
	if err != nil {
		t.Fatal(err)
	}
	if g.N() != 3 || g.M() != 4 || !slices.Equal(members, []attest.MemberID{1, 2, 3}) {
		t.Fatalf("graph %v, members %v", g.Arcs(), members)
	}
}
