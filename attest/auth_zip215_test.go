package attest

import (
	"crypto/ed25519"
	"crypto/sha512"
	"math/big"
	"slices"
	"testing"

	"filippo.io/edwards25519"
	"github.com/hdevalence/ed25519consensus"
	voied25519 "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
)

// zip215Encodings returns every 32-byte encoding of a small-order point
// (the eight points of the torsion subgroup, each with both sign bits) and
// every non-canonical encoding y+p (y < 19, both sign bits) that decodes:
// the inputs on which Ed25519 verification rules disagree (ZIP-215, and
// Chalkias, Garillot, Nikolaenko, "Taming the many EdDSAs", 2020).
func zip215Encodings(t *testing.T) [][]byte {
	t.Helper()
	// [L]P is P's torsion component; L−1 is a canonical scalar, so compute
	// it as [L−1]P + P.
	l, _ := new(big.Int).SetString("7237005577332262213973186563042994240857116359379907606001950938285454250989", 10)
	lm1 := leBytes(new(big.Int).Sub(l, big.NewInt(1)))
	sc, err := edwards25519.NewScalar().SetCanonicalBytes(lm1)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[[32]byte]bool{}
	var out [][]byte
	add := func(b []byte) {
		var k [32]byte
		copy(k[:], b)
		if !seen[k] {
			seen[k] = true
			out = append(out, slices.Clone(b))
		}
	}
	torsion := map[[32]byte]bool{}
	for i := 0; i < 4096 && len(torsion) < 8; i++ {
		h := sha512.Sum512([]byte{byte(i), byte(i >> 8)})
		p, err := new(edwards25519.Point).SetBytes(h[:32])
		if err != nil {
			continue
		}
		q := new(edwards25519.Point).ScalarMult(sc, p)
		q.Add(q, p)
		enc := q.Bytes()
		torsion[[32]byte(enc)] = true
		add(enc)
		enc[31] ^= 0x80 // the other sign bit: non-canonical when x = 0
		if _, err := new(edwards25519.Point).SetBytes(enc); err == nil {
			add(enc)
		}
	}
	if len(torsion) != 8 {
		t.Fatalf("found %d torsion points, want 8", len(torsion))
	}
	p := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))
	for y := int64(0); y < 19; y++ {
		for _, sign := range []byte{0, 0x80} {
			enc := leBytes(new(big.Int).Add(p, big.NewInt(y)))
			enc[31] |= sign
			if _, err := new(edwards25519.Point).SetBytes(enc); err == nil {
				add(enc)
			}
		}
	}
	return out
}

func leBytes(x *big.Int) []byte {
	b := x.FillBytes(make([]byte, 32))
	slices.Reverse(b)
	return b
}

// TestEd25519RuleUnchanged checks the verification rule against
// ed25519consensus, the ZIP-215 reference this package used before: on
// every pair of edge-case encodings for A and R (S = 0, so R = −[k]A must
// hold up to the cofactor), and on real signatures, corrupted ones and
// non-canonical S. Single, expanded-key and batch verification must all
// give its answer.
func TestEd25519RuleUnchanged(t *testing.T) {
	encs := zip215Encodings(t)
	if len(encs) < 14 {
		t.Fatalf("%d edge-case encodings, want at least the 14 of ZIP-215", len(encs))
	}
	msg := []byte("Zcash")
	agreeAccept := 0
	batch := voied25519.NewBatchVerifier()
	var rejected [2][]byte // an edge case both refuse: key, signature
	for _, a := range encs {
		x, xerr := expandSignKey(a)
		for _, r := range encs {
			sig := append(slices.Clone(r), make([]byte, 32)...)
			want := ed25519consensus.Verify(a, msg, sig)
			if got := verifyEd25519(a, msg, sig); got != want {
				t.Fatalf("A=%x R=%x: verifyEd25519 %v, ed25519consensus %v", a, r, got, want)
			}
			if xerr == nil {
				if got := verifyExpanded(x, msg, sig); got != want {
					t.Fatalf("A=%x R=%x: verifyExpanded %v, ed25519consensus %v", a, r, got, want)
				}
			}
			switch {
			case want && xerr == nil:
				batch.AddExpandedWithOptions(x, msg, sig, zip215)
				agreeAccept++
			case want:
				agreeAccept++
			case xerr == nil:
				rejected = [2][]byte{a, sig}
			}
		}
	}
	// ZIP-215 accepts all 196 of its vectors; a rule that only agreed by
	// rejecting everything would not be tested here.
	t.Logf("%d encodings, %d accepted by both", len(encs), agreeAccept)
	if agreeAccept < 196 {
		t.Fatalf("only %d edge cases accepted by both, want ≥ 196", agreeAccept)
	}

	// OpenBatch's path: the accepted edge cases verify as one batch, and
	// one refused case spoils it.
	if !batch.VerifyBatchOnly(nil) {
		t.Fatal("the accepted edge cases do not verify as a batch")
	}
	if rejected[0] == nil {
		t.Fatal("no refused edge case with a decodable key")
	}
	bad, _ := expandSignKey(rejected[0])
	batch.AddExpandedWithOptions(bad, msg, rejected[1], zip215)
	if batch.VerifyBatchOnly(nil) {
		t.Fatal("a batch with a refused signature verifies")
	}

	pub, priv, _ := ed25519.GenerateKey(nil)
	x, err := expandSignKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	l, _ := new(big.Int).SetString("7237005577332262213973186563042994240857116359379907606001950938285454250989", 10)
	for i := range 200 {
		m := []byte{byte(i), byte(i >> 8), 7}
		sig := ed25519.Sign(priv, m)
		switch i % 4 {
		case 1:
			sig[i%64] ^= 1 << (i % 8)
		case 2: // S + L: same point equation, non-canonical S, must fail
			be := slices.Clone(sig[32:])
			slices.Reverse(be)
			s := new(big.Int).SetBytes(be)
			copy(sig[32:], leBytes(s.Add(s, l)))
		case 3:
			m[0] ^= 0x40
		}
		want := ed25519consensus.Verify(pub, m, sig)
		if got := verifyEd25519(pub, m, sig); got != want {
			t.Fatalf("case %d: verifyEd25519 %v, ed25519consensus %v", i, got, want)
		}
		if got := verifyExpanded(x, m, sig); got != want {
			t.Fatalf("case %d: verifyExpanded %v, ed25519consensus %v", i, got, want)
		}
		if i%4 == 0 && !want {
			t.Fatalf("case %d: a genuine signature was refused", i)
		}
	}
}

// BenchmarkEd25519Verify compares the verification paths with
// ed25519consensus (the previous implementation, same rule) in one run:
//
//	go test ./attest/ -run '^$' -bench Ed25519Verify -benchtime 2000x -count 3
func BenchmarkEd25519Verify(b *testing.B) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	msg := make([]byte, 80)
	sig := ed25519.Sign(priv, msg)
	x, _ := expandSignKey(pub)
	b.Run("ed25519consensus", func(b *testing.B) {
		for range b.N {
			if !ed25519consensus.Verify(pub, msg, sig) {
				b.Fatal("refused")
			}
		}
	})
	b.Run("single", func(b *testing.B) {
		for range b.N {
			if !verifyEd25519(pub, msg, sig) {
				b.Fatal("refused")
			}
		}
	})
	b.Run("expanded", func(b *testing.B) {
		for range b.N {
			if !verifyExpanded(x, msg, sig) {
				b.Fatal("refused")
			}
		}
	})
	// Per signature, in batches of six: one agent's round of neighbour
	// values on a degree-6 topology.
	b.Run("batch6", func(b *testing.B) {
		for i := 0; i < b.N; i += 6 {
			bv := voied25519.NewBatchVerifierWithCapacity(6)
			for range 6 {
				bv.AddExpandedWithOptions(x, msg, sig, zip215)
			}
			if !bv.VerifyBatchOnly(nil) {
				b.Fatal("refused")
			}
		}
	})
}

// TestSignMatchesStdlib: Identity.sign (curve25519-voi) gives
// crypto/ed25519's bytes, as deterministic RFC 8032 signing must.
func TestSignMatchesStdlib(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(nil)
	id := &Identity{signPriv: priv}
	for i := range 64 {
		m := make([]byte, i*7)
		for j := range m {
			m[j] = byte(i * j)
		}
		if got, want := id.sign(m), ed25519.Sign(priv, m); !slices.Equal(got, want) {
			t.Fatalf("message %d: sign %x, crypto/ed25519 %x", i, got, want)
		}
	}
}

// BenchmarkEd25519Sign: Identity.sign against crypto/ed25519, same run.
func BenchmarkEd25519Sign(b *testing.B) {
	_, priv, _ := ed25519.GenerateKey(nil)
	id := &Identity{signPriv: priv}
	msg := make([]byte, 80)
	b.Run("crypto-ed25519", func(b *testing.B) {
		for range b.N {
			ed25519.Sign(priv, msg)
		}
	})
	b.Run("identity", func(b *testing.B) {
		for range b.N {
			id.sign(msg)
		}
	})
}
