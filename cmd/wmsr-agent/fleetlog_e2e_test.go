package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wmsr/wmsr/agent/mqtttest"
)

// TestFleetLogEndToEnd: four agents (keygen identities, gossip, embedded
// broker) follow a fleet configuration log of three replica processes.
// The operator's "wmsr-agent log" switches F, then the topology, at
// future rounds; every agent's metrics show the switch, and every agent's
// log puts it at exactly the round the command named.
func TestFleetLogEndToEnd(t *testing.T) {
	faultSetup(t)
	f := newFleet(t, "embedded")
	bin := faultBuild.bin
	op := filepath.Join(f.dir, "op.pem")
	if out, err := exec.Command(bin, "keygen", "--ca-out", op).CombinedOutput(); err != nil {
		t.Fatalf("keygen: %v\n%s", err, out)
	}
	var peers, clients []string
	for _, id := range []int{101, 102, 103} {
		peers = append(peers, fmt.Sprintf("%d=%s", id, mqtttest.FreeAddr(t)))
		clients = append(clients, mqtttest.FreeAddr(t))
	}
	for i, id := range []int{101, 102, 103} {
		f.start(fmt.Sprintf("replica%d", id), bin, []string{"replica", "--id", strconv.Itoa(id),
			"--peers", strings.Join(peers, ","), "--client-listen", clients[i],
			"--data-dir", filepath.Join(f.dir, fmt.Sprintf("replica%d", id)),
			"--insecure-test-fleet", "--test-fleet-seed", "7", "--client-keys", op + ".pub", "--log-level", "info"}, nil)
	}
	for _, c := range clients {
		waitListening(t, c)
	}
	reps := strings.Join(clients, ",")
	f.agentArgs = []string{"--fleetlog-replicas", reps}
	f.addAgents(completeGraph([]float64{10, 20, 30, 40})...)
	all := []int{1, 2, 3, 4}
	f.startAll(all...)
	f.waitMetrics(20*time.Second, "F = 1 on three neighbours", all, func(_ int, m promMetrics) (bool, string) {
		return m.get("f") == 1 && m.get("in_neighbours") == 3, fmt.Sprintf("F %v, in-neighbours %v", m.get("f"), m.get("in_neighbours"))
	})

	roundRE := regexp.MustCompile(`in effect from round ([0-9]+)`)
	change := func(args ...string) uint64 {
		t.Helper()
		args = append([]string{"log"}, append(args, "--in", "3s", "--period", faultPeriod.String(), "--key", op, "--replicas", reps)...)
		out, err := exec.Command(bin, args...).CombinedOutput()
		m := roundRE.FindSubmatch(out)
		if err != nil || m == nil {
			t.Fatalf("wmsr-agent %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		r, _ := strconv.ParseUint(string(m[1]), 10, 64)
		return r
	}
	inEffectAt := func(round uint64) {
		t.Helper()
		want := regexp.MustCompile(fmt.Sprintf(`msg="agent: configuration change in effect".* round=%d at=%d `, round, round))
		for _, id := range all {
			if log := f.agents[id].proc.log.String(); !want.MatchString(log) {
				t.Fatalf("agent %d: no change in effect at round %d in its log:\n%s", id, round, tail(log, 3000))
			}
		}
	}

	rF := change("set-params", "--f", "0")
	f.waitMetrics(20*time.Second, "F = 0 everywhere", all, func(_ int, m promMetrics) (bool, string) {
		return m.get("f") == 0, fmt.Sprintf("F %v", m.get("f"))
	})
	inEffectAt(rF)

	// The complete graph less arc 4 → 1 (node i is member i+1).
	topo := filepath.Join(f.dir, "k4-less-one.txt")
	var arcs []string
	for u := range 4 {
		for v := range 4 {
			if u != v && !(u == 3 && v == 0) {
				arcs = append(arcs, fmt.Sprintf("%d %d", u, v))
			}
		}
	}
	if err := os.WriteFile(topo, []byte(fmt.Sprintf("4 %d\n%s\n", len(arcs), strings.Join(arcs, "\n"))), 0o600); err != nil {
		t.Fatal(err)
	}
	rT := change("set-topology", topo)
	f.waitMetrics(20*time.Second, "agent 1 hearing only 2 and 3", all, func(id int, m promMetrics) (bool, string) {
		want := 3.0
		if id == 1 {
			want = 2
		}
		return m.get("in_neighbours") == want, fmt.Sprintf("in-neighbours %v, want %v", m.get("in_neighbours"), want)
	})
	inEffectAt(rT)
	t.Logf("F switched at round %d and the topology at round %d on all four agents", rF, rT)
}
