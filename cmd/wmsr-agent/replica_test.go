package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wmsr/wmsr/agent/node"
	"github.com/wmsr/wmsr/attest"
	"github.com/wmsr/wmsr/recipe"
)

func TestReplicaConfigValidation(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys")
	os.WriteFile(keys, []byte("# ops\n"+strings.Repeat("ab", 32)+"\nnot-hex\n"), 0o600)
	policy := filepath.Join(dir, "policy.json")
	os.WriteFile(policy, []byte(`{"version": 1}`), 0o600)
	conf := filepath.Join(dir, "r.yaml")
	os.WriteFile(conf, []byte("client-keys: "+keys+"\n"), 0o600)
	base := []string{"replica", "--check-config", "--id", "1", "--peers", "1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003",
		"--data-dir", dir}
	for _, tc := range []struct {
		name string
		env  [2]string
		args []string
		want string
	}{
		{"no id", [2]string{}, []string{"--id", "0", "--insecure-test-fleet"}, "invalid id (from flag --id)"},
		{"peers", [2]string{}, []string{"--peers", "two=127.0.0.1:2", "--insecure-test-fleet"}, `invalid peers (from flag --peers): "two=127.0.0.1:2" is not id=host:port`},
		{"client port env", [2]string{"WMSR_REPLICA_CLIENT_LISTEN", "nowhere"}, []string{"--insecure-test-fleet"}, "invalid client-listen (from environment WMSR_REPLICA_CLIENT_LISTEN)"},
		{"self missing", [2]string{}, []string{"--id", "4", "--insecure-test-fleet"}, "does not list this replica's id 4"},
		{"tick", [2]string{}, []string{"--tick", "soon", "--insecure-test-fleet"}, "invalid tick (from flag --tick)"},
		{"client port is peer port", [2]string{}, []string{"--client-listen", "127.0.0.1:7001", "--insecure-test-fleet"}, "invalid client-listen (from flag --client-listen)"},
		{"log level env", [2]string{"WMSR_REPLICA_LOG_LEVEL", "loud"}, []string{"--insecure-test-fleet"}, "invalid log.level (from environment WMSR_REPLICA_LOG_LEVEL)"},
		{"client keys file", [2]string{}, []string{"--config", conf, "--insecure-test-fleet"}, "invalid client-keys (from config file " + conf + "): " + keys + ": recipe: malformed: line 3"},
		{"no identity", [2]string{}, nil, "invalid identity.dir (from default): empty"},
		{"no policy", [2]string{}, []string{"--identity-dir", dir}, "invalid policy (from default): empty"},
		{"bad policy", [2]string{}, []string{"--identity-dir", dir, "--policy", policy}, "invalid policy (from flag --policy)"},
		{"two identity sources", [2]string{}, []string{"--identity-dir", dir, "--insecure-test-fleet"}, "choose one identity source"},
		{"no data dir", [2]string{}, []string{"--data-dir", "", "--insecure-test-fleet"}, "invalid data-dir (from flag --data-dir)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env[0] != "" {
				t.Setenv(tc.env[0], tc.env[1])
			}
			code, _, errs := runT(t, append(append([]string{}, base...), tc.args...)...)
			if code != exitUsage || !strings.Contains(errs, tc.want) {
				t.Fatalf("code %d, stderr %q; want %d and %q", code, errs, exitUsage, tc.want)
			}
		})
	}
	t.Setenv("WMSR_REPLICA_LOG_LEVEL", "debug")
	code, out, errs := runT(t, append(base, "--insecure-test-fleet", "--client-listen", "127.0.0.1:7101")...)
	if code != 0 {
		t.Fatalf("code %d: %s", code, errs)
	}
	m := resolved(t, out)
	for k, w := range map[string]string{
		"id":            "1\t# flag --id",
		"listen":        "127.0.0.1:7001\t# default",
		"client-listen": "127.0.0.1:7101\t# flag --client-listen",
		"log.level":     "debug\t# environment WMSR_REPLICA_LOG_LEVEL",
		"tick":          "10ms\t# default",
	} {
		if m[k] != w {
			t.Errorf("%s = %q, want %q", k, m[k], w)
		}
	}
}

// TestReplicaGenesisMissing: a first start whose genesis directory lacks a
// replica's epoch-1 statement is a usage error, found before the epoch's
// seed is burnt (a first start that failed later could never bootstrap).
func TestReplicaGenesisMissing(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	ca, policy, ids := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "policy.json"), filepath.Join(dir, "ids")
	if code, _, errs := runT(t, "keygen", "--ca-out", ca, "--policy-out", policy); code != 0 {
		t.Fatal(errs)
	}
	for _, id := range []string{"1", "2"} { // no statement for 3
		if code, _, errs := runT(t, "keygen", "--id", id, "--ca", ca, "--out", ids); code != 0 {
			t.Fatal(errs)
		}
	}
	code, _, errs := runT(t, "replica", "--id", "1", "--peers", "1=127.0.0.1:1,2=127.0.0.1:2,3=127.0.0.1:3",
		"--data-dir", filepath.Join(dir, "data"), "--identity-dir", ids, "--policy", policy)
	want := node.StatementFile(ids, 3, 1) + ": missing"
	if code != exitUsage || !strings.Contains(errs, want) {
		t.Fatalf("code %d, stderr %q; want %d and %q", code, errs, exitUsage, want)
	}
	if _, err := os.Stat(node.SeedFile(ids, 1, 1)); err != nil {
		t.Fatalf("the epoch-1 seed was burnt by a start that could not bootstrap: %v", err)
	}
}

// replicaProc is one "wmsr-agent replica" process of the end-to-end test.
type replicaProc struct {
	id           int
	peer, client string
	args         []string
	cmd          *exec.Cmd
	out          *syncBuf
}

// replicaMITM sits between a client and a replica's client port, frame by
// frame: it records what the client sends, can flip a bit of the next
// write in flight, and can inject a recorded frame into the live
// connection (a replay by someone on the path).
type replicaMITM struct {
	ln       net.Listener
	upstream string

	mu      sync.Mutex
	tamper  bool
	sent    [][]byte // client → replica frames
	up      net.Conn
	answers chan []byte // replica → client frames
}

func startReplicaMITM(t *testing.T, upstream string) *replicaMITM {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := &replicaMITM{ln: ln, upstream: upstream, answers: make(chan []byte, 64)}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", upstream)
			if err != nil {
				c.Close()
				continue
			}
			m.mu.Lock()
			m.up = up
			m.mu.Unlock()
			go func() { // replica → client
				defer c.Close()
				for {
					f, err := replicaReadFrame(up)
					if err != nil {
						return
					}
					select { // recorded before the client can see it
					case m.answers <- f:
					default:
					}
					if replicaWriteFrame(c, f) != nil {
						return
					}
				}
			}()
			go func() { // client → replica
				defer up.Close()
				for {
					f, err := replicaReadFrame(c)
					if err != nil {
						return
					}
					m.mu.Lock()
					m.sent = append(m.sent, bytes.Clone(f))
					if m.tamper && len(f) > 100 && f[0] == 'Q' {
						f[len(f)-65] ^= 0x20 // the value's last byte, just before the signature
						m.tamper = false
					}
					m.mu.Unlock()
					if replicaWriteFrame(up, f) != nil {
						return
					}
				}
			}()
		}
	}()
	return m
}

func replicaReadFrame(r io.Reader) ([]byte, error) {
	var h [4]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, err
	}
	b := make([]byte, binary.BigEndian.Uint32(h[:]))
	_, err := io.ReadFull(r, b)
	return b, err
}

func replicaWriteFrame(w io.Writer, b []byte) error {
	_, err := w.Write(append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...))
	return err
}

// replicaFinal reports whether a proposal's error is an answer that
// retrying elsewhere cannot change (as opposed to no leader, a timeout, a
// replica that is down).
func replicaFinal(err error) bool {
	for _, e := range []error{recipe.ErrForged, recipe.ErrReplayed, recipe.ErrUnknownClient, recipe.ErrUnsigned,
		recipe.ErrForbidden, recipe.ErrMalformed, recipe.ErrPastRound} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// replicaRefusal reports whether an answer frame ('A' req(8) status(1)
// found(1) code(1) reason) refuses its request with a reason containing
// word.
func replicaRefusal(f []byte, word string) bool {
	return len(f) > 12 && f[0] == 'A' && f[9] == 2 && strings.Contains(string(f[12:]), word)
}

// TestReplicaEndToEnd builds wmsr-agent and runs the fleet log as three
// "wmsr-agent replica" processes on loopback with real identities
// (keygen's per-epoch files, a genesis directory of epoch-1 statements, a
// keygen policy). It writes through a client signed by an operator key,
// lets an attested drone propose quarantine evidence, kills the leader
// with SIGKILL, keeps writing, restarts it (epoch 2 from its identity
// directory, re-admitted by the others), keeps writing, and checks that
// every acknowledged write is readable from every replica. On the way, a
// request tampered with in flight is refused as forged, and a captured
// request replayed into its own connection and into a new one is refused
// as replayed; the replica counts both.
func TestReplicaEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs 3 replica processes")
	}
	clearEnv(t)
	start := time.Now()
	dir := t.TempDir()
	bin := filepath.Join(dir, "wmsr-agent")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	t.Logf("build: %v", time.Since(start).Round(time.Millisecond))
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
			t.Fatalf("wmsr-agent %v: %v\n%s", args, err, out)
		}
	}
	path := func(p ...string) string { return filepath.Join(append([]string{dir}, p...)...) }
	ca, policy, genesis, op := path("ca.pem"), path("policy.json"), path("genesis"), path("operator.pem")
	run("keygen", "--ca-out", ca, "--policy-out", policy)
	run("keygen", "--ca-out", op) // any Ed25519 key pair: op.pem.pub is the line to list
	if err := os.MkdirAll(genesis, 0o700); err != nil {
		t.Fatal(err)
	}
	const n = 3
	addrs := make([]string, 2*n)
	for i := range addrs {
		addrs[i] = freePort(t)
	}
	var peers []string
	procs := make([]*replicaProc, n)
	for i := range procs {
		id := i + 1
		ids := path(fmt.Sprintf("id%d", id))
		run("keygen", "--id", strconv.Itoa(id), "--epochs", "3", "--ca", ca, "--out", ids)
		st, err := os.ReadFile(node.StatementFile(ids, attest.MemberID(id), 1))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(node.StatementFile(genesis, attest.MemberID(id), 1), st, 0o600); err != nil {
			t.Fatal(err)
		}
		procs[i] = &replicaProc{id: id, peer: addrs[i], client: addrs[n+i]}
		peers = append(peers, fmt.Sprintf("%d=%s", id, addrs[i]))
	}
	for _, p := range procs {
		p.args = []string{"replica", "--id", strconv.Itoa(p.id), "--peers", strings.Join(peers, ","),
			"--client-listen", p.client, "--data-dir", path(fmt.Sprintf("data%d", p.id)),
			"--identity-dir", path(fmt.Sprintf("id%d", p.id)), "--policy", policy, "--genesis", genesis,
			"--client-keys", op + ".pub", "--log-level", "info"}
	}
	// The drone: an attested member (not a replica) proposing evidence.
	run("keygen", "--id", "50", "--ca", ca, "--out", path("drone"))
	f, err := os.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	hash, err := attest.HashBinary(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	drone, err := node.LoadIdentity(path("drone"), path("drone"), 50, hash)
	if err != nil {
		t.Fatal(err)
	}
	droneKey, err := recipe.MemberKey(drone)
	if err != nil {
		t.Fatal(err)
	}
	pem, err := os.ReadFile(op)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := recipe.ParseOperatorKey(pem)
	if err != nil {
		t.Fatal(err)
	}
	opKey := recipe.OperatorKey(priv)

	launch := func(p *replicaProc) {
		p.out = &syncBuf{}
		p.cmd = exec.Command(bin, p.args...)
		p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, p := range procs {
			if p.cmd != nil && p.cmd.Process != nil {
				_ = p.cmd.Process.Kill()
				_ = p.cmd.Wait()
			}
		}
		if t.Failed() {
			for _, p := range procs {
				t.Logf("--- replica %d ---\n%s", p.id, p.out.String())
			}
		}
	})
	for _, p := range procs {
		launch(p)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	acked := map[string]string{}
	seq := 0
	// propose tries every live replica until one acknowledges.
	propose := func(key recipe.ClientKey, skip int, cmd recipe.Command) error {
		var err error
		for try := range 100 {
			p := procs[(seq+try)%n]
			if p.id == skip {
				continue
			}
			var c *recipe.Client
			if c, err = recipe.DialClient(ctx, p.client, key); err != nil {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			wctx, wc := context.WithTimeout(ctx, time.Second)
			err = c.Propose(wctx, cmd)
			wc()
			c.Close()
			if err == nil || replicaFinal(err) {
				return err
			}
			time.Sleep(50 * time.Millisecond)
		}
		return err
	}
	write := func(skip, count int) {
		t.Helper()
		for range count {
			seq++
			k, v := fmt.Sprintf("kv/w%d", seq), fmt.Sprintf("v%d", seq)
			if err := propose(opKey, skip, recipe.Command{Op: recipe.OpPut, Key: k, Value: []byte(v)}); err != nil {
				t.Fatalf("write %s: %v", k, err)
			}
			acked[k] = v
		}
	}
	status := func(p *replicaProc) (recipe.ReplicaStatus, error) {
		c, err := recipe.DialClient(ctx, p.client, nil)
		if err != nil {
			return recipe.ReplicaStatus{}, err
		}
		defer c.Close()
		sctx, sc := context.WithTimeout(ctx, time.Second)
		defer sc()
		return c.Status(sctx)
	}
	get := func(p *replicaProc, key string) (string, bool, error) {
		var err error
		for range 30 {
			var c *recipe.Client
			if c, err = recipe.DialClient(ctx, p.client, nil); err != nil {
				time.Sleep(100 * time.Millisecond)
				continue
			}
			gctx, gc := context.WithTimeout(ctx, time.Second)
			v, found, gerr := c.Get(gctx, key)
			gc()
			c.Close()
			if gerr == nil {
				return string(v), found, nil
			}
			err = gerr
		}
		return "", false, err
	}

	t0 := time.Now()
	write(0, 20)
	t.Logf("cluster up and 20 writes acknowledged in %v", time.Since(t0).Round(time.Millisecond))

	// An attested drone proposes quarantine evidence; it may not touch
	// the fleet parameters.
	q, err := recipe.PutQuarantine(recipe.Quarantine{Member: 9, Reason: "equivocation", Evidence: []byte("two envelopes")}, 100)
	if err != nil {
		t.Fatal(err)
	}
	if err := propose(droneKey, 0, q); err != nil {
		t.Fatalf("drone's quarantine proposal: %v", err)
	}
	params, _ := recipe.PutParams(recipe.FleetParams{F: 0}, 100)
	if err := propose(droneKey, 0, params); !errors.Is(err, recipe.ErrForbidden) {
		t.Fatalf("drone's params proposal: %v, want ErrForbidden", err)
	}

	// The leader.
	var leader *replicaProc
	for leader == nil && ctx.Err() == nil {
		for _, p := range procs {
			if st, err := status(p); err == nil && st.Leader != 0 && st.Leader == st.Self {
				leader = p
			}
		}
	}
	if leader == nil {
		t.Fatal("no leader")
	}

	// Man in the middle on the leader's client port: a write tampered with
	// in flight is forged; a captured one, replayed into its connection or
	// a new one, is replayed.
	mitm := startReplicaMITM(t, leader.client)
	c, err := recipe.DialClient(ctx, mitm.ln.Addr().String(), opKey)
	if err != nil {
		t.Fatal(err)
	}
	mitm.mu.Lock()
	mitm.tamper = true
	mitm.mu.Unlock()
	if err := c.Put(ctx, "kv/mitm", []byte("honest")); !errors.Is(err, recipe.ErrForged) {
		t.Fatalf("write tampered in flight: %v, want ErrForged", err)
	}
	c.Close()
	if c, err = recipe.DialClient(ctx, mitm.ln.Addr().String(), opKey); err != nil {
		t.Fatal(err)
	}
	if err := c.Put(ctx, "kv/mitm", []byte("once")); err != nil {
		t.Fatal(err)
	}
	acked["kv/mitm"] = "once"
	mitm.mu.Lock()
	captured := mitm.sent[len(mitm.sent)-1]
	up := mitm.up
	mitm.mu.Unlock()
	for len(mitm.answers) > 0 {
		<-mitm.answers
	}
	if err := replicaWriteFrame(up, captured); err != nil {
		t.Fatal(err)
	}
	select {
	case a := <-mitm.answers:
		if !replicaRefusal(a, "replayed") {
			t.Fatalf("replay into the same connection answered %q", a)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no answer to a replay into the same connection")
	}
	c.Close()
	raw, err := net.Dial("tcp", leader.client)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := replicaReadFrame(raw); err != nil { // hello
		t.Fatal(err)
	}
	if err := replicaWriteFrame(raw, captured); err != nil {
		t.Fatal(err)
	}
	if a, err := replicaReadFrame(raw); err != nil || !replicaRefusal(a, "another session") {
		t.Fatalf("replay into a new connection answered %q (%v)", a, err)
	}
	raw.Close()
	st, err := status(leader)
	if err != nil {
		t.Fatal(err)
	}
	if st.Clients.Forged != 1 || st.Clients.Replayed != 2 {
		t.Fatalf("leader counted %+v, want 1 forged and 2 replayed", st.Clients)
	}

	t.Logf("killing the leader, replica %d", leader.id)
	if err := leader.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = leader.cmd.Wait()
	t1 := time.Now()
	write(leader.id, 20)
	t.Logf("20 writes with the leader dead in %v", time.Since(t1).Round(time.Millisecond))

	t2 := time.Now()
	launch(leader)
	for {
		st, err := status(leader)
		if err == nil && st.Voter && st.Leader != 0 {
			if _, e := recipe.MemberOf(st.Self); e != 2 {
				t.Fatalf("restarted replica runs epoch %d, want 2", e)
			}
			break
		}
		if time.Since(t2) > 30*time.Second {
			t.Fatalf("restarted replica %d not re-admitted: %+v %v", leader.id, st, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("restarted replica re-admitted at epoch 2 in %v", time.Since(t2).Round(time.Millisecond))
	write(0, 20)

	for _, p := range procs {
		for k, v := range acked {
			got, found, err := get(p, k)
			if err != nil || !found || got != v {
				t.Fatalf("replica %d: %s = %q (found %v, err %v), acknowledged %q", p.id, k, got, found, err, v)
			}
		}
		rec, found, err := get(p, "quarantine/9")
		if err != nil || !found || !strings.Contains(rec, "equivocation") {
			t.Fatalf("replica %d: quarantine/9 = %q (found %v, err %v)", p.id, rec, found, err)
		}
	}
	t.Logf("%d acknowledged writes present on all %d replicas", len(acked), n)

	// The operator's commands on the same log: set-params and
	// set-topology at future rounds, vetted by topology/ first; get;
	// watch; bad input exits 2 and writes nothing.
	var clients []string
	for _, p := range procs {
		clients = append(clients, p.client)
	}
	reps := strings.Join(clients, ",")
	cli := func(args ...string) (string, int) {
		t.Helper()
		out, err := exec.Command(bin, append([]string{"log"}, args...)...).CombinedOutput()
		var ee *exec.ExitError
		switch {
		case err == nil:
			return string(out), 0
		case errors.As(err, &ee):
			return string(out), ee.ExitCode()
		}
		t.Fatalf("wmsr-agent log %v: %v", args, err)
		return "", -1
	}
	expect := func(wantCode int, want string, args ...string) string {
		t.Helper()
		out, code := cli(args...)
		if code != wantCode || !strings.Contains(out, want) {
			t.Fatalf("wmsr-agent log %s: exit %d, want %d with %q:\n%s", strings.Join(args, " "), code, wantCode, want, out)
		}
		return out
	}
	watch := &syncBuf{}
	wcmd := exec.Command(bin, "log", "watch", "--replicas", reps)
	wcmd.Stdout, wcmd.Stderr = watch, watch
	if err := wcmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = wcmd.Process.Kill(); _ = wcmd.Wait() }()
	k3 := path("k3.txt")
	if err := os.WriteFile(k3, []byte("# the triangle, both ways\n3 6\n0 1\n1 0\n0 2\n2 0\n1 2\n2 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	expect(0, "committed params, in effect from round 500", "set-params", "--f", "1", "--at-round", "500", "--key", op, "--replicas", reps)
	expect(0, "tolerates F = 1", "set-topology", k3, "--at-round", "510", "--key", op, "--replicas", reps)
	expect(1, "does not tolerate F = 2", "set-params", "--f", "2", "--at-round", "520", "--key", op, "--replicas", reps)
	expect(0, "WARNING", "set-params", "--f", "2", "--at-round", "520", "--key", op, "--replicas", reps, "--force")
	expect(1, "round", "set-params", "--f", "1", "--at-round", "519", "--key", op, "--replicas", reps)
	expect(2, "--key", "set-params", "--f", "1", "--in", "10s", "--replicas", reps)
	expect(2, "--at-round", "set-params", "--f", "1", "--key", op, "--replicas", reps)
	expect(2, "no such file", "set-topology", path("missing.txt"), "--at-round", "600", "--key", op, "--replicas", reps)
	expect(2, "--replicas", "get", "params")
	out := expect(0, `"activate_at":520`, "get", "params", "--replicas", reps)
	if !strings.Contains(out, `"f":2`) {
		t.Fatalf("log get params: %s", out)
	}
	out = expect(0, `"key":"topology"`, "get", "--replicas", reps)
	if !strings.Contains(out, `"activate_at":510`) || !strings.Contains(out, `"key":"kv/mitm"`) {
		t.Fatalf("log get: %s", out)
	}
	expect(1, "no record", "get", "kv/absent", "--replicas", reps)
	expect(0, "voter true", "status", "--replicas", reps)
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(watch.String(), `"activate_at":520`) {
		if time.Now().After(deadline) {
			t.Fatalf("log watch printed no params change:\n%s", watch.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(watch.String(), `"snapshot":true`) {
		t.Fatalf("log watch did not start with the current records:\n%s", watch.String())
	}
	t.Logf("operator commands checked; total %v", time.Since(start).Round(time.Millisecond))
}
