package recipe

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/wmsr/wmsr/attest"
)

// The client port protocol. A replica serves clients on a listener of its
// own (ReplicaConfig.ClientListen), never on the peer port, so the two can
// be firewalled apart. Frames are length-prefixed as between replicas.
//
//	hello   replica → client, first, once per connection:
//	        'H' version(1)=1 member(8) epoch(8) challenge(32)
//	request 'Q' auth(1) ...
//	  auth 0, unsigned: body                  (get, status and changes only)
//	  auth 1, operator: key(32) challenge(32) counter(8) body sig(64)
//	        sig = Ed25519(key, clientLabel || the request from auth to body)
//	  auth 2, member:   attlen(2) attestation envelope
//	        envelope: an attest Ed25519 broadcast envelope from the member on
//	        ClientChannel, kind kindClient, payload challenge(32) || body;
//	        its counter is the request counter. attestation (attest's
//	        encoding) may be empty once the member was admitted earlier on
//	        the same connection.
//	body    req(8) op(1) activate(8) keylen(2) key value
//	        op: 1 put, 2 get, 3 status, 4 delete, 5 changes (watch.go)
//	answer  'A' req(8) status(1) found(1) value
//	        status 3 (invalid): value = code(1) reason; code 1 malformed,
//	        2 past activation round, 3 stale agent epoch
//
// Why a challenge and a counter. The challenge is fresh for every
// connection and the replica's (member, epoch) is behind it, so a request
// is bound to one session with one incarnation of one replica: captured on
// the wire, it is refused on any other connection, by any other replica,
// and by this one after a restart, with no state on the client's disk and
// no replicated replay table. Within the session the replica keeps the
// highest counter accepted per client key and refuses anything not above
// it, which stops replays into the same connection. Operators' counters
// start at 1 for each connection; members use their attest sender's
// counter, which only grows during an epoch.
//
// Who may write. Operator keys listed in the replica's configuration may
// write any key. Members the admission policy admits (an attested drone,
// proposing equivocation evidence) may put quarantine/ and kv/ records and
// delete kv/ records; they cannot change params or topology or lift a
// quarantine. Unsigned writes are refused.
//
// Why reads stay open. get and status need no signature: every agent must
// learn the configuration, the port does not encrypt (anyone on the path
// reads the answers anyway), and a read changes nothing. What the port
// protects is integrity: only admitted keys change the log.
const (
	frameHello   = 'H'
	frameRequest = 'Q'
	frameAnswer  = 'A'

	clientVersion = 1

	authNone     = 0
	authOperator = 1
	authMember   = 2

	opPut    = 1
	opGet    = 2
	opStatus = 3
	opDelete = 4

	statusFailed  = 0 // no leader, proposal dropped: try again or elsewhere
	statusOK      = 1
	statusRefused = 2 // authentication refused: value = code(1) reason
	statusInvalid = 3 // command rejected by the store: value = code(1) reason

	// ClientChannel is the attest broadcast channel on which member
	// clients seal their requests ("recipe" 0002; AckChannel is 0001).
	ClientChannel = 0x7265636970650002
	kindClient    = 4

	challengeSize = 32
	// clientLabel domain-separates operator signatures. It starts with 'w'
	// (0x77), like attest's other labels, unlike envelopes (0x01).
	clientLabel = "wmsr/recipe/v1/client-request\x00"
	bodyHeader  = 8 + 1 + 8 + 2
	helloSize   = 1 + 1 + 8 + 8 + challengeSize
	opFixed     = 2 + ed25519.PublicKeySize + challengeSize + 8
)

// refusals maps the refusal codes of the wire (index) to sentinels.
var refusals = []error{nil, ErrForged, ErrReplayed, ErrUnknownClient, ErrUnsigned, ErrForbidden, ErrMalformed}

func refusalCode(err error) byte {
	for i, e := range refusals[1:] {
		if errors.Is(err, e) {
			return byte(i + 1)
		}
	}
	return byte(len(refusals) - 1)
}

// clientBody is what a request asks for.
type clientBody struct {
	Req      uint64
	Op       byte
	Activate uint64
	Key      string
	Value    []byte
}

func (b *clientBody) appendTo(dst []byte) []byte {
	dst = binary.BigEndian.AppendUint64(dst, b.Req)
	dst = append(dst, b.Op)
	dst = binary.BigEndian.AppendUint64(dst, b.Activate)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(b.Key)))
	dst = append(dst, b.Key...)
	return append(dst, b.Value...)
}

func parseBody(b []byte) (clientBody, error) {
	if len(b) < bodyHeader {
		return clientBody{}, fmt.Errorf("%w: request body of %d bytes", ErrMalformed, len(b))
	}
	body := clientBody{Req: binary.BigEndian.Uint64(b), Op: b[8], Activate: binary.BigEndian.Uint64(b[9:])}
	if body.Op < opPut || body.Op > opChanges {
		return clientBody{}, fmt.Errorf("%w: request op %d", ErrMalformed, body.Op)
	}
	n := int(binary.BigEndian.Uint16(b[17:]))
	if len(b) < bodyHeader+n {
		return clientBody{}, fmt.Errorf("%w: request key of %d bytes in %d", ErrMalformed, n, len(b)-bodyHeader)
	}
	body.Key = string(b[bodyHeader : bodyHeader+n])
	body.Value = b[bodyHeader+n:]
	return body, nil
}

// clientRequest is a parsed, not yet authenticated request. Its byte
// slices alias the frame.
type clientRequest struct {
	Auth      byte
	Key       []byte // operator: Ed25519 public key
	Challenge []byte
	Counter   uint64
	Body      clientBody
	Sig       []byte          // operator
	Att       []byte          // member: attestation, or empty
	Env       attest.Envelope // member
	signed    []byte          // operator: what Sig covers after clientLabel
}

// parseRequest decodes a request frame strictly (structure only; the
// session authenticates it). It never panics on any input (FuzzParseClientRequest).
func parseRequest(b []byte) (clientRequest, error) {
	var r clientRequest
	if len(b) < 2 || b[0] != frameRequest {
		return r, fmt.Errorf("%w: not a client request", ErrMalformed)
	}
	r.Auth = b[1]
	var err error
	switch r.Auth {
	case authNone:
		r.Body, err = parseBody(b[2:])
	case authOperator:
		if len(b) < opFixed+bodyHeader+ed25519.SignatureSize {
			return r, fmt.Errorf("%w: operator request of %d bytes", ErrMalformed, len(b))
		}
		end := len(b) - ed25519.SignatureSize
		r.Key = b[2 : 2+ed25519.PublicKeySize]
		r.Challenge = b[2+ed25519.PublicKeySize : opFixed-8]
		r.Counter = binary.BigEndian.Uint64(b[opFixed-8:])
		r.Sig = b[end:]
		r.signed = b[1:end]
		if r.Counter == 0 {
			return r, fmt.Errorf("%w: counter 0", ErrMalformed)
		}
		r.Body, err = parseBody(b[opFixed:end])
	case authMember:
		if len(b) < 4 {
			return r, fmt.Errorf("%w: member request of %d bytes", ErrMalformed, len(b))
		}
		n := int(binary.BigEndian.Uint16(b[2:]))
		if len(b) < 4+n {
			return r, fmt.Errorf("%w: attestation of %d bytes in %d", ErrMalformed, n, len(b)-4)
		}
		r.Att = b[4 : 4+n]
		if r.Env, err = attest.Parse(b[4+n:]); err != nil {
			return r, fmt.Errorf("%w: member request envelope: %w", ErrMalformed, err)
		}
		e := &r.Env
		if e.Suite != attest.SuiteEd25519 || e.Encrypted || e.Stream != attest.Channel(ClientChannel) || e.Kind != kindClient {
			return r, fmt.Errorf("%w: member request envelope is not a plaintext Ed25519 client request (suite %v, %v, kind %d)",
				ErrMalformed, e.Suite, e.Stream, e.Kind)
		}
		if len(e.Payload) < challengeSize {
			return r, fmt.Errorf("%w: member request payload of %d bytes", ErrMalformed, len(e.Payload))
		}
		r.Challenge = e.Payload[:challengeSize]
		r.Counter = e.Counter
		r.Body, err = parseBody(e.Payload[challengeSize:])
	default:
		return r, fmt.Errorf("%w: request auth %d", ErrMalformed, r.Auth)
	}
	return r, err
}

// appendTo encodes r; for a request returned by parseRequest the result
// equals the frame (the encoding is canonical).
func (r *clientRequest) appendTo(dst []byte) []byte {
	dst = append(dst, frameRequest, r.Auth)
	switch r.Auth {
	case authOperator:
		dst = append(dst, r.Key...)
		dst = append(dst, r.Challenge...)
		dst = binary.BigEndian.AppendUint64(dst, r.Counter)
		dst = r.Body.appendTo(dst)
		return append(dst, r.Sig...)
	case authMember:
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(r.Att)))
		dst = append(dst, r.Att...)
		return append(dst, r.Env.Raw()...)
	}
	return r.Body.appendTo(dst)
}

func operatorSigned(signed []byte) []byte {
	return append([]byte(clientLabel), signed...)
}

// answer encodes an answer frame.
func answer(req uint64, status byte, found bool, val []byte) []byte {
	b := make([]byte, 0, 11+len(val))
	b = append(b, frameAnswer)
	b = binary.BigEndian.AppendUint64(b, req)
	var f byte
	if found {
		f = 1
	}
	b = append(b, status, f)
	return append(b, val...)
}

func decodeAnswer(b []byte) (req uint64, status byte, found bool, val []byte, err error) {
	if len(b) < 11 || b[0] != frameAnswer {
		return 0, 0, false, nil, fmt.Errorf("%w: client answer", ErrMalformed)
	}
	return binary.BigEndian.Uint64(b[1:]), b[9], b[10] == 1, b[11:], nil
}

// coded is an answer value: a code byte and a reason.
func coded(code byte, reason string) []byte { return append([]byte{code}, reason...) }

// ClientStats counts a replica's client-port requests since it started:
// accepted ones and refusals by reason (each refused request is also
// logged, and its connection closed).
type ClientStats struct {
	Accepted, Forged, Replayed, UnknownKey, Unsigned, Forbidden, Malformed uint64
}

func (s *ClientStats) appendTo(b []byte) []byte {
	for _, v := range []uint64{s.Accepted, s.Forged, s.Replayed, s.UnknownKey, s.Unsigned, s.Forbidden, s.Malformed} {
		b = binary.BigEndian.AppendUint64(b, v)
	}
	return b
}

func (s *ClientStats) decode(b []byte) error {
	if len(b) != 7*8 {
		return fmt.Errorf("%w: client stats of %d bytes", ErrMalformed, len(b))
	}
	for i, p := range []*uint64{&s.Accepted, &s.Forged, &s.Replayed, &s.UnknownKey, &s.Unsigned, &s.Forbidden, &s.Malformed} {
		*p = binary.BigEndian.Uint64(b[8*i:])
	}
	return nil
}

// ReplicaStatus is what a replica reports about itself.
type ReplicaStatus struct {
	// Self and Leader are raft IDs (RaftID; Leader 0 if none is known).
	Self, Leader uint64
	// Voter: this incarnation is in the raft configuration.
	Voter bool
	// Clients counts this incarnation's client-port requests.
	Clients ClientStats
}

// ClientKey authenticates a Client's writes: OperatorKey or MemberKey.
type ClientKey interface {
	// seal returns the request frame carrying body for the connection s.
	seal(s *clientConn, body []byte) ([]byte, error)
}

// clientConn is a Client's side of one session.
type clientConn struct {
	challenge [challengeSize]byte
	replica   attest.MemberID
	epoch     attest.Epoch
	counter   uint64 // operator: last counter used on this connection
	attSent   bool   // member: the replica has our attestation
}

type operatorKey struct{ priv ed25519.PrivateKey }

// OperatorKey authenticates with an Ed25519 key that the replicas list as
// an operator key (ReplicaConfig.OperatorKeys; wmsr-agent replica
// --client-keys): such a client may write any key.
func OperatorKey(priv ed25519.PrivateKey) ClientKey { return operatorKey{priv: priv} }

func (k operatorKey) seal(s *clientConn, body []byte) ([]byte, error) {
	if len(k.priv) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("%w: operator key of %d bytes", ErrMalformed, len(k.priv))
	}
	s.counter++
	b := make([]byte, 0, opFixed+len(body)+ed25519.SignatureSize)
	b = append(b, frameRequest, authOperator)
	b = append(b, k.priv.Public().(ed25519.PublicKey)...)
	b = append(b, s.challenge[:]...)
	b = binary.BigEndian.AppendUint64(b, s.counter)
	b = append(b, body...)
	return append(b, ed25519.Sign(k.priv, operatorSigned(b[1:]))...), nil
}

type memberKey struct {
	sender *attest.Sender
	att    []byte
}

// MemberKey authenticates as the member whose keys b holds (e.g. a drone
// proposing quarantine evidence): the replicas admit its attestation
// against their policy, and it may write quarantine/ and kv/ records.
// Requests are attest envelopes on ClientChannel, and attest allows one
// sender per stream and epoch, so make one MemberKey per backend and share
// it between Clients.
func MemberKey(b attest.Backend) (ClientKey, error) {
	att, err := b.Attest()
	if err != nil {
		return nil, err
	}
	enc, err := att.MarshalBinary()
	if err != nil {
		return nil, err
	}
	if len(enc) > 0xffff {
		return nil, fmt.Errorf("%w: attestation of %d bytes", ErrMalformed, len(enc))
	}
	s, err := attest.NewBroadcastSender(b.Identity(), ClientChannel, nil)
	if err != nil {
		return nil, err
	}
	return &memberKey{sender: s, att: enc}, nil
}

// AgentCommand returns the command recording the member of key (a
// MemberKey) in the log under agent/<id>, with the attestation key
// presents to the replicas, which is the one they check the record
// against.
func AgentCommand(key ClientKey) (Command, error) {
	k, ok := key.(*memberKey)
	if !ok {
		return Command{}, fmt.Errorf("%w: an agent record needs a MemberKey", ErrMalformed)
	}
	return PutAgent(k.att)
}

func (k *memberKey) seal(s *clientConn, body []byte) ([]byte, error) {
	payload := append(s.challenge[:len(s.challenge):len(s.challenge)], body...)
	env, err := k.sender.Seal(nil, kindClient, payload)
	if err != nil {
		return nil, err
	}
	var att []byte
	if !s.attSent {
		att = k.att
	}
	s.attSent = true
	b := make([]byte, 0, 4+len(att)+len(env))
	b = append(b, frameRequest, authMember)
	b = binary.BigEndian.AppendUint16(b, uint16(len(att)))
	b = append(b, att...)
	return append(b, env...), nil
}

// ParseOperatorKey decodes an operator's Ed25519 private key from PKCS #8
// PEM ("PRIVATE KEY"), as written by "openssl genpkey -algorithm ed25519"
// or "wmsr-agent keygen --ca-out" (whose .pub file is then the line to
// list in the replicas' client-keys file).
func ParseOperatorKey(pemBytes []byte) (ed25519.PrivateKey, error) {
	blk, _ := pem.Decode(pemBytes)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%w: no PEM PRIVATE KEY block", ErrMalformed)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: not an Ed25519 key", ErrMalformed)
	}
	return priv, nil
}

// ParseOperatorKeys decodes a client-keys file: one hex Ed25519 public key
// per line; blank lines and text after '#' are ignored. Errors name the
// line.
func ParseOperatorKeys(data []byte) ([]ed25519.PublicKey, error) {
	var keys []ed25519.PublicKey
	for i, line := range strings.Split(string(data), "\n") {
		if j := strings.IndexByte(line, '#'); j >= 0 {
			line = line[:j]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		b, err := hex.DecodeString(line)
		if err != nil || len(b) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("%w: line %d: want %d hex digits of an Ed25519 public key", ErrMalformed, i+1, 2*ed25519.PublicKeySize)
		}
		keys = append(keys, ed25519.PublicKey(b))
	}
	return keys, nil
}

// Client talks to one replica's client port: one request at a time, in
// one session (see the protocol above). Writes are signed with its
// ClientKey; reads are not.
type Client struct {
	mu   sync.Mutex
	conn net.Conn
	r    *bufio.Reader
	key  ClientKey
	sess clientConn
	req  uint64
}

// DialClient connects to a replica's client port and reads its hello.
// key may be nil for a client that only reads.
func DialClient(ctx context.Context, addr string, key ClientKey) (*Client, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("recipe: dial %s: %w", addr, err)
	}
	c := &Client{conn: conn, r: bufio.NewReader(conn), key: key}
	_ = conn.SetDeadline(deadline(ctx))
	b, err := readFrame(c.r)
	if err == nil && (len(b) != helloSize || b[0] != frameHello || b[1] != clientVersion) {
		err = fmt.Errorf("%w: client hello", ErrMalformed)
	}
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("recipe: %s: %w", addr, err)
	}
	c.sess.replica = attest.MemberID(binary.BigEndian.Uint64(b[2:]))
	c.sess.epoch = attest.Epoch(binary.BigEndian.Uint64(b[10:]))
	copy(c.sess.challenge[:], b[18:])
	return c, nil
}

func deadline(ctx context.Context) time.Time {
	if dl, ok := ctx.Deadline(); ok {
		return dl
	}
	return time.Now().Add(5 * time.Second)
}

// Replica returns the member and epoch of the replica this client talks to.
func (c *Client) Replica() (attest.MemberID, attest.Epoch) { return c.sess.replica, c.sess.epoch }

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Put writes key (a kv/ key: other keys need an activation round, see
// Propose) and returns once the write is committed and applied at the
// replica.
func (c *Client) Put(ctx context.Context, key string, val []byte) error {
	return c.Propose(ctx, Command{Op: OpPut, Key: key, Value: val})
}

// Propose submits cmd, signed, and returns once it is committed and
// applied at the replica. ErrNotLeader means it was not committed (no
// leader known, or the proposal was dropped): try again.
func (c *Client) Propose(ctx context.Context, cmd Command) error {
	op := byte(opPut)
	if cmd.Op == OpDelete {
		op = opDelete
	}
	status, _, v, err := c.do(ctx, clientBody{Op: op, Activate: cmd.ActivateAt, Key: cmd.Key, Value: cmd.Value}, true)
	if err != nil {
		return err
	}
	if status != statusOK {
		return answerError(status, v)
	}
	return nil
}

// Get reads key linearizably (ReadIndex), unsigned.
func (c *Client) Get(ctx context.Context, key string) ([]byte, bool, error) {
	status, found, v, err := c.do(ctx, clientBody{Op: opGet, Key: key}, false)
	if err == nil && status != statusOK {
		err = answerError(status, v)
	}
	if err != nil {
		return nil, false, err
	}
	return v, found, nil
}

// Status returns the replica's raft ID, the leader it knows, whether it
// is a voter, and its client-port counters.
func (c *Client) Status(ctx context.Context) (ReplicaStatus, error) {
	status, voter, v, err := c.do(ctx, clientBody{Op: opStatus}, false)
	if err == nil && status != statusOK {
		err = answerError(status, v)
	}
	if err != nil {
		return ReplicaStatus{}, err
	}
	if len(v) < 16 {
		return ReplicaStatus{}, fmt.Errorf("%w: status of %d bytes", ErrMalformed, len(v))
	}
	s := ReplicaStatus{Leader: binary.BigEndian.Uint64(v), Self: binary.BigEndian.Uint64(v[8:]), Voter: voter}
	return s, s.Clients.decode(v[16:])
}

// answerError turns a non-OK answer into an error wrapping the sentinel
// the replica named.
func answerError(status byte, v []byte) error {
	code, reason := byte(0), ""
	if len(v) > 0 {
		code, reason = v[0], string(v[1:])
	}
	switch status {
	case statusFailed:
		return ErrNotLeader
	case statusRefused:
		if int(code) < len(refusals) && code != 0 {
			return fmt.Errorf("%w (replica: %s)", refusals[code], reason)
		}
		return fmt.Errorf("%w: refused (replica: %s)", ErrMalformed, reason)
	case statusInvalid:
		switch code {
		case 2:
			return fmt.Errorf("%w (replica: %s)", ErrPastRound, reason)
		case 3:
			return fmt.Errorf("%w (replica: %s)", ErrStaleEpoch, reason)
		}
		return fmt.Errorf("%w (replica: %s)", ErrMalformed, reason)
	}
	return fmt.Errorf("%w: answer status %d", ErrMalformed, status)
}

func (c *Client) do(ctx context.Context, body clientBody, sign bool) (status byte, found bool, v []byte, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.req++
	body.Req = c.req
	var frame []byte
	if sign {
		if c.key == nil {
			return 0, false, nil, fmt.Errorf("%w: this client has no ClientKey", ErrUnsigned)
		}
		if frame, err = c.key.seal(&c.sess, body.appendTo(nil)); err != nil {
			return 0, false, nil, err
		}
	} else {
		r := clientRequest{Auth: authNone, Body: body}
		frame = r.appendTo(nil)
	}
	_ = c.conn.SetDeadline(deadline(ctx))
	// Cancelling ctx ends a blocked read or write at once (a watch is
	// held at the replica for seconds).
	stop := context.AfterFunc(ctx, func() { _ = c.conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if err := writeFrame(c.conn, frame); err != nil {
		return 0, false, nil, fmt.Errorf("recipe: client: %w", err)
	}
	for {
		b, err := readFrame(c.r)
		if err != nil {
			return 0, false, nil, fmt.Errorf("recipe: client: %w", err)
		}
		req, status, found, v, err := decodeAnswer(b)
		if err != nil {
			return 0, false, nil, err
		}
		// A refusal ends the session whichever request it names (the
		// replica closes the connection after it).
		if req == body.Req || status == statusRefused {
			return status, found, v, nil
		}
	}
}
