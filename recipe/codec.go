package recipe

import (
	"fmt"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/wmsr/wmsr/attest"
)

// Codec is what a Node needs from its message layer: turn raft's outgoing
// messages into frames and frames back into messages. *Layer (Recipe) and
// *Plain (vanilla etcd raft: the negative control and the benchmark
// baseline) implement it, so both run over the same Node, simulation and
// transport.
type Codec interface {
	Send(msgs []raftpb.Message) error
	Receive(frame []byte) ([]raftpb.Message, error)
	Tick()
	Frames() []Frame
	SetMember(m attest.Member) error
	RemoveMember(id attest.MemberID)
}

var (
	_ Codec = (*Layer)(nil)
	_ Codec = (*Plain)(nil)
)

// Plain is vanilla etcd raft on the wire: each raftpb.Message marshalled
// into one frame, no authentication, no counters, no retransmission (raft
// tolerates loss by itself). It exists to show what the Recipe layer adds
// (the negative control) and what it costs (benchmarks).
type Plain struct {
	self    uint64
	members map[attest.MemberID]uint64
	out     []Frame
}

// NewPlain returns the vanilla codec of raft node self.
func NewPlain(self uint64) *Plain {
	return &Plain{self: self, members: make(map[attest.MemberID]uint64)}
}

// Send implements Codec.
func (p *Plain) Send(msgs []raftpb.Message) error {
	for i := range msgs {
		m := &msgs[i]
		id, _ := MemberOf(m.To)
		if p.members[id] != m.To {
			continue
		}
		b := make([]byte, 1, 1+m.Size())
		b[0] = framePlain
		b, err := appendMarshal(b, m)
		if err != nil {
			return err
		}
		p.out = append(p.out, Frame{To: id, Data: b})
	}
	return nil
}

func appendMarshal(b []byte, m *raftpb.Message) ([]byte, error) {
	n := m.Size()
	b = append(b, make([]byte, n)...)
	if _, err := m.MarshalTo(b[len(b)-n:]); err != nil {
		return nil, fmt.Errorf("%w: marshal raft message: %w", ErrMalformed, err)
	}
	return b, nil
}

// Receive implements Codec: whatever parses is believed.
func (p *Plain) Receive(frame []byte) ([]raftpb.Message, error) {
	if len(frame) == 0 || frame[0] != framePlain {
		return nil, fmt.Errorf("%w: not a plain frame", ErrMalformed)
	}
	var m raftpb.Message
	if err := m.Unmarshal(frame[1:]); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return []raftpb.Message{m}, nil
}

// Tick implements Codec (nothing to do: no retransmission).
func (p *Plain) Tick() {}

// Frames implements Codec.
func (p *Plain) Frames() []Frame {
	f := p.out
	p.out = nil
	return f
}

// SetMember implements Codec: only the raft ID of the incarnation matters.
func (p *Plain) SetMember(m attest.Member) error {
	p.members[m.ID] = RaftID(m.ID, m.Epoch)
	return nil
}

// RemoveMember implements Codec.
func (p *Plain) RemoveMember(id attest.MemberID) { delete(p.members, id) }
