package recipe

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
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
	Listen string
	Addrs  map[attest.MemberID]string
	// Backend holds this epoch's keys (fresh for every epoch).
	Backend attest.Backend
	// Admitter checks records and join requests against the policy.
	Admitter *attest.Admitter
	// Genesis, if this is a first start (epoch 1), bootstraps the cluster;
	// GenesisTime is the time its records are verified at (identical in
	// every process, as it is written into the bootstrap entries).
	Genesis     []attest.Member
	GenesisTime time.Time
	// Vanilla runs plain etcd raft on the wire (benchmark baseline).
	Vanilla bool
	Tick    time.Duration
	Logger  *slog.Logger
	// Ready, if set, receives the listening address once serving.
	Ready func(addr string)
}

// Client protocol on the replica's port (the same framing as peers):
//
//	request  'C' req(8) op(1: put, 2: get) keylen(2) key value
//	response 'A' req(8) status(1: 1 ok, 0 failed) found(1) value
const (
	frameClient   = 'C'
	frameAnswer   = 'A'
	clientPut     = 1
	clientGet     = 2
	clientStatus  = 3
	replicaMaxReq = 1 << 20
)

// RunReplica runs one replica until ctx is done: the I/O edge around a
// Node (TCP transport, ticker, client requests).
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
		l, err := NewLayer(LayerConfig{Identity: id, Logger: cfg.Logger})
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
		cfg.Ready(tr.Addr().String())
	}
	type waiter struct {
		reply func([]byte)
		req   uint64
	}
	waiting := make(map[uint64]waiter)
	var next uint64
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
			ok = r.Err == nil
			w.reply(answer(w.req, ok, r.Found, r.Value))
		}
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
			node.SetTime(time.Now())
			node.Tick()
			// Requests older than a few seconds will not complete
			// (lost proposals); they time out at the client.
			if len(waiting) > replicaMaxReq {
				clear(waiting)
			}
		case in := <-tr.recv():
			if len(in.data) > 0 && in.data[0] == frameClient {
				req, op, key, val, err := parseClient(in.data[1:])
				if err != nil {
					continue
				}
				next++
				waiting[next] = waiter{reply: in.reply, req: req}
				switch op {
				case clientPut:
					if err := node.Propose(next, Command{Op: OpPut, Key: key, Value: val}); err != nil {
						delete(waiting, next)
						in.reply(answer(req, false, false, nil))
					}
				case clientGet:
					node.Read(next, key)
				case clientStatus:
					delete(waiting, next)
					v := binary.BigEndian.AppendUint64(nil, node.Leader())
					v = binary.BigEndian.AppendUint64(v, node.RaftID())
					in.reply(answer(req, node.IsVoter(), node.Leader() != 0, v))
				}
			} else {
				_ = node.Receive(in.data)
			}
		}
		flush()
	}
}

func answer(req uint64, ok, found bool, val []byte) []byte {
	b := []byte{frameAnswer}
	b = binary.BigEndian.AppendUint64(b, req)
	var s, f byte
	if ok {
		s = 1
	}
	if found {
		f = 1
	}
	b = append(b, s, f)
	return append(b, val...)
}

func parseClient(b []byte) (req uint64, op byte, key string, val []byte, err error) {
	if len(b) < 11 {
		return 0, 0, "", nil, ErrMalformed
	}
	req, op = binary.BigEndian.Uint64(b), b[8]
	n := int(binary.BigEndian.Uint16(b[9:]))
	if len(b) < 11+n {
		return 0, 0, "", nil, ErrMalformed
	}
	return req, op, string(b[11 : 11+n]), b[11+n:], nil
}

func encodeClient(req uint64, op byte, key string, val []byte) []byte {
	b := []byte{frameClient}
	b = binary.BigEndian.AppendUint64(b, req)
	b = append(b, op)
	b = binary.BigEndian.AppendUint16(b, uint16(len(key)))
	b = append(b, key...)
	return append(b, val...)
}

func decodeClientAnswer(b []byte) (req uint64, ok, found bool, val []byte, err error) {
	if len(b) < 11 || b[0] != frameAnswer {
		return 0, false, false, nil, ErrMalformed
	}
	return binary.BigEndian.Uint64(b[1:]), b[9] == 1, b[10] == 1, b[11:], nil
}
