package recipe

import (
	"bytes"
	"errors"
	"testing"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/wmsr/wmsr/attest"
	"github.com/wmsr/wmsr/attest/attesttest"
)

// lanePair returns the layers of members 1 (a) and 2 (b) at epoch 1, each
// admitting the other, both configured with cfg (Identity aside).
func lanePair(t *testing.T, cfg LayerConfig) (a, b *Layer, f *attesttest.Fleet, mb attest.Member) {
	t.Helper()
	f = attesttest.NewFleet(5)
	ba, ma, err := f.Join(1, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	bb, mb, err := f.Join(2, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	ca, cb := cfg, cfg
	ca.Identity, cb.Identity = ba.Identity(), bb.Identity()
	if a, err = NewLayer(ca); err != nil {
		t.Fatal(err)
	}
	if b, err = NewLayer(cb); err != nil {
		t.Fatal(err)
	}
	if err := a.SetMember(mb); err != nil {
		t.Fatal(err)
	}
	if err := b.SetMember(ma); err != nil {
		t.Fatal(err)
	}
	return a, b, f, mb
}

// deliverAll hands frames to l and returns the raft messages they
// complete, failing on rejections other than those listed.
func deliverAll(t *testing.T, l *Layer, frames []Frame, allowed ...attest.Reason) []raftpb.Message {
	t.Helper()
	var out []raftpb.Message
	for _, f := range frames {
		msgs, err := l.Receive(f.Data)
		if err != nil {
			ok := false
			for _, r := range allowed {
				ok = ok || attest.ReasonOf(err) == r
			}
			if !ok {
				t.Fatalf("rejected: %v", err)
			}
		}
		out = append(out, msgs...)
	}
	return out
}

// TestLayerNewTermStartsFresh is Recipe's view change on the layer: in term
// 1 the channel from a to b gets stuck — its first envelope is lost, so b
// can deliver nothing after it, and (in "full buffer") a's retransmit
// buffer fills up, so a refuses new messages. Then a's term rises to 2 and
// it campaigns. With lanes the vote is sealed at once, on a fresh lane,
// and b delivers it on arrival, without draining the old term's backlog.
// Without lanes (NoLanes, the behaviour before lanes), the vote is refused
// (full buffer) or waits behind the gap (lost envelope): b delivers it only
// after every term-1 message has been retransmitted and delivered before
// it, which the test counts in ticks and messages.
func TestLayerNewTermStartsFresh(t *testing.T) {
	for _, tc := range []struct {
		name       string
		maxUnacked int
		backlog    int // term-1 heartbeats a tries to send
	}{
		{"full buffer", 16, 20},
		{"lost envelope", 4096, 16},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ticks [2]int
			var before [2]int
			for i, lanes := range []bool{true, false} {
				a, b, _, _ := lanePair(t, LayerConfig{MaxUnacked: tc.maxUnacked, Window: 4, RetransmitTicks: 2, NoLanes: !lanes})
				a.SetTerm(1)
				b.SetTerm(1)
				refused := 0
				for range tc.backlog {
					hb := raftpb.Message{Type: raftpb.MsgHeartbeat, From: a.RaftID(), To: b.RaftID(), Term: 1}
					if err := a.Send([]raftpb.Message{hb}); errors.Is(err, ErrBackpressure) {
						refused++
					}
				}
				if want := max(0, tc.backlog-tc.maxUnacked); refused != want {
					t.Fatalf("%d term-1 messages refused, want %d", refused, want)
				}
				frames := a.Frames()
				if got := deliverAll(t, b, frames[1:], attest.ReasonOutOfOrder); len(got) != 0 { // frames[0] is lost
					t.Fatalf("b delivered %d messages across a gap", len(got))
				}

				// Term 2: a campaigns.
				a.SetTerm(2)
				vote := raftpb.Message{Type: raftpb.MsgVote, From: a.RaftID(), To: b.RaftID(), Term: 2, LogTerm: 1, Index: 7}
				err := a.Send([]raftpb.Message{vote})
				var got []raftpb.Message
				got = append(got, deliverAll(t, b, a.Frames(), attest.ReasonOutOfOrder)...)
				// Run until b has the vote (raft re-sends a refused vote
				// at its next campaign; here every tick), acknowledging
				// as the layers do.
				for ticks[i] = 0; !hasVote(got) && ticks[i] < 1000; ticks[i]++ {
					if err != nil {
						err = a.Send([]raftpb.Message{vote})
					}
					a.Tick()
					got = append(got, deliverAll(t, b, a.Frames(), attest.ReasonOutOfOrder, attest.ReasonReplay)...)
					b.Tick()
					deliverAll(t, a, b.Frames())
				}
				if !hasVote(got) {
					t.Fatal("the vote never arrived")
				}
				before[i] = len(got) - 1 // term-1 messages delivered ahead of the vote
				t.Logf("lanes=%v: vote delivered after %d ticks, behind %d term-1 messages; a stats %+v",
					lanes, ticks[i], before[i], a.Stats())

				if lanes {
					if ticks[i] != 0 || before[i] != 0 || err != nil {
						t.Fatalf("with lanes the vote waited %d ticks behind %d messages (send: %v)", ticks[i], before[i], err)
					}
					if st := a.Stats(); st.Abandoned != uint64(min(tc.backlog, tc.maxUnacked)) || st.LanesStarted != 2 {
						t.Fatalf("stats %+v", st)
					}
					// b dropped the old lane's stash, and refuses it.
					if n := len(b.peers[1].early); n != 0 {
						t.Fatalf("%d old-lane envelopes still stashed", n)
					}
					if _, err := b.Receive(frames[0].Data); attest.ReasonOf(err) != attest.ReasonStale {
						t.Fatalf("the lost term-1 envelope arriving late: %v", err)
					}
					// Acknowledgements work in the new lane: b acks on its
					// tick and a's buffer empties.
					b.Tick()
					deliverAll(t, a, b.Frames())
					if n := a.Unacked(2); n != 0 {
						t.Fatalf("%d unacknowledged after the ack", n)
					}
				}
			}
			// The control: without lanes the vote waited for the old term.
			if ticks[1] == 0 || before[1] < min(tc.backlog, tc.maxUnacked) {
				t.Fatalf("without lanes the vote came after %d ticks behind %d messages: the control shows nothing", ticks[1], before[1])
			}
		})
	}
}

func hasVote(msgs []raftpb.Message) bool {
	for _, m := range msgs {
		if m.Type == raftpb.MsgVote && m.Term == 2 {
			return true
		}
	}
	return false
}

// TestLayerLaneEdges: term t is lane 2t; a pre-vote (which carries the
// term t the pre-candidate would campaign at, while its own term stays)
// opens lane 2t-1, so that term t, if the election succeeds, still starts
// fresh; a message half reassembled from an abandoned lane is discarded,
// not glued to the new lane's; a peer admitted later starts in the current
// term's lane; stashing is bounded to the current lane and one higher lane.
func TestLayerLaneEdges(t *testing.T) {
	a, b, f, mb := lanePair(t, LayerConfig{Window: 4})
	a.SetTerm(3)
	b.SetTerm(3)
	if lane := a.peers[2].send.Lane(); lane != 6 {
		t.Fatalf("term 3 in lane %d", lane)
	}

	// A snapshot in term 3, of which b gets only the first chunk.
	snap := raftpb.Message{Type: raftpb.MsgSnap, From: a.RaftID(), To: b.RaftID(), Term: 3,
		Snapshot: &raftpb.Snapshot{Data: bytes.Repeat([]byte("x"), 3*chunkSize), Metadata: raftpb.SnapshotMetadata{Index: 9, Term: 3}}}
	if err := a.Send([]raftpb.Message{snap}); err != nil {
		t.Fatal(err)
	}
	if got := deliverAll(t, b, a.Frames()[:1]); len(got) != 0 {
		t.Fatal("a chunk delivered as a message")
	}
	if b.peers[1].partial == nil {
		t.Fatal("nothing being reassembled")
	}

	// A pre-vote for term 4 while a's term is still 3.
	pre := raftpb.Message{Type: raftpb.MsgPreVote, From: a.RaftID(), To: b.RaftID(), Term: 4, LogTerm: 3, Index: 9}
	if err := a.Send([]raftpb.Message{pre}); err != nil {
		t.Fatal(err)
	}
	if lane := a.peers[2].send.Lane(); lane != 7 || a.Term() != 3 {
		t.Fatalf("pre-vote: lane %d, term %d", lane, a.Term())
	}
	got := deliverAll(t, b, a.Frames())
	if len(got) != 1 || got[0].Type != raftpb.MsgPreVote {
		t.Fatalf("got %v", got)
	}
	if b.peers[1].partial != nil || b.Stats().LaneSwitches != 1 {
		t.Fatalf("abandoned chunks kept: %d bytes, stats %+v", len(b.peers[1].partial), b.Stats())
	}
	// The election succeeds: term 4 starts fresh (lane 8), abandoning
	// the pre-vote's lane; a lower or equal term changes nothing.
	if a.Unacked(2) == 0 {
		t.Fatal("the pre-vote is not awaiting acknowledgement")
	}
	a.SetTerm(4)
	if a.Unacked(2) != 0 || a.peers[2].send.Lane() != 8 {
		t.Fatalf("term 4: lane %d, %d unacknowledged", a.peers[2].send.Lane(), a.Unacked(2))
	}
	vote := raftpb.Message{Type: raftpb.MsgVote, From: a.RaftID(), To: b.RaftID(), Term: 4, LogTerm: 3, Index: 9}
	if err := a.Send([]raftpb.Message{vote}); err != nil {
		t.Fatal(err)
	}
	a.SetTerm(4)
	a.SetTerm(2)
	if a.Unacked(2) != 1 || a.peers[2].send.Lane() != 8 {
		t.Fatal("a term that did not rise restarted the lane")
	}
	if got := deliverAll(t, b, a.Frames()); len(got) != 1 || got[0].Type != raftpb.MsgVote {
		t.Fatalf("got %v", got)
	}

	// Stash bound: envelopes of a lane above b's current one (8) are kept
	// only for the highest such lane, its first Window sequence numbers.
	p := b.peers[1]
	if cur := attest.LaneOf(p.recvd); cur != 8 {
		t.Fatalf("b's stream from a in lane %d", cur)
	}
	for _, c := range []uint64{attest.LanedCounter(10, 2), attest.LanedCounter(10, 4)} {
		if !b.stashable(p, c) {
			t.Fatalf("%x not stashable", c)
		}
		p.early = map[uint64][]byte{c: nil}
	}
	if b.stashable(p, attest.LanedCounter(10, 5)) || b.stashable(p, attest.LanedCounter(9, 2)) {
		t.Fatal("stash beyond the window, or of a lane below a pending higher one")
	}
	if !b.stashable(p, attest.LanedCounter(11, 2)) || len(p.early) != 0 {
		t.Fatal("a higher lane did not replace the pending one")
	}
	p.early = nil

	// b restarts as epoch 2 and is admitted by a, now at term 4: the new
	// stream starts in lane 4.
	_, mb2, err := f.Join(2, 2, &mb)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.SetMember(mb2); err != nil {
		t.Fatal(err)
	}
	if lane := a.peers[2].send.Lane(); lane != 8 {
		t.Fatalf("new incarnation's stream in lane %d", lane)
	}
}

// TestSimLanesFollowTerms runs the simulation with loss, reordering and
// partitions (elections happen) and checks the wiring of lanes to raft
// terms: every replica's layer knows its raft term (Node calls SetTerm
// from each Ready's HardState), every stream to a peer is in the lane of
// that term (2t) or of a pre-vote for the next term (2t+1), lanes were
// started and peers' streams switched lanes, and the cluster stayed
// correct and live. The same schedule with NoLanes is logged for
// comparison (retransmissions, refusals), not asserted: raft's election
// timing is not seeded (see the simulation's doc).
func TestSimLanesFollowTerms(t *testing.T) {
	adv := adversary{Drop: 0.05, Delay: 0.2, MaxDelay: 12, Partitions: true}
	steps := 4000
	if testing.Short() {
		steps = 2000
	}
	for _, lanes := range []bool{true, false} {
		s := newSim(t, 11, 3, true, adv)
		for _, r := range s.reps {
			r.layer.cfg.NoLanes = !lanes
		}
		s.run(steps, true)
		o := s.finish()
		var st Stats
		for _, r := range s.reps {
			rs := r.layer.Stats()
			st.LanesStarted += rs.LanesStarted
			st.LaneSwitches += rs.LaneSwitches
			st.Abandoned += rs.Abandoned
			st.Retransmitted += rs.Retransmitted
			st.DroppedBackpressure += rs.DroppedBackpressure
			st.Sealed += rs.Sealed
			term := r.node.Status().Term
			if !lanes {
				continue
			}
			if r.layer.Term() != term {
				t.Errorf("replica %d: raft term %d, layer term %d", r.id, term, r.layer.Term())
			}
			for id, p := range r.layer.peers {
				if lane := p.send.Lane(); lane != 2*term && lane != 2*term+1 {
					t.Errorf("replica %d → %d: lane %d in term %d", r.id, id, lane, term)
				}
			}
		}
		t.Logf("lanes=%v: %v; terms %d/%d/%d; sealed %d, retransmitted %d, refused (backpressure) %d, lanes started %d, abandoned %d, lane switches %d",
			lanes, o, s.reps[0].node.Status().Term, s.reps[1].node.Status().Term, s.reps[2].node.Status().Term,
			st.Sealed, st.Retransmitted, st.DroppedBackpressure, st.LanesStarted, st.Abandoned, st.LaneSwitches)
		if o.broken() || o.okWrites < 10 {
			t.Fatalf("lanes=%v: %v", lanes, o)
		}
		if lanes && (st.LanesStarted == 0 || st.LaneSwitches == 0) {
			t.Fatalf("lanes were not exercised: %+v", st)
		}
		if !lanes && (st.LanesStarted != 0 || st.LaneSwitches != 0) {
			t.Fatalf("NoLanes started lanes: %+v", st)
		}
	}
}
