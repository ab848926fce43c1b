package attest

// Test-only access for the external tests, which play a compromised member
// (one whose keys are used outside the protocol) to produce equivocation.

// SignForTest signs msg with id's identity key, bypassing the counters.
func SignForTest(id *Identity, msg []byte) []byte { return id.sign(msg) }

// MACForTest computes the HMAC of msg under a pairwise key.
func MACForTest(k *PairKey, msg []byte) []byte {
	return append([]byte(nil), newMACState(k.mac[:]).compute(msg)...)
}

// SetCounterForTest sets the last used counter of s, to reach the end of a
// lane or of the counter space without sealing 2^40 envelopes.
func SetCounterForTest(s *Sender, c uint64) {
	s.mu.Lock()
	s.counter = c
	s.mu.Unlock()
}

// LaneCounterForTest returns a LaneCounter whose last accepted counter is
// last.
func LaneCounterForTest(last uint64) LaneCounter { return LaneCounter{last: last} }
