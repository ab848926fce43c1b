// Package rdma is the mailbox fabric of wmsr-agent for co-located and
// RDMA-connected agents: envelopes are placed directly in the receiver's
// memory with one-sided writes, with no broker and no receive-side system
// call.
//
// # Layers
//
//   - The ring protocol (ring.go) is pure: a single-producer
//     single-consumer ring per directed pair, in the receiver's memory.
//     The sender writes a frame (length, CRC-32C, payload, and last a
//     trailing word pack(generation, sequence) with an atomic store), the
//     receiver polls that word, copies the payload out and publishes its
//     head in a word the sender reads. A full ring refuses at once
//     (ErrFull). Frames carry attest envelopes unchanged. The layout
//     constants, invariants and the writer-restart recovery rule are
//     documented there; TestRingModel checks them with rapid over random
//     interleavings and FuzzDecodeSlot fuzzes the slot decoder.
//   - Providers (Provider: Sender, Receiver, Probe) reach the receiver's
//     memory. Shm maps one file per ring (in /dev/shm or a given
//     directory) MAP_SHARED in both processes: the sender's stores are
//     one-sided writes into the receiver's memory. IBVerbs (build tag
//     rdma, cgo, libibverbs) registers the ring, connects one RC queue
//     pair per ring after exchanging LID/GID, QPN, PSN, address and rkey
//     over TCP, and places frames with RDMA WRITE; the receiver pushes its
//     head back with RDMA WRITE into the sender's mirror of the ring.
//     Probe reports which providers work here. A NetProvider (IBVerbs,
//     EmulatedTCP) runs its ring set-up over a TCP connection the caller
//     made, and keeps that connection for as long as the ring lives: an
//     orderly close on it is ErrPeerClosed, its end ErrPeerLost (the only
//     way an RDMA receiver learns that its sender died).
//   - EmulatedTCP is a test and fallback NetProvider, NOT RDMA: it
//     emulates one-sided writes by streaming the sender's writes (offset,
//     length, bytes) over TCP to a goroutine that stores them, word by
//     word in ascending order, into the receiver's ring memory, which a
//     Reader polls exactly as with shm. It mirrors the ibverbs provider's
//     steps (mirror region, generation exchange, the three initialising
//     writes, head push-back every Slots/4 frames and when dry, refusal
//     when the send queue is full); see its documentation for what it
//     does not emulate.
//   - Fabric is a mailbox fabric over shm rings for agents on one host:
//     the receiver registers a ring "<from>-<to>.ring" per subscribed
//     sender and bumps the sender's control counter "<from>.ctl", so a
//     sender rescans only on change; a poller goroutine drains the rings
//     into a Sink (Config.Sink, a small interface declared here), spinning
//     while traffic is recent and backing off to Config.MaxBackoff when
//     idle. Per-sender order is preserved within a writer incarnation. It
//     reports its own Stats and errors (ErrClosed, ErrFull). The adapter
//     that makes it an agent.Fabric (wmsr-agent --fabric rdma), with an
//     agent.Inbox as the Sink, lives in agent/rdmafabric.
//   - NetFabric is the same mailbox fabric for agents on different hosts,
//     over a NetProvider (IBVerbs in production), with peer discovery
//     through Peers (a small interface: member id → host:port of its
//     connection manager; StaticPeers and the strict, fuzzed ParsePeers
//     for "id=host:port,…"; agent/node can feed one from membership). Each
//     agent listens on one address; each ring is set up on a TCP
//     connection of its own with a versioned, length-prefixed control
//     frame (control.go, fuzzed by FuzzCtlFrame): the receiver drives
//     (Subscribe dials each new sender with "want", waits for the set-up,
//     and re-dials with backoff whenever a ring ends), and a starting
//     agent "offers" its rings to every member it knows, so subscribers
//     are connected before its first Publish. The first frame of a ring
//     is an empty start marker the sender writes once the ring is in its
//     set, which the receiver awaits. Publish never waits: ErrFull, and
//     ErrPeerLost (once, for a ring that broke) are reported at once; a
//     receiver that unsubscribed is dropped silently. agent/rdmafabric's
//     NewNet makes it an agent.Fabric.
//
// # What was exercised, and what was not
//
// The shm provider and the Fabric were run: the Fabric's own tests with a
// channel Sink, the agent/fabrictest conformance suite through the
// agent/rdmafabric adapter (several fabrics sharing a directory, with a
// restart that wipes the directory), a two-process test (the test binary re-execs
// itself as the writer; every frame arrives in order, none lost), a
// peer-restart test (the writer process is killed with SIGKILL mid-stream
// and restarted; the reader resumes on the new generation), and the
// benchmarks (bench_test.go here; the comparison with the MQTT fabric is
// in agent/rdmafabric).
//
// The NetFabric was run over the EmulatedTCP provider only, on loopback:
// its own tests (both directions, back-pressure, unsubscribe, a sender
// that starts after its subscriber, a sender closed and started again on
// another port, every connection reset through a proxy, layout refusal,
// the connection manager's refusals of malformed requests), the
// agent/fabrictest conformance suite through agent/rdmafabric.NewNet
// (Restart resets every connection between the fabrics through proxies),
// and a two-process test (the test binary re-execs itself as the peer
// agent, each subscribed to the other; the peer is killed with SIGKILL
// mid-stream and started again on a new port: the survivor drains the
// dead ring in order, counts the loss, reports the lost outgoing ring
// once as ErrPeerLost, and traffic resumes in both directions, in order
// within each ring). What that exercises is the fabric: the control
// protocol, who dials whom, reconnection, the start marker, the loss and
// close semantics, and the ring protocol over memory written by another
// goroutine from a network stream. What it does not exercise is RDMA: the
// ibverbs provider's set-up over the fabric's connection and its
// liveness watch (peerLink, whose own test runs over TCP) were compiled,
// never run with queue pairs. The emulation's latency says nothing of
// RDMA's (every frame crosses two sockets).
//
// The ibverbs provider was compiled and vetted (go vet -tags rdma, against
// Debian 12's libibverbs-dev 44.0) but never run against a device: the
// development host has no RDMA device, and Soft-RoCE (rdma_rxe) cannot be
// loaded there (a Firecracker guest kernel without modules). The only
// ibverbs code that ran is device discovery: ibv_get_device_list fails
// with ENOSYS and Probe, OpenSender and OpenReceiver return ErrNoDevice
// (and NewNetFabric over it fails with that error, the signal to fall
// back). Queue-pair set-up, memory registration, RDMA WRITE and
// completion handling are untested; treat them as a careful first draft.
// Built without the rdma tag, the provider returns ErrNotBuilt.
//
// Known limits of the ibverbs draft: it relies on an RC queue pair placing
// the WRITEs of one connection in order (as FaRM and HERD do; the frame CRC
// turns a torn frame into ErrCorrupt rather than a wrong value); a failed
// work completion (ErrVerbs) leaves the sender unusable until it is
// re-opened, which re-initialises the ring with a new generation (under
// NetFabric: the sender drops the ring and reports ErrPeerLost, the
// receiver re-dials). An orderly close that races with WRITEs in flight
// may surface at the sender as ErrVerbs (hence ErrPeerLost) rather than
// ErrPeerClosed.
//
// The control protocol is not authenticated (rings are attributed to
// member ids, as a topic is; attest authenticates the envelopes) and not
// encrypted: any host that reaches an agent's listen address can
// subscribe to its envelopes or offer frames in another member's name.
//
// # Import rule
//
// rdma knows nothing of agent (nor does it use the round engine): it
// imports attest only. The agent side composes it: agent/rdmafabric
// imports rdma and agent, and adapts one to the other.
package rdma
