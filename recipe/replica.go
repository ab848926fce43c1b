package recipe

import (
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/wmsr/wmsr/attest"
)

// EpochFile is the durable record of the last epoch a replica started in,
// in its data directory. It is written and fsynced before the replica
// generates keys or sends anything in that epoch, so any epoch the cluster
// has seen (and admitted) is on disk. A restart uses the next epoch; a
// disk restored from an older backup yields an epoch the cluster has
// already admitted, and admission refuses it (attest.ErrStale): the
// rollback is detected by the cluster, not trusted to the disk.
const EpochFile = "epoch"

// NextEpoch reads dir's epoch file, durably records the next epoch, and
// returns it (1 for an empty directory).
func NextEpoch(dir string) (attest.Epoch, error) {
	path := filepath.Join(dir, EpochFile)
	var prev uint64
	b, err := os.ReadFile(path)
	switch {
	case err == nil && len(b) == 8:
		prev = binary.BigEndian.Uint64(b)
	case err == nil:
		return 0, fmt.Errorf("%w: epoch file of %d bytes", ErrMalformed, len(b))
	case !errors.Is(err, os.ErrNotExist):
		return 0, fmt.Errorf("recipe: epoch file: %w", err)
	}
	next := prev + 1
	if next > MaxEpoch {
		return 0, fmt.Errorf("%w: epochs exhausted", ErrMalformed)
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, fmt.Errorf("recipe: epoch file: %w", err)
	}
	if _, err := f.Write(binary.BigEndian.AppendUint64(nil, next)); err != nil {
		f.Close()
		return 0, fmt.Errorf("recipe: epoch file: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return 0, fmt.Errorf("recipe: epoch file: %w", err)
	}
	if err := f.Close(); err != nil {
		return 0, fmt.Errorf("recipe: epoch file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return 0, fmt.Errorf("recipe: epoch file: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return attest.Epoch(next), nil
}

// ReplicaConfig configures a replica process.
type ReplicaConfig struct {
	ID     attest.MemberID
	Epoch  attest.Epoch
	Listen string // peer port
	Addrs  map[attest.MemberID]string
	// ClientListen is the client port's address (client.go); empty: this
	// replica serves no clients, only its peers.
	ClientListen string
	// OperatorKeys may write any key through the client port. Members
	// that Admitter admits may write quarantine/ and kv/ records.
	OperatorKeys []ed25519.PublicKey
	// Backend holds this epoch's keys (fresh for every epoch).
	Backend attest.Backend
	// Admitter checks records, join requests and member clients against
	// the policy.
	Admitter *attest.Admitter
	// Genesis, if this is a first start (epoch 1), bootstraps the cluster;
	// GenesisTime is the time its records are verified at (identical in
	// every process, as it is written into the bootstrap entries).
	Genesis     []attest.Member
	GenesisTime time.Time
	// Vanilla runs plain etcd raft on the wire (benchmark baseline).
	Vanilla bool
	// NoLanes keeps every channel in one lane across terms
	// (LayerConfig.NoLanes): for a cluster that still has replicas from
	// before lanes, whose receivers would wait forever at a new lane.
	NoLanes bool
	Tick    time.Duration
	Logger  *slog.Logger
	// Ready, if set, is called with the peer and client addresses (client
	// empty without a client port) once both listen.
	Ready func(peer, client string)
}

// clientTimeout is how long the replica remembers a client request that
// has not completed (a proposal lost in a leader change never does); the
// client has given up on it long before.
const clientTimeout = 30 * time.Second

// RunReplica runs one replica until ctx is done: the I/O edge around a
// Node (TCP transport, ticker, client port).
func RunReplica(ctx context.Context, cfg ReplicaConfig) error {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Tick == 0 {
		cfg.Tick = 10 * time.Millisecond
	}
	id := cfg.Backend.Identity()
	var codec Codec
	if cfg.Vanilla {
		codec = NewPlain(RaftID(cfg.ID, cfg.Epoch))
	} else {
		l, err := NewLayer(LayerConfig{Identity: id, Logger: cfg.Logger, NoLanes: cfg.NoLanes})
		if err != nil {
			return err
		}
		codec = l
	}
	var genesis []attest.Member
	if cfg.Epoch == 1 {
		genesis = cfg.Genesis
	}
	node, err := NewNode(NodeConfig{
		ID: cfg.ID, Epoch: cfg.Epoch, Codec: codec, Admitter: cfg.Admitter, Genesis: genesis,
		Now: cfg.GenesisTime, Logger: cfg.Logger, SnapshotEvery: 10000, CompactKeep: 1000, ElectionTick: 10,
		MaxInflightMsgs: 1024,
	})
	if err != nil {
		return err
	}
	tr, err := ListenTransport(cfg.ID, cfg.Listen, cfg.Addrs, cfg.Logger)
	if err != nil {
		return err
	}
	defer tr.Close()
	auth := newClientAuth(cfg.OperatorKeys, cfg.Admitter, time.Now)
	var calls <-chan clientCall
	clientAddr := ""
	if cfg.ClientListen != "" {
		srv, err := listenClients(cfg.ClientListen, cfg.ID, cfg.Epoch, auth, cfg.Logger)
		if err != nil {
			return err
		}
		defer srv.Close()
		calls, clientAddr = srv.calls, srv.Addr().String()
	}
	node.SetTime(time.Now())
	if genesis == nil {
		att, err := cfg.Backend.Attest()
		if err != nil {
			return err
		}
		enc, err := att.MarshalBinary()
		if err != nil {
			return err
		}
		var via []attest.MemberID
		for m := range cfg.Addrs {
			via = append(via, m)
		}
		node.Join(enc, via)
	}
	if cfg.Ready != nil {
		cfg.Ready(tr.Addr().String(), clientAddr)
	}
	type waiter struct {
		reply    func([]byte)
		req      uint64
		deadline time.Time
		// changes requests: from, and how long to hold the request
		// once the read index is confirmed
		changes bool
		from    uint64
		wait    time.Duration
	}
	waiting := make(map[uint64]waiter)
	var watchers []waiter // changes requests held until a change or their deadline
	answerChanges := func(w waiter) {
		v, err := node.Store().appendChanges(nil, w.from)
		if err != nil {
			w.reply(resultAnswer(w.req, Result{Err: err}))
			return
		}
		w.reply(answer(w.req, statusOK, true, v))
	}
	var next, ticks uint64
	ticker := time.NewTicker(cfg.Tick)
	defer ticker.Stop()
	flush := func() {
		frames, results := node.Advance()
		for _, f := range frames {
			tr.Send(f)
		}
		for _, r := range results {
			w, ok := waiting[r.Req]
			if !ok {
				continue
			}
			delete(waiting, r.Req)
			switch {
			case !w.changes || r.Err != nil:
				w.reply(resultAnswer(w.req, r))
			case w.wait > 0 && !node.Store().hasChanges(w.from):
				w.deadline = time.Now().Add(w.wait)
				watchers = append(watchers, w)
			default:
				answerChanges(w)
			}
		}
		watchers = slices.DeleteFunc(watchers, func(w waiter) bool {
			if node.Store().hasChanges(w.from) {
				answerChanges(w)
				return true
			}
			return false
		})
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
			now := time.Now()
			node.SetTime(now)
			node.Tick()
			watchers = slices.DeleteFunc(watchers, func(w waiter) bool {
				if now.After(w.deadline) {
					answerChanges(w) // no change: an empty answer
					return true
				}
				return false
			})
			if ticks++; ticks%100 == 0 {
				for k, w := range waiting {
					if now.After(w.deadline) {
						delete(waiting, k)
					}
				}
			}
		case call := <-calls:
			b := &call.body
			if (b.Op == opGet || b.Op == opChanges) && node.Leader() == 0 {
				// raft drops a read index request while no leader is
				// known, silently: say so now rather than let the
				// client wait out its deadline.
				call.reply(resultAnswer(b.Req, Result{Err: ErrNotLeader}))
				break
			}
			switch b.Op {
			case opPut, opDelete:
				op := OpPut
				if b.Op == opDelete {
					op = OpDelete
				}
				next++
				cmd := Command{Op: op, Key: b.Key, Value: b.Value, ActivateAt: b.Activate}
				if err := node.Propose(next, cmd); err != nil {
					call.reply(resultAnswer(b.Req, Result{Err: err}))
					break
				}
				waiting[next] = waiter{reply: call.reply, req: b.Req, deadline: time.Now().Add(clientTimeout)}
				cfg.Logger.Debug("recipe: client write", "from", call.who.String(), "op", opName(b.Op), "key", b.Key)
			case opGet:
				if len(b.Key) == 0 || len(b.Key) > maxKeyLen {
					call.reply(resultAnswer(b.Req, Result{Err: fmt.Errorf("%w: key length %d", ErrMalformed, len(b.Key))}))
					break
				}
				next++
				waiting[next] = waiter{reply: call.reply, req: b.Req, deadline: time.Now().Add(clientTimeout)}
				node.Read(next, b.Key)
			case opChanges:
				wait, err := parseWait(b.Value)
				if err != nil {
					call.reply(resultAnswer(b.Req, Result{Err: err}))
					break
				}
				next++
				waiting[next] = waiter{reply: call.reply, req: b.Req, deadline: time.Now().Add(clientTimeout), changes: true, from: b.Activate, wait: wait}
				node.Read(next, KeyParams) // only the read index matters
			case opStatus:
				st := auth.stats()
				v := binary.BigEndian.AppendUint64(nil, node.Leader())
				v = binary.BigEndian.AppendUint64(v, node.RaftID())
				call.reply(answer(b.Req, statusOK, node.IsVoter(), st.appendTo(v)))
			}
		case frame := <-tr.recv():
			_ = node.Receive(frame)
		}
		flush()
	}
}

// resultAnswer encodes the answer to a completed (or failed) request.
func resultAnswer(req uint64, r Result) []byte {
	switch {
	case r.Err == nil:
		return answer(req, statusOK, r.Found, r.Value)
	case errors.Is(r.Err, ErrPastRound):
		return answer(req, statusInvalid, false, coded(2, r.Err.Error()))
	case errors.Is(r.Err, ErrStaleEpoch):
		return answer(req, statusInvalid, false, coded(3, r.Err.Error()))
	case errors.Is(r.Err, ErrMalformed):
		return answer(req, statusInvalid, false, coded(1, r.Err.Error()))
	}
	return answer(req, statusFailed, false, nil)
}
