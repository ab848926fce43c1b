package membership

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/hashicorp/memberlist"

	"github.com/wmsr/wmsr/attest"
)

// ErrMalformed is wrapped by every decoding error of node metadata, message
// frames and node names. Everything decoded here comes from the network
// (gossip, push/pull state, user messages), so the decoders are strict: one
// encoding per value, no trailing bytes, no unknown versions or flags.
var ErrMalformed = errors.New("membership: malformed input")

const (
	metaVersion = 1
	// MetaSize is the size of the node metadata this package gossips:
	// version(1) id(8) epoch(8) claim-digest(32).
	MetaSize = 1 + 8 + 8 + 32
)

// memberlist refuses (panics on) metadata above MetaMaxSize; keep ours
// well below it at compile time.
var _ [memberlist.MetaMaxSize - MetaSize]struct{}

// nodeMeta is what every node gossips about itself through memberlist:
// enough to bind the memberlist node to exactly one attested claim, so that
// an attestation received over a stream can be checked against what the
// failure detector says that node is, and so that a restart (a new epoch)
// is visible to everyone as a metadata update before its attestation
// arrives.
type nodeMeta struct {
	ID     attest.MemberID
	Epoch  attest.Epoch
	Digest [32]byte // attest.Claim.Digest of the claim of this epoch
}

// metaOf returns the metadata for claim c.
func metaOf(c *attest.Claim) nodeMeta {
	return nodeMeta{ID: c.ID, Epoch: c.Epoch, Digest: c.Digest()}
}

// encodeMeta writes version(1)=1 id(8) epoch(8) digest(32), big-endian.
func encodeMeta(m nodeMeta) []byte {
	b := make([]byte, 0, MetaSize)
	b = append(b, metaVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(m.ID))
	b = binary.BigEndian.AppendUint64(b, uint64(m.Epoch))
	return append(b, m.Digest[:]...)
}

// decodeMeta decodes metadata written by encodeMeta, strictly: exactly
// MetaSize bytes, version 1, epoch ≥ 1 (epochs start at 1, as in attest).
func decodeMeta(b []byte) (nodeMeta, error) {
	if len(b) != MetaSize {
		return nodeMeta{}, fmt.Errorf("%w: node metadata is %d bytes, want %d", ErrMalformed, len(b), MetaSize)
	}
	if b[0] != metaVersion {
		return nodeMeta{}, fmt.Errorf("%w: node metadata version %d, want %d", ErrMalformed, b[0], metaVersion)
	}
	m := nodeMeta{
		ID:    attest.MemberID(binary.BigEndian.Uint64(b[1:9])),
		Epoch: attest.Epoch(binary.BigEndian.Uint64(b[9:17])),
	}
	copy(m.Digest[:], b[17:])
	if m.Epoch == 0 {
		return nodeMeta{}, fmt.Errorf("%w: node metadata epoch 0 (epochs start at 1)", ErrMalformed)
	}
	return m, nil
}

const (
	msgVersion = 1
	// msgAttestation carries an encoded attest.Attestation. It is the only
	// message type of version 1.
	msgAttestation = 1
	// flagReply asks the receiver to send its own attestation back. It is
	// set by a node that lacks the receiver's attestation for the epoch the
	// receiver gossips; a reply never sets it, so an exchange is at most
	// two messages.
	flagReply  = 1 << 0
	flagsKnown = flagReply

	msgHeaderSize = 1 + 1 + 1 + 4
	// maxMessageSize bounds a frame: the header and the largest attestation
	// attest accepts (SGX quotes are several KiB, well within it).
	maxMessageSize = msgHeaderSize + attest.MaxAttestationSize
)

// message is one frame of this package's user messages (memberlist
// SendReliable, and the user state of push/pull).
type message struct {
	Type  uint8
	Flags uint8
	Body  []byte
}

// encodeMessage writes version(1)=1 type(1) flags(1) body-len(4) body.
func encodeMessage(msg message) ([]byte, error) {
	if len(msg.Body) > attest.MaxAttestationSize {
		return nil, fmt.Errorf("%w: message body %d bytes, limit %d", ErrMalformed, len(msg.Body), attest.MaxAttestationSize)
	}
	b := make([]byte, 0, msgHeaderSize+len(msg.Body))
	b = append(b, msgVersion, msg.Type, msg.Flags)
	b = binary.BigEndian.AppendUint32(b, uint32(len(msg.Body)))
	return append(b, msg.Body...), nil
}

// decodeMessage decodes a frame strictly: known version, type and flags,
// and a body length that matches the rest of the input exactly. Body
// aliases b.
func decodeMessage(b []byte) (message, error) {
	if len(b) > maxMessageSize {
		return message{}, fmt.Errorf("%w: message is %d bytes, limit %d", ErrMalformed, len(b), maxMessageSize)
	}
	if len(b) < msgHeaderSize {
		return message{}, fmt.Errorf("%w: message is %d bytes, shorter than its %d-byte header", ErrMalformed, len(b), msgHeaderSize)
	}
	if b[0] != msgVersion {
		return message{}, fmt.Errorf("%w: message version %d, want %d", ErrMalformed, b[0], msgVersion)
	}
	msg := message{Type: b[1], Flags: b[2]}
	if msg.Type != msgAttestation {
		return message{}, fmt.Errorf("%w: unknown message type %d", ErrMalformed, msg.Type)
	}
	if msg.Flags&^flagsKnown != 0 {
		return message{}, fmt.Errorf("%w: unknown message flags %#x", ErrMalformed, msg.Flags&^flagsKnown)
	}
	n := binary.BigEndian.Uint32(b[3:7])
	if uint64(n) != uint64(len(b)-msgHeaderSize) {
		return message{}, fmt.Errorf("%w: message body announces %d bytes, has %d", ErrMalformed, n, len(b)-msgHeaderSize)
	}
	msg.Body = b[msgHeaderSize:]
	return msg, nil
}

// nodeName is the memberlist node name of member id in fleet: names must be
// unique in a memberlist cluster, and deriving them from the member id makes
// a second process claiming the same id a name conflict that memberlist
// detects and reports.
func nodeName(fleet string, id attest.MemberID) string {
	return fleet + "-" + strconv.FormatUint(uint64(id), 10)
}

// parseNodeName returns the member id of a node name of fleet. The id must
// be canonical decimal (no sign, no leading zeros), so that one id has one
// name.
func parseNodeName(fleet, name string) (attest.MemberID, error) {
	rest, ok := strings.CutPrefix(name, fleet+"-")
	if !ok {
		return 0, fmt.Errorf("%w: node name %q is not of fleet %q", ErrMalformed, name, fleet)
	}
	if rest == "" || (len(rest) > 1 && rest[0] == '0') || strings.TrimLeft(rest, "0123456789") != "" {
		return 0, fmt.Errorf("%w: node name %q: member id %q is not canonical decimal", ErrMalformed, name, rest)
	}
	id, err := strconv.ParseUint(rest, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: node name %q: %w", ErrMalformed, name, err)
	}
	return attest.MemberID(id), nil
}
