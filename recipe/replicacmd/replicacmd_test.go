package replicacmd

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wmsr/wmsr/attest"
	"github.com/wmsr/wmsr/attest/attesttest"
)

// TestTestFleetGenesisIsDeterministic: separately started processes must
// write identical bootstrap entries, so the genesis records and time may
// depend on the seed and the ids alone (not on the clock or the order of
// peers).
func TestTestFleetGenesisIsDeterministic(t *testing.T) {
	_, g1, t1, err := TestFleet(42, []attest.MemberID{1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	_, g2, t2, err := TestFleet(42, []attest.MemberID{3, 1, 2})
	if err != nil {
		t.Fatal(err)
	}
	if !t1.Equal(t2) || !t1.Equal(testGenesisExpiry) {
		t.Fatalf("genesis times %v, %v", t1, t2)
	}
	for i := range g1 {
		if g1[i].ID != attest.MemberID(i+1) || !bytes.Equal(g1[i].Attestation, g2[i].Attestation) {
			t.Fatalf("genesis record %d differs between processes", i)
		}
	}
}

// TestLoadGenesis builds genesis records from statement files: in id
// order, at the earliest expiry, and names the file that is missing,
// foreign or untrusted.
func TestLoadGenesis(t *testing.T) {
	dir := t.TempDir()
	name := func(d string, id attest.MemberID, e attest.Epoch) string {
		return filepath.Join(d, fmt.Sprintf("s-%d-%d", id, e))
	}
	fleet := attesttest.NewFleet(3)
	now := time.Now()
	write := func(ca *attesttest.Fleet, id attest.MemberID, file attest.MemberID, notAfter time.Time) {
		b, err := attest.NewSoftBackend(id, 1, ca.BinaryHash, nil)
		if err != nil {
			t.Fatal(err)
		}
		st, err := ca.CA.Issue(b.CertRequest(), notAfter)
		if err != nil {
			t.Fatal(err)
		}
		enc, _ := st.MarshalBinary()
		if err := os.WriteFile(name(dir, file, 1), enc, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(fleet, 1, 1, now.Add(3*time.Hour))
	write(fleet, 2, 2, now.Add(time.Hour))
	ms, gt, err := LoadGenesis(dir, []attest.MemberID{2, 1}, name, fleet.Admitter, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].ID != 1 || ms[1].ID != 2 || gt.Unix() != now.Add(time.Hour).Unix() {
		t.Fatalf("records %v, time %v", ms, gt)
	}
	for _, tc := range []struct {
		setup func()
		want  string
	}{
		{func() {}, name(dir, 3, 1) + ": missing"},
		{func() { write(fleet, 4, 3, now.Add(time.Hour)) }, "certifies member 4 epoch 1, want member 3"},
		{func() { write(attesttest.NewFleet(9), 3, 3, now.Add(time.Hour)) }, "not admitted by the policy"},
		{func() { write(fleet, 3, 3, now.Add(-time.Hour)) }, "expired"},
	} {
		tc.setup()
		_, _, err := LoadGenesis(dir, []attest.MemberID{1, 2, 3}, name, fleet.Admitter, now)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("err %v, want %q", err, tc.want)
		}
	}
}

// TestMainRefusesRealIdentitiesWithoutLoader: Main (no keygen loader) runs
// only the insecure test fleet, and says so as a configuration error.
func TestMainRefusesRealIdentitiesWithoutLoader(t *testing.T) {
	dir := t.TempDir()
	policy := filepath.Join(dir, "policy.json")
	os.WriteFile(policy, []byte(`{"version":1,"soft":{"ca_public_keys":["`+hex.EncodeToString(attesttest.NewFleet(1).CA.PublicKey())+
		`"],"binary_hashes":["`+strings.Repeat("00", 32)+`"]}}`), 0o600)
	var out, errs bytes.Buffer
	err := Main(context.Background(), []string{"--id", "1", "--peers", "1=127.0.0.1:0", "--data-dir", dir,
		"--identity-dir", dir, "--policy", policy}, &out, &errs)
	if !errors.Is(err, ErrSettings) || !strings.Contains(err.Error(), "wmsr-agent replica") {
		t.Fatalf("err %v", err)
	}
	if err := Main(context.Background(), []string{"--nope"}, &out, &errs); !errors.Is(err, ErrSettings) {
		t.Fatalf("unknown flag: %v", err)
	}
}
