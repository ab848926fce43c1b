//go:build !rdma

package rdma

import (
	"context"
	"fmt"
	"net"
)

// IBVerbs is the RDMA provider (RC queue pairs, RDMA WRITE). This binary
// was built without the rdma build tag, so every method reports
// ErrNotBuilt.
type IBVerbs struct {
	// Device names the HCA to use ("" for the first one found).
	Device string
	// Port is the HCA port (1 if 0).
	Port int
}

// Name implements Provider.
func (IBVerbs) Name() string { return "ibverbs" }

// Probe implements Provider.
func (IBVerbs) Probe() error { return ErrNotBuilt }

// OpenReceiver implements Provider.
func (IBVerbs) OpenReceiver(context.Context, string, Layout) (Receiver, error) {
	return nil, fmt.Errorf("rdma: ibverbs receiver: %w", ErrNotBuilt)
}

// OpenSender implements Provider.
func (IBVerbs) OpenSender(context.Context, string, Layout) (Sender, error) {
	return nil, fmt.Errorf("rdma: ibverbs sender: %w", ErrNotBuilt)
}

var _ NetProvider = IBVerbs{}

// ReceiveOn implements NetProvider.
func (IBVerbs) ReceiveOn(_ context.Context, c net.Conn, _ Layout) (Receiver, error) {
	c.Close()
	return nil, fmt.Errorf("rdma: ibverbs receiver: %w", ErrNotBuilt)
}

// SendOn implements NetProvider.
func (IBVerbs) SendOn(_ context.Context, c net.Conn, _ Layout) (Sender, error) {
	c.Close()
	return nil, fmt.Errorf("rdma: ibverbs sender: %w", ErrNotBuilt)
}
