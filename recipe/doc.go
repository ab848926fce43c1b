// Package recipe replicates the fleet configuration log (F, weights,
// topology, membership, quarantine) with etcd raft (go.etcd.io/raft/v3)
// made Byzantine-tolerant with 2f+1 replicas by Recipe (Giantsidi et al.,
// "Recipe: Hardware-Accelerated Replication Protocols", arXiv 2502.09251,
// Middleware '25): every raft message travels in an attest envelope with
// transferable authentication and non-equivocation, and raft's own logic
// is unaltered — raft is used only through raft.RawNode.
//
// # Architecture
//
// As in etcd raft's own model, the protocol is a pure, deterministic step
// with I/O at the edge:
//
//   - Layer (layer.go) is the Recipe core: seal and open envelopes, one
//     counter per directed pair (laned by raft term), retransmit buffers,
//     acknowledgements, chunking, epoch handling. No I/O, no clock: time
//     advances by Tick.
//   - Node (node.go) is one replica: raft.RawNode + raft.MemoryStorage +
//     the configuration Store + a Codec (the Layer, or Plain for vanilla
//     raft). Also pure.
//   - Store (store.go) is the replicated state machine.
//   - The simulation (sim_test.go) drives Nodes over a seeded adversarial
//     network; the TCP transport, the client port and the replica process
//     are the edge.
//
// # Processes, transport and clients
//
// One replica runs per process, as the replica role of the agent binary:
// "wmsr-agent replica" (cmd/wmsr-agent/replica.go, a thin shell around
// package replicacmd), so that ground stations or chosen drones hold the
// log. replicacmd resolves its configuration (flags, WMSR_REPLICA_*
// environment, a YAML or TOML file), loads keygen's per-epoch identity
// (each start a new epoch), the admission policy and the genesis records
// (every replica's epoch-1 keygen statement, from one directory; see the
// replicacmd documentation), and calls RunReplica.
//
// RunReplica (replica.go) is the I/O edge around a Node: a ticker, the
// peer Transport and the client port. The Transport (transport.go) carries
// frames between replicas over TCP: 4-byte length-prefixed frames, one
// outbound connection per peer, redialled with backoff; it may lose
// frames, and the Layer retransmits.
//
// The client port (client.go, clientport.go) is a listener of its own.
// Writes must be signed with Ed25519, by an operator key listed in the
// replica's configuration (any key) or by a member the admission policy
// admits, with its attest identity (quarantine/ and kv/ records: a drone
// proposing equivocation evidence). Each connection starts with a fresh
// challenge from the replica, which every signed request carries, and the
// replica keeps the highest counter it accepted per client key in that
// session: a request captured on the wire is refused on any other
// connection, replica or incarnation, and when replayed into its own. A
// forged or replayed request is refused with its reason (ErrForged,
// ErrReplayed, ErrUnknownClient, ErrUnsigned, ErrForbidden), logged,
// counted (ClientStats, in the status answer) and ends the connection.
// Reads and status stay unsigned: the configuration is what every agent
// must learn, and the port authenticates but does not encrypt.
//
// # The configuration store, the watch and the agents
//
// Store (store.go) holds typed records: params (FleetParams: F, weights,
// round period), topology (members and directed edges), quarantine/<id>
// (evidence), agent/<id> (an agent's attestation: the log keeps each
// agent's highest epoch and refuses a lower one, ErrStaleEpoch, so a
// restart from an old disk is refused fleet-wide; an agent may write only
// its own, with the attestation the client port admitted it by) and kv/
// (opaque). Each typed write names the round it takes
// effect at (Command.ActivateAt), strictly later than the key's current
// one, so that agents switch together. Reads are linearizable (ReadIndex,
// Node.Read). The watch stream (watch.go) is the client port's changes
// op: the records committed at or after a revision, or a snapshot of every
// record when the revision is 0 or older than the history the store keeps,
// held at the replica until a change commits (a long poll:
// Client.Changes). Agents follow it (agent/node's follower) and schedule
// each change in their round engine at its round (agent.Engine.Schedule),
// checking a quarantine's Ed25519 evidence themselves before applying it;
// operators write with "wmsr-agent log" (ProposeAny, TopologyOf), which
// first decides whether the topology left tolerates F.
//
// # The five components of Recipe, and where they are
//
// 1. Transferable authentication (Recipe §3). Every raft message is sealed
// by attest (Layer.send → attest.Sender.Seal) under the directed pair's
// HMAC-SHA256 key, derived by X25519 from attested keys (Recipe's
// auth(k, <msg, cnt>)); optionally AES-256-GCM encrypted
// (LayerConfig.Encrypt) and optionally Ed25519 (LayerConfig.Suite) where
// a third party must be able to check it. Acknowledgement vectors are
// Ed25519-signed broadcasts (Layer.sendAcks). The layer also binds raft's
// identities to attested ones: an authentic envelope whose raft From/To
// differ from its attested sender/receiver incarnation is rejected
// (ErrImpersonation, Layer.deliver), so an admitted replica cannot vote or
// append as another.
//
// 2. Initialisation. Raft node IDs are incarnations, RaftID(member,
// epoch). Genesis records are re-verified against the admission policy by
// every replica (NewNode → Node.verify → attest.Admitter.Admit) and
// written into the bootstrap configuration entries with their attestation
// and verification time, so that a replica replaying the log later
// verifies them identically. Pairwise keys are derived only in
// Layer.SetMember, i.e. only for records that passed admission; the keys
// never leave memory and are never written to disk.
//
// 3. Normal operation. Layer.Send seals each message on the pair's stream
// and keeps it until acknowledged; Layer.Receive accepts only the next
// counter of the stream's current lane (attest.LaneCounter: within a lane
// the Tamarin model's rule, as attest.SeqCounter; lanes are the view
// change, below), stashes authentic envelopes that arrive early (bounded
// by Window) and then hands the messages to raft.RawNode.Step in stream
// order. etcd raft does not
// retransmit and tolerates loss, but a sequential receiver would wait
// forever behind a lost counter, so the layer retransmits (Layer.Tick,
// go-back-N over the oldest Window envelopes, the exact bytes first sent)
// and acknowledges cumulatively — piggybacked in every envelope, and as a
// signed vector on ticks when nothing carried it. Acknowledgements travel
// on a monotonic broadcast stream (attest.MonoCounter) because they are
// state, not messages: a pure ack on the sequential stream would consume a
// counter and need an ack itself. When a peer's buffer is full the layer
// drops new raft messages before sealing them (ErrBackpressure): no
// counter is consumed, so there is no gap, and raft sees ordinary loss.
// Large messages (snapshots) are chunked into consecutive envelopes.
//
// 4. View change. Leader election is raft's own (PreVote, CheckQuorum),
// and its messages go through the same channels. Recipe starts channels
// afresh for a new view so that a channel stuck in the old view blocks
// nothing; here a view is a raft term and a channel is a lane of the
// pair's stream:
//
//   - A unicast counter is lane<<attest.LaneShift | seq (LaneShift = 40:
//     lanes 0 to 2^24-1, seq 1 to 2^40-1 within a lane). The envelope
//     format is unchanged, and the numeric order of counters is the stream
//     order (an older lane is below a newer one), so cumulative
//     acknowledgements, slots and equivocation evidence work across lanes
//     as before.
//   - Send side: Node.Advance calls Layer.SetTerm with each Ready's
//     HardState term, before sealing that Ready's messages. When the term
//     t rises, Layer.startLane starts lane 2t (termLane) on every peer's
//     stream (attest.Sender.StartLane: the next counter is seq 1 of that
//     lane) and discards the unacknowledged envelopes of older lanes:
//     they are no longer retransmitted, so the new term's messages
//     neither queue behind them nor meet a full buffer (ErrBackpressure).
//     For raft they are lost messages of a term this replica has left.
//     With PreVote a pre-candidate's term does not rise until it wins, so
//     Layer.send also lets a pre-vote, or its grant, for term t (which
//     carries t while the sender is still below it) start lane 2t-1 on
//     its stream: an election's first round is not stuck behind the
//     backlog either, and term t itself, if the election succeeds, starts
//     fresh again in lane 2t. A peer admitted later starts in the current
//     term's lane (Layer.SetMember).
//   - Receive side: the layer's attest.Receiver is laned
//     (attest.ReceiverConfig.LanedUnicast, attest.LaneCounter): it takes
//     the next seq of the current lane, or seq 1 of any higher lane at
//     once, which abandons the rest of the lower lane (its late or
//     retransmitted envelopes are then attest.ErrStale); seq > 1 of a
//     higher lane is out of order and is stashed until seq 1 arrives.
//     When a peer's stream switches lanes, Layer.deliver discards a
//     message half reassembled from the old lane's chunks, and Receive
//     drops the old lane's stashed envelopes (Layer.stashable keeps at
//     most Window envelopes of the current lane and Window of one higher
//     lane).
//   - What is given up is exactly the unreceived tail of an old term's
//     lane, which raft tolerates as loss; within a lane nothing is lost,
//     reordered or duplicated (attest's TestLemmaNoLossWithinLane), and
//     across lanes nothing is reordered or duplicated.
//   - Terms from 2^23 on share the last lane (2^24-1): the stream
//     continues there, correct but without a fresh start. LayerConfig.NoLanes keeps every
//     stream in lane 0 (the behaviour before lanes, for comparisons and
//     for peers that predate lanes, whose receivers would wait forever at
//     seq 1 of a new lane).
//
// Besides, a channel never stays stuck while both ends live, because its
// sender retransmits until acknowledged; a channel whose end crashed is
// replaced wholesale when the new incarnation is admitted (Layer.SetMember
// discards its buffer, keys and counters); and a full channel refuses new
// messages before sealing, so it never holds a gap. Lanes add that a new
// term does not wait for any of this. TestLayerNewTermStartsFresh shows a
// new term's vote delivered at once past a stuck, full channel (and, with
// NoLanes, only after the old term's backlog); TestSimLanesFollowTerms
// checks the wiring in the simulation; and the simulation checks that
// elections complete under loss, reordering, partitions and restarts.
//
// 5. Recovery (Node.Join, Node.onJoin, Node.applyConfChange). A replica
// never reuses keys, counters or raft state after a restart: it generates
// fresh keys under a new, higher epoch, is attested, and asks a member to
// propose a raft configuration change that replaces its previous
// incarnation by the new raft ID (joint consensus, auto-leave). Every
// replica re-verifies the attestation when applying the change, with the
// time recorded in the entry, and refuses (applies as a no-op) changes
// that do not match exactly. Admission requires the epoch to exceed the
// admitted one, so a replica restarted from an old disk (rollback: it
// remembers an older epoch and asks to join at it) is refused with
// attest.ErrStale. The newcomer's state arrives by raft snapshot: the
// leader snapshots and compacts when it admits a restarted member.
//
// # Tests
//
//   - TestSimRecipeAdversary: seeded simulation with drops, duplicates,
//     reordering, delays, replays, tampering, forgeries, partitions, and
//     crash/restart with stale disks; checks linearizability with
//     porcupine (as etcd's robustness tests do), state machine safety (no
//     two replicas apply different entries at an index), no forged value
//     applied, progress, admitted restarts and refused stale disks.
//   - TestSimNegativeControl: the same adversary, attack by attack, against
//     vanilla etcd raft (Plain codec) and Recipe: tampering, forging and
//     replays break vanilla raft; nothing breaks Recipe.
//   - TestLayerNewTermStartsFresh, TestLayerLaneEdges,
//     TestSimLanesFollowTerms: the view change (lanes), above.
//   - TestStoreTypedEntries: typed entries, activation rounds, ReadIndex
//     reads from a follower, the watch stream. TestStoreChanges and
//     TestWatchOverClientPort: the watch's answers (snapshot, history,
//     lost history) and its long poll over TCP; FuzzDecodeChanges fuzzes
//     its decoder (seed corpus in testdata/fuzz). agent/node's
//     TestFleetFollowsLog: four agents on three replicas switch F and
//     topology exactly at the logged rounds and apply only a quarantine
//     whose proof verifies.
//   - TestClientSession, TestClientPort: the client port's authentication,
//     one refusal reason at a time, on a session and over TCP;
//     FuzzParseClientRequest fuzzes its decoder (seed corpus in
//     testdata/fuzz).
//   - TestProcessKillLeader: three replica processes (the test binary
//     re-executed as replicacmd.Main, insecure test fleet) on loopback;
//     kill -9 of the leader, restart at a new epoch, no acknowledged write
//     lost, a rolled-back disk refused. cmd/wmsr-agent's
//     TestReplicaEndToEnd does the same with the built wmsr-agent binary
//     and real keygen identities, plus a man in the middle whose tampered
//     and replayed client requests are refused.
package recipe
