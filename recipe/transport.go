package recipe

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/wmsr/wmsr/attest"
)

// maxFrame bounds a transport frame (an envelope is at most
// attest.MaxEnvelopeSize; member lists and client messages are smaller
// than this too).
const maxFrame = 1 << 20

// Transport carries frames between replica processes over TCP:
// length-prefixed (4-byte big-endian) frames, one outbound connection per
// peer, redialled with backoff when it breaks. It promises nothing about
// delivery: frames queued while a peer is unreachable are dropped when the
// queue is full, and the Recipe layer retransmits what matters. It carries
// replica frames only; clients have a port of their own (client.go).
type Transport struct {
	self  attest.MemberID
	ln    net.Listener
	addrs map[attest.MemberID]string
	log   *slog.Logger
	in    chan []byte

	mu    sync.Mutex
	outs  map[attest.MemberID]chan []byte
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
	done  chan struct{}
}

// ListenTransport listens on addr for peers. addrs maps every member to
// its address.
func ListenTransport(self attest.MemberID, addr string, addrs map[attest.MemberID]string, logger *slog.Logger) (*Transport, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("recipe: listen: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	t := &Transport{
		self: self, ln: ln, addrs: addrs, log: logger,
		in:    make(chan []byte, 4096),
		outs:  make(map[attest.MemberID]chan []byte),
		conns: make(map[net.Conn]struct{}),
		done:  make(chan struct{}),
	}
	t.wg.Add(1)
	go t.accept()
	return t, nil
}

// Addr returns the listening address.
func (t *Transport) Addr() net.Addr { return t.ln.Addr() }

// Close stops the transport and waits for its goroutines.
func (t *Transport) Close() error {
	close(t.done)
	err := t.ln.Close()
	t.mu.Lock()
	for c := range t.conns {
		c.Close()
	}
	t.mu.Unlock()
	t.wg.Wait()
	return err
}

func (t *Transport) track(c net.Conn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	select {
	case <-t.done:
		c.Close()
		return false
	default:
	}
	t.conns[c] = struct{}{}
	return true
}

func (t *Transport) untrack(c net.Conn) {
	t.mu.Lock()
	delete(t.conns, c)
	t.mu.Unlock()
	c.Close()
}

func (t *Transport) accept() {
	defer t.wg.Done()
	for {
		c, err := t.ln.Accept()
		if err != nil {
			return
		}
		if !t.track(c) {
			return
		}
		t.wg.Add(1)
		go t.read(c)
	}
}

func (t *Transport) read(c net.Conn) {
	defer t.wg.Done()
	defer t.untrack(c)
	r := bufio.NewReaderSize(c, 64<<10)
	for {
		b, err := readFrame(r)
		if err != nil {
			return
		}
		select {
		case t.in <- b:
		case <-t.done:
			return
		}
	}
}

// Send queues f for its peer (dropping it if the queue is full).
func (t *Transport) Send(f Frame) {
	t.mu.Lock()
	ch := t.outs[f.To]
	if ch == nil {
		addr, ok := t.addrs[f.To]
		if !ok {
			t.mu.Unlock()
			return
		}
		ch = make(chan []byte, 8192)
		t.outs[f.To] = ch
		t.wg.Add(1)
		go t.dial(addr, ch)
	}
	t.mu.Unlock()
	select {
	case ch <- f.Data:
	default:
	}
}

// dial keeps one connection to addr and writes queued frames to it.
func (t *Transport) dial(addr string, ch chan []byte) {
	defer t.wg.Done()
	backoff := 10 * time.Millisecond
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			select {
			case <-t.done:
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 500*time.Millisecond)
			continue
		}
		if !t.track(c) {
			return
		}
		backoff = 10 * time.Millisecond
		w := bufio.NewWriterSize(c, 64<<10)
		err = func() error {
			for {
				select {
				case <-t.done:
					return errStopped
				case b := <-ch:
					if err := writeFrame(w, b); err != nil {
						return err
					}
					// Batch what is queued, then flush.
					for more := true; more; {
						select {
						case b := <-ch:
							if err := writeFrame(w, b); err != nil {
								return err
							}
						default:
							more = false
						}
					}
					if err := w.Flush(); err != nil {
						return err
					}
				}
			}
		}()
		t.untrack(c)
		if errors.Is(err, errStopped) {
			return
		}
	}
}

var errStopped = errors.New("stopped")

func writeFrame(w io.Writer, b []byte) error {
	var h [4]byte
	binary.BigEndian.PutUint32(h[:], uint32(len(b)))
	if _, err := w.Write(h[:]); err != nil {
		return err
	}
	_, err := w.Write(b)
	return err
}

func readFrame(r io.Reader) ([]byte, error) {
	var h [4]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(h[:])
	if n == 0 || n > maxFrame {
		return nil, fmt.Errorf("%w: frame of %d bytes", ErrMalformed, n)
	}
	b := make([]byte, n)
	_, err := io.ReadFull(r, b)
	return b, err
}

// recv returns the channel of inbound frames.
func (t *Transport) recv() <-chan []byte { return t.in }
