// Package membership tells a wmsr agent who else is in its fleet: it
// discovers the other agents and detects their failures with
// github.com/hashicorp/memberlist, and exchanges and admits their
// attestations (package attest), so that the agent holds the admitted
// member record (public keys, epoch) of every other agent, learns when one
// dies, and learns when one restarts under a higher epoch with fresh keys.
// Package agent composes it; it does not import agent.
//
// # What memberlist gives, and what it does not
//
// memberlist implements SWIM with Lifeguard's refinements: every node
// probes a random node each ProbeInterval (directly over UDP, then
// indirectly through IndirectChecks others, then over TCP), a node that
// misses its acks becomes suspect, and a suspect that does not refute in
// time (SuspicionMult·max(1, log10 N)·ProbeInterval, shortened by
// independent confirmations) is declared dead. State spreads by gossip and
// by periodic full push/pull syncs. That gives discovery, eventually
// consistent membership, and failure detection that is fast and scales.
//
// It does not give certainty. Failure detection is a heuristic: a slow or
// partitioned node can be declared dead while alive (it refutes when it
// hears of it, and is then reported alive again), and a dead node is only
// noticed after the timeouts. Nor does it give authenticity. Gossip
// encryption (Config.Keyring, AES-GCM with a key every node shares)
// protects the membership traffic against outsiders, but every holder of
// the key can inject any gossip: declare others dead, claim a name, report
// a dead node alive. What a member is, its keys, therefore never comes
// from memberlist: it comes from its attestation, verified by the
// attest.Admitter against the fleet policy (a fleet-CA statement or an SGX
// report binding the claim). A spoofed "alive" can at most make a member
// look reachable; it cannot make anyone accept envelopes the member did
// not sign. Without a Keyring, gossip is plaintext, which New logs as a
// warning.
//
// # Protocol
//
// Names. The memberlist node of member id in fleet F is named "F-id"
// (canonical decimal), so ids are unique per fleet, and a second process
// claiming an id already in use is a memberlist name conflict, logged at
// error level and counted (Stats.Conflicts). The memberlist label is
// "wmsr/F": fleets sharing a network and a key still do not merge. An
// AliveDelegate keeps out of memberlist every node whose name is not of the
// fleet or whose metadata does not decode or names another id.
//
// Metadata. Each node gossips, as memberlist node metadata, exactly
// MetaSize = 49 bytes (memberlist allows 512):
//
//	version(1)=1 member-id(8) epoch(8) claim-digest(32)
//
// big-endian, where claim-digest is attest.Claim.Digest of the node's
// current claim. A restart therefore shows up as a metadata update, and an
// attestation can be checked against what the failure detector says that
// node is. The decoder is strict (exact size, version 1, epoch ≥ 1) and
// fuzzed (FuzzDecodeMeta).
//
// Attestation exchange (push). When memberlist reports a node joined or
// changed (EventDelegate NotifyJoin/NotifyUpdate), the agent sends it its
// own attestation over memberlist's reliable channel (SendReliable: TCP,
// any size; SGX quotes are several KiB, too big for gossip packets). If
// the agent lacks that node's attestation for the epoch it gossips, the
// message asks for one back; replies never ask, so an exchange is at most
// two messages. The attestation also rides in every push/pull
// (Delegate.LocalState/MergeRemoteState), which memberlist runs on join
// and every PushPullInterval: that is the exchange's anti-entropy, which
// recovers lost or dropped messages.
//
// Messages. Everything sent is one frame, decoded strictly and fuzzed
// (FuzzDecodeMessage):
//
//	version(1)=1 type(1)=1 (attestation) flags(1) body-len(4) body
//
// flags bit 0 asks for the receiver's attestation in return; other bits
// must be 0. The body, at most attest.MaxAttestationSize bytes, is an
// attest.Attestation (its MarshalBinary form); the length must match the
// rest of the frame exactly.
//
// Admission. A received attestation is parsed (attest.ParseAttestation);
// ignored if it equals the record already admitted for its id, or if the
// same bytes were refused before; checked against the metadata of the node
// named after its id, if that node is known: an older epoch than the node
// gossips is refused as stale (ErrMetaMismatch and attest.ErrStale), the
// same epoch with another claim digest as a mismatch (ErrMetaMismatch); a
// higher epoch is accepted, since a restarted node's attestation can
// overtake the gossip of its new metadata. It then goes to Admitter.Admit
// with prev = the record currently admitted for that id, which refuses any
// epoch not above it (attest.ErrStale) and anything the policy does not
// allow. An admitted record replaces the previous one; every refusal is
// reported with Delegate.NotifyRejected and counted.
//
// Usable members. A record is usable when it is admitted and memberlist
// sees its node alive gossiping exactly that claim (epoch and digest). The
// Delegate hears NotifyAdmitted when a member becomes usable and
// NotifyDead when it stops being usable (declared dead, left, or
// superseded by a higher epoch), alternately per member. A restart is thus
// NotifyDead for the old epoch and, once the new attestation is admitted
// and the new metadata seen, NotifyAdmitted for the new one. A death is
// reported only once memberlist has held the node dead for
// Config.DeadDelay, because memberlist can flap a node dead and alive
// within a few gossip rounds: a false suspicion refuted late, or, right
// after a restart, gossip of the old process's death still in flight with
// an incarnation number as high as the new process's first one (memberlist
// cannot tell two processes of one name apart), which the new process
// refutes. A flap longer than DeadDelay is reported as NotifyDead followed
// by NotifyAdmitted of the same record. A node restarted at another
// address (a new port, DHCP, a new container) takes over its dead name
// after Config.DeadNodeReclaimTime.
//
// # Concurrency
//
// memberlist calls its delegates from its network goroutines, some while
// holding its node lock, so this package's callbacks never block and never
// call back into memberlist: node events are coalesced per node name into
// a table (bounded by the cluster; never dropped), received messages go to
// a queue of Config.QueueSize (dropped beyond it, counted in
// Stats.Dropped, logged, and recovered by the next push/pull). One worker
// goroutine applies both, events first, verifies attestations and calls
// the Delegate, in order. A second goroutine sends attestations, so that a
// send to a dying node (up to TCPTimeout) never stalls admission. memberlist's
// own log lines are forwarded to the configured slog.Logger at the level
// their prefix names.
package membership
