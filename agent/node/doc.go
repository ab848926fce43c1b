// Package node assembles one wmsr agent from its parts and runs it: the
// identity (attest soft backend from keygen's per-epoch files, or the
// insecure test fleet), the round engine and runner (package agent), the
// MQTT fabric (agent/mqttfabric, with the embedded broker of agent/broker
// when no broker URL is configured), membership (agent/membership:
// memberlist discovery, failure detection and admission of peers'
// attestations), Prometheus metrics and health endpoints, and the
// robustness re-check of the live topology.
//
// It exists because two programs need the same composition: the
// wmsr-agent command (one agent per process, configured by Settings from
// flags, WMSR_* environment and a file) and examples/drones (a whole fleet
// of real agents in one process). Package agent cannot hold it, since its
// fabric implementations import agent.
//
// # Membership and the engine
//
// Membership events are applied to the engine as they arrive: an admitted
// record (a new member, or a restart under a higher epoch) goes to
// Engine.UpdateMember, after which only that epoch's envelopes are
// accepted; a member declared dead leaves the in-neighbour set
// (Engine.SetAlive) until it is admitted or seen alive again. After every
// change the node decides, with package topology, whether the live part of
// the fleet graph still tolerates the configured F under the configured
// threat model, and logs a warning and sets the metric
// wmsr_agent_topology_tolerates_f to 0 when it does not. Without a fleet
// graph only the necessary local condition is checked: (F+1)-robustness
// requires every node to have at least F+1 in-neighbours when F ≥ 1.
//
// # Epochs
//
// LoadIdentity gives every start a new epoch, recorded durably before any
// key is used, so that a restarted agent (kill -9 included) can never
// reuse keys or envelope counters, and peers refuse the old epoch's
// envelopes as stale once they admit the new record.
package node
