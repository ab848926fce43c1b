package membership

import "github.com/wmsr/wmsr/attest"

// SendAttestation sends att from from's memberlist node to to's, framed as
// this package frames it, for tests that replay or forge attestations over
// a real connection.
func SendAttestation(from, to *Membership, att attest.Attestation) error {
	enc, err := att.MarshalBinary()
	if err != nil {
		return err
	}
	frame, err := encodeMessage(message{Type: msgAttestation, Body: enc})
	if err != nil {
		return err
	}
	return from.ml.SendReliable(to.ml.LocalNode(), frame)
}
