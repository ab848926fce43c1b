package agent

import (
	"context"
	"errors"

	"github.com/wmsr/wmsr/attest"
)

// Fabric moves sealed attest envelopes between agents: each round an agent
// publishes its own envelope once, and receives the envelopes of the
// in-neighbours it subscribed to. It is the whole of what the round engine
// needs from the network, so that MQTT (agent/mqttfabric) and a future RDMA
// one-sided-write mailbox fabric are interchangeable.
//
// # Contract
//
// Every implementation must honour the following; agent/fabrictest checks
// it.
//
//   - Loss is possible. A fabric is not a reliable channel: envelopes may be
//     lost in the network, while disconnected, or in a full Inbox. The
//     round engine detects loss end to end through the envelope counters
//     (attest.Message.Omitted), not through the fabric. A fabric must
//     however never lose silently what reached it: every envelope it
//     received and did not deliver is counted in Stats.Dropped.
//   - Ordering per sender is not guaranteed by all fabrics (a mailbox
//     fabric overwrites slots; a broker may reorder across reconnects).
//     Implementations document whether they preserve it (Ordered); the
//     receiver's MonoCounter makes a reordered older envelope harmless
//     (refused as a replay).
//   - No duplicates are suppressed by the fabric; attest refuses them.
//   - Envelopes are untrusted bytes: Delivery.From is where the fabric
//     says the bytes came from (a topic, a mailbox slot), useful for
//     diagnostics only. Authenticity is attest's job.
//   - Handlers never block: the fabric's network goroutines hand
//     envelopes to a bounded Inbox with a non-blocking send. When the Inbox
//     is full the oldest queued envelope is evicted and counted (a newer
//     value is worth more than an older round's), so a slow round engine
//     can never stall the network side, and memory is bounded.
//   - Every wait is bounded: Publish and Subscribe return when ctx is done
//     or after the implementation's configured timeout, whichever is
//     first, with an error wrapping context.DeadlineExceeded or ErrTimeout.
//   - Back-pressure on the sending side is refusal, never queueing: when
//     the fabric cannot send now (disconnected, send window full) Publish
//     returns an error wrapping ErrNotConnected or ErrBackPressure at once
//     and the round engine moves on; a value queued for later would be
//     stale by the time it arrived.
//   - Reconnection is the fabric's job: after a broker or peer restart the
//     fabric re-establishes its subscriptions without being asked, and
//     Publish starts succeeding again.
//   - Close releases everything, is idempotent, and closes the Inbox
//     channel after the last delivery.
type Fabric interface {
	// Publish sends env, one sealed envelope, to every agent subscribed to
	// this agent. The fabric does not retain env after Publish returns.
	Publish(ctx context.Context, env []byte) error

	// Subscribe replaces the set of agents whose envelopes are delivered
	// to the Inbox (the in-neighbours of this agent). If the fabric is
	// disconnected the set takes effect on reconnection, and Subscribe
	// still returns nil.
	Subscribe(ctx context.Context, from []attest.MemberID) error

	// Inbox returns the channel deliveries arrive on. It is closed by
	// Close.
	Inbox() <-chan Delivery

	// Stats returns counters since the fabric was created.
	Stats() Stats

	// Close disconnects and releases resources. It is idempotent.
	Close() error
}

// Delivery is one envelope as received from the fabric.
type Delivery struct {
	// From is the agent the fabric attributes the bytes to (a topic or
	// mailbox slot); unauthenticated.
	From attest.MemberID
	// Envelope is owned by the receiver of the Delivery.
	Envelope []byte
}

// Stats are a fabric's counters, for metrics.
type Stats struct {
	Published     uint64 // envelopes handed to the network
	PublishErrors uint64 // Publish calls that failed (not connected, timeout, refused)
	Received      uint64 // envelopes that reached the Inbox
	Dropped       uint64 // envelopes evicted from a full Inbox
	Malformed     uint64 // arrivals that could not be attributed (bad topic, oversize)
	Connects      uint64 // successful connections, including the first
	ConnLost      uint64 // connections lost
}

// Errors callers branch on. Implementations wrap them with %w.
var (
	// ErrNotConnected: the fabric is (re)connecting; the envelope was not
	// sent.
	ErrNotConnected = errors.New("agent: fabric not connected")
	// ErrBackPressure: the fabric's send window is full; the envelope was
	// not sent.
	ErrBackPressure = errors.New("agent: fabric send window full")
	// ErrTimeout: the fabric's own bound on a wait expired.
	ErrTimeout = errors.New("agent: fabric operation timed out")
	// ErrClosed: the fabric was closed.
	ErrClosed = errors.New("agent: fabric closed")
)
