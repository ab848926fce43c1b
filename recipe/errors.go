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
	// ErrRollback: a replica's disk is older than what it (or the cluster)
	// has already acknowledged.
	ErrRollback = errors.New("recipe: disk rolled back")
)
