package attest

import (
	"bytes"
	"crypto/cipher"
	"fmt"
	"slices"
	"sync"

	voied25519 "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
)

// DefaultEvidenceWindow is the number of recent envelopes a Receiver keeps
// per stream to tell duplicates from equivocation.
const DefaultEvidenceWindow = 4

// ReceiverConfig configures a Receiver.
type ReceiverConfig struct {
	// EvidenceWindow is how many recently accepted envelopes are kept per
	// stream (default DefaultEvidenceWindow; negative disables). A second
	// envelope for a counter still in the window is classified as a
	// duplicate or as equivocation (with evidence); older ones are only
	// replays. Memory is at most members × streams × window × envelope size.
	EvidenceWindow int
	// LossyUnicast makes unicast streams accept any strictly higher
	// counter and report the gap as Message.Omitted, as broadcast streams
	// do, instead of only the next one. It is for state-like traffic where
	// each message supersedes the previous (an agent's value of a round,
	// sent under a pairwise HMAC key): a lost message must not block the
	// stream. Recipe's sequential rule (no loss before an accepted
	// counter, the replicated log's guarantee) then does not hold on
	// unicast streams; replays, reordering and equivocation are still
	// refused.
	LossyUnicast bool
	// LanedUnicast makes unicast streams laned (LaneCounter): sequential
	// within a lane, as Recipe's rule, but seq 1 of a higher lane is
	// accepted at once and abandons the rest of the lower one, whose
	// envelopes are then ErrStale. It is for senders that start a lane per
	// view (Sender.StartLane; recipe.Layer starts one per raft term), so
	// that a new view's channel starts fresh instead of waiting behind
	// the old view's backlog. Streams whose senders never start a lane
	// behave exactly as without it (all in lane 0). LossyUnicast takes
	// precedence: it already accepts any higher counter.
	LanedUnicast bool
}

// Receiver authenticates and orders incoming envelopes for one member
// (Recipe's receive side). It holds one receive counter per directed pair
// (unicast: sequential, laned or lossy, per ReceiverConfig) and per sender
// and subscribed channel (broadcast, strictly increasing), and the member
// records of the senders it accepts from. A Receiver is safe for
// concurrent use; Ed25519 verification runs outside its locks.
type Receiver struct {
	self   *Identity
	window int
	lossy  bool // ReceiverConfig.LossyUnicast
	laned  bool // ReceiverConfig.LanedUnicast

	mu       sync.RWMutex
	peers    map[MemberID]*peer
	channels map[uint64]cipher.AEAD // subscribed channels; nil AEAD = plaintext
}

// peer is the receive state for one sender at one epoch. It is replaced,
// never updated, when the sender's record changes.
type peer struct {
	m    Member
	sign *voied25519.ExpandedPublicKey // m.SignKey, decoded once
	mac  *macState                     // HMAC key of the pair peer → self
	aead cipher.AEAD                   // encryption key of the pair peer → self

	mu      sync.Mutex
	removed bool
	uni     *stream
	chans   map[uint64]*stream
}

// stream is the receive state of one stream. The first accepted envelope
// fixes its suite and encryption, so a sender cannot mix them within a
// stream (which would also keep evidence well-formed).
type stream struct {
	seq     SeqCounter  // unicast
	lane    LaneCounter // unicast, ReceiverConfig.LanedUnicast
	mono    MonoCounter // broadcast, ReceiverConfig.LossyUnicast
	started bool
	suite   Suite
	enc     bool
	win     window
}

// Message is an accepted envelope.
type Message struct {
	Slot
	Suite Suite
	Kind  uint8
	// Payload is the plaintext. Unless the envelope was encrypted it
	// aliases the raw envelope passed to Open.
	Payload []byte
	// Omitted is, on broadcast streams, the number of counters skipped
	// since the previously accepted envelope of this sender and channel
	// (lost, reordered or superseded values: omission faults). Always 0 on
	// unicast streams, which accept no gaps, unless
	// ReceiverConfig.LossyUnicast. (A laned stream's switch to a higher
	// lane is not counted: the receiver cannot know how long the
	// abandoned lane was.)
	Omitted uint64
}

// Result is one outcome of OpenBatch.
type Result struct {
	Msg Message
	Err error
}

// NewReceiver returns a receiver for the member whose keys are self.
func NewReceiver(self *Identity, cfg ReceiverConfig) *Receiver {
	w := cfg.EvidenceWindow
	switch {
	case w == 0:
		w = DefaultEvidenceWindow
	case w < 0:
		w = 0
	}
	return &Receiver{
		self:     self,
		window:   w,
		lossy:    cfg.LossyUnicast,
		laned:    cfg.LanedUnicast && !cfg.LossyUnicast,
		peers:    make(map[MemberID]*peer),
		channels: make(map[uint64]cipher.AEAD),
	}
}

// AddMember accepts envelopes from m (a record produced by admission and
// applied from the configuration log). A record with a higher epoch
// replaces the current one and discards all receive state of the old epoch:
// from then on the old epoch's envelopes are ErrStale. Re-applying the
// current record is a no-op; an older epoch is ErrStale.
func (r *Receiver) AddMember(m Member) error {
	if err := m.validate(); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if old := r.peers[m.ID]; old != nil {
		switch {
		case m.Epoch < old.m.Epoch:
			return fmt.Errorf("%w: member %d epoch %d, have epoch %d", ErrStale, m.ID, m.Epoch, old.m.Epoch)
		case m.Epoch == old.m.Epoch:
			if m.Claim.equal(&old.m.Claim) {
				return nil
			}
			return fmt.Errorf("%w: conflicting records for member %d epoch %d", ErrMalformed, m.ID, m.Epoch)
		}
	}
	k, err := r.self.InboundKey(&m)
	if err != nil {
		return err
	}
	aead, err := newAEAD(k.enc[:])
	if err != nil {
		return err
	}
	sign, err := expandSignKey(m.SignKey)
	if err != nil {
		return err
	}
	p := &peer{m: m, sign: sign, mac: newMACState(k.mac[:]), aead: aead, chans: make(map[uint64]*stream)}
	if old := r.peers[m.ID]; old != nil {
		old.mu.Lock()
		old.removed = true
		old.mu.Unlock()
	}
	r.peers[m.ID] = p
	return nil
}

// RemoveMember stops accepting envelopes from id (quarantine, or removal
// from the fleet). Its envelopes are then ErrUnknownSender.
func (r *Receiver) RemoveMember(id MemberID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p := r.peers[id]; p != nil {
		p.mu.Lock()
		p.removed = true
		p.mu.Unlock()
		delete(r.peers, id)
	}
}

// Subscribe accepts broadcast envelopes on channel. groupKey, if not nil,
// is the channel's AES-256-GCM key and then only encrypted envelopes are
// accepted on it; if nil, only plaintext ones.
func (r *Receiver) Subscribe(channel uint64, groupKey []byte) error {
	var aead cipher.AEAD
	if groupKey != nil {
		var err error
		if aead, err = newAEAD(groupKey); err != nil {
			return err
		}
	}
	r.mu.Lock()
	r.channels[channel] = aead
	r.mu.Unlock()
	return nil
}

// pending is an envelope that passed parsing, routing and membership, and
// awaits authentication and ordering.
type pending struct {
	env  Envelope
	p    *peer
	aead cipher.AEAD // decryption key, if encrypted
}

// route parses raw and checks that it is addressed to this member (or a
// subscribed channel) by an admitted sender at its current epoch.
func (r *Receiver) route(raw []byte) (pending, error) {
	e, err := Parse(raw)
	if err != nil {
		return pending{}, err
	}
	self := &r.self.claim
	r.mu.RLock()
	p := r.peers[e.Sender]
	chanAEAD, subscribed := r.channels[e.Stream.Dest]
	r.mu.RUnlock()

	if e.Stream.Broadcast {
		if !subscribed {
			return pending{}, fmt.Errorf("%w: not subscribed to %v", ErrMisrouted, e.Stream)
		}
		if e.Suite != SuiteEd25519 {
			return pending{}, fmt.Errorf("%w: %v on broadcast %v (only ed25519 is transferable)", ErrSuite, e.Suite, e.Stream)
		}
		if e.Encrypted != (chanAEAD != nil) {
			return pending{}, fmt.Errorf("%w: encryption flag %v does not match the subscription of %v", ErrSuite, e.Encrypted, e.Stream)
		}
	} else {
		switch {
		case MemberID(e.Stream.Dest) != self.ID:
			return pending{}, fmt.Errorf("%w: addressed to member %d, this is %d", ErrMisrouted, e.Stream.Dest, self.ID)
		case e.Stream.DestEpoch < self.Epoch:
			return pending{}, fmt.Errorf("%w: addressed to epoch %d of this member, now at %d", ErrStale, e.Stream.DestEpoch, self.Epoch)
		case e.Stream.DestEpoch > self.Epoch:
			return pending{}, fmt.Errorf("%w: addressed to future epoch %d of this member, now at %d", ErrMisrouted, e.Stream.DestEpoch, self.Epoch)
		}
	}
	switch {
	case p == nil:
		return pending{}, fmt.Errorf("%w: member %d", ErrUnknownSender, e.Sender)
	case e.Epoch < p.m.Epoch:
		return pending{}, fmt.Errorf("%w: member %d epoch %d, admitted epoch is %d", ErrStale, e.Sender, e.Epoch, p.m.Epoch)
	case e.Epoch > p.m.Epoch:
		return pending{}, fmt.Errorf("%w: member %d epoch %d not admitted yet (admitted: %d)", ErrUnknownSender, e.Sender, e.Epoch, p.m.Epoch)
	}
	pd := pending{env: e, p: p}
	if e.Encrypted {
		if e.Stream.Broadcast {
			pd.aead = chanAEAD
		} else {
			pd.aead = p.aead
		}
	}
	return pd, nil
}

func (pd *pending) verifySig() error {
	if !verifyExpanded(pd.p.sign, pd.env.Signed(), pd.env.Auth) {
		return fmt.Errorf("%w: ed25519 signature of member %d does not verify", ErrForged, pd.env.Sender)
	}
	return nil
}

// Verify authenticates raw without consuming its counter: for relays and
// witnesses that check an envelope they forward or store. Ed25519
// envelopes verify for any receiver with the sender's record (routing is
// not checked); HMAC ones only at their addressee.
func (r *Receiver) Verify(raw []byte) (Envelope, error) {
	e, err := Parse(raw)
	if err != nil {
		return Envelope{}, err
	}
	r.mu.RLock()
	p := r.peers[e.Sender]
	r.mu.RUnlock()
	switch {
	case p == nil:
		return Envelope{}, fmt.Errorf("%w: member %d", ErrUnknownSender, e.Sender)
	case e.Epoch < p.m.Epoch:
		return Envelope{}, fmt.Errorf("%w: member %d epoch %d, admitted epoch is %d", ErrStale, e.Sender, e.Epoch, p.m.Epoch)
	case e.Epoch > p.m.Epoch:
		return Envelope{}, fmt.Errorf("%w: member %d epoch %d not admitted yet", ErrUnknownSender, e.Sender, e.Epoch)
	}
	pd := pending{env: e, p: p}
	if e.Suite == SuiteEd25519 {
		return e, pd.verifySig()
	}
	if e.Stream.Broadcast || e.Stream != To(r.self.claim.ID, r.self.claim.Epoch) {
		return Envelope{}, fmt.Errorf("%w: an HMAC envelope can only be verified by its addressee", ErrMisrouted)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.mac.verify(e.Signed(), e.Auth, e.Suite) {
		return Envelope{}, fmt.Errorf("%w: HMAC of member %d does not verify", ErrForged, e.Sender)
	}
	return e, nil
}

// Open authenticates raw, checks its counter and returns the message. Errors
// wrap one sentinel (ReasonOf classifies them); equivocation is returned as
// *EquivocationError carrying Evidence for the configuration log. A
// rejected envelope consumes no counter and is not recorded.
func (r *Receiver) Open(raw []byte) (Message, error) {
	pd, err := r.route(raw)
	if err != nil {
		return Message{}, err
	}
	if pd.env.Suite == SuiteEd25519 {
		if err := pd.verifySig(); err != nil {
			return Message{}, err
		}
	}
	return r.accept(&pd)
}

// OpenBatch is Open for many envelopes at once (e.g. one W-MSR round's
// neighbour values). Ed25519 signatures are checked together with batch
// verification, about 0.74× the time per signature of one by one at six
// (BenchmarkEd25519Verify), less at larger batches; if the
// batch fails, each is checked alone to find the culprits (ZIP-215 rules
// make batch and single verification agree, see verifyEd25519). Counters
// are then applied in slice order. out is reused if large enough.
func (r *Receiver) OpenBatch(raws [][]byte, out []Result) []Result {
	out = slices.Grow(out[:0], len(raws))[:len(raws)]
	clear(out)
	pds := make([]pending, len(raws))
	nsig := 0
	for i, raw := range raws {
		pds[i], out[i].Err = r.route(raw)
		if out[i].Err == nil && pds[i].env.Suite == SuiteEd25519 {
			nsig++
		}
	}
	batchOK := false
	if nsig > 1 {
		bv := voied25519.NewBatchVerifierWithCapacity(nsig)
		for i := range pds {
			if out[i].Err == nil && pds[i].env.Suite == SuiteEd25519 {
				bv.AddExpandedWithOptions(pds[i].p.sign, pds[i].env.Signed(), pds[i].env.Auth, zip215)
			}
		}
		batchOK = bv.VerifyBatchOnly(nil) // nil: crypto/rand draws the coefficients
	}
	for i := range pds {
		if out[i].Err != nil {
			continue
		}
		if pds[i].env.Suite == SuiteEd25519 && !batchOK {
			if out[i].Err = pds[i].verifySig(); out[i].Err != nil {
				continue
			}
		}
		out[i].Msg, out[i].Err = r.accept(&pds[i])
	}
	return out
}

// accept runs the stateful part of Open under the sender's lock: HMAC
// verification, the stream's suite, the counter, decryption, and recording.
func (r *Receiver) accept(pd *pending) (Message, error) {
	e, p := &pd.env, pd.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.removed {
		return Message{}, fmt.Errorf("%w: member %d was removed", ErrUnknownSender, e.Sender)
	}
	if e.Suite.Pairwise() && !p.mac.verify(e.Signed(), e.Auth, e.Suite) {
		return Message{}, fmt.Errorf("%w: HMAC of member %d does not verify", ErrForged, e.Sender)
	}
	st := p.uni
	if e.Stream.Broadcast {
		st = p.chans[e.Stream.Dest]
	}
	if st == nil {
		st = &stream{win: newWindow(r.window)}
		if e.Stream.Broadcast {
			p.chans[e.Stream.Dest] = st
		} else {
			p.uni = st
		}
	}
	if st.started && (st.suite != e.Suite || st.enc != e.Encrypted) {
		return Message{}, fmt.Errorf("%w: stream %v from member %d is %v (encrypted %v), envelope is %v (encrypted %v)",
			ErrSuite, e.Stream, e.Sender, st.suite, st.enc, e.Suite, e.Encrypted)
	}

	var omitted uint64
	var err error
	mono := e.Stream.Broadcast || r.lossy
	switch {
	case mono:
		omitted, err = st.mono.Check(e.Counter)
	case r.laned:
		err = st.lane.Check(e.Counter)
	default:
		err = st.seq.Check(e.Counter)
	}
	if err != nil {
		if prev, ok := st.win.lookup(e.Counter); ok {
			if first, _ := Parse(prev); !bytes.Equal(first.Signed(), e.Signed()) {
				ev, everr := NewEvidence(prev, e.Raw())
				if everr == nil {
					return Message{}, &EquivocationError{Evidence: ev, slot: e.Slot()}
				}
			}
		}
		return Message{}, err
	}

	payload := e.Payload
	if e.Encrypted {
		nonce := nonceFor(e.raw[:HeaderSize])
		pt, err := pd.aead.Open(nil, nonce[:], e.Payload, e.raw[:HeaderSize])
		if err != nil {
			return Message{}, fmt.Errorf("%w: payload of member %d does not decrypt", ErrForged, e.Sender)
		}
		payload = pt
	}

	// Checked above under the same lock: these cannot fail.
	switch {
	case mono:
		_, _ = st.mono.Accept(e.Counter)
	case r.laned:
		_ = st.lane.Accept(e.Counter)
	default:
		_ = st.seq.Accept(e.Counter)
	}
	if !st.started {
		st.started, st.suite, st.enc = true, e.Suite, e.Encrypted
	}
	st.win.record(e.Counter, e.Raw())
	return Message{Slot: e.Slot(), Suite: e.Suite, Kind: e.Kind, Payload: payload, Omitted: omitted}, nil
}
