package main

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/wmsr/wmsr/agent/node"
	"github.com/wmsr/wmsr/attest"
)

const runLong = `run starts one agent: identity -> round engine -> MQTT fabric ->
membership (memberlist gossip) -> runner, with Prometheus metrics on
/metrics and health on /livez and /readyz.

Configuration keys (each has a default and is validated at start-up; an
invalid value exits with status 2 and names the key and where it came from):

%s
Sources, highest precedence first:
  1. command-line flags (--log-format sets key log.format)
  2. environment: WMSR_ + key upper-cased with "." and "-" as "_"
     (WMSR_ID, WMSR_NEIGHBOURS="2,3,4", WMSR_LOG_LEVEL, WMSR_GOSSIP_JOIN)
  3. the configuration file given by --config (YAML or TOML, by extension;
     nested keys: "log: {format: json}" or "[log] format = 'json'")
  4. the defaults above

Use --check-config to print the resolved configuration and exit.

IDENTITIES. A production agent starts from identity.dir, where
"wmsr-agent keygen --id N --epochs K" put one key seed and fleet-CA
statement per epoch. Each start takes the next unused epoch (recorded in
identity.state-dir before anything is sent, and its seed file deleted), so
a restarted agent never reuses keys or counters; peers learn its new
record by gossip and admit it against the policy file. The soft backend
gives NO hardware protection.

--insecure-test-fleet instead derives EVERY agent's keys from a seed shared
by the fleet. Anyone who knows the seed (the default is public) can
impersonate any agent: use it only for tests and demos on a trusted
network, never to control anything real.`

func newRunCmd() *cobra.Command {
	var configFile string
	var check bool
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run an agent (configuration from flags, WMSR_* environment, config file)",
	}
	var keys strings.Builder
	for _, k := range node.Keys() {
		def := k.Default
		if def == "" {
			def = `""`
		}
		fmt.Fprintf(&keys, "  %-20s %s (default %s)\n", k.Name, k.Help, def)
	}
	cmd.Long = fmt.Sprintf(runLong, keys.String())
	f := cmd.Flags()
	f.StringVar(&configFile, "config", "", "configuration file (YAML or TOML)")
	f.BoolVar(&check, "check-config", false, "print the resolved configuration and exit")
	for _, k := range node.Keys() {
		name := node.FlagName(k.Name)
		switch k.Name {
		case "neighbours", "gossip.join", "fleetlog.replicas":
			f.StringSlice(name, nil, k.Help)
		case "insecure-test-fleet":
			f.Bool(name, false, k.Help)
		default:
			f.String(name, k.Default, k.Help)
		}
	}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		v := node.NewViper(f)
		s, err := node.Load(v, f, configFile)
		if err != nil {
			return usageError{err}
		}
		if check {
			printSettings(cmd.OutOrStdout(), s, v, f)
			return nil
		}
		err = node.RunSettings(cmd.Context(), s, cmd.ErrOrStderr())
		if errors.Is(err, node.ErrSettings) {
			return usageError{err}
		}
		return err
	}
	return cmd
}

func printSettings(w io.Writer, s *node.Settings, v *viper.Viper, fs *pflag.FlagSet) {
	vals := map[string]string{
		"id": strconv.FormatUint(uint64(s.ID), 10), "fleet": s.Fleet, "broker": s.Broker,
		"broker-listen": s.BrokerListen, "token": "<redacted>",
		"f": strconv.FormatFloat(s.F, 'g', -1, 64), "model": s.Model, "period": s.Period.String(),
		"delay": strconv.Itoa(s.Delay), "neighbours": idsString(s.Neighbours), "topology": s.TopologyFile,
		"initial": strconv.FormatFloat(s.Initial, 'g', -1, 64), "epoch": s.Epoch.Format(time.RFC3339Nano),
		"metrics": s.Metrics, "log.format": s.LogFormat, "log.level": s.LogLevel,
		"suite": s.Suite, "tee": s.TEE, "identity.dir": s.IdentityDir, "identity.state-dir": s.StateDir, "policy": s.Policy,
		"tls.ca": s.TLSCA, "tls.cert": s.TLSCert, "tls.key": s.TLSKey, "tls.server-name": s.TLSServerName,
		"gossip.bind": s.GossipBind, "gossip.advertise": s.GossipAdvertise,
		"gossip.join": strings.Join(s.GossipJoin, ","), "gossip.keyring": s.GossipKeyring,
		"gossip.profile": s.GossipProfile, "fabric": s.Fabric, "rdma.dir": s.RDMADir,
		"fleetlog.replicas": strings.Join(s.FleetLog, ","), "rdma.listen": s.RDMAListen, "rdma.peers": peersString(s), "rdma.provider": s.RDMAProvider,
		"insecure-test-fleet": strconv.FormatBool(s.TestFleet), "test-fleet-seed": strconv.FormatUint(s.TestSeed, 10),
	}
	for _, k := range node.Keys() {
		fmt.Fprintf(w, "%s=%s\t# %s\n", k.Name, vals[k.Name], node.Source(v, fs, k.Name))
	}
}

func peersString(s *node.Settings) string {
	var p []string
	for _, id := range slices.Sorted(maps.Keys(s.RDMAPeers)) {
		p = append(p, fmt.Sprintf("%d=%s", id, s.RDMAPeers[id]))
	}
	return strings.Join(p, ",")
}

func idsString(ids []attest.MemberID) string {
	p := make([]string, len(ids))
	for i, id := range ids {
		p[i] = strconv.FormatUint(uint64(id), 10)
	}
	return strings.Join(p, ",")
}
