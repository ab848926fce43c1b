package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/wmsr/wmsr/agent/node"
	"github.com/wmsr/wmsr/attest"
)

// softBanner is printed by keygen: the soft backend protects nothing.
const softBanner = `
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
!! SOFT BACKEND: NO HARDWARE PROTECTION.                                !!
!! Keys are ordinary files and process memory. Anyone who can read them !!
!! can impersonate this agent (or, for the CA key, admit any member).   !!
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
`

func newKeygenCmd() *cobra.Command {
	var caOut, caFile, outDir, binary, policyOut string
	var id, epoch, epochs uint64
	var validFor time.Duration
	var force bool
	cmd := &cobra.Command{
		Use:   "keygen",
		Short: "Soft backend: generate a fleet CA key or an agent identity with a CA statement",
		Long: `keygen generates soft-backend key material. The soft backend gives NO
hardware protection: keys are plain files (mode 0600) and process memory.

  wmsr-agent keygen --ca-out fleet-ca.pem [--policy-out policy.json]
      writes the fleet CA private key (PKCS #8 PEM) and fleet-ca.pem.pub
      (hex Ed25519 public key, for the admission policy's soft.ca_public_keys);
      --policy-out also writes an admission policy that admits soft members
      certified by this CA and running --binary (default this executable).

  wmsr-agent keygen --id 3 --epoch 1 --epochs 100 --ca fleet-ca.pem --out DIR
      writes, for each epoch e = 1 … 100, DIR/agent-3-epoch-e.seed (a fresh
      key seed, hex) and DIR/agent-3-epoch-e.statement (the CA-signed
      statement binding id, epoch, public keys and the hash of --binary,
      default this executable).

An identity must never be used for two runs under the same epoch (envelope
counters would repeat). "wmsr-agent run --identity-dir DIR" therefore takes
the next unused epoch at every start, records it, and deletes its seed;
generate more epochs before they run out. Existing files are not
overwritten unless --force.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprint(cmd.ErrOrStderr(), softBanner)
			switch {
			case caOut != "" && (caFile != "" || outDir != "" || id != 0):
				return usagef("--ca-out is exclusive with --id/--ca/--out")
			case caOut != "":
				return keygenCA(cmd.OutOrStdout(), caOut, policyOut, binary, force)
			case policyOut != "":
				return usagef("--policy-out goes with --ca-out")
			case caFile == "" || outDir == "":
				return usagef("need --ca-out FILE, or --id, --epoch, --ca and --out")
			case id == 0:
				return usagef("--id: member ids start at 1")
			case epoch == 0:
				return usagef("--epoch: epochs start at 1")
			case epochs == 0 || epochs > 100000:
				return usagef("--epochs %d: want 1..100000", epochs)
			case validFor <= 0:
				return usagef("--valid-for %v is not positive", validFor)
			}
			return keygenAgent(cmd.OutOrStdout(), attest.MemberID(id), attest.Epoch(epoch), epochs, caFile, outDir, binary, validFor, force)
		},
	}
	f := cmd.Flags()
	f.StringVar(&caOut, "ca-out", "", "write a new fleet CA private key to this file")
	f.StringVar(&policyOut, "policy-out", "", "with --ca-out: also write an admission policy for this CA and --binary")
	f.StringVar(&caFile, "ca", "", "fleet CA private key file (from --ca-out)")
	f.StringVar(&outDir, "out", "", "directory for the agent's seed and statement")
	f.Uint64Var(&id, "id", 0, "agent member id (≥ 1)")
	f.Uint64Var(&epoch, "epoch", 1, "first identity epoch (≥ 1; higher than any used before)")
	f.Uint64Var(&epochs, "epochs", 1, "number of consecutive epochs to generate (one per future start)")
	f.StringVar(&binary, "binary", "", "agent binary whose hash the statement certifies (default: this executable)")
	f.DurationVar(&validFor, "valid-for", 30*24*time.Hour, "statement validity")
	f.BoolVar(&force, "force", false, "overwrite existing files")
	return cmd
}

func keygenCA(out io.Writer, path, policyOut, binary string, force bool) error {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	ca, err := attest.NewFleetCA(priv)
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return err
	}
	if err := writeSecret(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), force); err != nil {
		return err
	}
	pub := hex.EncodeToString(ca.PublicKey())
	if err := writeSecret(path+".pub", []byte(pub+"\n"), force); err != nil {
		return err
	}
	fmt.Fprintf(out, "fleet CA key: %s\nfleet CA public key: %s (%s.pub)\n", path, pub, path)
	if policyOut == "" {
		return nil
	}
	hash, err := binaryHash(binary)
	if err != nil {
		return err
	}
	policy := fmt.Sprintf("{\n  \"version\": 1,\n  \"soft\": {\n    \"ca_public_keys\": [\"%s\"],\n    \"binary_hashes\": [\"%x\"]\n  }\n}\n", pub, hash)
	if _, err := attest.ParsePolicy([]byte(policy)); err != nil {
		return err // cannot happen: both fields are well formed
	}
	if err := writeSecret(policyOut, []byte(policy), force); err != nil {
		return err
	}
	fmt.Fprintf(out, "admission policy: %s (binary sha256 %x)\n", policyOut, hash)
	return nil
}

// binaryHash hashes binary (default: this executable), the measurement a
// soft statement certifies.
func binaryHash(binary string) ([32]byte, error) {
	if binary == "" {
		var err error
		if binary, err = os.Executable(); err != nil {
			return [32]byte{}, err
		}
	}
	bf, err := os.Open(binary)
	if err != nil {
		return [32]byte{}, usageError{fmt.Errorf("--binary: %w", err)}
	}
	defer bf.Close()
	return attest.HashBinary(bf)
}

func loadCA(path string) (*attest.FleetCA, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, usageError{fmt.Errorf("--ca: %w", err)}
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, usagef("--ca: %s holds no PEM PRIVATE KEY", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, usagef("--ca: %s: %v", path, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, usagef("--ca: %s is not an Ed25519 key", path)
	}
	return attest.NewFleetCA(priv)
}

func keygenAgent(out io.Writer, id attest.MemberID, first attest.Epoch, epochs uint64, caFile, dir, binary string, validFor time.Duration, force bool) error {
	ca, err := loadCA(caFile)
	if err != nil {
		return err
	}
	hash, err := binaryHash(binary)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	notAfter := time.Now().Add(validFor)
	for e := first; e < first+attest.Epoch(epochs); e++ {
		if err := keygenEpoch(ca, id, e, hash, dir, notAfter, force); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "agent %d epochs %d..%d: %s and %s (binary sha256 %x, valid until %s)\n",
		id, first, first+attest.Epoch(epochs)-1, node.SeedFile(dir, id, first), node.StatementFile(dir, id, first),
		hash, notAfter.UTC().Format(time.RFC3339))
	return nil
}

// keygenEpoch writes one epoch's fresh seed and its statement.
func keygenEpoch(ca *attest.FleetCA, id attest.MemberID, epoch attest.Epoch, hash [32]byte, dir string, notAfter time.Time, force bool) error {
	// The seed is what NewSoftBackend reads its keys from (Ed25519 seed
	// then X25519 key); storing it is what lets the agent hold the same
	// keys when it starts under this epoch.
	seed := make([]byte, ed25519.SeedSize+32)
	defer clear(seed)
	if _, err := io.ReadFull(rand.Reader, seed); err != nil {
		return err
	}
	b, err := attest.NewSoftBackend(id, epoch, hash, bytes.NewReader(seed))
	if err != nil {
		return err
	}
	st, err := ca.Issue(b.CertRequest(), notAfter)
	if err != nil {
		return err
	}
	if err := b.Install(st); err != nil {
		return err
	}
	enc, err := st.MarshalBinary()
	if err != nil {
		return err
	}
	if err := writeSecret(node.SeedFile(dir, id, epoch), []byte(hex.EncodeToString(seed)+"\n"), force); err != nil {
		return err
	}
	return writeSecret(node.StatementFile(dir, id, epoch), enc, force)
}

// writeSecret writes data to path with mode 0600, refusing to overwrite
// unless force.
func writeSecret(path string, data []byte, force bool) error {
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, 0o600)
	if errors.Is(err, os.ErrExist) {
		return usagef("%s exists (use --force to overwrite)", path)
	}
	if err != nil {
		return err
	}
	// An existing file opened with --force keeps its mode: tighten it.
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
