package rdma

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wmsr/wmsr/attest"
)

// Sink receives the envelopes the Fabric's poller drains from the rings.
// It is defined here, where it is consumed; the agent adapter
// (agent/rdmafabric) implements it with an agent.Inbox.
//
// Deliver is called from the poller goroutine only, one call at a time,
// never after Close returns. It must not block: every ring waits while it
// runs, so a Sink that cannot keep up must drop (and count) rather than
// wait. env is freshly allocated for each call and owned by the Sink from
// then on (the poller never touches it again), so it may be kept without
// copying.
type Sink interface {
	Deliver(from attest.MemberID, env []byte)
}

// Backlogger is optionally implemented by a Sink that queues deliveries
// for another goroutine. After a sweep that delivered something, the
// poller yields the processor only when Backlog reports at most one
// queued delivery (the consumer was keeping up, so it was likely parked
// waiting and is now runnable); a larger backlog means the consumer is
// busy and the poller keeps draining. A Sink without it gets a yield after
// every productive sweep. Backlog must be cheap and must not block.
type Backlogger interface {
	Backlog() int
}

// Stats are the Fabric's counters since NewFabric. What becomes of a
// delivery after the Sink took it (queued, evicted) is the Sink's to
// count.
type Stats struct {
	Published     uint64 // Publish calls that wrote every subscribed ring
	PublishErrors uint64 // Publish calls that failed (ctx done, too large, ring full or broken)
	Received      uint64 // envelopes handed to the Sink
	Malformed     uint64 // frames that could not be decoded (ErrCorrupt and the like)
	Connects      uint64 // registrations of the medium, including the first
	ConnLost      uint64 // maintenance passes that found rings or the control file removed
}

// ErrClosed: the Fabric was closed.
var ErrClosed = errors.New("rdma: fabric closed")

// Config configures a shm mailbox Fabric.
type Config struct {
	// Dir is the directory all co-located agents of a fleet share (on a
	// tmpfs: DefaultShmDir or a subdirectory of it). Required.
	Dir string
	// ID is this agent.
	ID attest.MemberID
	// Layout of every ring this agent receives on (DefaultLayout if zero).
	// Senders must use the same.
	Layout Layout
	// Sink receives every envelope drained from the rings. Required.
	Sink Sink
	// SpinFor: after the last arrival the poller keeps spinning this long
	// (with a yield now and then) before it starts sleeping, so a round's
	// burst is picked up at memory speed (default 50 µs).
	SpinFor time.Duration
	// MaxBackoff bounds the poller's sleep when idle, hence the extra
	// latency of the first envelope after a quiet period (default 1 ms).
	MaxBackoff time.Duration
	// MaintainEvery: how often the poller checks that the files it relies
	// on were not removed under it (default 100 ms).
	MaintainEvery time.Duration
}

func (c *Config) defaults() error {
	if c.Dir == "" {
		return errors.New("rdma: Config.Dir is required")
	}
	if c.Sink == nil {
		return errors.New("rdma: Config.Sink is required")
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
	if c.MaintainEvery <= 0 {
		c.MaintainEvery = 100 * time.Millisecond
	}
	return nil
}

// File names in Dir. A ring for frames from → to is "<from>-<to>.ring",
// registered (created) by the receiver to; "<id>.ctl" holds the counter
// receivers bump whenever they register or remove a ring for frames from
// id.
func ringName(from, to attest.MemberID) string { return fmt.Sprintf("%d-%d.ring", from, to) }
func ctlName(id attest.MemberID) string        { return fmt.Sprintf("%d.ctl", id) }

// Fabric is a mailbox fabric over shm: one ring per directed pair, in
// memory shared by the co-located agents' processes. Publish writes the
// envelope into the ring of every agent subscribed to this one (ErrFull
// from any ring is reported at once, after the other rings were written);
// a poller goroutine drains the rings of the subscribed senders into
// Config.Sink. Per-sender order is preserved (a ring is FIFO) within a writer
// incarnation.
//
// Recovery: a receiver whose ring file disappears (the directory was
// cleaned) registers it again and counts a reconnection; a sender
// notices new or replaced rings through its control file. See ring.go for
// the writer-restart rule.
type Fabric struct {
	cfg  Config
	shm  Shm
	sink Sink
	// backlog is sink as a Backlogger, or nil.
	backlog Backlogger

	// sendMu guards the sending side: Publish writes rings one at a time
	// (a ring has one producer).
	sendMu  sync.Mutex
	ctl     *mapping
	ctlSeen uint64
	outs    map[attest.MemberID]*outRing

	// recvMu guards the receiving side; the poller holds it for a sweep.
	recvMu sync.Mutex
	ins    map[attest.MemberID]*inRing

	closed    atomic.Bool
	closeOnce sync.Once
	stop      chan struct{}
	done      chan struct{}
	kick      chan struct{}

	published, publishErrors, received, malformed, connects, connLost atomic.Uint64
}

type outRing struct {
	m *mapping
	w *Writer
}

type inRing struct {
	from attest.MemberID
	m    *mapping
	r    *Reader
}

// NewFabric opens the fabric of agent cfg.ID in cfg.Dir (creating the
// directory if needed) and starts its poller.
func NewFabric(cfg Config) (*Fabric, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("rdma: fabric directory: %w", err)
	}
	ctl, err := openCtl(filepath.Join(cfg.Dir, ctlName(cfg.ID)))
	if err != nil {
		return nil, err
	}
	f := &Fabric{
		cfg:  cfg,
		shm:  Shm{Dir: cfg.Dir},
		sink: cfg.Sink,
		ctl:  ctl,
		// Force a scan at the first Publish: receivers may have
		// registered rings before this agent started.
		ctlSeen: ^uint64(0),
		outs:    map[attest.MemberID]*outRing{},
		ins:     map[attest.MemberID]*inRing{},
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
		kick:    make(chan struct{}, 1),
	}
	f.backlog, _ = cfg.Sink.(Backlogger)
	f.connects.Store(1)
	go f.poll()
	return f, nil
}

// Stats returns the Fabric's counters.
func (f *Fabric) Stats() Stats {
	return Stats{
		Published:     f.published.Load(),
		PublishErrors: f.publishErrors.Load(),
		Received:      f.received.Load(),
		Malformed:     f.malformed.Load(),
		Connects:      f.connects.Load(),
		ConnLost:      f.connLost.Load(),
	}
}

// Publish writes env into the ring of every agent subscribed to this one.
// It never waits: a ring is written or refused at once. A full ring makes
// it return an error wrapping ErrFull (the other rings were written); after
// Close it returns an error wrapping ErrClosed. env is not retained.
func (f *Fabric) Publish(ctx context.Context, env []byte) error {
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
	if v := loadWord(f.ctl.mem, 0); v != f.ctlSeen {
		f.rescan()
		f.ctlSeen = v
	}
	full := 0
	for to, o := range f.outs {
		if err := o.w.Write(env); err != nil {
			if errors.Is(err, ErrFull) {
				full++
				continue
			}
			f.publishErrors.Add(1)
			return fmt.Errorf("rdma: publish to %d: %w", to, err)
		}
	}
	if full > 0 {
		f.publishErrors.Add(1)
		return fmt.Errorf("rdma: publish: %d of %d rings: %w", full, len(f.outs), ErrFull)
	}
	f.published.Add(1)
	return nil
}

// rescan brings the set of outgoing rings in line with the files
// receivers registered for this agent. Called with sendMu held.
func (f *Fabric) rescan() {
	ents, err := os.ReadDir(f.cfg.Dir)
	if err != nil {
		return // the next Publish retries: the counter is not marked seen
	}
	prefix := strconv.FormatUint(uint64(f.cfg.ID), 10) + "-"
	present := map[attest.MemberID]bool{}
	for _, e := range ents {
		name := e.Name()
		if !strings.HasPrefix(name, prefix) || !strings.HasSuffix(name, ".ring") {
			continue
		}
		to, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(name, prefix), ".ring"), 10, 64)
		if err != nil {
			continue
		}
		id := attest.MemberID(to)
		present[id] = true
		if o, ok := f.outs[id]; ok {
			if o.m.current() {
				continue
			}
			_ = o.m.unmap()
			delete(f.outs, id)
		}
		m, err := openRing(filepath.Join(f.cfg.Dir, name), f.cfg.Layout)
		if err != nil {
			continue
		}
		w, err := NewWriter(m.mem, f.cfg.Layout)
		if err != nil {
			_ = m.unmap()
			continue
		}
		f.outs[id] = &outRing{m: m, w: w}
	}
	for id, o := range f.outs {
		if !present[id] {
			_ = o.m.unmap()
			delete(f.outs, id)
		}
	}
}

// Subscribe replaces the set of senders whose envelopes are delivered to
// the Sink: it registers a ring for every new sender, removes those of senders no longer wanted, and tells each
// affected sender through its control file.
func (f *Fabric) Subscribe(ctx context.Context, from []attest.MemberID) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("rdma: subscribe: %w", err)
	}
	f.recvMu.Lock()
	defer f.recvMu.Unlock()
	if f.closed.Load() {
		return fmt.Errorf("rdma: subscribe: %w", ErrClosed)
	}
	want := map[attest.MemberID]bool{}
	for _, id := range from {
		want[id] = true
	}
	var errs []error
	for id, in := range f.ins {
		if !want[id] {
			f.unregister(in)
			delete(f.ins, id)
		}
	}
	for id := range want {
		if _, ok := f.ins[id]; ok {
			continue
		}
		in, err := f.register(id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		f.ins[id] = in
	}
	select {
	case f.kick <- struct{}{}:
	default:
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("rdma: subscribe: %w", err)
	}
	return nil
}

// register creates (or reuses) the ring for frames from id and bumps id's
// control counter.
func (f *Fabric) register(from attest.MemberID) (*inRing, error) {
	m, err := createRing(filepath.Join(f.cfg.Dir, ringName(from, f.cfg.ID)), f.cfg.Layout)
	if err != nil {
		return nil, err
	}
	r, err := NewReader(m.mem, f.cfg.Layout)
	if err != nil {
		_ = m.unmap()
		return nil, err
	}
	f.notify(from)
	return &inRing{from: from, m: m, r: r}, nil
}

func (f *Fabric) unregister(in *inRing) {
	if in.m.current() {
		_ = os.Remove(in.m.path)
	}
	_ = in.m.unmap()
	f.notify(in.from)
}

// notify bumps the control counter of sender id.
func (f *Fabric) notify(id attest.MemberID) {
	c, err := openCtl(filepath.Join(f.cfg.Dir, ctlName(id)))
	if err != nil {
		return // the sender's next rescan (after any other change) finds the ring
	}
	addWord(c.mem, 0, 1)
	_ = c.unmap()
}

// poll drains the subscribed rings into the Sink until Close (see
// pollLoop).
func (f *Fabric) poll() {
	defer close(f.done)
	pollLoop{
		stop: f.stop, kick: f.kick,
		spinFor: f.cfg.SpinFor, maxBackoff: f.cfg.MaxBackoff, maintainEvery: f.cfg.MaintainEvery,
		sweep: f.sweep, maintain: f.maintain, backlog: f.backlog,
	}.run()
}

// sweep takes up to a batch from every ring, so one chatty sender cannot
// starve the others, and returns how many frames it took.
func (f *Fabric) sweep() int {
	const batch = 64
	f.recvMu.Lock()
	defer f.recvMu.Unlock()
	n := 0
	for _, in := range f.ins {
		for range batch {
			env, ok, err := in.r.Poll(nil)
			if err != nil {
				f.malformed.Add(1)
				n++
				continue
			}
			if !ok {
				break
			}
			n++
			f.received.Add(1)
			f.sink.Deliver(in.from, env)
		}
	}
	return n
}

// maintain re-registers rings and the control file if they were removed
// or replaced under this agent (a cleaned /dev/shm, an operator's rm),
// counting each as a lost and re-established connection.
func (f *Fabric) maintain() {
	f.recvMu.Lock()
	lost := 0
	for id, in := range f.ins {
		if in.m.current() {
			continue
		}
		lost++
		_ = in.m.unmap()
		delete(f.ins, id)
		if nin, err := f.register(id); err == nil {
			f.ins[id] = nin
		}
	}
	f.recvMu.Unlock()

	f.sendMu.Lock()
	if !f.closed.Load() && !f.ctl.current() {
		if c, err := openCtl(filepath.Join(f.cfg.Dir, ctlName(f.cfg.ID))); err == nil {
			_ = f.ctl.unmap()
			f.ctl = c
			f.ctlSeen = ^uint64(0) // rescan at the next Publish
			lost++
		}
	}
	f.sendMu.Unlock()
	if lost > 0 {
		f.connLost.Add(1)
		f.connects.Add(1)
	}
}

// Close stops the poller (no Deliver runs after it returns), removes this
// agent's rings (telling their senders) and unmaps everything. It does not
// close the Sink. Idempotent.
func (f *Fabric) Close() error {
	f.closeOnce.Do(func() {
		f.recvMu.Lock()
		f.sendMu.Lock()
		f.closed.Store(true)
		f.sendMu.Unlock()
		f.recvMu.Unlock()
		close(f.stop)
		<-f.done

		f.recvMu.Lock()
		for id, in := range f.ins {
			f.unregister(in)
			delete(f.ins, id)
		}
		f.recvMu.Unlock()
		f.sendMu.Lock()
		for id, o := range f.outs {
			_ = o.m.unmap()
			delete(f.outs, id)
		}
		_ = f.ctl.unmap()
		f.sendMu.Unlock()
	})
	return nil
}
