package recipe

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wmsr/wmsr/attest"
)

// maxSessionKeys bounds the client keys one connection may use, and
// maxClientConns the connections, so that clients cannot grow a replica's
// memory without bound.
const (
	maxSessionKeys = 16
	maxClientConns = 1024
)

// clientAuth is what all sessions of one replica's client port share: who
// may write, and the counters.
type clientAuth struct {
	operators map[[ed25519.PublicKeySize]byte]struct{}
	admitter  *attest.Admitter
	now       func() time.Time

	mu     sync.Mutex
	epochs map[attest.MemberID]attest.Epoch // highest epoch a member signed with here

	accepted, forged, replayed, unknown, unsigned, forbidden, malformed atomic.Uint64
}

func newClientAuth(operators []ed25519.PublicKey, admitter *attest.Admitter, now func() time.Time) *clientAuth {
	a := &clientAuth{
		operators: make(map[[ed25519.PublicKeySize]byte]struct{}),
		admitter:  admitter, now: now,
		epochs: make(map[attest.MemberID]attest.Epoch),
	}
	for _, k := range operators {
		if len(k) == ed25519.PublicKeySize {
			a.operators[[ed25519.PublicKeySize]byte(k)] = struct{}{}
		}
	}
	return a
}

// count records the outcome of one request.
func (a *clientAuth) count(err error) {
	c := &a.accepted
	if err != nil {
		c = []*atomic.Uint64{nil, &a.forged, &a.replayed, &a.unknown, &a.unsigned, &a.forbidden, &a.malformed}[refusalCode(err)]
	}
	c.Add(1)
}

func (a *clientAuth) stats() ClientStats {
	return ClientStats{
		Accepted: a.accepted.Load(), Forged: a.forged.Load(), Replayed: a.replayed.Load(), UnknownKey: a.unknown.Load(),
		Unsigned: a.unsigned.Load(), Forbidden: a.forbidden.Load(), Malformed: a.malformed.Load(),
	}
}

// memberEpoch refuses an epoch older than one the member already signed
// with on this replica (its keys may have leaked since: epochs are how
// attest retires keys), and records a newer one. It is called only after
// the signature verified, so nobody can raise the mark without the keys.
func (a *clientAuth) memberEpoch(id attest.MemberID, e attest.Epoch) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if seen := a.epochs[id]; e < seen {
		return fmt.Errorf("%w: member %d signed with epoch %d, epoch %d already seen", ErrReplayed, id, e, seen)
	}
	a.epochs[id] = e
	return nil
}

// principal is who sent an authenticated request.
type principal struct {
	operator []byte // operator public key
	member   attest.MemberID
	epoch    attest.Epoch
}

func (p principal) String() string {
	switch {
	case p.operator != nil:
		return "operator " + hex.EncodeToString(p.operator[:8])
	case p.member != 0:
		return fmt.Sprintf("member %d@%d", p.member, p.epoch)
	}
	return "unsigned"
}

// clientSession is the replica's side of one client connection: the
// challenge it sent, and the highest counter accepted per client key.
type clientSession struct {
	auth      *clientAuth
	challenge [challengeSize]byte
	ops       map[[ed25519.PublicKeySize]byte]uint64
	members   map[attest.MemberID]*sessionMember
}

type sessionMember struct {
	m       attest.Member
	att     []byte
	counter uint64
}

func newClientSession(a *clientAuth, challenge [challengeSize]byte) *clientSession {
	return &clientSession{
		auth: a, challenge: challenge,
		ops:     make(map[[ed25519.PublicKeySize]byte]uint64),
		members: make(map[attest.MemberID]*sessionMember),
	}
}

// authenticate parses and authenticates one request frame and checks that
// its sender may do what it asks. The checks run in an order that makes
// the error say what happened: an unknown key first, then the signature
// (forged), then the session binding and counter (replayed: only an
// authentic request can be a replay), then the permission. On error the
// principal is who the request claims to be (for the log).
func (s *clientSession) authenticate(b []byte) (clientBody, principal, error) {
	r, err := parseRequest(b)
	if err != nil {
		return clientBody{}, principal{}, err
	}
	var who principal
	switch r.Auth {
	case authNone:
		if r.Body.Op == opPut || r.Body.Op == opDelete {
			return r.Body, who, fmt.Errorf("%w: %s needs a signature (operator key or admitted member)", ErrUnsigned, opName(r.Body.Op))
		}
		return r.Body, who, nil
	case authOperator:
		who.operator = r.Key
		k := [ed25519.PublicKeySize]byte(r.Key)
		if _, ok := s.auth.operators[k]; !ok {
			return r.Body, who, fmt.Errorf("%w: operator key %x is not listed", ErrUnknownClient, r.Key)
		}
		if !ed25519.Verify(r.Key, operatorSigned(r.signed), r.Sig) {
			return r.Body, who, fmt.Errorf("%w: operator key %x", ErrForged, r.Key[:8])
		}
		if err := s.fresh(r.Challenge, r.Counter, s.ops[k]); err != nil {
			return r.Body, who, err
		}
		if _, ok := s.ops[k]; !ok && len(s.ops)+len(s.members) >= maxSessionKeys {
			return r.Body, who, fmt.Errorf("%w: more than %d client keys in one session", ErrMalformed, maxSessionKeys)
		}
		s.ops[k] = r.Counter
		return r.Body, who, nil
	}
	// authMember.
	who.member, who.epoch = r.Env.Sender, r.Env.Epoch
	sm, err := s.member(&r)
	if err != nil {
		return r.Body, who, err
	}
	if !ed25519.Verify(sm.m.SignKey, r.Env.Signed(), r.Env.Auth) {
		return r.Body, who, fmt.Errorf("%w: member %d epoch %d", ErrForged, r.Env.Sender, r.Env.Epoch)
	}
	if err := s.fresh(r.Challenge, r.Counter, sm.counter); err != nil {
		return r.Body, who, err
	}
	if err := s.auth.memberEpoch(sm.m.ID, sm.m.Epoch); err != nil {
		return r.Body, who, err
	}
	if cur := s.members[sm.m.ID]; cur != sm {
		if cur == nil && len(s.ops)+len(s.members) >= maxSessionKeys {
			return r.Body, who, fmt.Errorf("%w: more than %d client keys in one session", ErrMalformed, maxSessionKeys)
		}
		s.members[sm.m.ID] = sm
	}
	sm.counter = r.Counter
	if err := memberMay(&r.Body, sm); err != nil {
		return r.Body, who, fmt.Errorf("%w (%s)", err, who)
	}
	return r.Body, who, nil
}

// fresh checks that an authentic request belongs to this session and is
// newer than the last one accepted from its key.
func (s *clientSession) fresh(challenge []byte, counter, highest uint64) error {
	if !bytes.Equal(challenge, s.challenge[:]) {
		return fmt.Errorf("%w: bound to another session (connection, replica or incarnation)", ErrReplayed)
	}
	if counter <= highest {
		return fmt.Errorf("%w: counter %d, this session already accepted %d", ErrReplayed, counter, highest)
	}
	return nil
}

// member returns the session record of the member that sealed r: the one
// admitted earlier in this session, or a new one admitted from r's
// attestation (not yet stored: authenticate stores it once the signature
// verified).
func (s *clientSession) member(r *clientRequest) (*sessionMember, error) {
	id, epoch := r.Env.Sender, r.Env.Epoch
	sm := s.members[id]
	if sm != nil && sm.m.Epoch == epoch && (len(r.Att) == 0 || bytes.Equal(r.Att, sm.att)) {
		return sm, nil
	}
	if len(r.Att) == 0 {
		return nil, fmt.Errorf("%w: member %d epoch %d sent no attestation in this session", ErrUnknownClient, id, epoch)
	}
	att, err := attest.ParseAttestation(r.Att)
	if err != nil {
		return nil, fmt.Errorf("%w: member request attestation: %w", ErrMalformed, err)
	}
	if att.Claim.ID != id || att.Claim.Epoch != epoch {
		return nil, fmt.Errorf("%w: attestation of member %d epoch %d on a request sealed by member %d epoch %d",
			ErrUnknownClient, att.Claim.ID, att.Claim.Epoch, id, epoch)
	}
	if s.auth.admitter == nil {
		return nil, fmt.Errorf("%w: this replica admits no member clients", ErrUnknownClient)
	}
	m, err := s.auth.admitter.Admit(att, nil, s.auth.now())
	if err != nil {
		return nil, fmt.Errorf("%w: member %d epoch %d: %w", ErrUnknownClient, id, epoch, err)
	}
	n := &sessionMember{m: m, att: bytes.Clone(r.Att)}
	if sm != nil && sm.m.Epoch == epoch {
		// Another attestation of the same epoch (a re-issued statement)
		// must not reset the counter: that would reopen every request
		// seen in this session to replay.
		n.counter = sm.counter
	}
	return n, nil
}

// memberMay is what admitted members may write: evidence for quarantine,
// kv/ records, and their own agent/ record with the attestation this
// session admitted them by (so the record in the log is one the policy
// admits); never params, topology, another's agent record, or the removal
// of a quarantine.
func memberMay(b *clientBody, sm *sessionMember) error {
	switch b.Op {
	case opPut:
		if strings.HasPrefix(b.Key, PrefixQuarantine) || strings.HasPrefix(b.Key, PrefixKV) {
			return nil
		}
		if b.Key == PrefixAgent+strconv.FormatUint(uint64(sm.m.ID), 10) {
			var a AgentRecord
			if err := json.Unmarshal(b.Value, &a); err != nil || !bytes.Equal(a.Attestation, sm.att) {
				return fmt.Errorf("%w: a member's agent record must carry the attestation it was admitted by in this session", ErrForbidden)
			}
			return nil
		}
	case opDelete:
		if strings.HasPrefix(b.Key, PrefixKV) {
			return nil
		}
	default:
		return nil
	}
	return fmt.Errorf("%w: members may put %s, %s and their own %s records and delete %s ones, not %s %q",
		ErrForbidden, PrefixQuarantine, PrefixKV, PrefixAgent, PrefixKV, opName(b.Op), b.Key)
}

func opName(op byte) string {
	switch op {
	case opPut:
		return "put"
	case opGet:
		return "get"
	case opStatus:
		return "status"
	case opDelete:
		return "delete"
	case opChanges:
		return "changes"
	}
	return fmt.Sprintf("op %d", op)
}

// clientCall is an authenticated request handed to the replica loop.
type clientCall struct {
	body  clientBody
	who   principal
	reply func([]byte) // never blocks
}

// clientServer is the client port: one goroutine per connection reads,
// authenticates (Ed25519 verification runs here, in parallel, not in the
// replica loop) and hands requests to the loop; one writes the answers,
// so that a client that does not read can never stall the loop.
type clientServer struct {
	ln    net.Listener
	auth  *clientAuth
	hello []byte
	calls chan clientCall
	log   *slog.Logger

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	done  chan struct{}
	wg    sync.WaitGroup
}

func listenClients(addr string, self attest.MemberID, epoch attest.Epoch, auth *clientAuth, log *slog.Logger) (*clientServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("recipe: client port: %w", err)
	}
	hello := []byte{frameHello, clientVersion}
	hello = binary.BigEndian.AppendUint64(hello, uint64(self))
	hello = binary.BigEndian.AppendUint64(hello, uint64(epoch))
	s := &clientServer{
		ln: ln, auth: auth, hello: hello, log: log,
		calls: make(chan clientCall, 1024),
		conns: make(map[net.Conn]struct{}),
		done:  make(chan struct{}),
	}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// Addr returns the listening address.
func (s *clientServer) Addr() net.Addr { return s.ln.Addr() }

func (s *clientServer) Close() error {
	close(s.done)
	err := s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

func (s *clientServer) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		select {
		case <-s.done:
			s.mu.Unlock()
			c.Close()
			return
		default:
		}
		if len(s.conns) >= maxClientConns {
			s.mu.Unlock()
			s.log.Warn("recipe: client port full, connection refused", "client", c.RemoteAddr().String(), "limit", maxClientConns)
			c.Close()
			continue
		}
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(2)
		go s.serve(c)
	}
}

func (s *clientServer) serve(c net.Conn) {
	defer s.wg.Done()
	var challenge [challengeSize]byte
	_, _ = rand.Read(challenge[:]) // never fails (crypto/rand)
	out := make(chan []byte, 64)
	quit := make(chan struct{})
	out <- append(s.hello[:len(s.hello):len(s.hello)], challenge[:]...)
	go s.write(c, out, quit)
	defer close(quit)
	reply := func(b []byte) {
		select {
		case out <- b:
		default:
			c.Close() // the client does not read its answers
		}
	}
	sess := newClientSession(s.auth, challenge)
	r := bufio.NewReaderSize(c, 64<<10)
	for {
		b, err := readFrame(r)
		if err != nil {
			return
		}
		body, who, err := sess.authenticate(b)
		s.auth.count(err)
		if err != nil {
			s.log.Warn("recipe: client request refused", "client", c.RemoteAddr().String(), "claims", who.String(), "err", err)
			reply(answer(body.Req, statusRefused, false, coded(refusalCode(err), err.Error())))
			return
		}
		select {
		case s.calls <- clientCall{body: body, who: who, reply: reply}:
		case <-s.done:
			return
		}
	}
}

// write sends the answers queued on out, and once quit is closed the ones
// still queued, then closes the connection.
func (s *clientServer) write(c net.Conn, out chan []byte, quit chan struct{}) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.Close()
	}()
	w := bufio.NewWriter(c)
	send := func(b []byte) bool {
		_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if writeFrame(w, b) != nil {
			return false
		}
		for more := true; more; { // batch what is queued, then flush
			select {
			case b := <-out:
				if writeFrame(w, b) != nil {
					return false
				}
			default:
				more = false
			}
		}
		return w.Flush() == nil
	}
	for {
		select {
		case b := <-out:
			if !send(b) {
				return
			}
		case <-quit:
			select {
			case b := <-out:
				send(b)
			default:
			}
			return
		case <-s.done:
			return
		}
	}
}
