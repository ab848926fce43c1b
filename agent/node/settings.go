package main

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cast"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/wmsr/wmsr/agent/mqtttopic"
	"github.com/wmsr/wmsr/attest"
	"github.com/wmsr/wmsr/wmsr"
)

// settings is the validated configuration of "run".
type settings struct {
	ID           attest.MemberID
	Fleet        string
	Broker       string // empty: embedded broker on BrokerListen
	BrokerListen string
	Token        string
	F            float64
	Model        string
	Period       time.Duration
	Delay        int
	Neighbours   []attest.MemberID
	Initial      float64
	Epoch        time.Time
	Metrics      string
	LogFormat    string
	LogLevel     string
	TestFleet    bool
	TestSeed     uint64
}

// Scope returns the W-MSR scope of the model.
func (s *settings) Scope() wmsr.Scope {
	switch s.Model {
	case "local":
		return wmsr.Local{int(s.F)}
	case "fraction":
		return wmsr.Fraction(s.F)
	}
	return wmsr.Total(int(s.F))
}

// configKeys lists every key with its default and help, in help order.
var configKeys = []struct {
	key, def, help string
}{
	{"id", "0", "this agent's member id (≥ 1, required)"},
	{"fleet", "wmsr", "fleet name (second MQTT topic level)"},
	{"broker", "", "broker URL (tcp://host:port or ssl://host:port); empty starts an embedded broker in-process"},
	{"broker-listen", "127.0.0.1:1883", "listen address of the embedded broker (only when broker is empty)"},
	{"token", "", "fleet token, the MQTT password (required)"},
	{"f", "1", "trimming parameter: F for total/local, the fraction in [0, 0.5) for fraction"},
	{"model", "total", "threat model: total|local|fraction"},
	{"period", "100ms", "round period"},
	{"delay", "2", "delay bound D in rounds"},
	{"neighbours", "", "in-neighbour member ids (comma-separated; required)"},
	{"initial", "0", "initial value"},
	{"epoch", "1970-01-01T00:00:00Z", "shared start of round 0 (RFC 3339); all agents must agree"},
	{"metrics", "", "listen address for /metrics, /livez and /readyz; empty disables"},
	{"log.format", "text", "log format: text|json"},
	{"log.level", "info", "log level: debug|info|warn|error"},
	{"insecure-test-fleet", "false", "INSECURE: derive every identity from a public seed (tests and demos only)"},
	{"test-fleet-seed", "1", "seed of the insecure test fleet (shared by all agents)"},
}

// newViper returns a viper with the defaults, the WMSR_ environment and
// the flags of fs bound (flag names are the keys, "." replaced by "-").
func newViper(fs *pflag.FlagSet) *viper.Viper {
	v := viper.New()
	v.SetEnvPrefix("WMSR")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_", "-", "_"))
	v.AutomaticEnv()
	for _, k := range configKeys {
		v.SetDefault(k.key, k.def)
		if fl := fs.Lookup(flagName(k.key)); fl != nil {
			_ = v.BindPFlag(k.key, fl) // cannot fail: fl is not nil
		}
	}
	return v
}

func flagName(key string) string { return strings.ReplaceAll(key, ".", "-") }

func envName(key string) string {
	return "WMSR_" + strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(key))
}

// source names where key's value comes from, in precedence order.
func source(v *viper.Viper, fs *pflag.FlagSet, key string) string {
	if fl := fs.Lookup(flagName(key)); fl != nil && fl.Changed {
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

// loadSettings reads the config file (if any) and resolves and validates
// every key. Errors are usageErrors naming the key and its source.
func loadSettings(v *viper.Viper, fs *pflag.FlagSet, configFile string) (*settings, error) {
	if configFile != "" {
		v.SetConfigFile(configFile)
		if err := v.ReadInConfig(); err != nil {
			return nil, usagef("config file %s: %v", configFile, err)
		}
	}
	bad := func(key, format string, args ...any) error {
		return usagef("invalid %s (from %s): %s", key, source(v, fs, key), fmt.Sprintf(format, args...))
	}
	s := &settings{}
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
	if len(ns) == 0 {
		return nil, bad("neighbours", "empty: an agent needs at least one in-neighbour")
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
	if s.Model != "fraction" && int(s.F) > len(ns) {
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
	if _, err := parseLevel(s.LogLevel); err != nil {
		return nil, bad("log.level", "%v", err)
	}
	if s.TestFleet, err = cast.ToBoolE(v.Get("insecure-test-fleet")); err != nil {
		return nil, bad("insecure-test-fleet", "%v", err)
	}
	if s.TestSeed, err = cast.ToUint64E(v.Get("test-fleet-seed")); err != nil {
		return nil, bad("test-fleet-seed", "%v", err)
	}
	if !s.TestFleet {
		return nil, bad("insecure-test-fleet", "false, and this build has no other identity source "+
			"(no fleet configuration log yet): only --insecure-test-fleet is supported")
	}
	return s, nil
}

// parseIDs accepts a list (file, flag) or a comma/space separated string
// (environment).
func parseIDs(x any) ([]attest.MemberID, error) {
	var parts []string
	switch t := x.(type) {
	case nil:
	case string:
		parts = strings.FieldsFunc(t, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
	case []string:
		for _, p := range t {
			parts = append(parts, strings.FieldsFunc(p, func(r rune) bool { return r == ',' || r == ' ' })...)
		}
	case []any:
		for _, p := range t {
			parts = append(parts, cast.ToString(p))
		}
	default:
		return nil, fmt.Errorf("%v is not a list of ids", x)
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
