package recipe

import (
	"context"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"time"
)

// The watch stream on the client port. An agent follows the fleet log by
// asking for the changes from a revision on (op "changes", unsigned, like
// get): body.Activate carries from, body.Value an optional uint32 wait in
// milliseconds. The replica first confirms a read index (ReadIndex, as
// get does), so that the answer reflects every write committed before the
// request; if nothing at or after from is there yet and a wait was asked,
// it holds the request until a change is applied or the wait ends (a long
// poll: one round trip per change, no polling interval to tune).
//
//	answer value: flags(1) revision(8) next(8) count(4) count × event
//	event:        rev(8) op(1) activate(8) keylen(2) key vallen(4) value
//
// flags bit 0 is "snapshot": from was 0, or older than the history the
// replica keeps (Store keeps the last few thousand events, and a snapshot
// install drops them), so the events are instead every current record, as
// puts, by key; the watcher replaces its state with them. revision is the
// replica's applied index when it answered; next is the from of the
// following call (lower than revision+1 when the answer was cut to fit a
// frame). Admissions appear as op 0 on key member/<id> with no value.
const (
	opChanges = 5

	flagSnapshot = 1

	changesHeader = 1 + 8 + 8 + 4
	eventHeader   = 8 + 1 + 8 + 2 + 4
	// maxChangesBytes keeps an answer within a frame (maxFrame), with room
	// for the answer header.
	maxChangesBytes = maxFrame - 1024
	// MaxWatchWait bounds how long a replica holds a changes request.
	MaxWatchWait = 20 * time.Second
)

// Changes is one answer of the watch stream (Client.Changes).
type Changes struct {
	// Snapshot means Events are the whole configuration (one put per
	// record, by key), not a history: replace the state with them.
	Snapshot bool
	// Events are the changes in revision order (or, with Snapshot, the
	// records). Empty when the wait ended with no change.
	Events []Event
	// Revision is the replica's applied index when it answered.
	Revision uint64
	// Next is the revision to ask from next.
	Next uint64
}

// Changes returns the committed changes with revision ≥ from (from = 0:
// a snapshot of every record), waiting up to wait (at most MaxWatchWait)
// for the first one when there is none yet. ctx must outlast wait.
func (c *Client) Changes(ctx context.Context, from uint64, wait time.Duration) (Changes, error) {
	wait = min(max(wait, 0), MaxWatchWait)
	body := clientBody{Op: opChanges, Activate: from, Value: binary.BigEndian.AppendUint32(nil, uint32(wait/time.Millisecond))}
	status, _, v, err := c.do(ctx, body, false)
	if err == nil && status != statusOK {
		err = answerError(status, v)
	}
	if err != nil {
		return Changes{}, err
	}
	return decodeChanges(v)
}

// parseWait reads the wait of a changes request.
func parseWait(v []byte) (time.Duration, error) {
	switch len(v) {
	case 0:
		return 0, nil
	case 4:
		return min(time.Duration(binary.BigEndian.Uint32(v))*time.Millisecond, MaxWatchWait), nil
	}
	return 0, fmt.Errorf("%w: changes wait of %d bytes", ErrMalformed, len(v))
}

// hasChanges reports whether a changes request from revision from has an
// answer now (events at or after from, or a snapshot to give).
func (s *Store) hasChanges(from uint64) bool {
	if from == 0 || (s.lost > 0 && from <= s.lost) {
		return true
	}
	return len(s.events) > 0 && s.events[len(s.events)-1].Revision >= from
}

// appendChanges encodes the answer to a changes request from from. A
// history is cut to fit a frame (Next says where to go on); a snapshot
// cannot be cut, since the watcher replaces its state with it, and one
// that does not fit is an error (records are small: parameters, a
// topology, quarantines).
func (s *Store) appendChanges(dst []byte, from uint64) ([]byte, error) {
	evs, ok := s.Events(from)
	flags := byte(0)
	if from == 0 || !ok {
		flags = flagSnapshot
		evs = evs[:0]
		for _, k := range slices.Sorted(maps.Keys(s.recs)) {
			evs = append(evs, Event{Revision: s.recs[k].Revision, Op: OpPut, Record: s.recs[k]})
		}
	}
	at := len(dst)
	dst = appendChangesHeader(dst, flags, s.applied, 0, 0) // next and count below
	next, count := max(from, s.applied+1), 0
	for i := range evs {
		e := &evs[i]
		if len(dst)-at+eventHeader+len(e.Record.Key)+len(e.Record.Value) > maxChangesBytes {
			if flags == flagSnapshot || count == 0 {
				return dst[:at], fmt.Errorf("%w: the configuration does not fit one answer of %d bytes", ErrMalformed, maxChangesBytes)
			}
			next = e.Revision
			break
		}
		dst = appendEvent(dst, e)
		count++
	}
	binary.BigEndian.PutUint64(dst[at+9:], next)
	binary.BigEndian.PutUint32(dst[at+17:], uint32(count))
	return dst, nil
}

func appendChangesHeader(dst []byte, flags byte, revision, next uint64, count uint32) []byte {
	dst = append(dst, flags)
	dst = binary.BigEndian.AppendUint64(dst, revision)
	dst = binary.BigEndian.AppendUint64(dst, next)
	return binary.BigEndian.AppendUint32(dst, count)
}

func appendEvent(dst []byte, e *Event) []byte {
	dst = binary.BigEndian.AppendUint64(dst, e.Revision)
	dst = append(dst, byte(e.Op))
	dst = binary.BigEndian.AppendUint64(dst, e.Record.ActivateAt)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(e.Record.Key)))
	dst = append(dst, e.Record.Key...)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(e.Record.Value)))
	return append(dst, e.Record.Value...)
}

// decodeChanges decodes a changes answer strictly: it never panics, and
// refuses trailing bytes, unknown flags and counts the bytes cannot hold
// (FuzzDecodeChanges).
func decodeChanges(b []byte) (Changes, error) {
	if len(b) < changesHeader {
		return Changes{}, fmt.Errorf("%w: changes answer of %d bytes", ErrMalformed, len(b))
	}
	if b[0]&^flagSnapshot != 0 {
		return Changes{}, fmt.Errorf("%w: changes flags %#02x", ErrMalformed, b[0])
	}
	ch := Changes{Snapshot: b[0]&flagSnapshot != 0, Revision: binary.BigEndian.Uint64(b[1:]), Next: binary.BigEndian.Uint64(b[9:])}
	n := binary.BigEndian.Uint32(b[17:])
	b = b[changesHeader:]
	if uint64(n) > uint64(len(b))/eventHeader {
		return Changes{}, fmt.Errorf("%w: %d events in %d bytes", ErrMalformed, n, len(b))
	}
	ch.Events = make([]Event, 0, n)
	var last uint64
	for i := range n {
		if len(b) < eventHeader {
			return Changes{}, fmt.Errorf("%w: event %d truncated", ErrMalformed, i)
		}
		e := Event{Revision: binary.BigEndian.Uint64(b), Op: Op(b[8])}
		act := binary.BigEndian.Uint64(b[9:])
		kl := int(binary.BigEndian.Uint16(b[17:]))
		b = b[19:]
		if e.Op > OpDelete {
			return Changes{}, fmt.Errorf("%w: event %d op %d", ErrMalformed, i, e.Op)
		}
		if len(b) < kl+4 {
			return Changes{}, fmt.Errorf("%w: event %d key truncated", ErrMalformed, i)
		}
		key := string(b[:kl])
		vl := binary.BigEndian.Uint32(b[kl:])
		b = b[kl+4:]
		if uint64(vl) > uint64(len(b)) {
			return Changes{}, fmt.Errorf("%w: event %d value truncated", ErrMalformed, i)
		}
		if !ch.Snapshot && e.Revision <= last {
			return Changes{}, fmt.Errorf("%w: event %d revision %d after %d", ErrMalformed, i, e.Revision, last)
		}
		last = e.Revision
		var val []byte
		if vl > 0 {
			val = slices.Clone(b[:vl])
		}
		e.Record = Record{Key: key, Value: val, Revision: e.Revision, ActivateAt: act}
		b = b[vl:]
		ch.Events = append(ch.Events, e)
	}
	if len(b) != 0 {
		return Changes{}, fmt.Errorf("%w: %d bytes after the events", ErrMalformed, len(b))
	}
	return ch, nil
}

// Follow watches the log through the replicas at addrs, from revision
// from on, until ctx ends, and calls fn with every answer (an answer with
// no events when a wait ends quietly). A replica that fails is left for
// the next one, after a backoff that grows to 5 s while no replica
// answers; failed, if not nil, hears each failure. Each request is held
// up to wait at the replica (the long poll). Follow returns ctx's error.
func Follow(ctx context.Context, addrs []string, from uint64, wait time.Duration, fn func(Changes), failed func(addr string, err error)) error {
	if len(addrs) == 0 {
		return fmt.Errorf("%w: no replica addresses to follow", ErrMalformed)
	}
	backoff := 100 * time.Millisecond
	for i := 0; ; i++ {
		addr := addrs[i%len(addrs)]
		answered, err := followOne(ctx, addr, &from, wait, fn)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if answered {
			backoff = 100 * time.Millisecond
		}
		if failed != nil {
			failed(addr, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// followOne watches through one replica until it fails.
func followOne(ctx context.Context, addr string, from *uint64, wait time.Duration, fn func(Changes)) (answered bool, err error) {
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	c, err := DialClient(dctx, addr, nil)
	cancel()
	if err != nil {
		return false, err
	}
	defer c.Close()
	for {
		cctx, cancel := context.WithTimeout(ctx, wait+5*time.Second)
		ch, err := c.Changes(cctx, *from, wait)
		cancel()
		if err != nil {
			return answered, err
		}
		answered = true
		fn(ch)
		*from = ch.Next
	}
}
