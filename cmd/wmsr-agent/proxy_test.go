package main

import (
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// faultProxy is a TCP proxy that delays every chunk it forwards, in each
// direction, by delay plus a uniform jitter in [0, jitter) (never
// reordering within a connection), and can cut all its connections at
// once, losing whatever is queued or in flight.
type faultProxy struct {
	ln            net.Listener
	target        string
	delay, jitter time.Duration

	mu     sync.Mutex
	pairs  map[*proxyPair]struct{}
	closed bool
	quit   chan struct{}
	wg     sync.WaitGroup

	cuts, conns, bytes atomic.Int64
}

// proxyPair is one proxied connection: the client's and the upstream one.
type proxyPair struct {
	c, u net.Conn
	stop chan struct{}
	once sync.Once
}

func (p *proxyPair) close() {
	p.once.Do(func() {
		close(p.stop)
		p.c.Close()
		p.u.Close()
	})
}

// startFaultProxy listens on a loopback port and forwards to target. It is
// closed when the test ends.
func startFaultProxy(t *testing.T, target string, delay, jitter time.Duration) *faultProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{ln: ln, target: target, delay: delay, jitter: jitter,
		pairs: map[*proxyPair]struct{}{}, quit: make(chan struct{})}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *faultProxy) Addr() string { return p.ln.Addr().String() }

func (p *faultProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		u, err := net.DialTimeout("tcp", p.target, time.Second)
		if err != nil {
			c.Close() // broker down: the client retries
			continue
		}
		pr := &proxyPair{c: c, u: u, stop: make(chan struct{})}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			pr.close()
			return
		}
		p.pairs[pr] = struct{}{}
		p.mu.Unlock()
		p.conns.Add(1)
		p.wg.Add(4)
		for _, dir := range [][2]net.Conn{{c, u}, {u, c}} {
			q := make(chan chunk, 1024)
			go p.read(pr, dir[0], q)
			go p.write(pr, dir[1], q)
		}
	}
}

type chunk struct {
	at time.Time
	b  []byte
}

// read queues what src sends, each chunk stamped with its delivery time.
func (p *faultProxy) read(pr *proxyPair, src net.Conn, q chan<- chunk) {
	defer p.wg.Done()
	defer p.forget(pr)
	var last time.Time
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			at := time.Now().Add(p.delay)
			if p.jitter > 0 {
				at = at.Add(rand.N(p.jitter))
			}
			if at.Before(last) {
				at = last // keep the stream in order
			}
			last = at
			select {
			case q <- chunk{at: at, b: append([]byte(nil), buf[:n]...)}:
			case <-pr.stop:
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// write delivers the queued chunks to dst when they are due.
func (p *faultProxy) write(pr *proxyPair, dst net.Conn, q <-chan chunk) {
	defer p.wg.Done()
	defer p.forget(pr)
	for {
		select {
		case <-pr.stop:
			return
		case ch := <-q:
			if d := time.Until(ch.at); d > 0 {
				timer := time.NewTimer(d)
				select {
				case <-pr.stop:
					timer.Stop()
					return
				case <-timer.C:
				}
			}
			if _, err := dst.Write(ch.b); err != nil {
				return
			}
			p.bytes.Add(int64(len(ch.b)))
		}
	}
}

// forget closes a pair (either direction failing ends both) and drops it.
func (p *faultProxy) forget(pr *proxyPair) {
	pr.close()
	p.mu.Lock()
	delete(p.pairs, pr)
	p.mu.Unlock()
}

// cutAll closes every current connection, losing queued data.
func (p *faultProxy) cutAll() {
	p.mu.Lock()
	prs := make([]*proxyPair, 0, len(p.pairs))
	for pr := range p.pairs {
		prs = append(prs, pr)
	}
	p.mu.Unlock()
	for _, pr := range prs {
		pr.close()
	}
	p.cuts.Add(1)
}

// cutEvery cuts all connections after first and then every period, until
// the proxy is closed.
func (p *faultProxy) cutEvery(first, period time.Duration) {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		timer := time.NewTimer(first)
		defer timer.Stop()
		for {
			select {
			case <-p.quit:
				return
			case <-timer.C:
				p.cutAll()
				timer.Reset(period)
			}
		}
	}()
}

func (p *faultProxy) close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	close(p.quit)
	p.mu.Unlock()
	p.ln.Close()
	p.cutAll()
	p.wg.Wait()
}
