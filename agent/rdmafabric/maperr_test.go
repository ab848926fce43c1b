package rdmafabric

import (
	"errors"
	"fmt"
	"testing"

	"github.com/wmsr/wmsr/agent"
	"github.com/wmsr/wmsr/rdma"
)

// mapErr turns rdma's sentinels into agent's and keeps the originals in the
// chain, whatever wrapping rdma adds. (TestErrors drives the same mapping
// through real rings, where a full ring is likely but not certain.)
func TestMapErr(t *testing.T) {
	cases := []struct {
		in   error
		want []error
	}{
		{fmt.Errorf("rdma: publish: 1 of 1 rings: %w", rdma.ErrFull), []error{agent.ErrBackPressure, rdma.ErrFull}},
		{fmt.Errorf("rdma: publish: %w", rdma.ErrClosed), []error{agent.ErrClosed, rdma.ErrClosed}},
		{fmt.Errorf("rdma: publish to 3: %w", rdma.ErrPeerLost), []error{agent.ErrNotConnected, rdma.ErrPeerLost}},
		{errors.Join(fmt.Errorf("rdma: publish to 3: %w", rdma.ErrPeerLost), rdma.ErrFull), []error{agent.ErrNotConnected, rdma.ErrPeerLost, rdma.ErrFull}},
	}
	for _, c := range cases {
		got := mapErr(c.in)
		for _, w := range c.want {
			if !errors.Is(got, w) {
				t.Errorf("mapErr(%v) = %v, not %v", c.in, got, w)
			}
		}
	}
	if mapErr(nil) != nil {
		t.Error("mapErr(nil) != nil")
	}
	other := errors.New("other")
	if got := mapErr(other); !errors.Is(got, other) || errors.Is(got, agent.ErrClosed) || errors.Is(got, agent.ErrBackPressure) {
		t.Errorf("mapErr(other) = %v", got)
	}
}
