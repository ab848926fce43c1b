package rdma

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
)

// DefaultShmDir is where the shm provider puts rings unless told
// otherwise: a tmpfs on Linux, so a ring is plain memory shared by page
// mapping, never written back to a disk.
const DefaultShmDir = "/dev/shm"

// ErrNoPeer: the receiver has not registered the ring (its file does not
// exist yet).
var ErrNoPeer = errors.New("rdma: peer ring not registered")

// Shm is the same-host provider: a ring is a file (in /dev/shm or Dir)
// that the receiver creates and both processes map MAP_SHARED. The
// sender's stores land directly in the receiver's memory — the one-sided
// write semantics of RDMA WRITE, without a NIC.
type Shm struct {
	// Dir resolves relative addresses (DefaultShmDir if empty).
	Dir string
}

// Name implements Provider.
func (Shm) Name() string { return "shm" }

func (p Shm) path(addr string) string {
	if filepath.IsAbs(addr) {
		return addr
	}
	dir := p.Dir
	if dir == "" {
		dir = DefaultShmDir
	}
	return filepath.Join(dir, addr)
}

// Probe implements Provider: it maps and unmaps a scratch ring in Dir.
func (p Shm) Probe() error {
	dir := p.path("")
	f, err := os.CreateTemp(dir, ".wmsr-probe-*")
	if err != nil {
		return fmt.Errorf("rdma: shm probe in %s: %w", dir, err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if err := f.Truncate(MinSlotSize + HeaderSize); err != nil {
		return fmt.Errorf("rdma: shm probe in %s: %w", dir, err)
	}
	m, err := mapFile(f, MinSlotSize+HeaderSize)
	if err != nil {
		return fmt.Errorf("rdma: shm probe in %s: %w", dir, err)
	}
	return m.unmap()
}

// OpenReceiver registers the ring at addr (creating its file if needed)
// and returns its reader. An existing ring is reused, so a restarted
// receiver resumes where it stopped if the writer is unchanged.
func (p Shm) OpenReceiver(ctx context.Context, addr string, l Layout) (Receiver, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m, err := createRing(p.path(addr), l)
	if err != nil {
		return nil, err
	}
	r, err := NewReader(m.mem, l)
	if err != nil {
		_ = m.unmap()
		return nil, fmt.Errorf("rdma: shm ring %s: %w", m.path, err)
	}
	return &shmReceiver{m: m, r: r}, nil
}

// OpenSender maps the ring the receiver registered at addr and
// initialises it as a new writer incarnation (recovery rule).
func (p Shm) OpenSender(ctx context.Context, addr string, l Layout) (Sender, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m, err := openRing(p.path(addr), l)
	if err != nil {
		return nil, err
	}
	w, err := NewWriter(m.mem, l)
	if err != nil {
		_ = m.unmap()
		return nil, fmt.Errorf("rdma: shm ring %s: %w", m.path, err)
	}
	return &shmSender{m: m, w: w}, nil
}

type shmSender struct {
	m *mapping
	w *Writer
}

func (s *shmSender) Write(payload []byte) error { return s.w.Write(payload) }
func (s *shmSender) Close() error               { return s.m.unmap() }

type shmReceiver struct {
	m *mapping
	r *Reader
}

func (r *shmReceiver) Poll(dst []byte) ([]byte, bool, error) { return r.r.Poll(dst) }
func (r *shmReceiver) Close() error                          { return r.m.unmap() }

// mapping is one file mapped MAP_SHARED, remembering which inode it maps
// so that a file removed or replaced under it can be detected.
type mapping struct {
	path     string
	mem      []byte
	dev, ino uint64
	once     sync.Once
	err      error
}

func mapFile(f *os.File, size int) (*mapping, error) {
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		return nil, fmt.Errorf("stat %s: %w", f.Name(), err)
	}
	// Mapping beyond the end of the file would SIGBUS on access; the
	// receiver sizes the file before it becomes visible under its name.
	if st.Size < int64(size) {
		return nil, fmt.Errorf("%w: %s has %d bytes, want %d", ErrLayout, f.Name(), st.Size, size)
	}
	mem, err := syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mmap %s: %w", f.Name(), err)
	}
	return &mapping{path: f.Name(), mem: mem, dev: uint64(st.Dev), ino: uint64(st.Ino)}, nil
}

func (m *mapping) unmap() error {
	m.once.Do(func() { m.err = syscall.Munmap(m.mem) })
	return m.err
}

// current reports whether path still names the mapped file.
func (m *mapping) current() bool {
	var st syscall.Stat_t
	if err := syscall.Stat(m.path, &st); err != nil {
		return false
	}
	return uint64(st.Dev) == m.dev && uint64(st.Ino) == m.ino
}

// createRing opens the ring file at path, creating it if absent. A new
// file is created under a temporary name, sized, then renamed, so that a
// sender never maps a short file.
func createRing(path string, l Layout) (*mapping, error) {
	if err := l.Validate(); err != nil {
		return nil, err
	}
	if m, err := openRing(path, l); err == nil || !errors.Is(err, ErrNoPeer) {
		return m, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return nil, fmt.Errorf("rdma: create ring: %w", err)
	}
	defer tmp.Close()
	if err := tmp.Truncate(int64(l.Size())); err != nil {
		os.Remove(tmp.Name())
		return nil, fmt.Errorf("rdma: size ring %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return nil, fmt.Errorf("rdma: register ring %s: %w", path, err)
	}
	m, err := mapFile(tmp, l.Size())
	if err != nil {
		return nil, fmt.Errorf("rdma: %w", err)
	}
	m.path = path
	return m, nil
}

// openRing maps an existing ring file.
func openRing(path string, l Layout) (*mapping, error) {
	if err := l.Validate(); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNoPeer, path)
	}
	if err != nil {
		return nil, fmt.Errorf("rdma: open ring: %w", err)
	}
	defer f.Close() // the mapping outlives the descriptor
	m, err := mapFile(f, l.Size())
	if err != nil {
		return nil, fmt.Errorf("rdma: %w", err)
	}
	return m, nil
}

// ctlSize is the size of an agent's control file: word 0 counts changes
// to the set of rings registered for frames from that agent, so its
// sender rescans only when something changed.
const ctlSize = 64

// openCtl maps (creating if needed) the control file at path.
func openCtl(path string) (*mapping, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("rdma: open control file: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() < ctlSize {
		// Extending only: a concurrent opener's counter is never cut.
		if err := f.Truncate(ctlSize); err != nil {
			return nil, fmt.Errorf("rdma: size control file: %w", err)
		}
	}
	m, err := mapFile(f, ctlSize)
	if err != nil {
		return nil, fmt.Errorf("rdma: %w", err)
	}
	return m, nil
}
