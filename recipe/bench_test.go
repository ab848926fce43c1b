package recipe_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/wmsr/wmsr/attest"
	"github.com/wmsr/wmsr/recipe"
	"github.com/wmsr/wmsr/recipe/replicacmd"
)

// benchCluster starts n replicas in this process, each with its own TCP
// transport and client port on loopback (the same transport as the
// process test), and returns the leader's client address and an operator
// key its client port accepts.
func benchCluster(tb testing.TB, n int, vanilla bool) (leader string, key recipe.ClientKey, stop func()) {
	addrs := map[attest.MemberID]string{}
	clients := map[attest.MemberID]string{}
	var ids []attest.MemberID
	free := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		defer l.Close()
		return l.Addr().String()
	}
	for i := 1; i <= n; i++ {
		addrs[attest.MemberID(i)], clients[attest.MemberID(i)] = free(), free()
		ids = append(ids, attest.MemberID(i))
	}
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		tb.Fatal(err)
	}
	fleet, genesis, gtime, err := replicacmd.TestFleet(42, ids)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, id := range ids {
		b, err := replicacmd.Backend(fleet, 42, id, 1)
		if err != nil {
			tb.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := recipe.RunReplica(ctx, recipe.ReplicaConfig{
				ID: id, Epoch: 1, Listen: addrs[id], Addrs: addrs, ClientListen: clients[id],
				OperatorKeys: []ed25519.PublicKey{pub}, Backend: b, Admitter: fleet.Admitter,
				Genesis: genesis, GenesisTime: gtime, Vanilla: vanilla, Tick: 10 * time.Millisecond,
			})
			if err != nil {
				tb.Error(err)
			}
		}()
	}
	stop = func() { cancel(); wg.Wait() }
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, id := range ids {
			c, err := recipe.DialClient(ctx, clients[id], nil)
			if err != nil {
				continue
			}
			st, err := c.Status(ctx)
			c.Close()
			if err == nil && st.Leader != 0 && st.Self == st.Leader {
				return clients[id], recipe.OperatorKey(priv), stop
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	tb.Fatal("no leader")
	return "", nil, nil
}

type benchResult struct {
	ops           int
	dur           time.Duration
	p50, p99      time.Duration
	failed        int
	throughputOps float64
}

// writeTimeout bounds one benchmark write.
const writeTimeout = 2 * time.Second

// runWrites drives clients concurrent writers against addr for d.
func runWrites(tb testing.TB, addr string, key recipe.ClientKey, clients, size int, d time.Duration) benchResult {
	val := make([]byte, size)
	for i := range val {
		val[i] = byte('a' + i%26)
	}
	var mu sync.Mutex
	var lats []time.Duration
	failed := 0
	ctx, cancel := context.WithTimeout(context.Background(), d+10*time.Second)
	defer cancel()
	start := time.Now()
	end := start.Add(d)
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl, err := recipe.DialClient(ctx, addr, key)
			if err != nil {
				tb.Error(err)
				return
			}
			defer cl.Close()
			var mine []time.Duration
			for i := 0; time.Now().Before(end); i++ {
				t0 := time.Now()
				// A proposal lost in a leader change is never answered:
				// give up on it after a while (counted as failed) rather
				// than stall the writer past the window.
				pctx, pcancel := context.WithTimeout(ctx, writeTimeout)
				err := cl.Put(pctx, "kv/"+strconv.Itoa(c)+"/"+strconv.Itoa(i), val)
				pcancel()
				if err != nil && pctx.Err() != nil {
					// The connection's read was cut: start a new one.
					cl.Close()
					if cl, err = recipe.DialClient(ctx, addr, key); err != nil {
						tb.Error(err)
						return
					}
					err = pctx.Err()
				}
				if err != nil {
					mu.Lock()
					failed++
					mu.Unlock()
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lats = append(lats, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	el := time.Since(start)
	slices.Sort(lats)
	r := benchResult{ops: len(lats), dur: el, failed: failed}
	if len(lats) > 0 {
		r.p50 = lats[len(lats)/2]
		r.p99 = lats[len(lats)*99/100]
	}
	// Writes are issued during d; the last ones complete up to
	// writeTimeout later. Throughput is over the whole span.
	r.throughputOps = float64(r.ops) / el.Seconds()
	return r
}

// TestBenchmarkTable measures write throughput and latency for 3 and 5
// replicas, 256 B and 1 KiB values, Recipe vs vanilla etcd raft over the
// same TCP loopback transport in the same run. It prints a markdown
// table. Run with:
//
//	RECIPE_BENCH=1 go test ./recipe/ -run TestBenchmarkTable -v -count=1
func TestBenchmarkTable(t *testing.T) {
	if os.Getenv("RECIPE_BENCH") == "" {
		t.Skip("set RECIPE_BENCH=1")
	}
	d := 3 * time.Second
	if s := os.Getenv("RECIPE_BENCH_SECONDS"); s != "" {
		n, _ := strconv.Atoi(s)
		d = time.Duration(n) * time.Second
	}
	const clients = 32
	rows := []string{
		"| replicas | value | mode | writes/s | p50 | p99 | failed | recipe/vanilla |",
		"|---|---|---|---|---|---|---|---|",
	}
	for _, n := range []int{3, 5} {
		for _, size := range []int{256, 1024} {
			var van float64
			for _, vanilla := range []bool{true, false} {
				addr, key, stop := benchCluster(t, n, vanilla)
				r := runWrites(t, addr, key, clients, size, d)
				stop()
				mode, ratio := "recipe", ""
				if vanilla {
					mode, van = "vanilla", r.throughputOps
				} else if van > 0 {
					ratio = fmt.Sprintf("%.2f×", r.throughputOps/van)
				}
				rows = append(rows, fmt.Sprintf("| %d | %d B | %s | %.0f | %.2f ms | %.2f ms | %d | %s |",
					n, size, mode, r.throughputOps, float64(r.p50.Microseconds())/1000, float64(r.p99.Microseconds())/1000, r.failed, ratio))
				t.Logf("n=%d size=%d %s: %d ops in %v, %d failed", n, size, mode, r.ops, r.dur.Round(time.Millisecond), r.failed)
			}
		}
	}
	for _, r := range rows {
		t.Log(r)
	}
}
