package rdma

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/wmsr/wmsr/attest"
)

// The control protocol of the NetFabric's connection manager. Each ring
// is set up on its own TCP connection: the side that dials sends one
// request frame, the side that accepted answers with one reply frame, and
// on an accept the connection passes to the provider (NetProvider), which
// runs its own set-up on it and keeps it for as long as the ring lives.
//
// A frame is
//
//	[0:2]  n, the length of what follows (uint16, big-endian), 2 ≤ n ≤ 255
//	[2]    version (ctlVersion)
//	[3]    type
//	[4:]   body, exactly as the type defines it
//
// Requests name the ring (its sender and its receiver), the incarnation of
// the side that sends the request, the ring layout and the provider's
// name:
//
//	want    receiver → sender: "I subscribed to you; set up the ring for
//	        your frames to me on this connection"
//	offer   sender → receiver: "I (re)started; if you subscribed to me, set
//	        up the ring on this connection"
//
//	body: sender u64 | receiver u64 | incarnation u64 | layout u64 |
//	      provider name length u8 | provider name ([a-z0-9-], 1..32 bytes)
//
// Replies:
//
//	accept  body: incarnation u64 of the side that accepted
//	refuse  body: reason u8 (refusal)
//
// Decoding is strict (an unknown version, type or reason, a body of
// another length, trailing bytes, a bad provider name are refused) and
// canonical: a frame that decodes re-encodes to the same bytes
// (FuzzCtlFrame). The protocol is not authenticated: it attributes rings
// to member ids, as a topic or a mailbox slot does, and authenticity is
// attest's job.
const (
	ctlVersion = 1
	ctlMaxLen  = 255

	ctlWant   = 1
	ctlOffer  = 2
	ctlAccept = 3
	ctlRefuse = 4

	ctlRequestBody = 4*8 + 1
	maxProviderLen = 32
)

// refusal is why a request was refused.
type refusal uint8

const (
	refuseVersion       refusal = iota + 1 // unsupported protocol version
	refuseWrongPeer                        // the request does not name the side that accepted
	refuseLayout                           // another ring layout
	refuseProvider                         // another provider
	refuseNotSubscribed                    // offer: the receiver does not want this sender
	refuseBusy                             // offer: a set-up of this ring is in progress
	refuseConnected                        // offer: the ring with this incarnation exists
	refuseClosed                           // the fabric is closing
	refuseMax           = refuseClosed
)

func (r refusal) String() string {
	switch r {
	case refuseVersion:
		return "unsupported control protocol version"
	case refuseWrongPeer:
		return "request names another agent"
	case refuseLayout:
		return "ring layout differs"
	case refuseProvider:
		return "provider differs"
	case refuseNotSubscribed:
		return "not subscribed"
	case refuseBusy:
		return "set-up in progress"
	case refuseConnected:
		return "already connected"
	case refuseClosed:
		return "closing"
	}
	return fmt.Sprintf("refusal %d", uint8(r))
}

var (
	// errBadControl: a malformed control frame.
	errBadControl = errors.New("rdma: bad control frame")
	// errCtlVersion: a control frame of another version (also
	// errBadControl).
	errCtlVersion = fmt.Errorf("%w: unsupported version", errBadControl)
	// errRefused: the peer refused the ring set-up.
	errRefused = errors.New("rdma: ring set-up refused")
)

// ctlFrame is a decoded control frame; which fields are meaningful
// depends on Type.
type ctlFrame struct {
	Type     uint8
	Sender   attest.MemberID // want, offer
	Receiver attest.MemberID // want, offer
	Inc      uint64          // want, offer, accept
	Layout   uint64          // want, offer: Layout.word()
	Provider string          // want, offer
	Reason   refusal         // refuse
}

func validProvider(s string) bool {
	if len(s) == 0 || len(s) > maxProviderLen {
		return false
	}
	for i := range len(s) {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// appendCtl appends the encoding of f to b. f must be valid (as
// decodeCtl would accept it).
func appendCtl(b []byte, f ctlFrame) []byte {
	var body []byte
	switch f.Type {
	case ctlWant, ctlOffer:
		body = binary.BigEndian.AppendUint64(body, uint64(f.Sender))
		body = binary.BigEndian.AppendUint64(body, uint64(f.Receiver))
		body = binary.BigEndian.AppendUint64(body, f.Inc)
		body = binary.BigEndian.AppendUint64(body, f.Layout)
		body = append(body, byte(len(f.Provider)))
		body = append(body, f.Provider...)
	case ctlAccept:
		body = binary.BigEndian.AppendUint64(body, f.Inc)
	case ctlRefuse:
		body = append(body, byte(f.Reason))
	}
	b = binary.BigEndian.AppendUint16(b, uint16(2+len(body)))
	b = append(b, ctlVersion, f.Type)
	return append(b, body...)
}

// decodeCtl decodes one whole frame (length prefix included).
func decodeCtl(b []byte) (ctlFrame, error) {
	var f ctlFrame
	if len(b) < 4 {
		return f, fmt.Errorf("%w: %d bytes", errBadControl, len(b))
	}
	if n := int(binary.BigEndian.Uint16(b)); n != len(b)-2 || n > ctlMaxLen {
		return f, fmt.Errorf("%w: length %d for %d bytes", errBadControl, n, len(b)-2)
	}
	if b[2] != ctlVersion {
		return f, fmt.Errorf("%w %d", errCtlVersion, b[2])
	}
	f.Type = b[3]
	body := b[4:]
	switch f.Type {
	case ctlWant, ctlOffer:
		if len(body) < ctlRequestBody {
			return f, fmt.Errorf("%w: request of %d bytes", errBadControl, len(body))
		}
		f.Sender = attest.MemberID(binary.BigEndian.Uint64(body[0:]))
		f.Receiver = attest.MemberID(binary.BigEndian.Uint64(body[8:]))
		f.Inc = binary.BigEndian.Uint64(body[16:])
		f.Layout = binary.BigEndian.Uint64(body[24:])
		n := int(body[32])
		if len(body) != ctlRequestBody+n {
			return f, fmt.Errorf("%w: provider name of %d bytes in a request of %d", errBadControl, n, len(body))
		}
		f.Provider = string(body[ctlRequestBody:])
		if !validProvider(f.Provider) {
			return f, fmt.Errorf("%w: provider name %q", errBadControl, f.Provider)
		}
	case ctlAccept:
		if len(body) != 8 {
			return f, fmt.Errorf("%w: accept of %d bytes", errBadControl, len(body))
		}
		f.Inc = binary.BigEndian.Uint64(body)
	case ctlRefuse:
		if len(body) != 1 || body[0] == 0 || refusal(body[0]) > refuseMax {
			return f, fmt.Errorf("%w: refusal %x", errBadControl, body)
		}
		f.Reason = refusal(body[0])
	default:
		return f, fmt.Errorf("%w: type %d", errBadControl, f.Type)
	}
	return f, nil
}

// readCtl reads exactly one frame from r (never more: the provider's
// set-up follows on the same connection).
func readCtl(r io.Reader) (ctlFrame, error) {
	var buf [2 + ctlMaxLen]byte
	if _, err := io.ReadFull(r, buf[:2]); err != nil {
		return ctlFrame{}, fmt.Errorf("rdma: control frame: %w", err)
	}
	n := int(binary.BigEndian.Uint16(buf[:2]))
	if n < 2 || n > ctlMaxLen {
		return ctlFrame{}, fmt.Errorf("%w: length %d", errBadControl, n)
	}
	if _, err := io.ReadFull(r, buf[2:2+n]); err != nil {
		return ctlFrame{}, fmt.Errorf("rdma: control frame: %w", err)
	}
	return decodeCtl(buf[:2+n])
}
