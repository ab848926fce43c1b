//go:build rdma && linux && cgo

package rdma

/*
#cgo LDFLAGS: -libverbs
#include <stdint.h>
#include <string.h>
#include <errno.h>
#include <infiniband/verbs.h>

// ibv_query_port, ibv_post_send and ibv_poll_cq are static inline (or
// macros) in verbs.h; these wrappers give cgo real functions, and keep the
// unions and bit-fields of the verbs structs on the C side.

static int wmsr_query_port(struct ibv_context *c, uint8_t port, struct ibv_port_attr *a) {
	return ibv_query_port(c, port, a);
}

static int wmsr_post_write(struct ibv_qp *qp, uint64_t laddr, uint32_t len, uint32_t lkey,
                           uint64_t raddr, uint32_t rkey, uint64_t wr_id, int signaled) {
	struct ibv_sge sge;
	struct ibv_send_wr wr, *bad = NULL;
	memset(&sge, 0, sizeof sge);
	memset(&wr, 0, sizeof wr);
	sge.addr = laddr;
	sge.length = len;
	sge.lkey = lkey;
	wr.wr_id = wr_id;
	wr.sg_list = &sge;
	wr.num_sge = 1;
	wr.opcode = IBV_WR_RDMA_WRITE;
	wr.send_flags = signaled ? IBV_SEND_SIGNALED : 0;
	wr.wr.rdma.remote_addr = raddr;
	wr.wr.rdma.rkey = rkey;
	return ibv_post_send(qp, &wr, &bad);
}

// wmsr_poll reaps up to n (≤ 16) completions into ids/statuses and returns
// how many, or a negative value on error.
static int wmsr_poll(struct ibv_cq *cq, int n, uint64_t *ids, int *statuses) {
	struct ibv_wc wc[16];
	int i, k;
	if (n > 16) n = 16;
	k = ibv_poll_cq(cq, n, wc);
	for (i = 0; i < k; i++) {
		ids[i] = wc[i].wr_id;
		statuses[i] = (int)wc[i].status;
	}
	return k;
}

static int wmsr_to_init(struct ibv_qp *qp, uint8_t port) {
	struct ibv_qp_attr a;
	memset(&a, 0, sizeof a);
	a.qp_state = IBV_QPS_INIT;
	a.pkey_index = 0;
	a.port_num = port;
	// Both directions are one-sided writes: the peer writes our ring (or
	// our head word); nothing is ever read remotely.
	a.qp_access_flags = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE;
	return ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_ACCESS_FLAGS);
}

static int wmsr_to_rtr(struct ibv_qp *qp, uint8_t port, int mtu, uint32_t dqpn, uint32_t dpsn,
                       uint16_t dlid, const uint8_t *dgid, int global, int sgid_index) {
	struct ibv_qp_attr a;
	memset(&a, 0, sizeof a);
	a.qp_state = IBV_QPS_RTR;
	a.path_mtu = (enum ibv_mtu)mtu;
	a.dest_qp_num = dqpn;
	a.rq_psn = dpsn;
	a.max_dest_rd_atomic = 1;
	a.min_rnr_timer = 12;
	a.ah_attr.dlid = dlid;
	a.ah_attr.sl = 0;
	a.ah_attr.src_path_bits = 0;
	a.ah_attr.port_num = port;
	if (global) {
		// RoCE (and routed IB) address by GID.
		a.ah_attr.is_global = 1;
		memcpy(a.ah_attr.grh.dgid.raw, dgid, 16);
		a.ah_attr.grh.sgid_index = (uint8_t)sgid_index;
		a.ah_attr.grh.hop_limit = 1;
	}
	return ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU | IBV_QP_DEST_QPN |
	                     IBV_QP_RQ_PSN | IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER);
}

static int wmsr_to_rts(struct ibv_qp *qp, uint32_t psn) {
	struct ibv_qp_attr a;
	memset(&a, 0, sizeof a);
	a.qp_state = IBV_QPS_RTS;
	a.timeout = 14;   // 4.096 µs * 2^14 ≈ 67 ms per retry
	a.retry_cnt = 7;
	a.rnr_retry = 7;
	a.sq_psn = psn;
	a.max_rd_atomic = 1;
	return ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT |
	                     IBV_QP_RNR_RETRY | IBV_QP_SQ_PSN | IBV_QP_MAX_QP_RD_ATOMIC);
}

static struct ibv_qp *wmsr_create_qp(struct ibv_pd *pd, struct ibv_cq *cq, uint32_t depth) {
	struct ibv_qp_init_attr a;
	memset(&a, 0, sizeof a);
	a.send_cq = cq;
	a.recv_cq = cq;
	a.cap.max_send_wr = depth;
	a.cap.max_recv_wr = 1;
	a.cap.max_send_sge = 1;
	a.cap.max_recv_sge = 1;
	a.qp_type = IBV_QPT_RC;
	a.sq_sig_all = 0;
	return ibv_create_qp(pd, &a);
}

static int wmsr_errno(void) { return errno; }
*/
import "C"

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"unsafe"
)

// IBVerbs is the RDMA provider: one RC queue pair per ring, the ring
// registered in the receiver's memory, frames placed with RDMA WRITE, the
// receiver's head pushed back with RDMA WRITE into the sender's memory.
// Connection set-up exchanges QPN, PSN, LID/GID, address and rkey out of
// band over TCP: over a connection the caller made (NetProvider, used by
// NetFabric), or, stand-alone (Provider), the receiver listens on addr and
// the sender dials it. The TCP connection stays open while the ring lives:
// a bye on it is an orderly close, its end a lost peer.
//
// Compiled and vetted, never run: see the package documentation.
type IBVerbs struct {
	// Device names the HCA to use ("" for the first one found).
	Device string
	// Port is the HCA port (1 if 0).
	Port int
	// GIDIndex selects the source GID for RoCE (or routed IB); -1 for
	// LID-only InfiniBand addressing. 0 is the default.
	GIDIndex int
}

// Name implements Provider.
func (IBVerbs) Name() string { return "ibverbs" }

func (p IBVerbs) port() int {
	if p.Port <= 0 {
		return 1
	}
	return p.Port
}

// ErrVerbs wraps failures of a verbs call (with its errno when set) and
// failed work completions: the queue pair is unusable and the ring must
// be re-established (a new writer incarnation).
var ErrVerbs = errors.New("rdma: verbs call failed")

func verbsErr(call string, ret C.int) error {
	errno := syscall.Errno(C.wmsr_errno())
	if ret > 0 {
		errno = syscall.Errno(ret) // ibv_modify_qp and ibv_post_send return the errno
	}
	return fmt.Errorf("%w: %s: %w", ErrVerbs, call, errno)
}

// Probe implements Provider: it opens the device and checks the port is
// active.
func (p IBVerbs) Probe() error {
	d, err := p.openDevice()
	if err != nil {
		return err
	}
	defer C.ibv_close_device(d)
	var pa C.struct_ibv_port_attr
	if ret := C.wmsr_query_port(d, C.uint8_t(p.port()), &pa); ret != 0 {
		return verbsErr("ibv_query_port", ret)
	}
	if pa.state != C.IBV_PORT_ACTIVE {
		return fmt.Errorf("rdma: ibverbs port %d is not active (state %d)", p.port(), int(pa.state))
	}
	return nil
}

// openDevice opens the named (or first) device; ErrNoDevice when there is
// none, as on a host without an HCA or a loaded rxe/siw driver.
func (p IBVerbs) openDevice() (*C.struct_ibv_context, error) {
	var n C.int
	list := C.ibv_get_device_list(&n)
	if list == nil {
		return nil, fmt.Errorf("%w: ibv_get_device_list: %w", ErrNoDevice, syscall.Errno(C.wmsr_errno()))
	}
	defer C.ibv_free_device_list(list)
	devs := unsafe.Slice(list, int(n))
	for _, d := range devs {
		if p.Device == "" || C.GoString(C.ibv_get_device_name(d)) == p.Device {
			ctx := C.ibv_open_device(d)
			if ctx == nil {
				return nil, fmt.Errorf("%w: ibv_open_device: %w", ErrVerbs, syscall.Errno(C.wmsr_errno()))
			}
			return ctx, nil
		}
	}
	if p.Device != "" {
		return nil, fmt.Errorf("%w: no device named %q among %d", ErrNoDevice, p.Device, int(n))
	}
	return nil, ErrNoDevice
}

// wireInfo is what each side tells the other over TCP (fixed-size, big
// endian).
type wireInfo struct {
	LID    uint16
	QPN    uint32
	PSN    uint32
	GID    [16]byte
	Global uint8  // 1: address by GID
	Addr   uint64 // registered region the peer writes (ring, or head word)
	RKey   uint32
	Size   uint64 // bytes of that region
	Layout uint64 // Layout.word() (checked by both)
	Gen    uint64 // receiver: its ring's current gen word; sender: 0
}

// conn is one RC queue pair with one registered region.
type conn struct {
	ctx  *C.struct_ibv_context
	pd   *C.struct_ibv_pd
	cq   *C.struct_ibv_cq
	qp   *C.struct_ibv_qp
	mr   *C.struct_ibv_mr
	mem  []byte // anonymous mapping: not Go memory, so the HCA may keep it
	port int
	mtu  C.int

	remote      wireInfo
	depth       int // send queue depth
	outstanding int // signaled writes not yet completed
	nextID      uint64
}

func (p IBVerbs) newConn(size int, depth int) (_ *conn, err error) {
	c := &conn{port: p.port(), depth: depth}
	defer func() {
		if err != nil {
			c.close() // releases whatever was created, in reverse order
		}
	}()
	if c.ctx, err = p.openDevice(); err != nil {
		return nil, err
	}
	var pa C.struct_ibv_port_attr
	if ret := C.wmsr_query_port(c.ctx, C.uint8_t(c.port), &pa); ret != 0 {
		return nil, verbsErr("ibv_query_port", ret)
	}
	c.mtu = C.int(pa.active_mtu)
	if c.pd = C.ibv_alloc_pd(c.ctx); c.pd == nil {
		return nil, verbsErr("ibv_alloc_pd", 0)
	}
	if c.cq = C.ibv_create_cq(c.ctx, C.int(depth+1), nil, nil, 0); c.cq == nil {
		return nil, verbsErr("ibv_create_cq", 0)
	}
	if c.qp = C.wmsr_create_qp(c.pd, c.cq, C.uint32_t(depth)); c.qp == nil {
		return nil, verbsErr("ibv_create_qp", 0)
	}
	if c.mem, err = syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE); err != nil {
		return nil, fmt.Errorf("rdma: allocate region: %w", err)
	}
	c.mr = C.ibv_reg_mr(c.pd, unsafe.Pointer(&c.mem[0]), C.size_t(size),
		C.IBV_ACCESS_LOCAL_WRITE|C.IBV_ACCESS_REMOTE_WRITE)
	if c.mr == nil {
		return nil, verbsErr("ibv_reg_mr", 0)
	}
	if ret := C.wmsr_to_init(c.qp, C.uint8_t(c.port)); ret != 0 {
		return nil, verbsErr("ibv_modify_qp(INIT)", ret)
	}
	return c, nil
}

func (c *conn) local(gidIndex int, psn uint32, l Layout, gen uint64) (wireInfo, error) {
	var pa C.struct_ibv_port_attr
	if ret := C.wmsr_query_port(c.ctx, C.uint8_t(c.port), &pa); ret != 0 {
		return wireInfo{}, verbsErr("ibv_query_port", ret)
	}
	w := wireInfo{
		LID: uint16(pa.lid), QPN: uint32(c.qp.qp_num), PSN: psn,
		Addr: uint64(uintptr(unsafe.Pointer(&c.mem[0]))), RKey: uint32(c.mr.rkey),
		Size: uint64(len(c.mem)), Layout: l.word(), Gen: gen,
	}
	if gidIndex >= 0 {
		var gid C.union_ibv_gid
		if ret := C.ibv_query_gid(c.ctx, C.uint8_t(c.port), C.int(gidIndex), &gid); ret != 0 {
			return wireInfo{}, verbsErr("ibv_query_gid", ret)
		}
		copy(w.GID[:], C.GoBytes(unsafe.Pointer(&gid), 16))
		w.Global = 1
	}
	return w, nil
}

// connect moves the queue pair to RTS towards remote.
func (c *conn) connect(remote wireInfo, local wireInfo, gidIndex int) error {
	c.remote = remote
	global := C.int(0)
	if remote.Global == 1 && gidIndex >= 0 {
		global = 1
	}
	gid := remote.GID
	if ret := C.wmsr_to_rtr(c.qp, C.uint8_t(c.port), c.mtu, C.uint32_t(remote.QPN), C.uint32_t(remote.PSN),
		C.uint16_t(remote.LID), (*C.uint8_t)(unsafe.Pointer(&gid[0])), global, C.int(gidIndex)); ret != 0 {
		return verbsErr("ibv_modify_qp(RTR)", ret)
	}
	if ret := C.wmsr_to_rts(c.qp, C.uint32_t(local.PSN)); ret != 0 {
		return verbsErr("ibv_modify_qp(RTS)", ret)
	}
	return nil
}

// write posts one signaled RDMA WRITE of mem[off:off+n] to the peer's
// region at roff. It refuses with ErrFull when the send queue is full
// rather than wait.
func (c *conn) write(off, n int, roff uint64) error {
	if err := c.reap(); err != nil {
		return err
	}
	if c.outstanding >= c.depth {
		return ErrFull
	}
	if roff+uint64(n) > c.remote.Size {
		return fmt.Errorf("%w: write of %d bytes at %d beyond the peer's %d", ErrLayout, n, roff, c.remote.Size)
	}
	c.nextID++
	laddr := uint64(uintptr(unsafe.Pointer(&c.mem[off])))
	if ret := C.wmsr_post_write(c.qp, C.uint64_t(laddr), C.uint32_t(n), c.mr.lkey,
		C.uint64_t(c.remote.Addr+roff), C.uint32_t(c.remote.RKey), C.uint64_t(c.nextID), 1); ret != 0 {
		return verbsErr("ibv_post_send", ret)
	}
	c.outstanding++
	return nil
}

// reap collects completions without waiting; a failed one breaks the
// connection.
func (c *conn) reap() error {
	var ids [16]C.uint64_t
	var st [16]C.int
	for c.outstanding > 0 {
		k := C.wmsr_poll(c.cq, 16, &ids[0], &st[0])
		if k < 0 {
			return verbsErr("ibv_poll_cq", 0)
		}
		if k == 0 {
			return nil
		}
		for i := range int(k) {
			c.outstanding--
			if st[i] != C.IBV_WC_SUCCESS {
				return fmt.Errorf("%w: work completion %d: %s", ErrVerbs, uint64(ids[i]),
					C.GoString(C.ibv_wc_status_str(uint32(st[i]))))
			}
		}
	}
	return nil
}

func (c *conn) close() {
	if c.qp != nil {
		C.ibv_destroy_qp(c.qp)
		c.qp = nil
	}
	if c.mr != nil {
		C.ibv_dereg_mr(c.mr)
		c.mr = nil
	}
	if c.mem != nil {
		_ = syscall.Munmap(c.mem)
		c.mem = nil
	}
	if c.cq != nil {
		C.ibv_destroy_cq(c.cq)
		c.cq = nil
	}
	if c.pd != nil {
		C.ibv_dealloc_pd(c.pd)
		c.pd = nil
	}
	if c.ctx != nil {
		C.ibv_close_device(c.ctx)
		c.ctx = nil
	}
}

func randomPSN() uint32 {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return binary.BigEndian.Uint32(b[:]) & 0xffffff
}

// exchange sends ours and reads theirs (the caller bounds nc's I/O).
func exchange(nc net.Conn, ours wireInfo) (wireInfo, error) {
	errc := make(chan error, 1)
	go func() { errc <- binary.Write(nc, binary.BigEndian, ours) }()
	var theirs wireInfo
	if err := binary.Read(nc, binary.BigEndian, &theirs); err != nil {
		return theirs, fmt.Errorf("rdma: connection exchange: %w", err)
	}
	if err := <-errc; err != nil {
		return theirs, fmt.Errorf("rdma: connection exchange: %w", err)
	}
	if theirs.Layout != ours.Layout {
		return theirs, fmt.Errorf("%w: peer layout %#x, ours %#x", ErrLayout, theirs.Layout, ours.Layout)
	}
	return theirs, nil
}

// ready is called once this side's queue pair is in RTS: it sends one
// byte and waits for the peer's, so that neither side posts a WRITE
// before the other's queue pair can accept it.
func ready(nc net.Conn) error {
	if _, err := nc.Write([]byte{1}); err != nil {
		return fmt.Errorf("rdma: connection exchange: %w", err)
	}
	var b [1]byte
	if _, err := io.ReadFull(nc, b[:]); err != nil {
		return fmt.Errorf("rdma: connection exchange: %w", err)
	}
	return nil
}

var _ NetProvider = IBVerbs{}

// available fails at once, with ErrNoDevice, when there is no device: the
// stand-alone Open methods check it before they wait for a peer.
func (p IBVerbs) available() error {
	d, err := p.openDevice()
	if err != nil {
		return err
	}
	C.ibv_close_device(d)
	return nil
}

// OpenReceiver implements Provider: it listens on addr (host:port) for
// one sender and sets the ring up with it (ReceiveOn).
func (p IBVerbs) OpenReceiver(ctx context.Context, addr string, l Layout) (Receiver, error) {
	if err := l.Validate(); err != nil {
		return nil, err
	}
	if err := p.available(); err != nil {
		return nil, err
	}
	nc, err := acceptOne(ctx, addr)
	if err != nil {
		return nil, err
	}
	return p.ReceiveOn(ctx, nc, l)
}

// ReceiveOn implements NetProvider: it registers a ring and connects a
// queue pair to the sender at the other end of nc.
func (p IBVerbs) ReceiveOn(ctx context.Context, nc net.Conn, l Layout) (Receiver, error) {
	if err := l.Validate(); err != nil {
		nc.Close()
		return nil, err
	}
	c, err := p.newConn(l.Size(), 64)
	if err != nil {
		nc.Close()
		return nil, err
	}
	release := bindConn(ctx, nc, setupTimeout)
	r, err := p.accept(nc, l, c)
	if rerr := release(); err == nil {
		err = rerr
	}
	if err != nil {
		c.close()
		nc.Close()
		return nil, err
	}
	r.link = newPeerLink(nc)
	return r, nil
}

func (p IBVerbs) accept(nc net.Conn, l Layout, c *conn) (*verbsReceiver, error) {
	reader, err := NewReader(c.mem, l)
	if err != nil {
		return nil, err
	}
	ours, err := c.local(p.GIDIndex, randomPSN(), l, loadWord(c.mem, offGen))
	if err != nil {
		return nil, err
	}
	theirs, err := exchange(nc, ours)
	if err != nil {
		return nil, err
	}
	if theirs.Size < HeaderSize {
		return nil, fmt.Errorf("%w: sender's head region of %d bytes", ErrLayout, theirs.Size)
	}
	if err := c.connect(theirs, ours, p.GIDIndex); err != nil {
		return nil, err
	}
	if err := ready(nc); err != nil {
		return nil, err
	}
	return &verbsReceiver{c: c, r: reader, pushEvery: uint64(max(1, l.Slots/4))}, nil
}

// OpenSender implements Provider: it dials the receiver's addr and sets
// the ring up with it (SendOn).
func (p IBVerbs) OpenSender(ctx context.Context, addr string, l Layout) (Sender, error) {
	if err := l.Validate(); err != nil {
		return nil, err
	}
	if err := p.available(); err != nil {
		return nil, err
	}
	nc, err := dialOne(ctx, addr)
	if err != nil {
		return nil, err
	}
	return p.SendOn(ctx, nc, l)
}

// SendOn implements NetProvider: it connects a queue pair to the receiver
// at the other end of nc and initialises the remote ring as a new writer
// incarnation.
func (p IBVerbs) SendOn(ctx context.Context, nc net.Conn, l Layout) (Sender, error) {
	if err := l.Validate(); err != nil {
		nc.Close()
		return nil, err
	}
	// The sender's region mirrors the ring: frames are encoded in place
	// and written from there, and the receiver writes its head word into
	// it at offHead, where the ring's Writer reads it.
	c, err := p.newConn(l.Size(), l.Slots+2)
	if err != nil {
		nc.Close()
		return nil, err
	}
	release := bindConn(ctx, nc, setupTimeout)
	s, err := p.dial(nc, l, c)
	if rerr := release(); err == nil {
		err = rerr
	}
	if err != nil {
		c.close()
		nc.Close()
		return nil, err
	}
	s.link = newPeerLink(nc)
	return s, nil
}

func (p IBVerbs) dial(nc net.Conn, l Layout, c *conn) (*verbsSender, error) {
	ours, err := c.local(p.GIDIndex, randomPSN(), l, 0)
	if err != nil {
		return nil, err
	}
	theirs, err := exchange(nc, ours)
	if err != nil {
		return nil, err
	}
	if theirs.Size < uint64(l.Size()) {
		return nil, fmt.Errorf("%w: receiver's ring of %d bytes, layout needs %d", ErrLayout, theirs.Size, l.Size())
	}
	if err := c.connect(theirs, ours, p.GIDIndex); err != nil {
		return nil, err
	}
	if err := ready(nc); err != nil {
		return nil, err
	}
	// Recovery rule over the wire: take the generation after the one the
	// receiver's ring holds; mark the remote ring initialising, clear its
	// slots, then publish the header. An RC queue pair executes these
	// writes in order.
	storeWord(c.mem, offMagic, magic)
	storeWord(c.mem, offLayout, l.word())
	storeWord(c.mem, offGen, theirs.Gen)
	w, err := NewWriter(c.mem, l)
	if err != nil {
		return nil, err
	}
	s := &verbsSender{c: c, w: w, l: l}
	// The "initialising" gen word goes out from its own scratch word
	// (reserved header space), never rewritten while the WRITE may still
	// be reading it.
	storeWord(c.mem, offScratch, loadWord(c.mem, offGen)|genInit)
	if err := c.write(offScratch, 8, offGen); err != nil {
		return nil, err
	}
	if err := c.write(HeaderSize, l.Slots*l.SlotSize, HeaderSize); err != nil {
		return nil, err
	}
	if err := c.write(0, offHead, 0); err != nil {
		return nil, err
	}
	return s, nil
}

// verbsSender writes frames into the receiver's ring with RDMA WRITE.
type verbsSender struct {
	c    *conn
	w    *Writer
	l    Layout
	link *peerLink
}

// Write encodes the frame in the local mirror slot and RDMA-WRITEs the
// slot (header, payload, trailer) in one work request. The trailer is the
// last word of the slot; should an HCA place it before the payload, the
// receiver's CRC check refuses the torn frame (ErrCorrupt).
func (s *verbsSender) Write(payload []byte) error {
	if err := s.link.err(); err != nil {
		return err
	}
	if err := s.c.reap(); err != nil {
		return err
	}
	if s.c.outstanding >= s.c.depth {
		return ErrFull
	}
	if err := s.w.Write(payload); err != nil {
		return err
	}
	off := s.l.SlotOffset(s.w.Tail())
	return s.c.write(off, s.l.SlotSize, uint64(off))
}

func (s *verbsSender) Close() error { s.link.close(); s.c.close(); return nil }

// verbsReceiver polls its registered ring and pushes its head to the
// sender every pushEvery frames and whenever it runs dry.
type verbsReceiver struct {
	c         *conn
	r         *Reader
	pushed    uint64
	pushEvery uint64
	link      *peerLink
}

// Poll reports ErrPeerClosed or ErrPeerLost once the sender went away and
// the ring is drained. (The link state is read first: the sender's last
// WRITEs completed before it closed the connection, which makes an empty
// poll after the change final, if the HCA placed them in order.)
func (v *verbsReceiver) Poll(dst []byte) ([]byte, bool, error) {
	gone := v.link.err()
	out, ok, err := v.r.Poll(dst)
	if h := v.r.Head(); h != v.pushed && (!ok || h-v.pushed >= v.pushEvery) {
		// The Reader stored pack(gen, head) at offHead of our region:
		// that word is the source of the WRITE into the sender's mirror.
		switch werr := v.c.write(offHead, 8, offHead); {
		case werr == nil:
			v.pushed = h
		case errors.Is(werr, ErrFull):
			// Completions pending: the next Poll pushes.
		default:
			return out, ok, errors.Join(err, werr)
		}
	}
	if !ok && err == nil && gone != nil {
		return out, false, gone
	}
	return out, ok, err
}

func (v *verbsReceiver) Close() error { v.link.close(); v.c.close(); return nil }
