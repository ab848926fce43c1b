package attest

// Test-only access for the external tests, which play a compromised member
// (one whose keys are used outside the protocol) to produce equivocation.

// SignForTest signs msg with id's identity key, bypassing the counters.
func SignForTest(id *Identity, msg []byte) []byte { return id.sign(msg) }

// MACForTest computes the HMAC of msg under a pairwise key.
func MACForTest(k *PairKey, msg []byte) []byte {
	return append([]byte(nil), newMACState(k.mac[:]).compute(msg)...)
}
