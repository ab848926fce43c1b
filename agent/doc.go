// Package agent is the home of wmsr-agent, the process every device of a
// fleet runs: each round it seals its own value in an attest envelope,
// publishes it, collects its in-neighbours' envelopes and applies W-MSR.
//
// This package defines what the round engine consumes from the network,
// the Fabric interface, and the bounded Inbox every implementation uses to
// hand envelopes over without blocking. Implementations live in
// subpackages:
//
//   - agent/mqttfabric: MQTT over a broker (Eclipse Paho client);
//   - agent/broker: an embedded MQTT broker (mochi-mqtt) with per-agent
//     publish ACLs and TLS/mTLS, for fleets without an external broker;
//   - agent/mqtttopic: the topic layout both of them share;
//   - agent/fabrictest: the conformance suite any Fabric must pass (the
//     MQTT fabric now, an RDMA one-sided-write mailbox fabric later).
package agent
