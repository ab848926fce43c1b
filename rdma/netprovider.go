package rdma

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// NetProvider is a Provider whose rings reach other hosts. Its ring
// set-up runs over a stream connection the caller established (in either
// direction), so that one listening address serves every ring of an agent:
// the NetFabric's connection manager accepts a connection, agrees on the
// ring in its control protocol, then hands the connection to the
// provider. IBVerbs is one (exchanging QPN, rkey and address over it);
// EmulatedTCP, a test and fallback provider that is not RDMA, is the
// other.
//
// The connection outlives the set-up: it is how each side notices that
// the other went away. An RDMA receiver sees nothing of a dead sender (its
// ring just goes quiet), so the provider keeps the connection open and
// watches it for as long as the ring lives.
type NetProvider interface {
	Provider
	// ReceiveOn registers a ring and runs the receiving side of its
	// set-up over c. It takes ownership of c: on error c is closed; on
	// success the Receiver keeps it and closes it in Close. Once the
	// sender has gone away and the ring is drained, Poll reports
	// ErrPeerClosed (the sender closed the ring) or ErrPeerLost.
	ReceiveOn(ctx context.Context, c net.Conn, l Layout) (Receiver, error)
	// SendOn runs the sending side of the set-up over c, to the ring of
	// the receiver at its other end, and initialises that ring as a new
	// writer incarnation. Ownership of c as for ReceiveOn. Once the
	// receiver has gone away, Write reports ErrPeerClosed (it closed the
	// ring: it unsubscribed or shut down) or ErrPeerLost.
	SendOn(ctx context.Context, c net.Conn, l Layout) (Sender, error)
}

var (
	// ErrPeerClosed: the other side of the ring closed it in an orderly
	// way (a receiver that unsubscribed, an agent shutting down).
	ErrPeerClosed = errors.New("rdma: peer closed the ring")
	// ErrPeerLost: the connection to the other side of the ring broke
	// (the peer crashed or restarted, the network failed) or its
	// provider failed; the ring is unusable and must be set up again.
	ErrPeerLost = errors.New("rdma: connection to the ring's peer lost")
)

// setupTimeout bounds a provider's handshake when ctx has no deadline.
const setupTimeout = 10 * time.Second

// bindConn bounds the I/O on c by ctx (its deadline, or dflt from now
// without one, and its cancellation) until release is called. release
// clears the deadline and fails if ctx ended first (c's deadline may then
// be in the past: c is unusable). Call release exactly once.
func bindConn(ctx context.Context, c net.Conn, dflt time.Duration) (release func() error) {
	d, ok := ctx.Deadline()
	if !ok {
		d = time.Now().Add(dflt)
	}
	_ = c.SetDeadline(d)
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	return func() error {
		if !stop() {
			return fmt.Errorf("rdma: ring set-up: %w", context.Cause(ctx))
		}
		return c.SetDeadline(time.Time{})
	}
}

// acceptOne listens on addr and accepts one connection, bounded by ctx:
// the stand-alone Provider.OpenReceiver of the network providers.
func acceptOne(ctx context.Context, addr string) (net.Conn, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("rdma: listen: %w", err)
	}
	defer ln.Close()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	c, err := ln.Accept()
	if err != nil {
		return nil, fmt.Errorf("rdma: accept: %w", errors.Join(ctx.Err(), err))
	}
	return c, nil
}

// dialOne dials addr: the stand-alone Provider.OpenSender of the network
// providers.
func dialOne(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("rdma: dial: %w", err)
	}
	return c, nil
}

// Link states, shared by peerLink and the emulated provider's link.
const (
	linkLive uint32 = iota
	linkClosed
	linkLost
)

func linkErr(state uint32) error {
	switch state {
	case linkClosed:
		return ErrPeerClosed
	case linkLost:
		return ErrPeerLost
	}
	return nil
}

// linkBye is the byte a side of a ring sends on the set-up connection
// when it closes the ring in an orderly way.
const linkBye = 0xb7

// peerLink watches the set-up connection of a ring whose data moves
// elsewhere (the ibverbs provider: queue pairs): nothing but one linkBye
// byte ever travels on it after the set-up, so a bye means an orderly
// close and anything else (EOF, a reset, a keepalive timeout, a stray
// byte) a lost peer.
type peerLink struct {
	c     net.Conn
	state atomic.Uint32
	once  sync.Once
}

func newPeerLink(c net.Conn) *peerLink {
	l := &peerLink{c: c}
	go l.watch()
	return l
}

func (l *peerLink) watch() {
	var b [1]byte
	_, err := io.ReadFull(l.c, b[:])
	if err == nil && b[0] == linkBye {
		l.state.CompareAndSwap(linkLive, linkClosed)
		return
	}
	l.state.CompareAndSwap(linkLive, linkLost)
}

// err is nil while the peer is there, else ErrPeerClosed or ErrPeerLost.
func (l *peerLink) err() error { return linkErr(l.state.Load()) }

// close says bye (without waiting long for a stuck peer) and closes the
// connection. Idempotent.
func (l *peerLink) close() {
	l.once.Do(func() {
		_ = l.c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
		_, _ = l.c.Write([]byte{linkBye})
		_ = l.c.Close()
	})
}
