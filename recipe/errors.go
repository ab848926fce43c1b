package recipe

import "errors"

// Sentinel errors of the recipe layer. Errors from the attest package are
// wrapped unchanged (test them with errors.Is against attest's sentinels,
// or classify them with attest.ReasonOf).
var (
	// ErrUnknownPeer: a raft message is addressed to a raft ID that is not
	// the current incarnation of an admitted member (a removed replica, or
	// an old epoch of a restarted one). The message is dropped before it is
	// sealed, which raft sees as loss.
	ErrUnknownPeer = errors.New("recipe: unknown peer")
	// ErrImpersonation: an authentic envelope carries a raft message whose
	// From or To does not match the envelope's attested sender or receiver
	// incarnation. Transferable authentication binds raft's identities to
	// attested ones; an admitted replica cannot speak for another.
	ErrImpersonation = errors.New("recipe: raft identity does not match attested sender")
	// ErrMalformed: a frame or payload is structurally invalid.
	ErrMalformed = errors.New("recipe: malformed")
	// ErrBackpressure: the retransmit buffer towards a peer is full; the
	// message was dropped before sealing (no counter consumed), which raft
	// tolerates as loss.
	ErrBackpressure = errors.New("recipe: retransmit buffer full")
	// ErrRefused: a join (admission of a new epoch) was refused, e.g.
	// because the epoch is not higher than the admitted one (rollback).
	ErrRefused = errors.New("recipe: join refused")
	// ErrNotLeader: the operation needs a leader and none is known.
	ErrNotLeader = errors.New("recipe: no leader")
	// ErrStopped: the replica was stopped.
	ErrStopped = errors.New("recipe: stopped")
	// ErrPastRound: a configuration change names an activation round at or
	// below one already agreed for that key; agents could not all switch
	// together.
	ErrPastRound = errors.New("recipe: activation round already passed")
	// ErrStaleEpoch: an agent record of an epoch at or below the one the
	// log holds for that agent (a restart from an old disk, or a replay).
	ErrStaleEpoch = errors.New("recipe: agent epoch not above the logged one")
	// ErrRollback: a replica's disk is older than what it (or the cluster)
	// has already acknowledged.
	ErrRollback = errors.New("recipe: disk rolled back")

	// Refusals of the client port (see client.go). The replica answers a
	// refused request with the reason, counts it (ClientStats) and closes
	// the connection; the Client returns an error wrapping the sentinel.

	// ErrForged: the request's signature does not verify under the key or
	// member record it names (tampered, or signed by someone else).
	ErrForged = errors.New("recipe: client request forged: signature does not verify")
	// ErrReplayed: an authentic request that was already used: bound to
	// another session (another connection, replica or incarnation), or
	// carrying a counter not above the highest this session accepted from
	// that key, or signed by a member epoch older than one already seen.
	ErrReplayed = errors.New("recipe: client request replayed")
	// ErrUnknownClient: the request is signed by an operator key the
	// replica does not list, or by a member whose attestation the
	// admission policy refuses (or that sent none).
	ErrUnknownClient = errors.New("recipe: client key not admitted")
	// ErrUnsigned: a write (put or delete) without a signature. Reads and
	// status may be unsigned.
	ErrUnsigned = errors.New("recipe: write not signed")
	// ErrForbidden: an admitted member tried to write a key only operators
	// may write (members may propose quarantine/ and kv/ records).
	ErrForbidden = errors.New("recipe: key not writable by this client")
)
