// Package rdmatest holds test helpers for the networked mailbox fabric
// (rdma.NetFabric): a mutable peer directory and a TCP proxy whose
// connections can be cut, to interrupt the network between agents.
package rdmatest

import (
	"errors"
	"io"
	"net"
	"slices"
	"sync"
	"testing"

	"github.com/wmsr/wmsr/attest"
	"github.com/wmsr/wmsr/rdma"
)

// Directory is an rdma.Peers that tests change as agents come and go.
type Directory struct {
	mu sync.Mutex
	m  map[attest.MemberID]string
}

var _ rdma.Peers = (*Directory)(nil)

// NewDirectory returns an empty directory.
func NewDirectory() *Directory { return &Directory{m: map[attest.MemberID]string{}} }

// Set records (or replaces) id's address.
func (d *Directory) Set(id attest.MemberID, addr string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.m[id] = addr
}

// Delete forgets id.
func (d *Directory) Delete(id attest.MemberID) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.m, id)
}

// Addr implements rdma.Peers.
func (d *Directory) Addr(id attest.MemberID) (string, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	a, ok := d.m[id]
	return a, ok
}

// Members implements rdma.Peers.
func (d *Directory) Members() []attest.MemberID {
	d.mu.Lock()
	defer d.mu.Unlock()
	ids := make([]attest.MemberID, 0, len(d.m))
	for id := range d.m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Proxy forwards the TCP connections it accepts to a target address. Cut
// resets every connection it carries (as a network failure would, not an
// orderly close); new connections are forwarded as before.
type Proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  map[*net.TCPConn]bool
	closed bool
	wg     sync.WaitGroup
}

// NewProxy starts a proxy to target on a loopback port; t's cleanup closes
// it.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{ln: ln, target: target, conns: map[*net.TCPConn]bool{}}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(p.Close)
	return p
}

// Addr is the proxy's address.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

func (p *Proxy) track(cs ...*net.TCPConn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	for _, c := range cs {
		p.conns[c] = true
	}
	return true
}

func (p *Proxy) untrack(cs ...*net.TCPConn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		delete(p.conns, c)
	}
}

func (p *Proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			in := c.(*net.TCPConn)
			o, err := net.Dial("tcp", p.target)
			if err != nil {
				in.Close()
				return
			}
			out := o.(*net.TCPConn)
			if !p.track(in, out) {
				in.Close()
				out.Close()
				return
			}
			var wg sync.WaitGroup
			pipe := func(dst, src *net.TCPConn) {
				defer wg.Done()
				_, err := io.Copy(dst, src)
				if err == nil || errors.Is(err, io.EOF) {
					_ = dst.CloseWrite() // pass an orderly close on
				} else {
					_ = dst.SetLinger(0)
					_ = dst.Close()
				}
			}
			wg.Add(2)
			go pipe(out, in)
			go pipe(in, out)
			wg.Wait()
			p.untrack(in, out)
			in.Close()
			out.Close()
		}()
	}
}

// Cut resets every connection the proxy carries now.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		_ = c.SetLinger(0) // close with RST
		_ = c.Close()
		delete(p.conns, c)
	}
}

// Close cuts every connection and stops the proxy.
func (p *Proxy) Close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.ln.Close()
	p.Cut()
	p.wg.Wait()
}
