package node_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/wmsr/wmsr/agent/node"
	"github.com/wmsr/wmsr/attest"
)

func TestSettingsTopology(t *testing.T) {
	dir := t.TempDir()
	topo := filepath.Join(dir, "fleet.txt")
	// 0→1, 2→1, 1→0: member 2 hears members 1 and 3.
	if err := os.WriteFile(topo, []byte("3 3\n0 1\n2 1\n1 0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	load := func(kv map[string]any) (*node.Settings, error) {
		v := node.NewViper(nil)
		for k, x := range map[string]any{"token": "t", "insecure-test-fleet": true, "f": 0} {
			v.Set(k, x)
		}
		for k, x := range kv {
			v.Set(k, x)
		}
		return node.Load(v, nil, "")
	}
	s, err := load(map[string]any{"id": 2, "topology": topo})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.Neighbours, []attest.MemberID{1, 3}) || s.Topology.N() != 3 {
		t.Fatalf("neighbours %v", s.Neighbours)
	}
	for _, tc := range []struct {
		kv   map[string]any
		want string
	}{
		{map[string]any{"id": 3, "topology": topo}, "no in-neighbours"},
		{map[string]any{"id": 4, "topology": topo}, "members 1..3"},
		{map[string]any{"id": 2, "topology": filepath.Join(dir, "missing.txt")}, "invalid topology"},
		{map[string]any{"id": 2, "topology": topo, "neighbours": "1"}, "give one of them"},
	} {
		_, err := load(tc.kv)
		if !errors.Is(err, node.ErrSettings) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.kv, err, tc.want)
		}
	}
	// No list and no file: the topology comes from the fleet log, if one
	// is configured.
	if s, err := load(map[string]any{"id": 2, "fleetlog.replicas": "127.0.0.1:7100"}); err != nil || len(s.Neighbours) != 0 {
		t.Errorf("neighbours from the fleet log: %v %v", s, err)
	}
	if _, err := load(map[string]any{"id": 2}); err == nil || !strings.Contains(err.Error(), "fleetlog.replicas") {
		t.Errorf("no neighbours at all: %v", err)
	}
	bad := filepath.Join(dir, "bad.txt")
	os.WriteFile(bad, []byte("3 1\n0 0\n"), 0o600)
	if _, err := load(map[string]any{"id": 2, "topology": bad}); !errors.Is(err, node.ErrSettings) || !strings.Contains(err.Error(), "bad.txt") {
		t.Errorf("self-loop file: %v", err)
	}
}
