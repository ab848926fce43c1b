package recipe_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wmsr/wmsr/recipe"
	"github.com/wmsr/wmsr/recipe/replicacmd"
)

// The test binary doubles as the replica process (re-exec of os.Args[0]
// with RECIPE_REPLICA_ARGS set), so no separate build is needed.
func TestMain(m *testing.M) {
	if args := os.Getenv("RECIPE_REPLICA_ARGS"); args != "" {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		if err := replicacmd.Main(ctx, strings.Fields(args), io.Discard, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, "replica:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

type proc struct {
	id     int
	addr   string // peer port
	client string // client port
	dir    string
	cmd    *exec.Cmd
	log    *bytes.Buffer
}

func freeAddrs(t *testing.T, n int) []string {
	var out []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, l.Addr().String())
		l.Close()
	}
	return out
}

func startProc(t *testing.T, p *proc, peers string, extra string) {
	t.Helper()
	p.log = &bytes.Buffer{}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("RECIPE_REPLICA_ARGS=--id %d --data-dir %s --peers %s --client-listen %s "+
		"--insecure-test-fleet --test-fleet-seed 42 --log-level warn %s", p.id, p.dir, peers, p.client, extra))
	cmd.Stderr = p.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.cmd = cmd
}

// TestProcessKillLeader runs a real three-process cluster on loopback,
// writes continuously, kills the leader with SIGKILL, keeps writing,
// restarts it from its data directory (it comes back as a new epoch and
// is re-admitted by configuration change, with state by snapshot), keeps
// writing, and checks that every acknowledged write is readable,
// linearizably, from every replica, the restarted one included. Writes
// are signed by an operator key listed in --client-keys.
func TestProcessKillLeader(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	addrs := freeAddrs(t, 6)
	var peerList []string
	procs := make([]*proc, 3)
	for i := range procs {
		procs[i] = &proc{id: i + 1, addr: addrs[i], client: addrs[3+i], dir: t.TempDir()}
		peerList = append(peerList, fmt.Sprintf("%d=%s", i+1, addrs[i]))
	}
	peers := strings.Join(peerList, ",")
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	keys := filepath.Join(t.TempDir(), "operators")
	if err := os.WriteFile(keys, []byte("# test operator\n"+hex.EncodeToString(pub)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	op := recipe.OperatorKey(priv)
	extra := "--client-keys " + keys
	for _, p := range procs {
		startProc(t, p, peers, extra)
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
				t.Logf("replica %d log:\n%s", p.id, p.log.String())
			}
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()

	acked := map[string]string{}
	seq := 0
	// write tries every live replica until one acknowledges.
	write := func(skip int) bool {
		seq++
		key, val := fmt.Sprintf("kv/w%d", seq), fmt.Sprintf("v%d", seq)
		for try := range 60 {
			p := procs[(seq+try)%3]
			if p.id == skip {
				continue
			}
			c, err := recipe.DialClient(ctx, p.client, op)
			if err != nil {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			wctx, wc := context.WithTimeout(ctx, 500*time.Millisecond)
			err = c.Put(wctx, key, []byte(val))
			wc()
			c.Close()
			if err == nil {
				acked[key] = val
				return true
			}
			time.Sleep(50 * time.Millisecond)
		}
		return false
	}
	status := func(p *proc) (self, leader uint64, voter bool, err error) {
		c, err := recipe.DialClient(ctx, p.client, nil)
		if err != nil {
			return 0, 0, false, err
		}
		defer c.Close()
		sctx, sc := context.WithTimeout(ctx, time.Second)
		defer sc()
		st, err := c.Status(sctx)
		return st.Self, st.Leader, st.Voter, err
	}

	for range 20 {
		if !write(0) {
			t.Fatal("no write acknowledged by the fresh cluster")
		}
	}
	// Find and kill the leader.
	var leader *proc
	for leader == nil {
		for _, p := range procs {
			self, lead, _, err := status(p)
			if err == nil && lead != 0 && lead == self {
				leader = p
			}
		}
		if ctx.Err() != nil {
			t.Fatal("no leader")
		}
	}
	t.Logf("killing leader: replica %d", leader.id)
	if err := leader.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = leader.cmd.Wait()
	for range 20 {
		if !write(leader.id) {
			t.Fatal("no write acknowledged after the leader was killed")
		}
	}
	startProc(t, leader, peers, extra)
	// Wait until the restarted replica is a voter again.
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, lead, voter, err := status(leader)
		if err == nil && voter && lead != 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("restarted replica %d not re-admitted", leader.id)
		}
		time.Sleep(100 * time.Millisecond)
	}
	self, _, _, _ := status(leader)
	if _, e := recipe.MemberOf(self); e != 2 {
		t.Fatalf("restarted replica runs epoch %d, want 2", e)
	}
	for range 20 {
		if !write(0) {
			t.Fatal("no write acknowledged after the restart")
		}
	}
	// Every acknowledged write, from every replica. A read can be lost
	// (raft drops a ReadIndex request when no leader is known), so each
	// is retried with a fresh connection.
	get := func(p *proc, key string) (string, bool, error) {
		var err error
		for range 20 {
			var c *recipe.Client
			c, err = recipe.DialClient(ctx, p.client, nil)
			if err != nil {
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
	for _, p := range procs {
		for k, v := range acked {
			got, found, err := get(p, k)
			if err != nil || !found || got != v {
				t.Fatalf("replica %d: %s = %q (found %v, err %v), acknowledged %q", p.id, k, got, found, err, v)
			}
		}
	}
	t.Logf("%d acknowledged writes all present on all 3 replicas (restarted one at epoch 2)", len(acked))
	// A restart from a rolled-back disk (epoch file of the first start)
	// is refused: it asks to join at epoch 2, which is already admitted.
	if err := os.WriteFile(filepath.Join(leader.dir, recipe.EpochFile), []byte{0, 0, 0, 0, 0, 0, 0, 1}, 0o600); err != nil {
		t.Fatal(err)
	}
	_ = leader.cmd.Process.Kill()
	_ = leader.cmd.Wait()
	startProc(t, leader, peers, extra)
	time.Sleep(2 * time.Second)
	_, _, voter, err := status(leader)
	if err != nil {
		t.Fatal(err)
	}
	if voter {
		t.Fatal("replica restarted from a rolled-back disk was admitted")
	}
	if !write(leader.id) {
		t.Fatal("cluster stalled after a refused rollback")
	}
}
