package rdmafabric_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/wmsr/wmsr/agent"
	"github.com/wmsr/wmsr/agent/fabrictest"
	"github.com/wmsr/wmsr/agent/rdmafabric"
	"github.com/wmsr/wmsr/attest"
	"github.com/wmsr/wmsr/rdma"
	"github.com/wmsr/wmsr/rdma/rdmatest"
)

// netFleet runs networked fabrics over the EmulatedTCP provider (not
// RDMA: see the rdma package documentation), each reached by its peers
// through a proxy whose connections Restart cuts, as a network failure
// would.
type netFleet struct {
	dir     *rdmatest.Directory
	mu      sync.Mutex
	proxies map[attest.MemberID]*rdmatest.Proxy
}

func newNetFleet() *netFleet {
	return &netFleet{dir: rdmatest.NewDirectory(), proxies: map[attest.MemberID]*rdmatest.Proxy{}}
}

func (n *netFleet) open(t testing.TB, id attest.MemberID, inboxCap int) *rdmafabric.Fabric {
	t.Helper()
	f, err := rdmafabric.NewNet(rdma.NetConfig{
		ID: id, Provider: rdma.EmulatedTCP{}, Listen: "127.0.0.1:0", Peers: n.dir,
		RetryMax: 200 * time.Millisecond, SetupTimeout: 2 * time.Second,
	}, inboxCap)
	if err != nil {
		t.Fatal(err)
	}
	p := rdmatest.NewProxy(t, f.ListenAddr())
	n.dir.Set(id, p.Addr())
	n.mu.Lock()
	n.proxies[id] = p
	n.mu.Unlock()
	t.Cleanup(func() {
		n.dir.Delete(id)
		n.mu.Lock()
		delete(n.proxies, id)
		n.mu.Unlock()
	})
	return f
}

// cut resets every connection between the fabrics.
func (n *netFleet) cut(testing.TB) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, p := range n.proxies {
		p.Cut()
	}
}

// TestNetConformance runs the agent.Fabric suite against networked
// fabrics in one process. Restart cuts every connection between them:
// receivers must re-dial on their own, senders report the lost rings as
// ErrNotConnected.
func TestNetConformance(t *testing.T) {
	n := newNetFleet()
	fabrictest.Run(t, fabrictest.Harness{
		New: func(t testing.TB, id attest.MemberID, inboxCap int) agent.Fabric {
			return n.open(t, id, inboxCap)
		},
		Restart: n.cut,
		Ordered: true,
		Wait:    5 * time.Second,
	})
}

// TestNetErrors: a lost receiver surfaces as agent.ErrNotConnected (with
// rdma.ErrPeerLost in the chain), once; an unsubscribing one not at all.
func TestNetErrors(t *testing.T) {
	ctx := context.Background()
	n := newNetFleet()
	a := n.open(t, 1, 0)
	defer a.Close()
	b := n.open(t, 2, 0)
	defer b.Close()
	if err := b.Subscribe(ctx, []attest.MemberID{1}); err != nil {
		t.Fatal(err)
	}
	if err := a.Publish(ctx, []byte("x")); err != nil {
		t.Fatal(err)
	}
	n.cut(t)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		err := a.Publish(ctx, []byte("y"))
		if err != nil {
			if !errors.Is(err, agent.ErrNotConnected) || !errors.Is(err, rdma.ErrPeerLost) {
				t.Fatalf("Publish after the cut: %v", err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the lost ring was never reported")
		}
	}
	if st := a.Stats(); st.ConnLost != 1 || st.PublishErrors != 1 {
		t.Errorf("stats %+v", st)
	}
	if a.ListenAddr() == "" {
		t.Error("no listen address")
	}
	if _, err := rdmafabric.NewNet(rdma.NetConfig{Sink: sinkFunc(func(attest.MemberID, []byte) {})}, 0); err == nil {
		t.Error("NewNet accepted a caller's Sink")
	}
}
