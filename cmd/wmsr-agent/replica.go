package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wmsr/wmsr/agent/node"
	"github.com/wmsr/wmsr/recipe/replicacmd"
)

const replicaLong = `replica runs one replica of the fleet configuration log (package recipe:
etcd raft made Byzantine-tolerant by Recipe's attested envelopes). 2f+1
replicas, on ground stations or chosen drones, tolerate f faulty ones. The
replica listens on a peer port (for the other replicas) and, if
client-listen is set, on a client port.

Configuration keys (each has a default and is validated at start-up; an
invalid value exits with status 2 and names the key and where it came from):

%s
Sources, highest precedence first:
  1. command-line flags (--log-format sets key log.format)
  2. environment: WMSR_REPLICA_ + key upper-cased with "." and "-" as "_"
     (WMSR_REPLICA_ID, WMSR_REPLICA_PEERS="1=a:7001,2=b:7001,3=c:7001")
  3. the configuration file given by --config (YAML or TOML, by extension)
  4. the defaults above

Use --check-config to print the resolved configuration and exit.

IDENTITIES AND GENESIS. Like "run", a replica starts from identity.dir,
where keygen put one seed and fleet-CA statement per epoch; every start
takes the next unused epoch (recorded in identity.state-dir, default
data-dir, and its seed deleted) and asks the running replicas to admit it
against the policy. A disk restored from a backup asks for an epoch the
cluster already admitted and is refused. The first start of a new log
needs every replica's epoch-1 statement (public: a claim and the CA's
signature) in the genesis directory, the same files for all:

  wmsr-agent keygen --ca-out ca.pem --policy-out policy.json
  wmsr-agent keygen --id 1 --epochs 100 --ca ca.pem --out id1   # and 2, 3
  mkdir genesis && cp id*/agent-*-epoch-1.statement genesis/
  wmsr-agent replica --id 1 --peers 1=a:7001,2=b:7001,3=c:7001 \
      --client-listen :7100 --data-dir /var/lib/wmsr-replica \
      --identity-dir id1 --policy policy.json --genesis genesis \
      --client-keys operators.txt

CLIENT PORT. Writes must be signed, bound to the connection's challenge
and counted against replay: by an operator key listed in client-keys (hex
Ed25519 public keys, one per line; "wmsr-agent keygen --ca-out op.pem"
makes a key pair whose op.pem.pub is such a line), which may write any key,
or by a member the policy admits (recipe.MemberKey), which may propose
quarantine/ and kv/ records. Reads and status are open. A refused request
is logged, counted (in status) and ends its connection.

--insecure-test-fleet instead derives every replica's keys and the fleet CA
from a public seed: anyone who knows it can impersonate any replica. Tests
only. --vanilla runs plain etcd raft between replicas, with no
authentication at all: the benchmark baseline, never a deployment.`

// newReplicaCmd is the replica role: flags and configuration go to
// replicacmd.Load, the run to replicacmd.Run with agent/node's keygen
// identity loader (recipe may not import agent).
func newReplicaCmd() *cobra.Command {
	var configFile string
	var check bool
	cmd := &cobra.Command{
		Use:   "replica",
		Short: "Run a replica of the fleet configuration log (raft + Recipe)",
	}
	var keys strings.Builder
	for _, k := range replicacmd.Keys() {
		def := k.Default
		if def == "" {
			def = `""`
		}
		fmt.Fprintf(&keys, "  %-20s %s (default %s)\n", k.Name, k.Help, def)
	}
	cmd.Long = fmt.Sprintf(replicaLong, keys.String())
	f := cmd.Flags()
	f.StringVar(&configFile, "config", "", "configuration file (YAML or TOML)")
	f.BoolVar(&check, "check-config", false, "print the resolved configuration and exit")
	replicacmd.AddFlags(f)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		v := replicacmd.NewViper(f)
		s, err := replicacmd.Load(v, f, configFile)
		if err != nil {
			return usageError{err}
		}
		if check {
			replicacmd.PrintSettings(cmd.OutOrStdout(), s, v, f)
			return nil
		}
		err = replicacmd.Run(cmd.Context(), s, cmd.OutOrStdout(), cmd.ErrOrStderr(), &replicacmd.Identities{
			Load: node.LoadIdentity, SeedFile: node.SeedFile, StatementFile: node.StatementFile,
		})
		if errors.Is(err, replicacmd.ErrSettings) {
			return usageError{err}
		}
		return err
	}
	return cmd
}
