package node_test

import (
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wmsr/wmsr/agent/node"
	"github.com/wmsr/wmsr/attest"
	"github.com/wmsr/wmsr/attest/attesttest"
)

// writeEpochs writes what keygen --epochs writes, for epochs first..last.
func writeEpochs(t *testing.T, dir string, ca *attest.FleetCA, id attest.MemberID, hash [32]byte, first, last attest.Epoch) {
	t.Helper()
	rnd := attesttest.Rand(uint64(id)*1000 + uint64(first))
	for e := first; e <= last; e++ {
		seed := make([]byte, ed25519.SeedSize+32)
		if _, err := rnd.Read(seed); err != nil {
			t.Fatal(err)
		}
		b, err := attest.NewSoftBackend(id, e, hash, strings.NewReader(string(seed)))
		if err != nil {
			t.Fatal(err)
		}
		st, err := ca.Issue(b.CertRequest(), time.Now().Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		enc, err := st.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(node.SeedFile(dir, id, e), []byte(hex.EncodeToString(seed)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(node.StatementFile(dir, id, e), enc, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// Every start takes the next epoch, records it before returning the keys,
// and burns its seed; when none is left the error says how to make more.
func TestLoadIdentityConsumesEpochs(t *testing.T) {
	f := attesttest.NewFleet(5)
	dir, state := t.TempDir(), t.TempDir()
	hash := [32]byte{1, 2, 3}
	writeEpochs(t, dir, f.CA, 7, hash, 2, 3)
	writeEpochs(t, dir, f.CA, 8, hash, 1, 1) // another member's files are not taken
	for _, want := range []attest.Epoch{2, 3} {
		b, err := node.LoadIdentity(dir, state, 7, hash)
		if err != nil {
			t.Fatal(err)
		}
		if b.Identity().ID() != 7 || b.Identity().Epoch() != want {
			t.Fatalf("got member %d epoch %d, want 7 epoch %d", b.Identity().ID(), b.Identity().Epoch(), want)
		}
		if _, err := os.Stat(node.SeedFile(dir, 7, want)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("seed of epoch %d not burnt: %v", want, err)
		}
		rec, err := os.ReadFile(filepath.Join(state, "agent-7.last-epoch"))
		if err != nil || strings.TrimSpace(string(rec)) != strings.TrimSpace(string(rune('0'+want))) {
			t.Fatalf("recorded epoch %q, %v; want %d", rec, err, want)
		}
	}
	_, err := node.LoadIdentity(dir, state, 7, hash)
	if !errors.Is(err, node.ErrIdentity) || !strings.Contains(err.Error(), "--epoch 4") {
		t.Fatalf("exhausted: %v", err)
	}
	// A statement for another binary, or a seed that is not hex, is refused
	// before the epoch is recorded.
	writeEpochs(t, dir, f.CA, 7, [32]byte{9}, 4, 4)
	if _, err := node.LoadIdentity(dir, state, 7, hash); !errors.Is(err, node.ErrIdentity) {
		t.Fatalf("statement for another binary: %v", err)
	}
	if rec, _ := os.ReadFile(filepath.Join(state, "agent-7.last-epoch")); strings.TrimSpace(string(rec)) != "3" {
		t.Fatalf("a refused identity moved the epoch record to %q", rec)
	}
	os.WriteFile(node.SeedFile(dir, 7, 4), []byte("not hex\n"), 0o600)
	if _, err := node.LoadIdentity(dir, state, 7, [32]byte{9}); !errors.Is(err, node.ErrIdentity) || !strings.Contains(err.Error(), "not hex") {
		t.Fatalf("bad seed: %v", err)
	}
	os.WriteFile(filepath.Join(state, "agent-7.last-epoch"), []byte("x\n"), 0o600)
	if _, err := node.LoadIdentity(dir, state, 7, hash); !errors.Is(err, node.ErrIdentity) {
		t.Fatalf("corrupt epoch record: %v", err)
	}
}
