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
//     Probe reports which providers work here.
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
// The ibverbs provider was compiled and vetted (go vet -tags rdma, against
// Debian 12's libibverbs-dev 44.0) but never run against a device: the
// development host has no RDMA device, and Soft-RoCE (rdma_rxe) cannot be
// loaded there (a Firecracker guest kernel without modules). The only
// ibverbs code that ran is device discovery: ibv_get_device_list fails
// with ENOSYS and Probe, OpenSender and OpenReceiver return ErrNoDevice.
// Queue-pair set-up, memory registration, RDMA WRITE and completion
// handling are untested; treat them as a careful first draft. Built
// without the rdma tag, the provider returns ErrNotBuilt.
//
// Known limits of the ibverbs draft: it relies on an RC queue pair placing
// the WRITEs of one connection in order (as FaRM and HERD do; the frame CRC
// turns a torn frame into ErrCorrupt rather than a wrong value); a failed
// work completion (ErrVerbs) leaves the sender unusable until it is
// re-opened, which re-initialises the ring with a new generation.
//
// # Import rule
//
// rdma knows nothing of agent (nor does it use the round engine): it
// imports attest only. The agent side composes it: agent/rdmafabric
// imports rdma and agent, and adapts one to the other.
package rdma
