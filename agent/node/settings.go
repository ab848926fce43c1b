package node

import (
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cast"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/wmsr/wmsr/agent/mqtttopic"
	"github.com/wmsr/wmsr/attest"
	"github.com/wmsr/wmsr/graph"
	"github.com/wmsr/wmsr/rdma"
	"github.com/wmsr/wmsr/wmsr"
)

// ErrSettings is wrapped by every error Load returns: the configuration is
// wrong (a usage error, exit status 2 in wmsr-agent), as opposed to a
// failure at run time.
var ErrSettings = errors.New("invalid configuration")

// Settings is the validated configuration of one agent process, resolved
// from flags, WMSR_* environment, a configuration file and defaults (see
// Load and Keys).
type Settings struct {
	ID    attest.MemberID
	Fleet string
	// Fabric is "mqtt" (a broker) or "rdma" (one-sided-write mailboxes;
	// today the shm provider, for agents on one host, in RDMADir).
	Fabric  string
	RDMADir string
	// RDMAListen, when set, selects the mailbox fabric across hosts
	// (rdma.NetFabric) instead of shm: this agent's ring connection
	// manager, RDMAPeers every member's, RDMAProvider what moves the
	// rings (ibverbs, or emulated-tcp, which is not RDMA).
	RDMAListen   string
	RDMAPeers    rdma.StaticPeers
	RDMAProvider string
	Broker       string // empty: embedded broker on BrokerListen
	BrokerListen string
	Token        string
	F            float64
	Model        string
	Period       time.Duration
	Delay        int
	Neighbours   []attest.MemberID
	// Topology, when set, is the whole fleet's communication graph (node
	// i is member i+1); Neighbours are then its in-neighbours of ID, and
	// the agent re-checks the robustness of the live part of it whenever
	// membership reports a death or a return.
	Topology     *graph.Digraph
	TopologyFile string
	Initial      float64
	Epoch        time.Time
	Metrics      string
	LogFormat    string
	LogLevel     string

	// IdentityDir holds keygen's per-epoch seeds and fleet-CA statements;
	// StateDir records the last epoch used (default IdentityDir); Policy
	// is the admission policy file peers' attestations are checked
	// against.
	IdentityDir, StateDir, Policy string
	// Suite authenticates values: "ed25519" (transferable signatures, the
	// default) or "hmac" (pairwise HMAC-SHA-256-128, far cheaper, evidence
	// convinces only its receiver; needs the fleet topology for the
	// out-neighbours).
	Suite string
	// TEE is the trust anchor of this agent's keys: "soft" (keygen files,
	// no hardware protection) or "sgx" (keys generated inside an EGo
	// enclave at every start, attested by a remote report).
	TEE string

	// Client TLS for ssl:// brokers.
	TLSCA, TLSCert, TLSKey, TLSServerName string

	// Gossip (memberlist): disabled when GossipBind is empty.
	GossipBind, GossipAdvertise string
	GossipJoin                  []string
	GossipKeyring               string // file of hex keys, one per line, primary first
	GossipProfile               string // lan | local

	// FleetLog: client addresses of fleet configuration log replicas,
	// where equivocation evidence is proposed as quarantine records.
	FleetLog []string

	TestFleet bool
	TestSeed  uint64
}

// Scope returns the W-MSR scope of the model.
func (s *Settings) Scope() wmsr.Scope {
	switch s.Model {
	case "local":
		return wmsr.Local{int(s.F)}
	case "fraction":
		return wmsr.Fraction(s.F)
	}
	return wmsr.Total(int(s.F))
}

// Key is one configuration key: its name (dots for nesting in files), its
// default and its help.
type Key struct{ Name, Default, Help string }

// Keys returns every configuration key, in help order.
func Keys() []Key { return slices.Clone(configKeys) }

// configKeys is never modified: Keys hands out copies.
var configKeys = []Key{
	{"id", "0", "this agent's member id (≥ 1, required)"},
	{"fleet", "wmsr", "fleet name (second MQTT topic level)"},
	{"fabric", "mqtt", "how values travel: mqtt (a broker) or rdma (one-sided-write mailboxes in shared memory, for agents on one host; falls back to mqtt when unavailable)"},
	{"rdma.dir", "", "directory of the rdma mailboxes, shared by co-located agents (default /dev/shm/wmsr-<fleet>)"},
	{"rdma.listen", "", "host:port of this agent's ring connection manager: rdma across hosts instead of shared memory"},
	{"rdma.peers", "", "every member's ring connection manager, id=host:port,... (with rdma.listen)"},
	{"rdma.provider", "ibverbs", "what moves rings across hosts: ibverbs, or emulated-tcp (NOT RDMA: one-sided writes emulated over TCP, for tests)"},
	{"broker", "", "broker URL (tcp://host:port or ssl://host:port); empty starts an embedded broker in-process"},
	{"broker-listen", "127.0.0.1:1883", "listen address of the embedded broker (only when broker is empty)"},
	{"token", "", "fleet token, the MQTT password (required)"},
	{"f", "1", "trimming parameter: F for total/local, the fraction in [0, 0.5) for fraction"},
	{"model", "total", "threat model: total|local|fraction"},
	{"period", "100ms", "round period"},
	{"delay", "2", "delay bound D in rounds"},
	{"neighbours", "", "in-neighbour member ids (comma-separated); or give topology"},
	{"topology", "", "fleet graph file (text, JSON, DOT or CSV; node i is member i+1): neighbours are ID's in-neighbours, and robustness is re-checked as members die"},
	{"initial", "0", "initial value"},
	{"epoch", "1970-01-01T00:00:00Z", "shared start of round 0 (RFC 3339); all agents must agree"},
	{"metrics", "", "listen address for /metrics, /livez and /readyz; empty disables"},
	{"log.format", "text", "log format: text|json"},
	{"log.level", "info", "log level: debug|info|warn|error"},
	{"suite", "ed25519", "value authentication: ed25519 (signatures anyone can check; equivocation evidence convinces anyone) or hmac (pairwise HMAC-SHA-256-128, much cheaper, evidence convinces only its receiver; needs topology or fleetlog.replicas)"},
	{"tee", "soft", "key backend: soft (keygen's files; NO hardware protection) or sgx (keys made in an EGo enclave at each start; run under ego)"},
	{"identity.dir", "", "directory of this agent's per-epoch seeds and statements (wmsr-agent keygen --epochs)"},
	{"identity.state-dir", "", "directory recording the last epoch used (default identity.dir); must survive restarts"},
	{"policy", "", "admission policy file (JSON) peers' attestations are checked against"},
	{"tls.ca", "", "CA (PEM) the ssl:// broker's certificate must chain to (empty: system roots)"},
	{"tls.cert", "", "client certificate (PEM) for mTLS to the broker"},
	{"tls.key", "", "client private key (PEM) for mTLS"},
	{"tls.server-name", "", "expected broker certificate name (default: the URL's host)"},
	{"gossip.bind", "", "memberlist bind address host:port (port 0: any free); empty disables gossip"},
	{"gossip.advertise", "", "address advertised to peers (default: the bind address)"},
	{"gossip.join", "", "memberlist addresses to join (comma-separated host:port)"},
	{"gossip.keyring", "", "file of gossip encryption keys (hex, 16/24/32 bytes, one per line, primary first)"},
	{"gossip.profile", "lan", "failure-detection timings: lan (memberlist defaults) or local (one host, fast)"},
	{"fleetlog.replicas", "", "client addresses (host:port, comma-separated) of fleet configuration log replicas: the agent follows the log (F, topology and evidence-backed quarantines take effect at the round the log names) and proposes equivocation evidence there as quarantine records"},
	{"insecure-test-fleet", "false", "INSECURE: derive every identity from a public seed (tests and demos only)"},
	{"test-fleet-seed", "1", "seed of the insecure test fleet (shared by all agents)"},
}

// NewViper returns a viper with the defaults, the WMSR_ environment and
// the flags of fs bound (flag names are the keys, "." replaced by "-").
func NewViper(fs *pflag.FlagSet) *viper.Viper {
	v := viper.New()
	v.SetEnvPrefix("WMSR")
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

// FlagName is the command-line flag of a key ("log.format": --log-format).
func FlagName(key string) string { return strings.ReplaceAll(key, ".", "-") }

func envName(key string) string {
	return "WMSR_" + strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(key))
}

// Source names where key's value comes from, in precedence order.
func Source(v *viper.Viper, fs *pflag.FlagSet, key string) string {
	if fl := lookup(fs, key); fl != nil && fl.Changed {
		return "flag --" + fl.Name
	}
	if _, ok := os.LookupEnv(envName(key)); ok {
		return "environment " + envName(key)
	}
	if v.ConfigFileUsed() != "" && v.InConfig(key) {
		return "config file " + v.ConfigFileUsed()
	}
	return "default"
}

func lookup(fs *pflag.FlagSet, key string) *pflag.Flag {
	if fs == nil {
		return nil
	}
	return fs.Lookup(FlagName(key))
}

// Load reads the configuration file (if any) into v and resolves and
// validates every key. Every error wraps ErrSettings and names the key and
// where its value came from (Source).
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
	var err error

	id, err := cast.ToUint64E(v.Get("id"))
	if err != nil {
		return nil, bad("id", "%v", err)
	}
	if id == 0 {
		return nil, bad("id", "must be set to a member id ≥ 1")
	}
	s.ID = attest.MemberID(id)

	s.Fleet = v.GetString("fleet")
	if err := mqtttopic.CheckFleet(s.Fleet); err != nil {
		return nil, bad("fleet", "%v", err)
	}
	s.Broker = v.GetString("broker")
	if s.Broker != "" && !strings.HasPrefix(s.Broker, "tcp://") && !strings.HasPrefix(s.Broker, "ssl://") {
		return nil, bad("broker", "%q is not a tcp:// or ssl:// URL", s.Broker)
	}
	s.BrokerListen = v.GetString("broker-listen")
	if s.Broker == "" && s.BrokerListen == "" {
		return nil, bad("broker-listen", "empty while broker is empty (embedded broker needs an address)")
	}
	s.Fabric = v.GetString("fabric")
	if s.Fabric != "mqtt" && s.Fabric != "rdma" {
		return nil, bad("fabric", "%q is not mqtt or rdma", s.Fabric)
	}
	s.RDMADir = v.GetString("rdma.dir")
	if s.RDMADir == "" {
		s.RDMADir = filepath.Join(rdma.DefaultShmDir, "wmsr-"+s.Fleet)
	}
	s.RDMAListen = v.GetString("rdma.listen")
	if s.RDMAPeers, err = rdma.ParsePeers(v.GetString("rdma.peers")); err != nil {
		return nil, bad("rdma.peers", "%v", err)
	}
	s.RDMAProvider = v.GetString("rdma.provider")
	if s.RDMAProvider != "ibverbs" && s.RDMAProvider != "emulated-tcp" {
		return nil, bad("rdma.provider", "%q is not ibverbs or emulated-tcp", s.RDMAProvider)
	}
	if s.RDMAListen != "" {
		if _, _, err := net.SplitHostPort(s.RDMAListen); err != nil {
			return nil, bad("rdma.listen", "%q is not host:port: %v", s.RDMAListen, err)
		}
		if len(s.RDMAPeers) == 0 {
			return nil, bad("rdma.peers", "empty while rdma.listen is set: give every member's id=host:port")
		}
	}
	s.Token = v.GetString("token")
	if s.Token == "" {
		return nil, bad("token", "empty: agents authenticate to the broker with the fleet token")
	}

	s.Model = v.GetString("model")
	if s.F, err = cast.ToFloat64E(v.Get("f")); err != nil {
		return nil, bad("f", "%v", err)
	}
	switch s.Model {
	case "total", "local":
		if s.F < 0 || s.F != math.Trunc(s.F) {
			return nil, bad("f", "%v is not a non-negative integer (model %s)", s.F, s.Model)
		}
	case "fraction":
		if !(s.F >= 0 && s.F < 0.5) {
			return nil, bad("f", "fraction %v outside [0, 0.5)", s.F)
		}
	default:
		return nil, bad("model", "%q is not total, local or fraction", s.Model)
	}

	if s.Period, err = cast.ToDurationE(v.Get("period")); err != nil {
		return nil, bad("period", "%v", err)
	}
	if s.Period <= 0 {
		return nil, bad("period", "%v is not positive", s.Period)
	}
	if s.Delay, err = cast.ToIntE(v.Get("delay")); err != nil {
		return nil, bad("delay", "%v", err)
	}
	if s.Delay < 0 {
		return nil, bad("delay", "%d is negative", s.Delay)
	}

	ns, err := parseIDs(v.Get("neighbours"))
	if err != nil {
		return nil, bad("neighbours", "%v", err)
	}
	if s.TopologyFile = v.GetString("topology"); s.TopologyFile != "" {
		if len(ns) > 0 {
			return nil, bad("neighbours", "given together with topology: give one of them")
		}
		if s.Topology, err = ReadGraphFile(s.TopologyFile); err != nil {
			return nil, bad("topology", "%v", err)
		}
		if int(s.ID) > s.Topology.N() {
			return nil, bad("id", "%d, but the topology %s has members 1..%d", s.ID, s.TopologyFile, s.Topology.N())
		}
		for _, u := range s.Topology.In(int(s.ID) - 1) {
			ns = append(ns, attest.MemberID(u)+1)
		}
		if len(ns) == 0 {
			return nil, bad("topology", "member %d has no in-neighbours in %s", s.ID, s.TopologyFile)
		}
	}
	fromLog := false
	if len(ns) == 0 {
		logs, err := parseList(v.Get("fleetlog.replicas"))
		if err != nil || len(logs) == 0 {
			return nil, bad("neighbours", "empty: an agent needs at least one in-neighbour (or give topology, or fleetlog.replicas to read the topology from the fleet log)")
		}
		fromLog = true // resolved at start-up (RunSettings)
	}
	seen := map[attest.MemberID]bool{}
	for _, n := range ns {
		if n == s.ID {
			return nil, bad("neighbours", "lists the agent itself (%d)", n)
		}
		if seen[n] {
			return nil, bad("neighbours", "lists %d twice", n)
		}
		seen[n] = true
	}
	s.Neighbours = ns
	if !fromLog && s.Model != "fraction" && int(s.F) > len(ns) {
		return nil, bad("f", "F = %v exceeds the %d neighbours", s.F, len(ns))
	}

	if s.Initial, err = cast.ToFloat64E(v.Get("initial")); err != nil {
		return nil, bad("initial", "%v", err)
	}
	if math.IsNaN(s.Initial) || math.IsInf(s.Initial, 0) {
		return nil, bad("initial", "%v is not finite", s.Initial)
	}

	switch e := v.Get("epoch").(type) {
	case time.Time: // YAML and TOML timestamps
		s.Epoch = e
	default:
		if s.Epoch, err = time.Parse(time.RFC3339Nano, cast.ToString(e)); err != nil {
			return nil, bad("epoch", "not RFC 3339: %v", err)
		}
	}

	s.Metrics = v.GetString("metrics")
	s.LogFormat = v.GetString("log.format")
	if s.LogFormat != "text" && s.LogFormat != "json" {
		return nil, bad("log.format", "%q is not text or json", s.LogFormat)
	}
	s.LogLevel = v.GetString("log.level")
	if _, err := ParseLevel(s.LogLevel); err != nil {
		return nil, bad("log.level", "%v", err)
	}
	s.IdentityDir = v.GetString("identity.dir")
	s.StateDir = v.GetString("identity.state-dir")
	if s.StateDir == "" {
		s.StateDir = s.IdentityDir
	}
	s.Policy = v.GetString("policy")
	s.TLSCA, s.TLSCert, s.TLSKey = v.GetString("tls.ca"), v.GetString("tls.cert"), v.GetString("tls.key")
	s.TLSServerName = v.GetString("tls.server-name")
	if (s.TLSCert == "") != (s.TLSKey == "") {
		return nil, bad("tls.cert", "tls.cert and tls.key go together")
	}
	if (s.TLSCA != "" || s.TLSCert != "") && !strings.HasPrefix(s.Broker, "ssl://") {
		return nil, bad("broker", "%q: TLS settings need an ssl:// broker URL", s.Broker)
	}
	s.GossipBind = v.GetString("gossip.bind")
	s.GossipAdvertise = v.GetString("gossip.advertise")
	if s.GossipJoin, err = parseList(v.Get("gossip.join")); err != nil {
		return nil, bad("gossip.join", "%v", err)
	}
	for _, a := range append([]string{s.GossipBind, s.GossipAdvertise}, s.GossipJoin...) {
		if a == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(a); err != nil {
			return nil, bad("gossip", "%q is not host:port: %v", a, err)
		}
	}
	if s.GossipBind == "" && (len(s.GossipJoin) > 0 || s.GossipAdvertise != "") {
		return nil, bad("gossip.bind", "empty while gossip.join or gossip.advertise is set")
	}
	s.GossipKeyring = v.GetString("gossip.keyring")
	s.GossipProfile = v.GetString("gossip.profile")
	if s.GossipProfile != "lan" && s.GossipProfile != "local" {
		return nil, bad("gossip.profile", "%q is not lan or local", s.GossipProfile)
	}
	if s.FleetLog, err = parseList(v.Get("fleetlog.replicas")); err != nil {
		return nil, bad("fleetlog.replicas", "%v", err)
	}
	for _, a := range s.FleetLog {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return nil, bad("fleetlog.replicas", "%q is not host:port: %v", a, err)
		}
	}
	if s.TestFleet, err = cast.ToBoolE(v.Get("insecure-test-fleet")); err != nil {
		return nil, bad("insecure-test-fleet", "%v", err)
	}
	if s.TestSeed, err = cast.ToUint64E(v.Get("test-fleet-seed")); err != nil {
		return nil, bad("test-fleet-seed", "%v", err)
	}
	s.Suite = v.GetString("suite")
	switch {
	case s.Suite != "ed25519" && s.Suite != "hmac":
		return nil, bad("suite", "%q is not ed25519 or hmac", s.Suite)
	case s.Suite == "hmac" && s.Topology == nil && !fromLog:
		return nil, bad("suite", "hmac needs the fleet topology (topology file, or the fleet log) to know who hears this agent")
	}
	s.TEE = v.GetString("tee")
	if s.TEE != "soft" && s.TEE != "sgx" {
		return nil, bad("tee", "%q is not soft or sgx", s.TEE)
	}
	if s.TEE == "sgx" {
		switch {
		case s.TestFleet:
			return nil, bad("tee", "sgx together with insecure-test-fleet: the test fleet is soft keys from a public seed")
		case s.StateDir == "":
			return nil, bad("identity.state-dir", "empty: with tee sgx the epoch of every start is recorded there")
		case s.Policy == "":
			return nil, bad("policy", "empty: peers' attestations are admitted against this policy file")
		case s.GossipBind == "":
			return nil, bad("gossip.bind", "empty: members' records are exchanged by gossip")
		}
		return s, nil
	}
	switch {
	case s.TestFleet && s.IdentityDir != "":
		return nil, bad("identity.dir", "set together with insecure-test-fleet: choose one identity source")
	case !s.TestFleet && s.IdentityDir == "":
		return nil, bad("identity.dir", "empty: give the directory of this agent's keygen output "+
			"(or, for tests and demos only, insecure-test-fleet)")
	case !s.TestFleet && s.Policy == "":
		return nil, bad("policy", "empty: peers' attestations are admitted against this policy file")
	case !s.TestFleet && s.GossipBind == "":
		return nil, bad("gossip.bind", "empty: with identity.dir, members' records are exchanged by gossip")
	}
	return s, nil
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

// ReadGraphFile reads a fleet graph file in the format its extension
// names (graph.FormatFromPath); errors name the file.
func ReadGraphFile(path string) (*graph.Digraph, error) {
	format, err := graph.FormatFromPath(path)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	g, err := graph.Read(f, format)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return g, nil
}

// parseIDs accepts what parseList does, as member ids ≥ 1.
func parseIDs(x any) ([]attest.MemberID, error) {
	parts, err := parseList(x)
	if err != nil {
		return nil, err
	}
	ids := make([]attest.MemberID, 0, len(parts))
	for _, p := range parts {
		n, err := strconv.ParseUint(strings.TrimSpace(p), 10, 64)
		if err != nil || n == 0 {
			return nil, fmt.Errorf("%q is not a member id ≥ 1", p)
		}
		ids = append(ids, attest.MemberID(n))
	}
	return ids, nil
}
