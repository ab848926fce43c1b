package rdma

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// EmulatedTCP is a test and fallback NetProvider. It is NOT RDMA: it
// emulates one-sided writes over a TCP connection, so that the networked
// fabric (NetFabric) runs, and is tested, on hosts without an RDMA device.
//
// It mirrors the ibverbs provider step for step, with a goroutine in the
// place of the HCA's DMA engine on each side:
//
//   - The receiver allocates the ring region in its memory; the sender
//     keeps a mirror of it, as the ibverbs sender does (frames are encoded
//     in place there, and the receiver's head word lands there).
//   - The set-up exchanges the layout and the receiver's generation word
//     (the ibverbs provider exchanges the same, plus QPN, rkey and
//     address). The sender then initialises the remote ring with the same
//     three writes as the ibverbs sender: the "initialising" generation,
//     the cleared slots, the header.
//   - Where ibverbs posts an RDMA WRITE of local bytes to a remote offset,
//     this provider queues a span; a send goroutine streams it as a record
//     (remote offset, length, bytes), and the peer's receive goroutine
//     stores the bytes into its region, word by word with atomic stores in
//     ascending address order. So the trailer of a slot lands last, as on
//     an RC queue pair that places a WRITE in order, and the Reader polls
//     the region exactly as it polls a shm mapping or a registered ring:
//     there is no message passing between the Writer and the Reader, only
//     stores into memory.
//   - The receiver pushes its head word back with the same rule as the
//     ibverbs receiver (every Slots/4 frames and whenever it runs dry).
//   - Back-pressure is refusal: a full send queue (the analogue of a full
//     ibverbs send queue) refuses with ErrFull, as a full ring does.
//   - Closing the ring sends a close record, then FIN: the peer reports
//     ErrPeerClosed; a connection that breaks otherwise gives ErrPeerLost.
//
// What it does not emulate: the latency and CPU profile of RDMA (every
// byte crosses two sockets and the kernel), an HCA's placement order
// (the emulation is always in order), memory registration and rkeys (a
// peer may write anywhere in the region, as an rkey allows, but nothing
// checks a key).
type EmulatedTCP struct{}

var _ NetProvider = EmulatedTCP{}

// Name implements Provider.
func (EmulatedTCP) Name() string { return "emulated-tcp" }

// Probe implements Provider: TCP is always there.
func (EmulatedTCP) Probe() error { return nil }

// OpenReceiver implements Provider: it listens on addr (host:port) for
// one sender and sets the ring up with it.
func (p EmulatedTCP) OpenReceiver(ctx context.Context, addr string, l Layout) (Receiver, error) {
	if err := l.Validate(); err != nil {
		return nil, err
	}
	c, err := acceptOne(ctx, addr)
	if err != nil {
		return nil, err
	}
	return p.ReceiveOn(ctx, c, l)
}

// OpenSender implements Provider: it dials the receiver at addr.
func (p EmulatedTCP) OpenSender(ctx context.Context, addr string, l Layout) (Sender, error) {
	if err := l.Validate(); err != nil {
		return nil, err
	}
	c, err := dialOne(ctx, addr)
	if err != nil {
		return nil, err
	}
	return p.SendOn(ctx, c, l)
}

// ReceiveOn implements NetProvider.
func (EmulatedTCP) ReceiveOn(ctx context.Context, c net.Conn, l Layout) (Receiver, error) {
	if err := l.Validate(); err != nil {
		c.Close()
		return nil, err
	}
	mem := alignedRegion(l.Size())
	r, err := NewReader(mem, l)
	if err != nil {
		c.Close()
		return nil, err
	}
	if _, err := emuHandshake(ctx, c, l, loadWord(mem, offGen)); err != nil {
		c.Close()
		return nil, err
	}
	k := newEmuLink(c, mem, 4)
	k.start()
	return &emuReceiver{k: k, r: r, pushEvery: uint64(max(1, l.Slots/4))}, nil
}

// SendOn implements NetProvider.
func (EmulatedTCP) SendOn(ctx context.Context, c net.Conn, l Layout) (Sender, error) {
	if err := l.Validate(); err != nil {
		c.Close()
		return nil, err
	}
	theirGen, err := emuHandshake(ctx, c, l, 0)
	if err != nil {
		c.Close()
		return nil, err
	}
	// As the ibverbs sender: the mirror takes the receiver's generation,
	// so NewWriter picks the next one (recovery rule over the wire).
	mem := alignedRegion(l.Size())
	storeWord(mem, offMagic, magic)
	storeWord(mem, offLayout, l.word())
	storeWord(mem, offGen, theirGen)
	w, err := NewWriter(mem, l)
	if err != nil {
		c.Close()
		return nil, err
	}
	k := newEmuLink(c, mem, min(l.Slots, 4096)+4)
	storeWord(mem, offScratch, loadWord(mem, offGen)|genInit)
	k.q <- emuSpan{loff: offScratch, roff: offGen, n: 8}
	// The slots are cleared with zeros rather than read from the mirror:
	// the first frames may be encoded there while this write is queued.
	// (The ibverbs sender WRITEs the mirror's slots, all zero when it
	// posts; frames written after reach the ring in their own WRITEs, and
	// the header that makes the ring readable comes last.)
	k.q <- emuSpan{roff: HeaderSize, n: l.Slots * l.SlotSize, zero: true}
	k.q <- emuSpan{loff: 0, roff: 0, n: offHead}
	k.start()
	return &emuSender{k: k, w: w, l: l}, nil
}

// emuMagic opens the emulated provider's set-up message: "WMSREMU1".
const emuMagic = 0x31554d4552534d57

// emuHandshake sends ours (magic, layout word, gen word: the receiver's
// ring generation, 0 from the sender) and reads theirs, bounded by ctx;
// it returns their gen word.
func emuHandshake(ctx context.Context, c net.Conn, l Layout, gen uint64) (uint64, error) {
	release := bindConn(ctx, c, setupTimeout)
	var ours, theirs [24]byte
	binary.LittleEndian.PutUint64(ours[0:], emuMagic)
	binary.LittleEndian.PutUint64(ours[8:], l.word())
	binary.LittleEndian.PutUint64(ours[16:], gen)
	errc := make(chan error, 1)
	go func() { _, err := c.Write(ours[:]); errc <- err }()
	_, rerr := io.ReadFull(c, theirs[:])
	werr := <-errc
	if err := errors.Join(rerr, werr, release()); err != nil {
		return 0, fmt.Errorf("rdma: emulated-tcp set-up: %w", err)
	}
	if binary.LittleEndian.Uint64(theirs[0:]) != emuMagic {
		return 0, fmt.Errorf("rdma: emulated-tcp set-up: peer is not an emulated-tcp ring")
	}
	if lw := binary.LittleEndian.Uint64(theirs[8:]); lw != l.word() {
		return 0, fmt.Errorf("%w: peer layout %#x, ours %#x", ErrLayout, lw, l.word())
	}
	return binary.LittleEndian.Uint64(theirs[16:]), nil
}

// alignedRegion returns n zeroed bytes, 8-byte aligned (n a multiple of 8).
func alignedRegion(n int) []byte {
	w := make([]uint64, (n+7)/8)
	return unsafe.Slice((*byte)(unsafe.Pointer(&w[0])), n)
}

// emuSpan is one emulated RDMA WRITE: n bytes of the local region at loff
// (or zeros) to the peer's region at roff (all multiples of 8).
type emuSpan struct {
	loff, roff, n int
	zero          bool
}

// emuCloseOff, as the offset of an empty record, closes the stream.
const emuCloseOff = ^uint64(0)

// emuLinger bounds how long a side that closed the ring waits for the
// peer's close before it drops the connection.
const emuLinger = time.Second

// emuLink is one side of an emulated ring's connection: a send goroutine
// streams queued spans of mem (the DMA engine reading local memory), a
// receive goroutine applies the peer's records to mem (the DMA engine
// writing local memory).
type emuLink struct {
	c        net.Conn
	mem      []byte
	q        chan emuSpan
	stop     chan struct{}
	stopOnce sync.Once
	sent     chan struct{} // closed when the send goroutine ended
	state    atomic.Uint32
}

func newEmuLink(c net.Conn, mem []byte, depth int) *emuLink {
	return &emuLink{c: c, mem: mem, q: make(chan emuSpan, depth), stop: make(chan struct{}), sent: make(chan struct{})}
}

func (k *emuLink) start() {
	go k.sendLoop()
	go k.recvLoop()
}

func (k *emuLink) err() error { return linkErr(k.state.Load()) }

// halt ends the ring from this side: the send goroutine sends what is
// queued, the close record and FIN. It never waits; the deadline bounds a
// send goroutine blocked on a peer that stopped reading.
func (k *emuLink) halt() {
	k.stopOnce.Do(func() {
		_ = k.c.SetWriteDeadline(time.Now().Add(emuLinger))
		close(k.stop)
	})
}

func (k *emuLink) sendLoop() {
	defer close(k.sent)
	bw := bufio.NewWriterSize(k.c, 64<<10)
	buf := make([]byte, 16<<10)
	var hdr [16]byte
	fail := func() {
		k.state.CompareAndSwap(linkLive, linkLost)
		_ = k.c.Close() // unblocks the receive goroutine
	}
	send := func(s emuSpan) error {
		binary.LittleEndian.PutUint64(hdr[0:], uint64(s.roff))
		binary.LittleEndian.PutUint64(hdr[8:], uint64(s.n))
		if _, err := bw.Write(hdr[:]); err != nil {
			return err
		}
		for done := 0; done < s.n; {
			m := min(s.n-done, len(buf))
			for i := 0; i < m; i += 8 {
				w := uint64(0)
				if !s.zero {
					w = loadWord(k.mem, s.loff+done+i)
				}
				binary.LittleEndian.PutUint64(buf[i:], w)
			}
			if _, err := bw.Write(buf[:m]); err != nil {
				return err
			}
			done += m
		}
		return nil
	}
	for {
		select {
		case s := <-k.q:
			if err := send(s); err != nil {
				fail()
				return
			}
			if len(k.q) == 0 {
				if err := bw.Flush(); err != nil {
					fail()
					return
				}
			}
		case <-k.stop:
			// An orderly close: what was queued before it, then the
			// close record, then FIN.
			_ = k.c.SetWriteDeadline(time.Now().Add(emuLinger))
			for drained := false; !drained; {
				select {
				case s := <-k.q:
					drained = send(s) != nil
				default:
					drained = true
				}
			}
			binary.LittleEndian.PutUint64(hdr[0:], emuCloseOff)
			binary.LittleEndian.PutUint64(hdr[8:], 0)
			_, _ = bw.Write(hdr[:])
			_ = bw.Flush()
			if cw, ok := k.c.(interface{ CloseWrite() error }); ok {
				_ = cw.CloseWrite()
			}
			_ = k.c.SetReadDeadline(time.Now().Add(emuLinger))
			return
		}
	}
}

func (k *emuLink) recvLoop() {
	br := bufio.NewReaderSize(k.c, 64<<10)
	closed, _ := applyStream(br, k.mem, make([]byte, 16<<10))
	if closed {
		k.state.CompareAndSwap(linkLive, linkClosed)
		k.halt()
		_, _ = io.Copy(io.Discard, br) // until the peer's FIN (or the linger)
	} else {
		k.state.CompareAndSwap(linkLive, linkLost)
		k.halt()
	}
	<-k.sent
	_ = k.c.Close()
}

// applyStream applies the records read from r to mem until a close
// record (closed) or an error. A record is offset (uint64), length
// (uint64), then length bytes, all little-endian; offset and length are
// multiples of 8 and the span lies within mem, else the stream is
// refused. Bytes are stored word by word, atomically, in ascending order.
// buf is scratch space, a non-zero multiple of 8 bytes; mem is 8-byte
// aligned.
func applyStream(r io.Reader, mem, buf []byte) (closed bool, err error) {
	var hdr [16]byte
	size := uint64(len(mem))
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return false, err
		}
		off, n := binary.LittleEndian.Uint64(hdr[0:]), binary.LittleEndian.Uint64(hdr[8:])
		if off == emuCloseOff && n == 0 {
			return true, nil
		}
		if n == 0 || off%8 != 0 || n%8 != 0 || off > size || n > size-off {
			return false, fmt.Errorf("rdma: emulated write of %d bytes at %d into a region of %d", n, off, size)
		}
		for done := uint64(0); done < n; {
			m := min(n-done, uint64(len(buf)))
			if _, err := io.ReadFull(r, buf[:m]); err != nil {
				return false, err
			}
			for i := uint64(0); i < m; i += 8 {
				storeWord(mem, int(off+done+i), binary.LittleEndian.Uint64(buf[i:]))
			}
			done += m
		}
	}
}

// emuSender writes frames into its mirror and queues each slot as one
// emulated WRITE, as the ibverbs sender posts one RDMA WRITE per slot.
type emuSender struct {
	k *emuLink
	w *Writer
	l Layout
}

func (s *emuSender) Write(payload []byte) error {
	if err := s.k.err(); err != nil {
		return err
	}
	if len(s.k.q) == cap(s.k.q) {
		return ErrFull // the send queue: only Write adds to it, so the check holds
	}
	if err := s.w.Write(payload); err != nil {
		return err
	}
	off := s.l.SlotOffset(s.w.Tail())
	s.k.q <- emuSpan{loff: off, roff: off, n: s.l.SlotSize}
	return nil
}

func (s *emuSender) Close() error { s.k.halt(); return nil }

// emuReceiver polls its ring and pushes its head to the sender every
// pushEvery frames and whenever it runs dry.
type emuReceiver struct {
	k         *emuLink
	r         *Reader
	pushed    uint64
	pushEvery uint64
}

func (v *emuReceiver) Poll(dst []byte) ([]byte, bool, error) {
	// The link state is read before the ring: every write the peer made
	// was applied before its state changed, so an empty poll after a
	// change means the ring is drained.
	gone := v.k.err()
	out, ok, err := v.r.Poll(dst)
	if h := v.r.Head(); h != v.pushed && (!ok || h-v.pushed >= v.pushEvery) {
		// The send goroutine reads the head word when it sends, so a
		// push already queued carries this head too.
		select {
		case v.k.q <- emuSpan{loff: offHead, roff: offHead, n: 8}:
			v.pushed = h
		default:
		}
	}
	if !ok && err == nil && gone != nil {
		return out, false, gone
	}
	return out, ok, err
}

func (v *emuReceiver) Close() error { v.k.halt(); return nil }
