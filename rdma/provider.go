package rdma

import (
	"context"
	"errors"
)

// Sender is the writing side of one ring: Write places one frame in the
// receiver's memory or fails at once (ErrFull, ErrTooLarge); it never
// waits for the receiver. Not safe for concurrent use.
type Sender interface {
	Write(payload []byte) error
	Close() error
}

// Receiver is the reading side of one ring: Poll appends the next frame's
// payload to dst and reports whether there was one. Not safe for
// concurrent use.
type Receiver interface {
	Poll(dst []byte) ([]byte, bool, error)
	Close() error
}

// Provider is a way to reach a receiver's memory with one-sided writes.
// addr is provider-specific: a file name for shm, host:port of the
// receiver's connection manager for ibverbs.
type Provider interface {
	Name() string
	// Probe reports whether the provider works on this host (nil) or why
	// not.
	Probe() error
	// OpenReceiver registers a ring for one sender and returns its reader.
	OpenReceiver(ctx context.Context, addr string, l Layout) (Receiver, error)
	// OpenSender attaches to the ring a receiver registered.
	OpenSender(ctx context.Context, addr string, l Layout) (Sender, error)
}

var (
	// ErrNoDevice: the ibverbs provider found no RDMA device.
	ErrNoDevice = errors.New("rdma: no RDMA device")
	// ErrNotBuilt: the binary was built without RDMA (ibverbs) support;
	// rebuild with -tags rdma and libibverbs-dev installed.
	ErrNotBuilt = errors.New("rdma: binary built without RDMA support (build tag rdma)")
)

// ProbeResult is one provider's availability.
type ProbeResult struct {
	Provider string
	Err      error // nil: usable
}

// Providers returns the providers this binary knows, shm first. shmDir is
// the shm provider's directory ("" for DefaultShmDir).
func Providers(shmDir string) []Provider {
	return []Provider{Shm{Dir: shmDir}, IBVerbs{}}
}

// Probe reports which providers work here.
func Probe(shmDir string) []ProbeResult {
	var out []ProbeResult
	for _, p := range Providers(shmDir) {
		out = append(out, ProbeResult{Provider: p.Name(), Err: p.Probe()})
	}
	return out
}
