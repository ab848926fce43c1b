// Package agent is the home of wmsr-agent, the process every device of a
// fleet runs: each round it seals its own value in an attest envelope,
// publishes it, collects its in-neighbours' envelopes and applies W-MSR.
//
// # Round engine
//
// The engine is split like etcd raft's Ready loop into a pure core and a
// thin I/O edge:
//
//   - Engine (engine.go) is deterministic: no clock, no I/O. Begin(t)
//     seals the agent's value for round t in an attest broadcast envelope
//     (Ed25519, KindRoundValue, payload RoundValue: version, round, value;
//     payload.go) and returns it for publication; Deliver hands it one
//     envelope from the fabric; End(t) applies W-MSR (wmsr.Update with F
//     from Config.Scope) to the agent's value and each in-neighbour's newest
//     value sealed within the last D rounds (wmsr.DelayBuffer, the
//     bounded-delay variant), and returns the new value and a RoundReport.
//   - Runner (runner.go) owns a Clock (RealClock or a fake), the Fabric and
//     a context: round t runs from Config.Epoch + t·Period to
//     Epoch + (t+1)·Period on the shared clock; the runner publishes at the
//     start, delivers as envelopes arrive, updates at the deadline, and
//     skips to the current round when it falls behind.
//
// What the engine refuses, each counted by reason in the RoundReport and
// in the metrics (RejectReasons): everything attest's Receiver refuses
// (attest.ReasonOf: forged, replay, unknown_sender for non-neighbours,
// stale epochs, malformed envelopes, ...), non-finite values
// (invalid_value), other payloads (bad_payload, wrong_kind), values for a
// round before t−D (stale_round) or after t+1 (future_round; a value for
// t+1 is held until that round begins, so it does not hide the current
// one), and envelopes from a neighbour caught equivocating (quarantined,
// unless Config.KeepEquivocators). Equivocation, two different signed
// envelopes under one counter, yields attest.Evidence, which the engine
// keeps (Engine.Evidence), logs, counts, and hands to the
// Delegate (NotifyEvidence) for publication to the fleet configuration log.
// A neighbour without a usable value at the update is an omission; W-MSR
// tolerates it, and the report counts it.
//
// Configuration changes agreed in the fleet configuration log (F, the in-
// and out-neighbours, quarantines) reach the engine as Change values with
// the round they take effect at (Engine.Schedule); Begin(t) puts every
// change due by t into effect before sealing, so the whole fleet sends,
// receives and updates round t under the same configuration, however late
// each agent learned of it. Neighbours that stay keep what the engine
// holds of them.
//
// Delegate (memberlist style) receives every RoundReport and every new
// proof; Metrics are registered on a caller-supplied
// prometheus.Registerer (rounds, value, disagreement, accepted and
// rejected envelopes by reason, omissions, counter gaps, evidence,
// publish errors, round latency).
//
// # Network
//
// This package also defines what the round engine consumes from the
// network, the Fabric interface, and the bounded Inbox every
// implementation uses to hand envelopes over without blocking.
// Implementations live in subpackages:
//
//   - agent/mqttfabric: MQTT over a broker (Eclipse Paho client);
//   - agent/broker: an embedded MQTT broker (mochi-mqtt) with per-agent
//     publish ACLs and TLS/mTLS, for fleets without an external broker;
//   - agent/mqtttopic: the topic layout both of them share;
//   - agent/rdmafabric: the one-sided-write mailbox fabrics of package rdma
//     (shared memory on one host, or across hosts over a provider);
//   - agent/fabrictest: the conformance suite every Fabric passes, and
//     agent/mqtttest a real mosquitto for tests and benchmarks.
//
// # Around the engine
//
//   - agent/membership: memberlist discovery and failure detection, and
//     the exchange and admission of members' attestations; its events
//     reach the engine as UpdateMember (a new record, e.g. a restart
//     under a higher epoch) and SetAlive (a neighbour declared dead leaves
//     the in-neighbour set).
//   - agent/node: the composition of identity, engine, runner, fabric,
//     membership, robustness re-check of the live topology, publication
//     of equivocation evidence and of the agent's own epoch to the fleet
//     configuration log, and the follower that watches that log and
//     schedules its changes in the engine; shared by cmd/wmsr-agent and
//     examples/drones.
//
// # States and dynamics
//
// A state is a vector of 1 to MaxDim coordinates (Config.Initial), trimmed
// coordinate by coordinate (wmsr.UpdateVec: the result stays in the
// bounding box of the normal values, not necessarily in their convex
// hull). With Config.DP the agent is a double integrator driven by DP-MSR
// (wmsr.DP): positions are exchanged and trimmed, velocities stay private.
package agent
