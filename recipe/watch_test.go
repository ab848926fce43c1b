package recipe

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/wmsr/wmsr/attest"
)

// TestStoreChanges checks the watch stream's answers on a store: from 0 a
// snapshot of every record; from a revision the history after it, in
// order, with activation rounds; from a revision older than the kept
// history (or before a snapshot install) a snapshot again; and
// hasChanges agrees with what an answer would hold.
func TestStoreChanges(t *testing.T) {
	s := NewStore()
	s.window = 4
	params, _ := PutParams(FleetParams{F: 1}, 10)
	topo, _ := PutTopology(Topology{Members: []uint64{1, 2}, Edges: [][2]uint64{{1, 2}, {2, 1}}}, 10)
	cmds := []Command{params, topo, {Op: OpPut, Key: "kv/a", Value: []byte("x")}, {Op: OpDelete, Key: "kv/a"}}
	for i, c := range cmds {
		if err := s.apply(uint64(i+1), &c); err != nil {
			t.Fatal(err)
		}
	}
	decode := func(from uint64) Changes {
		t.Helper()
		b, err := s.appendChanges(nil, from)
		if err != nil {
			t.Fatal(err)
		}
		ch, err := decodeChanges(b)
		if err != nil {
			t.Fatal(err)
		}
		return ch
	}
	snap := decode(0)
	if !snap.Snapshot || snap.Revision != 4 || snap.Next != 5 || len(snap.Events) != 2 ||
		snap.Events[0].Record.Key != KeyParams || snap.Events[1].Record.Key != KeyTopology ||
		snap.Events[0].Record.ActivateAt != 10 || snap.Events[0].Revision != 1 {
		t.Fatalf("snapshot: %+v", snap)
	}
	hist := decode(2)
	if hist.Snapshot || hist.Next != 5 || len(hist.Events) != 3 || hist.Events[0].Record.Key != KeyTopology ||
		hist.Events[2].Op != OpDelete || hist.Events[1].Record.Revision != 3 || string(hist.Events[1].Record.Value) != "x" {
		t.Fatalf("history from 2: %+v", hist)
	}
	if s.hasChanges(5) || !s.hasChanges(4) || !s.hasChanges(0) {
		t.Fatal("hasChanges")
	}
	if ch := decode(5); ch.Snapshot || len(ch.Events) != 0 || ch.Next != 5 {
		t.Fatalf("nothing new: %+v", ch)
	}
	// Two more events push revision 1 out of the window of 4.
	for i := 5; i <= 6; i++ {
		c := Command{Op: OpPut, Key: "kv/b", Value: []byte{byte(i)}}
		if err := s.apply(uint64(i), &c); err != nil {
			t.Fatal(err)
		}
	}
	if ch := decode(2); !ch.Snapshot || len(ch.Events) != 3 || ch.Next != 7 {
		t.Fatalf("from a lost revision: %+v", ch)
	}
	if ch := decode(3); ch.Snapshot || len(ch.Events) != 4 {
		t.Fatalf("from the oldest kept revision: %+v", ch)
	}
	// A snapshot install drops the history.
	b, err := s.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	r := NewStore()
	if err := r.restore(b); err != nil {
		t.Fatal(err)
	}
	if !r.hasChanges(6) {
		t.Fatal("hasChanges after restore: the watcher must get a snapshot")
	}
	if ch, _ := r.appendChanges(nil, 6); ch[0] != flagSnapshot {
		t.Fatal("no snapshot after restore")
	}
	if ch := decode(7); len(ch.Events) != 0 {
		t.Fatalf("after the end: %+v", ch)
	}
}

// TestWatchOverClientPort follows the log over a real client port: a
// snapshot first; a long poll that returns as soon as an operator's write
// commits (well before its wait), carrying the activation round; and a
// long poll with nothing to report, which returns empty after its wait.
func TestWatchOverClientPort(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	addr, op := startClientPortReplica(t, ctx)
	w, err := DialClient(ctx, addr, OperatorKey(op))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	writer, err := DialClient(ctx, addr, OperatorKey(op))
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()
	propose := func(cmd Command) {
		t.Helper()
		for i := 0; ; i++ {
			err := writer.Propose(ctx, cmd)
			if err == nil {
				return
			}
			if !errors.Is(err, ErrNotLeader) || i > 200 {
				t.Fatal(err)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	params, _ := PutParams(FleetParams{F: 1}, 40)
	propose(params)
	snap, err := w.Changes(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !snap.Snapshot || len(snap.Events) != 1 || snap.Events[0].Record.ActivateAt != 40 {
		t.Fatalf("snapshot: %+v", snap)
	}

	type result struct {
		ch   Changes
		took time.Duration
		err  error
	}
	poll := make(chan result, 1)
	go func() {
		start := time.Now()
		ch, err := w.Changes(ctx, snap.Next, 10*time.Second)
		poll <- result{ch, time.Since(start), err}
	}()
	time.Sleep(100 * time.Millisecond) // the poll is held at the replica
	topo, _ := PutTopology(Topology{Members: []uint64{1, 2}, Edges: [][2]uint64{{1, 2}, {2, 1}}}, 50)
	propose(topo)
	got := <-poll
	if got.err != nil {
		t.Fatal(got.err)
	}
	if got.took > 5*time.Second || got.ch.Snapshot || len(got.ch.Events) != 1 {
		t.Fatalf("long poll: %+v after %v", got.ch, got.took)
	}
	ev := got.ch.Events[0]
	var tp Topology
	if ev.Record.Key != KeyTopology || ev.Record.ActivateAt != 50 || json.Unmarshal(ev.Record.Value, &tp) != nil || len(tp.Edges) != 2 {
		t.Fatalf("event: %+v", ev)
	}
	start := time.Now()
	idle, err := w.Changes(ctx, got.ch.Next, 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); len(idle.Events) != 0 || took < 250*time.Millisecond || idle.Next != got.ch.Next {
		t.Fatalf("idle poll: %+v after %v", idle, took)
	}
	// The watch needs no signature.
	anon, err := DialClient(ctx, addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer anon.Close()
	if ch, err := anon.Changes(ctx, 0, 0); err != nil || len(ch.Events) != 2 {
		t.Fatalf("unsigned watch: %+v %v", ch, err)
	}
}

// changesSeeds are valid changes answers.
func changesSeeds(t testing.TB) [][]byte {
	s := NewStore()
	params, _ := PutParams(FleetParams{F: 2}, 7)
	cmds := []Command{params, {Op: OpPut, Key: "kv/a", Value: []byte("x")}, {Op: OpDelete, Key: "kv/a"}}
	for i, c := range cmds {
		if err := s.apply(uint64(i+1), &c); err != nil {
			t.Fatal(err)
		}
	}
	s.admit(4, attest.Member{Claim: attest.Claim{ID: 9, Epoch: 1}})
	var out [][]byte
	for _, from := range []uint64{0, 1, 3, 5} {
		b, err := s.appendChanges(nil, from)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// FuzzDecodeChanges feeds arbitrary answers to the watch decoder (what a
// client reads from a replica it does not trust to be well formed): no
// panic, no allocation beyond what the bytes hold, and whatever decodes
// re-encodes to the same bytes.
//
//	go test -fuzz=FuzzDecodeChanges ./recipe/
func FuzzDecodeChanges(f *testing.F) {
	for _, s := range changesSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ch, err := decodeChanges(b)
		if err != nil {
			return
		}
		if enc := encodeChanges(ch); string(enc) != string(b) {
			t.Fatalf("re-encoding differs:\n%x\n%x", b, enc)
		}
	})
}

// encodeChanges re-encodes a decoded answer with the replica's encoder.
func encodeChanges(ch Changes) []byte {
	flags := byte(0)
	if ch.Snapshot {
		flags = flagSnapshot
	}
	b := appendChangesHeader(nil, flags, ch.Revision, ch.Next, uint32(len(ch.Events)))
	for i := range ch.Events {
		b = appendEvent(b, &ch.Events[i])
	}
	return b
}
