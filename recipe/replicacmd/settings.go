package replicacmd

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cast"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/wmsr/wmsr/attest"
	"github.com/wmsr/wmsr/recipe"
)

// ErrSettings is wrapped by every error that means the configuration is
// wrong (a usage error: wmsr-agent exits with status 2), as opposed to a
// failure at run time.
var ErrSettings = errors.New("invalid configuration")

// EnvPrefix prefixes the environment variables of the replica role. It is
// not run's WMSR_, so that an agent and a replica on one host, which have
// different ids, cannot pick up each other's settings.
const EnvPrefix = "WMSR_REPLICA"

// Key is one configuration key: its name (dots for nesting in files), its
// default and its help.
type Key struct{ Name, Default, Help string }

// Keys returns every configuration key, in help order.
func Keys() []Key { return slices.Clone(configKeys) }

var configKeys = []Key{
	{"id", "0", "this replica's member id (≥ 1, required; must be listed in peers)"},
	{"peers", "", "every replica of the log, this one included: id=host:port of their peer ports, comma-separated (required; 2f+1 replicas tolerate f faults)"},
	{"listen", "", "peer port listen address; empty: this id's address in peers"},
	{"client-listen", "", "client port listen address host:port; empty: no client port (the replica serves only its peers)"},
	{"data-dir", "", "directory that must survive restarts: the epoch record (required)"},
	{"identity.dir", "", "directory of this replica's per-epoch seeds and statements (wmsr-agent keygen --epochs)"},
	{"identity.state-dir", "", "directory recording the last identity epoch used, which must survive restarts; empty: data-dir"},
	{"policy", "", "admission policy file (JSON) replicas and member clients are admitted against"},
	{"genesis", "", "directory holding agent-N-epoch-1.statement of every replica in peers, the same files for all, read on the first start; empty: identity.dir"},
	{"client-keys", "", "file of operator Ed25519 public keys (hex, one per line) that may write any key through the client port"},
	{"tick", "10ms", "raft tick (a leader is suspected after 10 ticks of silence)"},
	{"vanilla", "false", "UNAUTHENTICATED: plain etcd raft between replicas (benchmark baseline only)"},
	{"no-lanes", "false", "keep each channel in one lane across raft terms, as replicas before lanes did (for an upgrade with old replicas still running: a new term's messages may then wait behind an old term's backlog)"},
	{"log.format", "text", "log format: text|json"},
	{"log.level", "info", "log level: debug|info|warn|error"},
	{"insecure-test-fleet", "false", "INSECURE: derive every replica's keys and the fleet CA from a public seed (tests only)"},
	{"test-fleet-seed", "1", "seed of the insecure test fleet (shared by all replicas)"},
}

// Settings is the validated configuration of one replica process.
type Settings struct {
	ID           attest.MemberID
	Peers        map[attest.MemberID]string
	Listen       string
	ClientListen string
	DataDir      string

	// IdentityDir holds keygen's per-epoch seeds and statements; StateDir
	// records the last epoch used; Genesis holds every initial replica's
	// epoch-1 statement. Policy is the admission policy file, parsed into
	// AdmissionPolicy.
	IdentityDir, StateDir, Genesis, Policy string
	AdmissionPolicy                        *attest.Policy

	// ClientKeys is the operator key file, parsed into OperatorKeys.
	ClientKeys   string
	OperatorKeys []ed25519.PublicKey

	Tick      time.Duration
	Vanilla   bool
	NoLanes   bool
	LogFormat string
	LogLevel  string

	TestFleet bool
	TestSeed  uint64
}

// PeerIDs returns the replicas' ids, ascending.
func (s *Settings) PeerIDs() []attest.MemberID { return slices.Sorted(maps.Keys(s.Peers)) }

// FlagName is the command-line flag of a key ("log.format": --log-format).
func FlagName(key string) string { return strings.ReplaceAll(key, ".", "-") }

// EnvName is the environment variable of a key
// ("client-listen": WMSR_REPLICA_CLIENT_LISTEN).
func EnvName(key string) string {
	return EnvPrefix + "_" + strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(key))
}

// AddFlags defines one flag per key on fs.
func AddFlags(fs *pflag.FlagSet) {
	for _, k := range configKeys {
		name := FlagName(k.Name)
		switch k.Name {
		case "peers":
			fs.StringSlice(name, nil, k.Help)
		case "vanilla", "no-lanes", "insecure-test-fleet":
			fs.Bool(name, false, k.Help)
		default:
			fs.String(name, k.Default, k.Help)
		}
	}
}

// NewViper returns a viper with the defaults, the WMSR_REPLICA_
// environment and the flags of fs bound.
func NewViper(fs *pflag.FlagSet) *viper.Viper {
	v := viper.New()
	v.SetEnvPrefix(EnvPrefix)
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_", "-", "_"))
	v.AutomaticEnv()
	for _, k := range configKeys {
		v.SetDefault(k.Name, k.Default)
		if fs == nil {
			continue
		}
		if fl := fs.Lookup(FlagName(k.Name)); fl != nil {
			_ = v.BindPFlag(k.Name, fl) // cannot fail: fl is not nil
		}
	}
	return v
}

// Source names where key's value comes from, in precedence order.
func Source(v *viper.Viper, fs *pflag.FlagSet, key string) string {
	if fs != nil {
		if fl := fs.Lookup(FlagName(key)); fl != nil && fl.Changed {
			return "flag --" + fl.Name
		}
	}
	if _, ok := os.LookupEnv(EnvName(key)); ok {
		return "environment " + EnvName(key)
	}
	if v.ConfigFileUsed() != "" && v.InConfig(key) {
		return "config file " + v.ConfigFileUsed()
	}
	return "default"
}

// Load reads the configuration file (if any) into v and resolves and
// validates every key, reading the policy and client-keys files too.
// Every error wraps ErrSettings and names the key and where its value
// came from.
func Load(v *viper.Viper, fs *pflag.FlagSet, configFile string) (*Settings, error) {
	if configFile != "" {
		v.SetConfigFile(configFile)
		if err := v.ReadInConfig(); err != nil {
			return nil, fmt.Errorf("%w: config file %s: %v", ErrSettings, configFile, err)
		}
	}
	bad := func(key, format string, args ...any) error {
		return fmt.Errorf("%w: invalid %s (from %s): %s", ErrSettings, key, Source(v, fs, key), fmt.Sprintf(format, args...))
	}
	s := &Settings{}
	id, err := cast.ToUint64E(v.Get("id"))
	if err != nil {
		return nil, bad("id", "%v", err)
	}
	if id == 0 || id > recipe.MaxMemberID {
		return nil, bad("id", "must be set to a member id in 1..%d", uint64(recipe.MaxMemberID))
	}
	s.ID = attest.MemberID(id)

	peers, err := parseList(v.Get("peers"))
	if err != nil {
		return nil, bad("peers", "%v", err)
	}
	if len(peers) == 0 {
		return nil, bad("peers", "empty: list every replica as id=host:port, this one included")
	}
	s.Peers = make(map[attest.MemberID]string, len(peers))
	for _, p := range peers {
		k, addr, ok := strings.Cut(p, "=")
		n, err := strconv.ParseUint(strings.TrimSpace(k), 10, 64)
		if !ok || err != nil || n == 0 || n > recipe.MaxMemberID {
			return nil, bad("peers", "%q is not id=host:port with an id ≥ 1", p)
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, bad("peers", "%q: %v", p, err)
		}
		if _, dup := s.Peers[attest.MemberID(n)]; dup {
			return nil, bad("peers", "lists member %d twice", n)
		}
		s.Peers[attest.MemberID(n)] = addr
	}
	self, ok := s.Peers[s.ID]
	if !ok {
		return nil, bad("peers", "does not list this replica's id %d", s.ID)
	}
	if s.Listen = v.GetString("listen"); s.Listen == "" {
		s.Listen = self
	}
	if _, _, err := net.SplitHostPort(s.Listen); err != nil {
		return nil, bad("listen", "%q: %v", s.Listen, err)
	}
	if s.ClientListen = v.GetString("client-listen"); s.ClientListen != "" {
		if _, _, err := net.SplitHostPort(s.ClientListen); err != nil {
			return nil, bad("client-listen", "%q: %v", s.ClientListen, err)
		}
		if s.ClientListen == s.Listen {
			return nil, bad("client-listen", "%q is also the peer port: clients need a port of their own", s.ClientListen)
		}
	}
	if s.DataDir = v.GetString("data-dir"); s.DataDir == "" {
		return nil, bad("data-dir", "empty: the replica records its epoch there, and it must survive restarts")
	}

	if s.Tick, err = cast.ToDurationE(v.Get("tick")); err != nil {
		return nil, bad("tick", "%v", err)
	}
	if s.Tick <= 0 {
		return nil, bad("tick", "%v is not positive", s.Tick)
	}
	if s.Vanilla, err = cast.ToBoolE(v.Get("vanilla")); err != nil {
		return nil, bad("vanilla", "%v", err)
	}
	if s.NoLanes, err = cast.ToBoolE(v.Get("no-lanes")); err != nil {
		return nil, bad("no-lanes", "%v", err)
	}
	s.LogFormat = v.GetString("log.format")
	if s.LogFormat != "text" && s.LogFormat != "json" {
		return nil, bad("log.format", "%q is not text or json", s.LogFormat)
	}
	s.LogLevel = v.GetString("log.level")
	if _, err := parseLevel(s.LogLevel); err != nil {
		return nil, bad("log.level", "%v", err)
	}

	if s.ClientKeys = v.GetString("client-keys"); s.ClientKeys != "" {
		b, err := os.ReadFile(s.ClientKeys)
		if err != nil {
			return nil, bad("client-keys", "%v", err)
		}
		if s.OperatorKeys, err = recipe.ParseOperatorKeys(b); err != nil {
			return nil, bad("client-keys", "%s: %v", s.ClientKeys, err)
		}
		if len(s.OperatorKeys) == 0 {
			return nil, bad("client-keys", "%s lists no key", s.ClientKeys)
		}
	}

	if s.TestFleet, err = cast.ToBoolE(v.Get("insecure-test-fleet")); err != nil {
		return nil, bad("insecure-test-fleet", "%v", err)
	}
	if s.TestSeed, err = cast.ToUint64E(v.Get("test-fleet-seed")); err != nil {
		return nil, bad("test-fleet-seed", "%v", err)
	}
	s.IdentityDir = v.GetString("identity.dir")
	if s.StateDir = v.GetString("identity.state-dir"); s.StateDir == "" {
		s.StateDir = s.DataDir
	}
	if s.Genesis = v.GetString("genesis"); s.Genesis == "" {
		s.Genesis = s.IdentityDir
	}
	s.Policy = v.GetString("policy")
	switch {
	case s.TestFleet && (s.IdentityDir != "" || s.Policy != ""):
		key := "identity.dir"
		if s.IdentityDir == "" {
			key = "policy"
		}
		return nil, bad(key, "set together with insecure-test-fleet: choose one identity source")
	case !s.TestFleet && s.IdentityDir == "":
		return nil, bad("identity.dir", "empty: give the directory of this replica's keygen output "+
			"(or, for tests only, insecure-test-fleet)")
	case !s.TestFleet && s.Policy == "":
		return nil, bad("policy", "empty: replicas and member clients are admitted against this policy file")
	}
	if s.Policy != "" {
		b, err := os.ReadFile(s.Policy)
		if err != nil {
			return nil, bad("policy", "%v", err)
		}
		if s.AdmissionPolicy, err = attest.ParsePolicy(b); err != nil {
			return nil, bad("policy", "%s: %v", s.Policy, err)
		}
		if s.AdmissionPolicy.SGX != nil {
			return nil, bad("policy", "%s admits sgx members, which the replica role cannot verify yet (no report verifier)", s.Policy)
		}
	}
	return s, nil
}

// PrintSettings writes the resolved settings, one key=value per line with
// its source.
func PrintSettings(w io.Writer, s *Settings, v *viper.Viper, fs *pflag.FlagSet) {
	var peers []string
	for _, id := range s.PeerIDs() {
		peers = append(peers, fmt.Sprintf("%d=%s", id, s.Peers[id]))
	}
	vals := map[string]string{
		"id": strconv.FormatUint(uint64(s.ID), 10), "peers": strings.Join(peers, ","), "listen": s.Listen,
		"client-listen": s.ClientListen, "data-dir": s.DataDir, "identity.dir": s.IdentityDir,
		"identity.state-dir": s.StateDir, "policy": s.Policy, "genesis": s.Genesis, "client-keys": s.ClientKeys,
		"tick": s.Tick.String(), "vanilla": strconv.FormatBool(s.Vanilla), "no-lanes": strconv.FormatBool(s.NoLanes), "log.format": s.LogFormat,
		"log.level": s.LogLevel, "insecure-test-fleet": strconv.FormatBool(s.TestFleet),
		"test-fleet-seed": strconv.FormatUint(s.TestSeed, 10),
	}
	for _, k := range configKeys {
		fmt.Fprintf(w, "%s=%s\t# %s\n", k.Name, vals[k.Name], Source(v, fs, k.Name))
	}
}

// parseList accepts a list (file, flag) or a comma/space separated string
// (environment).
func parseList(x any) ([]string, error) {
	var out []string
	split := func(s string) []string {
		return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
	}
	switch t := x.(type) {
	case nil:
	case string:
		out = split(t)
	case []string:
		for _, p := range t {
			out = append(out, split(p)...)
		}
	case []any:
		for _, p := range t {
			out = append(out, cast.ToString(p))
		}
	default:
		return nil, fmt.Errorf("%v is not a list", x)
	}
	return out, nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	err := l.UnmarshalText([]byte(s))
	return l, err
}

func newLogger(w io.Writer, format, level string) *slog.Logger {
	l, _ := parseLevel(level)
	opts := &slog.HandlerOptions{Level: l}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
