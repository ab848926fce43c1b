package main

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/wmsr/wmsr/agent"
	"github.com/wmsr/wmsr/agent/broker"
	"github.com/wmsr/wmsr/agent/mqttfabric"
	"github.com/wmsr/wmsr/attest"
	"github.com/wmsr/wmsr/attest/attesttest"
)

const runLong = `run starts one agent: identity -> round engine -> MQTT fabric -> runner,
with Prometheus metrics on /metrics and health on /livez and /readyz.

Configuration keys (each has a default and is validated at start-up; an
invalid value exits with status 2 and names the key and where it came from):

%s
Sources, highest precedence first:
  1. command-line flags (--log-format sets key log.format)
  2. environment: WMSR_ + key upper-cased with "." and "-" as "_"
     (WMSR_ID, WMSR_NEIGHBOURS="2,3,4", WMSR_LOG_LEVEL, WMSR_INSECURE_TEST_FLEET)
  3. the configuration file given by --config (YAML or TOML, by extension;
     nested keys: "log: {format: json}" or "[log] format = 'json'")
  4. the defaults above

Use --check-config to print the resolved configuration and exit.

IDENTITIES: this build has no fleet configuration log yet, so the only
identity source is --insecure-test-fleet, which derives EVERY agent's keys
from a seed shared by the fleet. Anyone who knows the seed (the default is
public) can impersonate any agent: use it only for tests and demos on a
trusted network, never to control anything real.`

func newRunCmd() *cobra.Command {
	var configFile string
	var check bool
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run an agent (configuration from flags, WMSR_* environment, config file)",
	}
	var keys strings.Builder
	for _, k := range configKeys {
		def := k.def
		if def == "" {
			def = `""`
		}
		fmt.Fprintf(&keys, "  %-20s %s (default %s)\n", k.key, k.help, def)
	}
	cmd.Long = fmt.Sprintf(runLong, keys.String())
	f := cmd.Flags()
	f.StringVar(&configFile, "config", "", "configuration file (YAML or TOML)")
	f.BoolVar(&check, "check-config", false, "print the resolved configuration and exit")
	for _, k := range configKeys {
		name := flagName(k.key)
		switch k.key {
		case "neighbours":
			f.StringSlice(name, nil, k.help)
		case "insecure-test-fleet":
			f.Bool(name, false, k.help)
		default:
			f.String(name, k.def, k.help)
		}
	}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		v := newViper(f)
		s, err := loadSettings(v, f, configFile)
		if err != nil {
			return err
		}
		if check {
			printSettings(cmd.OutOrStdout(), s, v, cmd)
			return nil
		}
		return runAgent(cmd.Context(), s, cmd.ErrOrStderr())
	}
	return cmd
}

func printSettings(w io.Writer, s *settings, v interface{ ConfigFileUsed() string }, cmd *cobra.Command) {
	vp := newViper(cmd.Flags())
	if f := v.ConfigFileUsed(); f != "" {
		vp.SetConfigFile(f)
		_ = vp.ReadInConfig()
	}
	vals := map[string]string{
		"id": strconv.FormatUint(uint64(s.ID), 10), "fleet": s.Fleet, "broker": s.Broker,
		"broker-listen": s.BrokerListen, "token": "<redacted>",
		"f": strconv.FormatFloat(s.F, 'g', -1, 64), "model": s.Model, "period": s.Period.String(),
		"delay": strconv.Itoa(s.Delay), "neighbours": idsString(s.Neighbours),
		"initial": strconv.FormatFloat(s.Initial, 'g', -1, 64), "epoch": s.Epoch.Format(time.RFC3339Nano),
		"metrics": s.Metrics, "log.format": s.LogFormat, "log.level": s.LogLevel,
		"insecure-test-fleet": strconv.FormatBool(s.TestFleet), "test-fleet-seed": strconv.FormatUint(s.TestSeed, 10),
	}
	for _, k := range configKeys {
		fmt.Fprintf(w, "%s=%s\t# %s\n", k.key, vals[k.key], source(vp, cmd.Flags(), k.key))
	}
}

func idsString(ids []attest.MemberID) string {
	p := make([]string, len(ids))
	for i, id := range ids {
		p[i] = strconv.FormatUint(uint64(id), 10)
	}
	return strings.Join(p, ",")
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	err := l.UnmarshalText([]byte(s))
	return l, err
}

func newLogger(w io.Writer, format, level string) *slog.Logger {
	l, err := parseLevel(level)
	if err != nil {
		l = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: l}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// testFleetMember derives member id's identity from the shared seed alone
// (independent of which other members a process derives, and in which
// order), so agents started separately agree on each other's keys.
func testFleetMember(seed uint64, id attest.MemberID) (*attest.SoftBackend, attest.Member, error) {
	h := fnv.New64a()
	fmt.Fprintf(h, "wmsr-agent insecure test fleet %d/%d", seed, id)
	return attesttest.NewFleet(h.Sum64()).Join(id, 1, nil)
}

func runAgent(ctx context.Context, s *settings, stderr io.Writer) error {
	log := newLogger(stderr, s.LogFormat, s.LogLevel).With("agent", uint64(s.ID), "fleet", s.Fleet)
	log.Warn("INSECURE TEST FLEET: every identity derives from a shared seed; anyone with the seed can impersonate any agent. Tests and demos only.",
		"seed", s.TestSeed)

	self, _, err := testFleetMember(s.TestSeed, s.ID)
	if err != nil {
		return err
	}
	log.Warn("attest soft backend", "warning", self.Protection().Warning)
	members := make([]attest.Member, 0, len(s.Neighbours))
	for _, n := range s.Neighbours {
		_, m, err := testFleetMember(s.TestSeed, n)
		if err != nil {
			return err
		}
		members = append(members, m)
	}

	cfg := agent.DefaultConfig()
	cfg.ID, cfg.Neighbours, cfg.Initial = s.ID, s.Neighbours, []float64{s.Initial}
	cfg.Scope, cfg.D, cfg.Period, cfg.Epoch = s.Scope(), s.Delay, s.Period, s.Epoch
	cfg.Logger = log
	eng, err := agent.NewEngine(cfg, self.Identity(), members)
	if err != nil {
		return usageError{err}
	}

	brokerURL := s.Broker
	if brokerURL == "" {
		bc := broker.DefaultConfig()
		bc.Fleet, bc.FleetToken, bc.Logger = s.Fleet, []byte(s.Token), log.With("component", "broker")
		b, err := broker.New(bc)
		if err != nil {
			return usageError{err}
		}
		addr, err := b.Start(ctx, s.BrokerListen)
		if err != nil {
			return err
		}
		defer b.Close()
		brokerURL = "tcp://" + addr
		log.Info("embedded broker started", "addr", addr)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	var ready atomic.Bool
	var fab *mqttfabric.Fabric
	if s.Metrics != "" {
		ln, err := net.Listen("tcp", s.Metrics)
		if err != nil {
			return usagef("invalid metrics: listen %s: %v", s.Metrics, err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
		mux.HandleFunc("/livez", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
		mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
			if !ready.Load() || !fab.Connected() {
				http.Error(w, "not ready: fabric not connected", http.StatusServiceUnavailable)
				return
			}
			io.WriteString(w, "ok\n")
		})
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("metrics server", "err", err)
			}
		}()
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		}()
		log.Info("metrics listening", "addr", ln.Addr().String())
	}

	fc := mqttfabric.DefaultConfig()
	fc.Brokers, fc.Fleet, fc.ID, fc.Password = []string{brokerURL}, s.Fleet, s.ID, []byte(s.Token)
	fc.Logger = log.With("component", "fabric")
	if fc.PublishTimeout > s.Period/2 {
		fc.PublishTimeout = s.Period / 2
	}
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	fab, err = mqttfabric.Dial(dctx, fc)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("connect to broker %s: %w", brokerURL, err)
	}
	defer fab.Close()

	runner, err := agent.NewRunner(eng, fab, agent.RunnerOptions{Registerer: reg})
	if err != nil {
		return err
	}
	ready.Store(true)
	log.Info("agent running", "broker", brokerURL, "neighbours", idsString(s.Neighbours),
		"F", cfg.F(), "model", s.Model, "period", s.Period, "D", s.Delay)
	err = runner.Run(ctx)
	ready.Store(false)
	if ctx.Err() != nil {
		log.Info("agent shutting down", "value", runner.Value())
		return nil
	}
	return err
}
