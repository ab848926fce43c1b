// Package replicacmd is the replica role of wmsr-agent ("wmsr-agent
// replica", cmd/wmsr-agent/replica.go): its configuration keys (flags,
// WMSR_REPLICA_* environment, a YAML or TOML file), their validation, the
// loading of identities, policy and genesis, and the run of one
// recipe.RunReplica. The command is a thin shell around Load and Run;
// recipe's own process tests call Main.
//
// # Identities
//
// A production replica starts from identity.dir, where "wmsr-agent keygen
// --id N --epochs K" put one key seed and fleet-CA statement per epoch.
// Each start takes the next unused epoch (recorded before anything is
// sent, and its seed deleted, by the loader wmsr-agent passes in
// Identities: agent/node.LoadIdentity, which recipe may not import), so a
// restarted replica never reuses keys or counters; it asks the running
// replicas to admit its new epoch against the policy, and a replica
// restored from an old disk asks for an epoch the cluster already
// admitted and is refused.
//
// # Genesis
//
// The first records of the log (raft's bootstrap configuration) must be
// the same in every replica. They are the replicas' epoch-1 attestations,
// and a soft attestation is exactly keygen's statement file (the claim it
// certifies plus the CA's signature), which holds no secret. So the
// operator copies agent-N-epoch-1.statement of every replica in peers into
// one directory, gives it to all replicas as genesis (the default is
// identity.dir, enough when all identities were generated into one
// directory), and each replica builds the genesis records from those
// files in id order. They are verified against the policy at the start
// (a missing, untrusted or expired statement is a usage error, reported
// before the first epoch's seed is burnt) and written into the bootstrap
// entries with one verification time every replica derives alike: the
// earliest expiry among the genesis statements. A replica whose own
// epoch-1 keys do not match its genesis statement refuses to start.
// Later starts (epoch ≥ 2) join the running cluster and ignore genesis.
//
// # Insecure test fleet
//
// insecure-test-fleet derives every replica's epoch-1 keys and the fleet
// CA from test-fleet-seed (public), so that test processes agree on
// genesis without files. Anyone who knows the seed can impersonate any
// replica: tests and benchmarks on one machine only. Restarts still get
// fresh random keys under the next epoch of data-dir's epoch record
// (recipe.NextEpoch).
package replicacmd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"time"

	"github.com/spf13/pflag"

	"github.com/wmsr/wmsr/attest"
	"github.com/wmsr/wmsr/attest/attesttest"
	"github.com/wmsr/wmsr/recipe"
)

// Identities is how a replica finds keygen's per-epoch identity files.
// wmsr-agent passes agent/node's functions, the same ones "run" uses;
// recipe may not depend on agent. Without it only the insecure test fleet
// is available.
type Identities struct {
	// Load starts member id under its next unused epoch (burning that
	// epoch's seed); binaryHash is this executable's.
	Load func(dir, stateDir string, id attest.MemberID, binaryHash [32]byte) (*attest.SoftBackend, error)
	// SeedFile and StatementFile name an epoch's files in dir.
	SeedFile, StatementFile func(dir string, id attest.MemberID, epoch attest.Epoch) string
}

// Run runs the replica s describes until ctx is done. It logs to stderr
// and prints one line to stdout once it listens:
//
//	replica 2 epoch 1: peers 127.0.0.1:7001, clients 127.0.0.1:7101
//
// Configuration problems found only now (an identity directory without a
// usable epoch, missing or untrusted genesis statements) wrap ErrSettings.
func Run(ctx context.Context, s *Settings, stdout, stderr io.Writer, ids *Identities) error {
	log := newLogger(stderr, s.LogFormat, s.LogLevel).With("replica", uint64(s.ID))
	if err := os.MkdirAll(s.DataDir, 0o700); err != nil {
		return fmt.Errorf("%w: data-dir: %v", ErrSettings, err)
	}
	var (
		backend     attest.Backend
		epoch       attest.Epoch
		admitter    *attest.Admitter
		genesis     []attest.Member
		genesisTime time.Time
		err         error
	)
	if s.TestFleet {
		log.Warn("INSECURE TEST FLEET: every replica's keys and the fleet CA derive from a public seed; anyone with the seed can impersonate any replica. Tests only.",
			"seed", s.TestSeed)
		var fleet *attesttest.Fleet
		if fleet, genesis, genesisTime, err = TestFleet(s.TestSeed, s.PeerIDs()); err != nil {
			return err
		}
		admitter = fleet.Admitter
		if epoch, err = recipe.NextEpoch(s.DataDir); err != nil {
			return err
		}
		if backend, err = Backend(fleet, s.TestSeed, s.ID, epoch); err != nil {
			return err
		}
	} else {
		if backend, genesis, genesisTime, admitter, err = loadReal(s, ids); err != nil {
			return err
		}
		epoch = backend.Identity().Epoch()
		log.Info("identity loaded", "epoch", uint64(epoch), "dir", s.IdentityDir)
	}
	log.Warn("attest soft backend", "warning", backend.Protection().Warning)
	if s.Vanilla {
		log.Warn("VANILLA: plain etcd raft between replicas, with no authentication at all (benchmark baseline only)")
	}
	switch {
	case s.ClientListen == "":
		log.Info("no client port (client-listen is empty): serving peers only")
	case len(s.OperatorKeys) == 0:
		log.Info("no operator keys (client-keys is empty): only admitted members can write, and only quarantine/ and kv/ records")
	}
	return recipe.RunReplica(ctx, recipe.ReplicaConfig{
		ID: s.ID, Epoch: epoch, Listen: s.Listen, Addrs: s.Peers, ClientListen: s.ClientListen,
		OperatorKeys: s.OperatorKeys, Backend: backend, Admitter: admitter,
		Genesis: genesis, GenesisTime: genesisTime, Vanilla: s.Vanilla, NoLanes: s.NoLanes, Tick: s.Tick, Logger: log,
		Ready: func(peer, client string) {
			if client == "" {
				client = "none"
			}
			fmt.Fprintf(stdout, "replica %d epoch %d: peers %s, clients %s\n", s.ID, epoch, peer, client)
			log.Info("replica listening", "epoch", uint64(epoch), "peers", peer, "clients", client)
		},
	})
}

// loadReal loads the policy, the genesis records when this start may be
// the first, and the identity. The genesis is checked before the identity
// is loaded: loading burns the epoch's seed, and a first start that
// failed after that could only join, never bootstrap.
func loadReal(s *Settings, ids *Identities) (attest.Backend, []attest.Member, time.Time, *attest.Admitter, error) {
	if ids == nil || ids.Load == nil || ids.StatementFile == nil || ids.SeedFile == nil {
		return nil, nil, time.Time{}, nil, fmt.Errorf("%w: identity.dir needs the keygen identity loader (run the replica as wmsr-agent replica)", ErrSettings)
	}
	admitter, err := attest.NewAdmitter(s.AdmissionPolicy, nil)
	if err != nil {
		return nil, nil, time.Time{}, nil, fmt.Errorf("%w: policy %s: %w", ErrSettings, s.Policy, err)
	}
	_, serr := os.Stat(ids.SeedFile(s.IdentityDir, s.ID, 1))
	first := serr == nil
	genesis, gtime, gerr := LoadGenesis(s.Genesis, s.PeerIDs(), ids.StatementFile, admitter, time.Now())
	if first && gerr != nil {
		return nil, nil, time.Time{}, nil, fmt.Errorf("%w: genesis (first start, epoch 1): %w", ErrSettings, gerr)
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, nil, time.Time{}, nil, err
	}
	f, err := os.Open(exe)
	if err != nil {
		return nil, nil, time.Time{}, nil, err
	}
	hash, err := attest.HashBinary(f)
	f.Close()
	if err != nil {
		return nil, nil, time.Time{}, nil, err
	}
	b, err := ids.Load(s.IdentityDir, s.StateDir, s.ID, hash)
	if err != nil {
		return nil, nil, time.Time{}, nil, fmt.Errorf("%w: identity.dir: %w", ErrSettings, err)
	}
	if b.Identity().Epoch() != 1 {
		return b, nil, time.Time{}, admitter, nil
	}
	if gerr != nil {
		return nil, nil, time.Time{}, nil, fmt.Errorf("%w: genesis (first start, epoch 1): %w", ErrSettings, gerr)
	}
	own := b.Identity().Claim()
	i := slices.IndexFunc(genesis, func(m attest.Member) bool { return m.ID == s.ID })
	if i < 0 || genesis[i].Claim.Digest() != own.Digest() {
		return nil, nil, time.Time{}, nil, fmt.Errorf("%w: genesis: %s does not certify this replica's epoch-1 keys from %s (stale copy?)",
			ErrSettings, ids.StatementFile(s.Genesis, s.ID, 1), s.IdentityDir)
	}
	return b, genesis, gtime, admitter, nil
}

// LoadGenesis builds the genesis records of ids from their epoch-1
// statements in dir (statementFile names them), admitted against the
// policy at now, in id order, and returns them with the genesis time: the
// earliest expiry among them (see the package documentation). Errors name
// the file.
func LoadGenesis(dir string, ids []attest.MemberID, statementFile func(string, attest.MemberID, attest.Epoch) string,
	admitter *attest.Admitter, now time.Time) ([]attest.Member, time.Time, error) {
	ids = slices.Sorted(slices.Values(ids))
	var out []attest.Member
	var atts []attest.Attestation
	for _, id := range ids {
		path := statementFile(dir, id, 1)
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, time.Time{}, fmt.Errorf("%s: missing: copy keygen's epoch-1 statement of member %d here", path, id)
		}
		if err != nil {
			return nil, time.Time{}, err
		}
		st, err := attest.ParseStatement(b)
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("%s: %w", path, err)
		}
		if st.Claim.ID != id || st.Claim.Epoch != 1 {
			return nil, time.Time{}, fmt.Errorf("%s: certifies member %d epoch %d, want member %d epoch 1", path, st.Claim.ID, st.Claim.Epoch, id)
		}
		att := attest.Attestation{Backend: attest.BackendSoft, Claim: st.Claim, Evidence: bytes.Clone(b)}
		m, err := admitter.Admit(att, nil, now)
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("%s: not admitted by the policy: %w", path, err)
		}
		out = append(out, m)
		atts = append(atts, att)
	}
	t, err := GenesisTime(atts)
	return out, t, err
}

// GenesisTime is the time at which genesis records are verified and which
// is written into the bootstrap entries: the earliest expiry of their
// fleet-CA statements. Every replica derives it from the same records, so
// the entries are identical everywhere, and every record is valid at it.
func GenesisTime(atts []attest.Attestation) (time.Time, error) {
	var t time.Time
	for _, a := range atts {
		if a.Backend != attest.BackendSoft {
			continue
		}
		st, err := attest.ParseStatement(a.Evidence)
		if err != nil {
			return time.Time{}, fmt.Errorf("genesis member %d: %w", a.Claim.ID, err)
		}
		if nt := time.Unix(st.NotAfter, 0); t.IsZero() || nt.Before(t) {
			t = nt
		}
	}
	if t.IsZero() {
		return t, errors.New("genesis: no fleet-CA statement to take the genesis time from")
	}
	return t, nil
}

// testGenesisExpiry is when the test fleet's epoch-1 statements expire: a
// fixed time, so that every process derives the same genesis time.
var testGenesisExpiry = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)

// TestFleet returns the soft test fleet of seed, the genesis records
// (epoch 1) of ids, identical in every process, and the genesis time.
func TestFleet(seed uint64, ids []attest.MemberID) (*attesttest.Fleet, []attest.Member, time.Time, error) {
	fleet := attesttest.NewFleet(seed)
	var genesis []attest.Member
	var atts []attest.Attestation
	for _, id := range slices.Sorted(slices.Values(ids)) {
		b, err := Backend(fleet, seed, id, 1)
		if err != nil {
			return nil, nil, time.Time{}, err
		}
		att, err := b.Attest()
		if err != nil {
			return nil, nil, time.Time{}, err
		}
		m, err := fleet.Admitter.Admit(att, nil, time.Now())
		if err != nil {
			return nil, nil, time.Time{}, err
		}
		genesis = append(genesis, m)
		atts = append(atts, att)
	}
	t, err := GenesisTime(atts)
	return fleet, genesis, t, err
}

// Backend returns member id's soft test-fleet backend for epoch:
// deterministic keys valid until testGenesisExpiry for epoch 1 (so all
// processes agree on genesis), fresh random keys valid for three days for
// later epochs (restarts).
func Backend(fleet *attesttest.Fleet, seed uint64, id attest.MemberID, epoch attest.Epoch) (*attest.SoftBackend, error) {
	var rnd io.Reader
	notAfter := time.Now().Add(72 * time.Hour)
	if epoch == 1 {
		rnd, notAfter = attesttest.Rand(seed<<16^uint64(id)), testGenesisExpiry
	}
	b, err := attest.NewSoftBackend(id, epoch, fleet.BinaryHash, rnd)
	if err != nil {
		return nil, err
	}
	st, err := fleet.CA.Issue(b.CertRequest(), notAfter)
	if err != nil {
		return nil, err
	}
	return b, b.Install(st)
}

// Main parses args (the flags of wmsr-agent replica, plus --config) and
// runs the replica until ctx is done, without identity loader: recipe's
// process tests run it with the insecure test fleet.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := pflag.NewFlagSet("replica", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	config := fs.String("config", "", "configuration file (YAML or TOML)")
	AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %w", ErrSettings, err)
	}
	s, err := Load(NewViper(fs), fs, *config)
	if err != nil {
		return err
	}
	return Run(ctx, s, stdout, stderr, nil)
}
