package recipe

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/wmsr/wmsr/attest"
)

// The configuration store (the replicated state machine). Keys are typed
// by their prefix, and values are validated at apply time against the
// type, so that a committed entry always decodes for every agent:
//
//	params            FleetParams   (F, weights, round period)
//	topology          Topology      (directed edges between members)
//	quarantine/<id>   Quarantine    (a member excluded, with evidence)
//	agent/<id>        AgentRecord   (an agent's attestation: its epoch)
//	kv/<anything>     opaque bytes  (tests, extensions)
//
// Member records (admission) are not written by commands: they change only
// by raft configuration changes (see Node), so the raft voters and the
// admitted keys can never disagree.
const (
	KeyParams          = "params"
	KeyTopology        = "topology"
	PrefixQuarantine   = "quarantine/"
	PrefixAgent        = "agent/"
	PrefixKV           = "kv/"
	maxKeyLen          = 256
	defaultEventWindow = 4096
)

// FleetParams are the W-MSR parameters all agents must agree on.
type FleetParams struct {
	F             int       `json:"f"`
	Weights       []float64 `json:"weights,omitempty"`
	RoundPeriodMs int       `json:"round_period_ms,omitempty"`
}

// Topology is the communication graph: Edges[i] = [from, to].
type Topology struct {
	Members []uint64    `json:"members"`
	Edges   [][2]uint64 `json:"edges"`
}

// Quarantine excludes a member; Evidence is typically an encoded
// attest.Evidence of equivocation.
type Quarantine struct {
	Member   uint64 `json:"member"`
	Reason   string `json:"reason"`
	Evidence []byte `json:"evidence,omitempty"`
}

// AgentRecord is an agent's admitted identity for one epoch: its
// attestation (attest's encoding), which every agent re-verifies against
// its own admission policy. The log keeps the highest epoch of each agent
// (a record of a lower or equal epoch is refused, ErrStaleEpoch), so an
// agent restarted from an old disk, which asks to be admitted at an epoch
// the fleet has seen, is refused by agents that never met the newer one
// too. Records take effect at once (ActivateAt 0): a restarted agent needs
// its peers to accept its new epoch now, and epochs, not rounds, order
// them.
type AgentRecord struct {
	Member      uint64 `json:"member"`
	Epoch       uint64 `json:"epoch"`
	Attestation []byte `json:"attestation"`
}

// PutAgent returns the command recording an agent's attestation (attest's
// encoding). A member writing its own record must use the attestation its
// MemberKey presents (AgentCommand), byte for byte.
func PutAgent(attestation []byte) (Command, error) {
	att, err := attest.ParseAttestation(attestation)
	if err != nil {
		return Command{}, fmt.Errorf("%w: agent record: %w", ErrMalformed, err)
	}
	b, err := json.Marshal(AgentRecord{Member: uint64(att.Claim.ID), Epoch: uint64(att.Claim.Epoch), Attestation: attestation})
	return Command{Op: OpPut, Key: PrefixAgent + strconv.FormatUint(uint64(att.Claim.ID), 10), Value: b}, err
}

// Op is a command's operation.
type Op uint8

// Operations.
const (
	OpPut    Op = 1
	OpDelete Op = 2
)

// Command is one configuration change. ActivateAt is the agreed future
// round at which agents switch to it: every agent applies the change at
// the start of that round, whenever it learned of it, so all switch
// together. It must be strictly higher than the activation round of the
// key's current value (ErrPastRound otherwise); 0 means "immediately"
// and is allowed only for kv/ keys.
type Command struct {
	Op         Op
	Key        string
	Value      []byte
	ActivateAt uint64
}

// PutParams returns the command setting the fleet parameters from round.
func PutParams(p FleetParams, round uint64) (Command, error) {
	b, err := json.Marshal(p)
	return Command{Op: OpPut, Key: KeyParams, Value: b, ActivateAt: round}, err
}

// PutTopology returns the command setting the topology from round.
func PutTopology(t Topology, round uint64) (Command, error) {
	b, err := json.Marshal(t)
	return Command{Op: OpPut, Key: KeyTopology, Value: b, ActivateAt: round}, err
}

// PutQuarantine returns the command quarantining q.Member from round.
func PutQuarantine(q Quarantine, round uint64) (Command, error) {
	b, err := json.Marshal(q)
	return Command{Op: OpPut, Key: PrefixQuarantine + strconv.FormatUint(q.Member, 10), Value: b, ActivateAt: round}, err
}

// validate checks the command against its key's type.
func (c *Command) validate() error {
	if c.Op != OpPut && c.Op != OpDelete {
		return fmt.Errorf("%w: op %d", ErrMalformed, c.Op)
	}
	if len(c.Key) == 0 || len(c.Key) > maxKeyLen {
		return fmt.Errorf("%w: key length %d", ErrMalformed, len(c.Key))
	}
	if c.Op == OpDelete {
		return nil
	}
	strict := func(v any) error {
		dec := json.NewDecoder(strings.NewReader(string(c.Value)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(v); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrMalformed, c.Key, err)
		}
		return nil
	}
	switch {
	case c.Key == KeyParams:
		var p FleetParams
		if err := strict(&p); err != nil {
			return err
		}
		if p.F < 0 {
			return fmt.Errorf("%w: params: F = %d", ErrMalformed, p.F)
		}
	case c.Key == KeyTopology:
		var t Topology
		if err := strict(&t); err != nil {
			return err
		}
	case strings.HasPrefix(c.Key, PrefixQuarantine):
		var q Quarantine
		if err := strict(&q); err != nil {
			return err
		}
		if PrefixQuarantine+strconv.FormatUint(q.Member, 10) != c.Key {
			return fmt.Errorf("%w: quarantine record for %d under key %q", ErrMalformed, q.Member, c.Key)
		}
	case strings.HasPrefix(c.Key, PrefixAgent):
		var a AgentRecord
		if err := strict(&a); err != nil {
			return err
		}
		if PrefixAgent+strconv.FormatUint(a.Member, 10) != c.Key {
			return fmt.Errorf("%w: agent record for %d under key %q", ErrMalformed, a.Member, c.Key)
		}
		att, err := attest.ParseAttestation(a.Attestation)
		if err != nil {
			return fmt.Errorf("%w: %s: %w", ErrMalformed, c.Key, err)
		}
		if uint64(att.Claim.ID) != a.Member || uint64(att.Claim.Epoch) != a.Epoch || a.Epoch == 0 {
			return fmt.Errorf("%w: %s: attestation of member %d epoch %d in a record of member %d epoch %d",
				ErrMalformed, c.Key, att.Claim.ID, att.Claim.Epoch, a.Member, a.Epoch)
		}
		if c.ActivateAt != 0 {
			return fmt.Errorf("%w: %s: agent records take effect at once (activation round 0)", ErrMalformed, c.Key)
		}
		return nil
	case strings.HasPrefix(c.Key, PrefixKV):
	default:
		return fmt.Errorf("%w: unknown key %q", ErrMalformed, c.Key)
	}
	if c.ActivateAt == 0 && !strings.HasPrefix(c.Key, PrefixKV) {
		return fmt.Errorf("%w: %s needs an activation round", ErrPastRound, c.Key)
	}
	return nil
}

// proposal is the payload of a raft entry: who proposed it (to complete
// the request there) and the command.
//
//	version(1)=1 origin(8) req(8) op(1) activate(8) keylen(2) key value
type proposal struct {
	Origin uint64
	Req    uint64
	Cmd    Command
}

func (p *proposal) marshal() []byte {
	b := make([]byte, 0, 28+len(p.Cmd.Key)+len(p.Cmd.Value))
	b = append(b, 1)
	b = binary.BigEndian.AppendUint64(b, p.Origin)
	b = binary.BigEndian.AppendUint64(b, p.Req)
	b = append(b, byte(p.Cmd.Op))
	b = binary.BigEndian.AppendUint64(b, p.Cmd.ActivateAt)
	b = binary.BigEndian.AppendUint16(b, uint16(len(p.Cmd.Key)))
	b = append(b, p.Cmd.Key...)
	return append(b, p.Cmd.Value...)
}

func (p *proposal) unmarshal(b []byte) error {
	if len(b) < 28 || b[0] != 1 {
		return fmt.Errorf("%w: proposal of %d bytes", ErrMalformed, len(b))
	}
	p.Origin = binary.BigEndian.Uint64(b[1:])
	p.Req = binary.BigEndian.Uint64(b[9:])
	p.Cmd.Op = Op(b[17])
	p.Cmd.ActivateAt = binary.BigEndian.Uint64(b[18:])
	n := int(binary.BigEndian.Uint16(b[26:]))
	if len(b) < 28+n {
		return fmt.Errorf("%w: proposal key", ErrMalformed)
	}
	p.Cmd.Key = string(b[28 : 28+n])
	p.Cmd.Value = slices.Clone(b[28+n:])
	return nil
}

// Record is a key's value as committed.
type Record struct {
	Key        string `json:"key"`
	Value      []byte `json:"value"`
	Revision   uint64 `json:"rev"` // raft index of the entry that wrote it
	ActivateAt uint64 `json:"activate_at"`
}

// Event is one entry of the watch stream.
type Event struct {
	Revision uint64 `json:"rev"`
	Op       Op     `json:"op"`
	Record   Record `json:"record"`
	// Member is set for admissions (Op == 0): the new record.
	Member *attest.Member `json:"-"`
}

// Store is the configuration state machine. It is deterministic: applying
// the same entries yields the same state on every replica. Not safe for
// concurrent use.
type Store struct {
	recs    map[string]Record
	members map[attest.MemberID]attest.Member
	applied uint64
	events  []Event // the last window events, ascending revisions
	window  int
	lost    uint64 // highest revision whose event is no longer kept
}

// NewStore returns an empty store.
func NewStore() *Store {
	return &Store{recs: make(map[string]Record), members: make(map[attest.MemberID]attest.Member), window: defaultEventWindow}
}

// Applied returns the raft index of the last applied entry.
func (s *Store) Applied() uint64 { return s.applied }

// Get returns key's committed record.
func (s *Store) Get(key string) (Record, bool) {
	r, ok := s.recs[key]
	return r, ok
}

// Params decodes the committed fleet parameters.
func (s *Store) Params() (FleetParams, bool) {
	var p FleetParams
	r, ok := s.recs[KeyParams]
	if !ok {
		return p, false
	}
	return p, json.Unmarshal(r.Value, &p) == nil
}

// Members returns the admitted member records, by id.
func (s *Store) Members() []attest.Member {
	out := make([]attest.Member, 0, len(s.members))
	for _, id := range slices.Sorted(maps.Keys(s.members)) {
		out = append(out, s.members[id])
	}
	return out
}

// Member returns the admitted record of id.
func (s *Store) Member(id attest.MemberID) (attest.Member, bool) {
	m, ok := s.members[id]
	return m, ok
}

// Events returns the events with revision >= from. ok is false if some of
// them were already discarded: the watcher must re-read the whole state
// (Snapshot) and continue from its revision.
func (s *Store) Events(from uint64) (evs []Event, ok bool) {
	if s.lost > 0 && from <= s.lost {
		return nil, false
	}
	i, _ := slices.BinarySearchFunc(s.events, from, func(e Event, r uint64) int {
		switch {
		case e.Revision < r:
			return -1
		case e.Revision > r:
			return 1
		}
		return 0
	})
	return slices.Clone(s.events[i:]), true
}

func (s *Store) emit(e Event) {
	if len(s.events) == s.window {
		s.lost = s.events[0].Revision
		s.events = slices.Delete(s.events, 0, 1)
	}
	s.events = append(s.events, e)
}

// apply applies a command committed at index.
func (s *Store) apply(index uint64, c *Command) error {
	s.applied = index
	if err := c.validate(); err != nil {
		return err
	}
	old, had := s.recs[c.Key]
	if had && c.ActivateAt != 0 && c.ActivateAt <= old.ActivateAt {
		return fmt.Errorf("%w: %s activates at round %d, current value at %d", ErrPastRound, c.Key, c.ActivateAt, old.ActivateAt)
	}
	if had && c.Op == OpPut && strings.HasPrefix(c.Key, PrefixAgent) {
		var o, n AgentRecord
		// Both decode: validate checked them, at their own apply.
		_ = json.Unmarshal(old.Value, &o)
		_ = json.Unmarshal(c.Value, &n)
		if n.Epoch <= o.Epoch {
			return fmt.Errorf("%w: %s epoch %d, the log holds epoch %d", ErrStaleEpoch, c.Key, n.Epoch, o.Epoch)
		}
	}
	r := Record{Key: c.Key, Value: c.Value, Revision: index, ActivateAt: c.ActivateAt}
	switch c.Op {
	case OpPut:
		s.recs[c.Key] = r
	case OpDelete:
		delete(s.recs, c.Key)
	}
	s.emit(Event{Revision: index, Op: c.Op, Record: r})
	return nil
}

// admit records an admitted member (applied from a configuration change).
func (s *Store) admit(index uint64, m attest.Member) {
	s.applied = index
	s.members[m.ID] = m
	mm := m
	s.emit(Event{Revision: index, Record: Record{Key: "member/" + strconv.FormatUint(uint64(m.ID), 10), Revision: index}, Member: &mm})
}

type storeSnapshot struct {
	Applied uint64            `json:"applied"`
	Records []Record          `json:"records"`
	Members [][]byte          `json:"members"`
	Events  []Event           `json:"-"`
	Extra   map[string]string `json:"extra,omitempty"`
}

// Marshal encodes the state for a raft snapshot.
func (s *Store) Marshal() ([]byte, error) {
	ss := storeSnapshot{Applied: s.applied}
	for _, k := range slices.Sorted(maps.Keys(s.recs)) {
		ss.Records = append(ss.Records, s.recs[k])
	}
	for _, m := range s.Members() {
		b, err := m.MarshalBinary()
		if err != nil {
			return nil, err
		}
		ss.Members = append(ss.Members, b)
	}
	return json.Marshal(ss)
}

// restore replaces the state with a snapshot's.
func (s *Store) restore(b []byte) error {
	var ss storeSnapshot
	if err := json.Unmarshal(b, &ss); err != nil {
		return fmt.Errorf("%w: store snapshot: %w", ErrMalformed, err)
	}
	recs := make(map[string]Record, len(ss.Records))
	for _, r := range ss.Records {
		recs[r.Key] = r
	}
	members := make(map[attest.MemberID]attest.Member, len(ss.Members))
	for _, b := range ss.Members {
		var m attest.Member
		if err := m.UnmarshalBinary(b); err != nil {
			return fmt.Errorf("store snapshot: %w", err)
		}
		members[m.ID] = m
	}
	s.recs, s.members, s.applied = recs, members, ss.Applied
	// The watch history before a snapshot is gone; watchers older than
	// it must re-read the state.
	s.events, s.lost = nil, ss.Applied
	return nil
}
