package rdma

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wmsr/wmsr/attest"
)

// NetConfig configures a NetFabric.
type NetConfig struct {
	// ID is this agent.
	ID attest.MemberID
	// Provider moves the rings: IBVerbs in production; EmulatedTCP (not
	// RDMA) in tests and where there is no device. Required. Every agent
	// of a fleet uses the same.
	Provider NetProvider
	// Listen is the host:port of this agent's ring connection manager
	// (port 0: any free port, see Addr). Required.
	Listen string
	// Peers maps member ids to their connection managers. Required.
	Peers Peers
	// Layout of every ring (DefaultLayout if zero); agents refuse rings
	// of another layout.
	Layout Layout
	// Sink receives every envelope drained from the rings. Required.
	Sink Sink
	// SpinFor and MaxBackoff tune the poller as in Config.
	SpinFor    time.Duration
	MaxBackoff time.Duration
	// SetupTimeout bounds one ring set-up: dial, control exchange and the
	// provider's handshake (default 3 s).
	SetupTimeout time.Duration
	// RetryMax bounds the delay between attempts to (re)establish the
	// ring of a subscribed sender (default 1 s). The first retry comes
	// after 20 ms (at once after a ring that lived longer than RetryMax
	// was lost), each further one after twice the previous delay.
	RetryMax time.Duration
}

const retryMin = 20 * time.Millisecond

func (c *NetConfig) defaults() error {
	switch {
	case c.Provider == nil:
		return errors.New("rdma: NetConfig.Provider is required")
	case c.Listen == "":
		return errors.New("rdma: NetConfig.Listen is required")
	case c.Peers == nil:
		return errors.New("rdma: NetConfig.Peers is required")
	case c.Sink == nil:
		return errors.New("rdma: NetConfig.Sink is required")
	}
	if c.Layout == (Layout{}) {
		c.Layout = DefaultLayout
	}
	if err := c.Layout.Validate(); err != nil {
		return err
	}
	if c.SpinFor <= 0 {
		c.SpinFor = 50 * time.Microsecond
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = time.Millisecond
	}
	if c.SetupTimeout <= 0 {
		c.SetupTimeout = 3 * time.Second
	}
	if c.RetryMax <= 0 {
		c.RetryMax = time.Second
	}
	c.RetryMax = max(c.RetryMax, retryMin)
	return nil
}

// keepAlive: a peer whose host vanished (no FIN, no RST) is declared lost
// after about 11 s of silence on the ring's connection.
var keepAlive = net.KeepAliveConfig{Enable: true, Idle: 5 * time.Second, Interval: 2 * time.Second, Count: 3}

// NetFabric is a mailbox fabric between agents on different hosts: one
// ring per directed pair, in the receiver's memory, written with the
// Provider's one-sided writes (RDMA WRITE with IBVerbs). It has the
// surface and the semantics of Fabric: Publish writes every subscribed
// ring or refuses at once, a poller drains the rings into the Sink, per
// sender order holds within a ring.
//
// # Connection manager
//
// Each agent listens on Listen. A ring is set up on a TCP connection of
// its own, in the control protocol of control.go, then by the provider on
// the same connection, which it keeps as long as the ring lives (its end
// tells each side that the other went away). The receiver drives:
//
//   - Subscribe dials each new sender (its address from Peers) with a want
//     request: the sender accepts and attaches to the ring. Subscribe
//     waits for these set-ups (bounded by ctx and SetupTimeout), so a
//     Publish that follows reaches the new subscriber; a sender that
//     cannot be reached is retried in the background, and Subscribe still
//     returns nil.
//   - A receiver re-dials a subscribed sender whose ring ended, with
//     backoff (20 ms doubling to RetryMax), until it is back.
//   - A starting agent offers its rings to every member Peers lists (offer
//     request, in parallel, before NewNetFabric returns): receivers that
//     subscribed to it accept at once, instead of waiting for their next
//     retry. A receiver refuses an offer while its own set-up of that ring
//     is in progress (the offer is retried briefly) or when it holds the
//     ring of that very sender incarnation already.
//
// A sender keeps at most one ring per receiver: a new one (the receiver
// restarted, or re-dialed) replaces the old. The first frame of every
// ring is an empty start marker the sender writes once the ring is in
// its set (under the lock Publish takes); the receiver's set-up ends when
// it has consumed it, so a Publish that follows the receiver's Subscribe
// reaches the ring.
//
// # Errors and recovery
//
// Publish never waits: a full ring (or a full send queue of the provider)
// makes it return an error wrapping ErrFull; a ring whose receiver was
// lost (crashed, restarted, unreachable) is dropped and reported once,
// wrapping ErrPeerLost; a receiver that closed its ring in an orderly way
// (it unsubscribed or shut down) is dropped silently. The other rings are
// written in every case. A receiver whose ring from a sender ended drains
// what the ring holds, counts ConnLost and re-establishes it as above. In
// Stats, Connects counts ring set-ups (both roles) and ConnLost the rings
// that broke (receiving side: any ring the sender ended; sending side:
// rings lost, not those the receiver closed).
type NetFabric struct {
	cfg     NetConfig
	prov    NetProvider
	ln      net.Listener
	inc     uint64 // this incarnation, random
	sink    Sink
	backlog Backlogger

	ctx    context.Context // ends at Close: aborts set-ups in progress
	cancel context.CancelFunc

	// sendMu guards the sending side: Publish writes rings one at a time
	// (a ring has one producer).
	sendMu sync.Mutex
	outs   map[attest.MemberID]*netOut

	// recvMu guards the receiving side; the poller holds it for a sweep.
	recvMu sync.Mutex
	ins    map[attest.MemberID]*netIn
	want   map[attest.MemberID]bool
	setups map[attest.MemberID]chan struct{} // closed when the set-up ends
	retry  map[attest.MemberID]*retryState

	closed    atomic.Bool
	closeOnce sync.Once
	stop      chan struct{}
	kick      chan struct{} // wakes the poller
	redial    chan struct{} // wakes the manager
	pollDone  chan struct{}
	wg        sync.WaitGroup // accept loop, handlers, set-ups, manager

	published, publishErrors, received, malformed, connects, connLost atomic.Uint64
}

type netOut struct {
	s Sender
}

type netIn struct {
	from attest.MemberID
	r    Receiver
	inc  uint64 // the sender's incarnation
	at   time.Time
}

type retryState struct {
	next  time.Time
	delay time.Duration
}

// NewNetFabric probes the provider (an error wrapping ErrNoDevice or
// ErrNotBuilt means this host cannot run it: fall back to another fabric),
// listens on cfg.Listen, starts the poller and the connection manager, and
// offers this agent's rings to the members cfg.Peers lists, waiting for
// those offers (each bounded by SetupTimeout).
func NewNetFabric(cfg NetConfig) (*NetFabric, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	if err := cfg.Provider.Probe(); err != nil {
		return nil, fmt.Errorf("rdma: net fabric: provider %s: %w", cfg.Provider.Name(), err)
	}
	lc := net.ListenConfig{KeepAliveConfig: keepAlive}
	ln, err := lc.Listen(context.Background(), "tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("rdma: net fabric: listen: %w", err)
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	f := &NetFabric{
		cfg:      cfg,
		prov:     cfg.Provider,
		ln:       ln,
		inc:      binary.LittleEndian.Uint64(b[:]) | 1,
		sink:     cfg.Sink,
		outs:     map[attest.MemberID]*netOut{},
		ins:      map[attest.MemberID]*netIn{},
		want:     map[attest.MemberID]bool{},
		setups:   map[attest.MemberID]chan struct{}{},
		retry:    map[attest.MemberID]*retryState{},
		stop:     make(chan struct{}),
		kick:     make(chan struct{}, 1),
		redial:   make(chan struct{}, 1),
		pollDone: make(chan struct{}),
	}
	f.backlog, _ = cfg.Sink.(Backlogger)
	f.ctx, f.cancel = context.WithCancel(context.Background())
	go func() {
		defer close(f.pollDone)
		pollLoop{
			stop: f.stop, kick: f.kick,
			spinFor: cfg.SpinFor, maxBackoff: cfg.MaxBackoff,
			sweep: f.sweep, backlog: f.backlog,
		}.run()
	}()
	f.wg.Add(2)
	go f.acceptLoop()
	go f.manage()
	f.offerAll()
	return f, nil
}

// Addr is the address the connection manager listens on.
func (f *NetFabric) Addr() net.Addr { return f.ln.Addr() }

// Stats returns the fabric's counters.
func (f *NetFabric) Stats() Stats {
	return Stats{
		Published:     f.published.Load(),
		PublishErrors: f.publishErrors.Load(),
		Received:      f.received.Load(),
		Malformed:     f.malformed.Load(),
		Connects:      f.connects.Load(),
		ConnLost:      f.connLost.Load(),
	}
}

func poke(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Publish writes env into the ring of every agent subscribed to this one.
// It never waits (see the type's documentation for its errors). env is
// not retained.
func (f *NetFabric) Publish(ctx context.Context, env []byte) error {
	if err := ctx.Err(); err != nil {
		f.publishErrors.Add(1)
		return fmt.Errorf("rdma: publish: %w", err)
	}
	f.sendMu.Lock()
	defer f.sendMu.Unlock()
	if f.closed.Load() {
		return fmt.Errorf("rdma: publish: %w", ErrClosed)
	}
	if len(env) > f.cfg.Layout.MaxPayload() {
		f.publishErrors.Add(1)
		return fmt.Errorf("rdma: publish: %w", ErrTooLarge)
	}
	n, full := len(f.outs), 0
	var errs []error
	for to, o := range f.outs {
		err := o.s.Write(env)
		switch {
		case err == nil:
		case errors.Is(err, ErrFull):
			full++
		case errors.Is(err, ErrPeerClosed):
			_ = o.s.Close()
			delete(f.outs, to)
		default:
			_ = o.s.Close()
			delete(f.outs, to)
			f.connLost.Add(1)
			if !errors.Is(err, ErrPeerLost) {
				err = fmt.Errorf("%w: %w", ErrPeerLost, err)
			}
			errs = append(errs, fmt.Errorf("rdma: publish to %d: %w", to, err))
		}
	}
	if full > 0 {
		errs = append(errs, fmt.Errorf("rdma: publish: %d of %d rings: %w", full, n, ErrFull))
	}
	if len(errs) > 0 {
		f.publishErrors.Add(1)
		return errors.Join(errs...)
	}
	f.published.Add(1)
	return nil
}

// Subscribe replaces the set of senders whose envelopes are delivered to
// the Sink: it closes the rings of senders no longer wanted, sets up rings
// with the new ones and waits for those set-ups (bounded by ctx and
// SetupTimeout). A sender that cannot be reached now is retried in the
// background; Subscribe still returns nil.
func (f *NetFabric) Subscribe(ctx context.Context, from []attest.MemberID) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("rdma: subscribe: %w", err)
	}
	f.recvMu.Lock()
	if f.closed.Load() {
		f.recvMu.Unlock()
		return fmt.Errorf("rdma: subscribe: %w", ErrClosed)
	}
	want := map[attest.MemberID]bool{}
	for _, id := range from {
		want[id] = true
	}
	for id, in := range f.ins {
		if !want[id] {
			_ = in.r.Close()
			delete(f.ins, id)
		}
	}
	for id := range f.retry {
		if !want[id] {
			delete(f.retry, id)
		}
	}
	f.want = want
	var waits []chan struct{}
	for id := range want {
		switch {
		case f.ins[id] != nil:
		case f.setups[id] != nil:
			waits = append(waits, f.setups[id])
		default:
			waits = append(waits, f.startSetup(id))
		}
	}
	f.recvMu.Unlock()
	poke(f.kick)
	for _, ch := range waits {
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("rdma: subscribe: %w", ctx.Err())
		case <-f.stop:
			return fmt.Errorf("rdma: subscribe: %w", ErrClosed)
		}
	}
	return nil
}

// startSetup starts the receiver-driven set-up of the ring from id.
// Called with recvMu held.
func (f *NetFabric) startSetup(id attest.MemberID) chan struct{} {
	done := make(chan struct{})
	f.setups[id] = done
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		ctx, cancel := context.WithTimeout(f.ctx, f.cfg.SetupTimeout)
		defer cancel()
		r, inc, err := f.dialWant(ctx, id)
		f.finishSetup(id, done, r, inc, err)
	}()
	return done
}

// dialWant dials sender from and sets up its ring to this agent.
func (f *NetFabric) dialWant(ctx context.Context, from attest.MemberID) (Receiver, uint64, error) {
	addr, ok := f.cfg.Peers.Addr(from)
	if !ok {
		return nil, 0, fmt.Errorf("rdma: no address for member %d", from)
	}
	c, rep, err := f.request(ctx, addr, ctlFrame{Type: ctlWant, Sender: from, Receiver: f.cfg.ID})
	if err != nil {
		return nil, 0, err
	}
	r, err := f.prov.ReceiveOn(ctx, c, f.cfg.Layout)
	if err != nil {
		return nil, 0, err
	}
	if err := awaitMarker(ctx, r); err != nil {
		_ = r.Close()
		return nil, 0, err
	}
	return r, rep.Inc, nil
}

// awaitMarker polls a new ring until its first frame, the empty frame the
// sender writes once it has installed the ring (installOut): from then
// on every Publish of the sender reaches the ring. Only the first frame
// of a ring is a marker.
func awaitMarker(ctx context.Context, r Receiver) error {
	for pause := time.Microsecond; ; pause = min(2*pause, time.Millisecond) {
		env, ok, err := r.Poll(nil)
		switch {
		case err != nil:
			return fmt.Errorf("rdma: ring start: %w", err)
		case ok && len(env) != 0:
			return fmt.Errorf("rdma: ring start: first frame of %d bytes, not the empty marker", len(env))
		case ok:
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("rdma: ring start: %w", ctx.Err())
		case <-time.After(pause):
		}
	}
}

// finishSetup installs the ring of a receiving set-up that ended (or
// schedules a retry).
func (f *NetFabric) finishSetup(id attest.MemberID, done chan struct{}, r Receiver, inc uint64, err error) {
	f.recvMu.Lock()
	delete(f.setups, id)
	close(done)
	switch {
	case err != nil:
		f.backoff(id)
	case f.closed.Load() || !f.want[id]:
		_ = r.Close()
	default:
		if old := f.ins[id]; old != nil {
			_ = old.r.Close()
		}
		f.ins[id] = &netIn{from: id, r: r, inc: inc, at: time.Now()}
		f.connects.Add(1)
	}
	f.recvMu.Unlock()
	if err != nil {
		poke(f.redial)
	} else {
		poke(f.kick)
	}
}

// backoff schedules the next attempt for id. Called with recvMu held.
func (f *NetFabric) backoff(id attest.MemberID) {
	rs := f.retry[id]
	if rs == nil {
		rs = &retryState{}
		f.retry[id] = rs
	}
	rs.delay = min(max(2*rs.delay, retryMin), f.cfg.RetryMax)
	rs.next = time.Now().Add(rs.delay)
}

// request dials addr, sends req (completed with this agent's incarnation,
// the layout and the provider) and returns the connection once the peer
// accepted.
func (f *NetFabric) request(ctx context.Context, addr string, req ctlFrame) (net.Conn, ctlFrame, error) {
	d := net.Dialer{KeepAliveConfig: keepAlive}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, ctlFrame{}, fmt.Errorf("rdma: dial %s: %w", addr, err)
	}
	req.Inc, req.Layout, req.Provider = f.inc, f.cfg.Layout.word(), f.prov.Name()
	release := bindConn(ctx, c, f.cfg.SetupTimeout)
	_, err = c.Write(appendCtl(nil, req))
	var rep ctlFrame
	if err == nil {
		rep, err = readCtl(c)
	}
	if rerr := release(); err == nil {
		err = rerr
	}
	switch {
	case err != nil:
	case rep.Type == ctlRefuse:
		err = fmt.Errorf("%w by %s: %v", errRefused, addr, rep.Reason)
	case rep.Type != ctlAccept:
		err = fmt.Errorf("%w: reply of type %d", errBadControl, rep.Type)
	}
	if err != nil {
		c.Close()
		return nil, rep, err
	}
	return c, rep, nil
}

// offerAll offers this agent's rings to every member Peers lists, and
// waits for the offers.
func (f *NetFabric) offerAll() {
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for _, id := range f.cfg.Peers.Members() {
		if id == f.cfg.ID {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			f.offer(id)
		}()
	}
	wg.Wait()
}

// offer offers the ring from this agent to id; a receiver busy with its
// own set-up of that ring is asked again, briefly.
func (f *NetFabric) offer(to attest.MemberID) {
	ctx, cancel := context.WithTimeout(f.ctx, f.cfg.SetupTimeout)
	defer cancel()
	for pause := time.Millisecond; ; pause *= 2 {
		addr, ok := f.cfg.Peers.Addr(to)
		if !ok {
			return
		}
		c, rep, err := f.request(ctx, addr, ctlFrame{Type: ctlOffer, Sender: f.cfg.ID, Receiver: to})
		if err == nil {
			if s, err := f.prov.SendOn(ctx, c, f.cfg.Layout); err == nil {
				f.installOut(to, s)
			}
			return
		}
		if rep.Type != ctlRefuse || rep.Reason != refuseBusy || pause > 64*time.Millisecond {
			return
		}
		select {
		case <-time.After(pause):
		case <-ctx.Done():
			return
		}
	}
}

// installOut makes s the ring to receiver to, replacing any other, and
// writes the ring's start marker (an empty frame): once the receiver has
// it, every later Publish reaches the ring.
func (f *NetFabric) installOut(to attest.MemberID, s Sender) {
	f.sendMu.Lock()
	defer f.sendMu.Unlock()
	if f.closed.Load() {
		_ = s.Close()
		return
	}
	if err := s.Write(nil); err != nil {
		_ = s.Close()
		return
	}
	if old := f.outs[to]; old != nil {
		_ = old.s.Close()
	}
	f.outs[to] = &netOut{s: s}
	f.connects.Add(1)
}

func (f *NetFabric) acceptLoop() {
	defer f.wg.Done()
	for {
		c, err := f.ln.Accept()
		if err != nil {
			if f.closed.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of descriptors and the like: do not spin.
			select {
			case <-time.After(10 * time.Millisecond):
			case <-f.stop:
				return
			}
			continue
		}
		f.wg.Add(1)
		go f.handle(c)
	}
}

// handle serves one incoming request.
func (f *NetFabric) handle(c net.Conn) {
	defer f.wg.Done()
	ctx, cancel := context.WithTimeout(f.ctx, f.cfg.SetupTimeout)
	defer cancel()
	release := bindConn(ctx, c, f.cfg.SetupTimeout)
	refuse := func(r refusal) {
		_, _ = c.Write(appendCtl(nil, ctlFrame{Type: ctlRefuse, Reason: r}))
		_ = release()
		c.Close()
	}
	accept := func() bool {
		_, err := c.Write(appendCtl(nil, ctlFrame{Type: ctlAccept, Inc: f.inc}))
		if err := errors.Join(err, release()); err != nil {
			c.Close()
			return false
		}
		return true
	}
	req, err := readCtl(c)
	switch {
	case errors.Is(err, errCtlVersion):
		refuse(refuseVersion)
		return
	case err != nil:
		_ = release()
		c.Close()
		return
	case req.Type != ctlWant && req.Type != ctlOffer:
		_ = release()
		c.Close()
		return
	case req.Layout != f.cfg.Layout.word():
		refuse(refuseLayout)
		return
	case req.Provider != f.prov.Name():
		refuse(refuseProvider)
		return
	}
	if req.Type == ctlWant {
		// A receiver subscribed to this agent.
		switch {
		case req.Sender != f.cfg.ID:
			refuse(refuseWrongPeer)
		case f.closed.Load():
			refuse(refuseClosed)
		case accept():
			if s, err := f.prov.SendOn(ctx, c, f.cfg.Layout); err == nil {
				f.installOut(req.Receiver, s)
			}
		}
		return
	}
	// A sender offers its ring to this agent.
	if req.Receiver != f.cfg.ID {
		refuse(refuseWrongPeer)
		return
	}
	done, why := f.claimOffer(req.Sender, req.Inc)
	if why != 0 {
		refuse(why)
		return
	}
	var r Receiver
	if accept() {
		if r, err = f.prov.ReceiveOn(ctx, c, f.cfg.Layout); err == nil {
			if err = awaitMarker(ctx, r); err != nil {
				_ = r.Close()
			}
		}
	} else {
		err = errors.New("rdma: offer accept failed")
	}
	f.finishSetup(req.Sender, done, r, req.Inc, err)
}

// claimOffer decides on an offer of the ring from sender (incarnation
// inc): if it is taken, the set-up is registered as in progress.
func (f *NetFabric) claimOffer(sender attest.MemberID, inc uint64) (chan struct{}, refusal) {
	f.recvMu.Lock()
	defer f.recvMu.Unlock()
	switch {
	case f.closed.Load():
		return nil, refuseClosed
	case !f.want[sender]:
		return nil, refuseNotSubscribed
	case f.setups[sender] != nil:
		return nil, refuseBusy
	case f.ins[sender] != nil && f.ins[sender].inc == inc:
		return nil, refuseConnected
	}
	done := make(chan struct{})
	f.setups[sender] = done
	return done, 0
}

// manage re-establishes the rings of subscribed senders that have none,
// when their retry is due.
func (f *NetFabric) manage() {
	defer f.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		select {
		case <-f.stop:
			return
		case <-f.redial:
		case <-timer.C:
		}
		timer.Reset(f.redialDue())
	}
}

// redialDue starts the set-ups that are due and returns how long until
// the next one is.
func (f *NetFabric) redialDue() time.Duration {
	f.recvMu.Lock()
	defer f.recvMu.Unlock()
	next := time.Hour
	if f.closed.Load() {
		return next
	}
	now := time.Now()
	for id := range f.want {
		if f.ins[id] != nil || f.setups[id] != nil {
			continue
		}
		if rs := f.retry[id]; rs != nil && rs.next.After(now) {
			next = min(next, rs.next.Sub(now))
			continue
		}
		f.startSetup(id)
	}
	return next
}

// sweep takes up to a batch from every ring, so one chatty sender cannot
// starve the others, and returns how many frames it took. A ring whose
// sender went away is dropped once drained, and re-established.
func (f *NetFabric) sweep() int {
	const batch = 64
	f.recvMu.Lock()
	defer f.recvMu.Unlock()
	n, lost := 0, false
	for id, in := range f.ins {
		for range batch {
			env, ok, err := in.r.Poll(nil)
			if err != nil {
				if errors.Is(err, ErrCorrupt) {
					f.malformed.Add(1)
					n++
					continue
				}
				_ = in.r.Close()
				delete(f.ins, id)
				f.connLost.Add(1)
				if time.Since(in.at) > f.cfg.RetryMax {
					delete(f.retry, id) // it had been up a while: retry at once
				} else {
					f.backoff(id)
				}
				lost = true
				break
			}
			if !ok {
				break
			}
			n++
			f.received.Add(1)
			f.sink.Deliver(in.from, env)
		}
	}
	if lost {
		poke(f.redial)
	}
	return n
}

// Close stops the poller (no Deliver runs after it returns), aborts
// set-ups in progress, closes every ring (telling each peer) and the
// listener. It does not close the Sink. Idempotent.
func (f *NetFabric) Close() error {
	f.closeOnce.Do(func() {
		f.recvMu.Lock()
		f.sendMu.Lock()
		f.closed.Store(true)
		f.sendMu.Unlock()
		f.recvMu.Unlock()
		f.cancel()
		_ = f.ln.Close()
		close(f.stop)
		<-f.pollDone
		f.wg.Wait()

		f.recvMu.Lock()
		for id, in := range f.ins {
			_ = in.r.Close()
			delete(f.ins, id)
		}
		f.recvMu.Unlock()
		f.sendMu.Lock()
		for id, o := range f.outs {
			_ = o.s.Close()
			delete(f.outs, id)
		}
		f.sendMu.Unlock()
	})
	return nil
}
