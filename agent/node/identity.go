package node

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/wmsr/wmsr/attest"
)

// ErrIdentity is wrapped by LoadIdentity's errors.
var ErrIdentity = errors.New("identity")

// SeedFile and StatementFile are where keygen writes the soft-backend key
// seed and the fleet-CA statement of one (member, epoch): one fresh key
// pair per epoch, because a restarted member must never reuse the keys or
// counters of an earlier epoch (attest's "epochs instead of persistent
// counters").
func SeedFile(dir string, id attest.MemberID, epoch attest.Epoch) string {
	return filepath.Join(dir, fmt.Sprintf("agent-%d-epoch-%d.seed", id, epoch))
}

// StatementFile: see SeedFile.
func StatementFile(dir string, id attest.MemberID, epoch attest.Epoch) string {
	return filepath.Join(dir, fmt.Sprintf("agent-%d-epoch-%d.statement", id, epoch))
}

// epochFile records the last epoch a member started with.
func epochFile(stateDir string, id attest.MemberID) string {
	return filepath.Join(stateDir, fmt.Sprintf("agent-%d.last-epoch", id))
}

// LoadIdentity starts member id under a new epoch: the lowest epoch above
// the last one recorded in stateDir for which dir holds both a seed and a
// statement. The epoch is recorded durably (written, synced and renamed
// into place, directory synced) before the keys are returned, so a crash
// at any later point, kill -9 included, can never lead a second start to
// the same epoch. The seed file of the chosen epoch is then deleted: its
// keys are burnt whether or not this process goes on to use them.
// binaryHash must be the hash the statement certifies (this executable's,
// attest.HashBinary).
func LoadIdentity(dir, stateDir string, id attest.MemberID, binaryHash [32]byte) (*attest.SoftBackend, error) {
	last, err := lastEpoch(stateDir, id)
	if err != nil {
		return nil, err
	}
	epochs, err := availableEpochs(dir, id)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(epochs, func(e attest.Epoch) bool { return e > last })
	if i < 0 {
		return nil, fmt.Errorf("%w: %s holds no unused identity for member %d above epoch %d "+
			"(generate more with wmsr-agent keygen --id %d --epoch %d --epochs N)", ErrIdentity, dir, id, last, id, last+1)
	}
	epoch := epochs[i]
	seedHex, err := os.ReadFile(SeedFile(dir, id, epoch))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrIdentity, err)
	}
	seed, err := hex.DecodeString(strings.TrimSpace(string(seedHex)))
	clear(seedHex)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: not hex: %v", ErrIdentity, SeedFile(dir, id, epoch), err)
	}
	defer clear(seed)
	stBytes, err := os.ReadFile(StatementFile(dir, id, epoch))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrIdentity, err)
	}
	st, err := attest.ParseStatement(stBytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrIdentity, StatementFile(dir, id, epoch), err)
	}
	b, err := attest.NewSoftBackend(id, epoch, binaryHash, bytes.NewReader(seed))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrIdentity, SeedFile(dir, id, epoch), err)
	}
	if err := b.Install(st); err != nil {
		return nil, fmt.Errorf("%w: %s does not certify %s (or this binary): %w", ErrIdentity,
			StatementFile(dir, id, epoch), SeedFile(dir, id, epoch), err)
	}
	if err := recordEpoch(stateDir, id, epoch); err != nil {
		return nil, err
	}
	if err := os.Remove(SeedFile(dir, id, epoch)); err != nil {
		return nil, fmt.Errorf("%w: burning the used seed: %v", ErrIdentity, err)
	}
	return b, nil
}

// StartSGX starts member id inside an SGX enclave (EGo) under a new epoch:
// the last one recorded in stateDir plus one, recorded durably before the
// keys are returned. Keys are generated in the enclave and never leave it
// or reach the disk, so every start is a new epoch by construction; the
// record only guarantees that epochs increase. Outside an enclave it fails
// (attest.ErrZeroSealKey, or no cgo) and records nothing.
func StartSGX(stateDir string, id attest.MemberID) (*attest.SGXBackend, error) {
	last, err := lastEpoch(stateDir, id)
	if err != nil {
		return nil, err
	}
	b, err := attest.NewSGXBackend(id, last+1, attest.EGoEnclave{}, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrIdentity, err)
	}
	if err := recordEpoch(stateDir, id, last+1); err != nil {
		return nil, err
	}
	return b, nil
}

func lastEpoch(stateDir string, id attest.MemberID) (attest.Epoch, error) {
	b, err := os.ReadFile(epochFile(stateDir, id))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrIdentity, err)
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %s: not an epoch: %q", ErrIdentity, epochFile(stateDir, id), b)
	}
	return attest.Epoch(n), nil
}

func availableEpochs(dir string, id attest.MemberID) ([]attest.Epoch, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrIdentity, err)
	}
	re := regexp.MustCompile(`^agent-` + strconv.FormatUint(uint64(id), 10) + `-epoch-([0-9]+)\.seed$`)
	var out []attest.Epoch
	for _, e := range ents {
		m := re.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		n, err := strconv.ParseUint(m[1], 10, 64)
		if err != nil || n == 0 {
			continue
		}
		if _, err := os.Stat(StatementFile(dir, id, attest.Epoch(n))); err == nil {
			out = append(out, attest.Epoch(n))
		}
	}
	slices.Sort(out)
	return out, nil
}

// recordEpoch replaces the epoch file atomically and durably.
func recordEpoch(stateDir string, id attest.MemberID, epoch attest.Epoch) error {
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return fmt.Errorf("%w: %v", ErrIdentity, err)
	}
	path := epochFile(stateDir, id)
	tmp, err := os.CreateTemp(stateDir, ".epoch-*")
	if err != nil {
		return fmt.Errorf("%w: %v", ErrIdentity, err)
	}
	_, werr := fmt.Fprintf(tmp, "%d\n", epoch)
	serr := tmp.Sync()
	cerr := tmp.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("%w: recording epoch %d: %v", ErrIdentity, epoch, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("%w: recording epoch %d: %v", ErrIdentity, epoch, err)
	}
	d, err := os.Open(stateDir)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrIdentity, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("%w: syncing %s: %v", ErrIdentity, stateDir, err)
	}
	return nil
}
