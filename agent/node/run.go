package node

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wmsr/wmsr/agent"
	"github.com/wmsr/wmsr/agent/broker"
	"github.com/wmsr/wmsr/agent/membership"
	"github.com/wmsr/wmsr/agent/mqttfabric"
	"github.com/wmsr/wmsr/agent/rdmafabric"
	"github.com/wmsr/wmsr/attest"
	"github.com/wmsr/wmsr/attest/attesttest"
	"github.com/wmsr/wmsr/rdma"
	"github.com/wmsr/wmsr/topology"
)

// ParseLevel parses a log level name (debug, info, warn, error).
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	err := l.UnmarshalText([]byte(s))
	return l, err
}

// NewLogger returns a text or JSON logger at level (info if unparsable).
func NewLogger(w io.Writer, format, level string) *slog.Logger {
	l, err := ParseLevel(level)
	if err != nil {
		l = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: l}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// TestFleetMember derives member id's identity from the shared seed alone
// (independent of which other members a process derives, and in which
// order), so agents started separately agree on each other's keys. It is
// INSECURE: anyone who knows the seed is every member.
func TestFleetMember(seed uint64, id attest.MemberID) (*attest.SoftBackend, attest.Member, error) {
	h := fnv.New64a()
	fmt.Fprintf(h, "wmsr-agent insecure test fleet %d/%d", seed, id)
	return attesttest.NewFleet(h.Sum64()).Join(id, 1, nil)
}

// RunSettings runs the agent s describes until ctx is done: identity,
// embedded broker (when no broker URL is set), metrics and health
// endpoints, MQTT fabric, membership and rounds. It logs to stderr.
// Configuration problems found only now (files that do not parse, an
// identity directory without a usable epoch) wrap ErrSettings.
func RunSettings(ctx context.Context, s *Settings, stderr io.Writer) error {
	log := NewLogger(stderr, s.LogFormat, s.LogLevel).With("agent", uint64(s.ID), "fleet", s.Fleet)

	// The metrics listener comes first: a busy port must fail the start
	// before an identity epoch is consumed.
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	protected := prometheus.NewGauge(prometheus.GaugeOpts{Name: "wmsr_agent_hardware_protected",
		Help: "1 if the identity's keys are protected by a TEE, 0 for the soft backend."})
	reg.MustRegister(protected)
	var ready atomic.Bool
	var connected func() bool
	if s.Metrics != "" {
		stop, err := ServeHTTP(s.Metrics, reg, func() bool { return ready.Load() && connected() }, log)
		if err != nil {
			return fmt.Errorf("%w: metrics: %w", ErrSettings, err)
		}
		defer stop()
	}

	var topoMembers []attest.MemberID
	if len(s.Neighbours) == 0 {
		// Neither a list nor a file: the fleet configuration log holds the
		// topology (Load checked that replicas are given).
		g, members, err := TopologyFromLog(ctx, s.FleetLog)
		if err != nil {
			return fmt.Errorf("%w: neighbours from the fleet log: %w", ErrSettings, err)
		}
		if s.Neighbours, err = inNeighbours(g, members, s.ID); err != nil {
			return fmt.Errorf("%w: neighbours from the fleet log: %w", ErrSettings, err)
		}
		s.Topology, topoMembers = g, members
		log.Info("topology read from the fleet log", "members", len(members), "neighbours", idList(s.Neighbours))
	}

	var backend attest.Backend
	var members []attest.Member
	var admitter *attest.Admitter
	if s.TestFleet {
		log.Warn("INSECURE TEST FLEET: every identity derives from a shared seed; anyone with the seed can impersonate any agent. Tests and demos only.",
			"seed", s.TestSeed)
		b, _, err := TestFleetMember(s.TestSeed, s.ID)
		if err != nil {
			return err
		}
		backend = b
		for _, n := range s.Neighbours {
			_, m, err := TestFleetMember(s.TestSeed, n)
			if err != nil {
				return err
			}
			members = append(members, m)
		}
	} else {
		pol, err := os.ReadFile(s.Policy)
		if err != nil {
			return fmt.Errorf("%w: policy: %v", ErrSettings, err)
		}
		p, err := attest.ParsePolicy(pol)
		if err != nil {
			return fmt.Errorf("%w: policy %s: %w", ErrSettings, s.Policy, err)
		}
		var reports attest.ReportVerifier
		if p.SGX != nil {
			reports = attest.EGoEnclave{}
		}
		if admitter, err = attest.NewAdmitter(p, reports); err != nil {
			return fmt.Errorf("%w: policy %s: %w", ErrSettings, s.Policy, err)
		}
		if s.TEE == "sgx" {
			if backend, err = StartSGX(s.StateDir, s.ID); err != nil {
				return err
			}
		} else {
			exe, err := os.Executable()
			if err != nil {
				return err
			}
			hash, err := hashFile(exe)
			if err != nil {
				return err
			}
			if backend, err = LoadIdentity(s.IdentityDir, s.StateDir, s.ID, hash); err != nil {
				return fmt.Errorf("%w: %w", ErrSettings, err)
			}
		}
		log.Info("identity loaded", "tee", s.TEE, "epoch", uint64(backend.Identity().Epoch()))
	}
	if backend.Protection().HardwareProtected {
		protected.Set(1)
	}
	if w := backend.Protection().Warning; w != "" {
		log.Warn("attest backend", "tee", backend.Kind().String(), "warning", w)
	}

	cfg := agent.DefaultConfig()
	cfg.ID, cfg.Neighbours, cfg.Initial = s.ID, s.Neighbours, []float64{s.Initial}
	cfg.Scope, cfg.D, cfg.Period, cfg.Epoch = s.Scope(), s.Delay, s.Period, s.Epoch
	cfg.Logger = log
	if s.Suite == "hmac" {
		// 128-bit tags (RFC 4868): 16 bytes less per out-neighbour in
		// every value bundle, forgery still 2⁻¹²⁸ per attempt.
		cfg.Suite = attest.SuiteHMACSHA256T128
		cfg.OutNeighbours = outNeighbours(s.Topology, topoMembers, s.ID)
		if s.TestFleet {
			for _, n := range cfg.OutNeighbours {
				_, m, err := TestFleetMember(s.TestSeed, n)
				if err != nil {
					return err
				}
				members = append(members, m)
			}
		}
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrSettings, err)
	}

	var fab agent.Fabric
	where := ""
	if s.Fabric == "rdma" && s.RDMAListen != "" {
		var prov rdma.NetProvider = rdma.IBVerbs{}
		if s.RDMAProvider == "emulated-tcp" {
			prov = rdma.EmulatedTCP{}
			log.Warn("rdma provider emulated-tcp: rings travel over TCP, NOT RDMA (tests only)")
		}
		rf, err := rdmafabric.NewNet(rdma.NetConfig{ID: s.ID, Provider: prov, Listen: s.RDMAListen, Peers: s.RDMAPeers}, 0)
		if err != nil {
			log.Warn("rdma fabric unavailable, falling back to mqtt", "provider", prov.Name(), "err", err)
		} else {
			fab, where = rf, "rdma "+prov.Name()+" "+rf.ListenAddr()
			connected = func() bool { return true }
		}
	} else if s.Fabric == "rdma" {
		for _, p := range rdma.Probe(filepath.Dir(s.RDMADir)) {
			if p.Err != nil {
				log.Info("rdma provider unavailable", "provider", p.Provider, "err", p.Err)
			} else {
				log.Info("rdma provider available", "provider", p.Provider)
			}
		}
		// The mailbox fabric runs on the shm provider: agents on one host.
		// The ibverbs provider moves rings between hosts but has no fabric
		// with peer discovery yet.
		if err := os.MkdirAll(s.RDMADir, 0o700); err != nil {
			log.Warn("rdma fabric unavailable, falling back to mqtt", "dir", s.RDMADir, "err", err)
		} else if rf, err := rdmafabric.New(rdma.Config{Dir: s.RDMADir, ID: s.ID}, 0); err != nil {
			log.Warn("rdma fabric unavailable, falling back to mqtt", "dir", s.RDMADir, "err", err)
		} else {
			fab, where = rf, "rdma shm "+s.RDMADir
			connected = func() bool { return true }
		}
	}
	if fab == nil {
		mf, url, stopBroker, err := dialMQTT(ctx, s, log)
		if err != nil || mf == nil {
			return err
		}
		defer stopBroker()
		fab, where, connected = mf, url, mf.Connected
	}

	opts := Options{
		Engine: cfg, Backend: backend, Members: members, Fabric: fab,
		Registerer: reg, Logger: log, Topology: s.Topology, TopologyMembers: topoMembers, FleetLog: s.FleetLog,
	}
	if m, err := topology.ParseModel(s.Model); err == nil {
		opts.Model = m
	}
	if s.GossipBind != "" {
		gc, err := gossipConfig(s)
		if err != nil {
			fab.Close()
			return err
		}
		opts.Gossip, opts.Join = gc, s.GossipJoin
		if admitter != nil {
			opts.Admitter = admitter
		} else {
			opts.Admitter = testFleetAdmitter{seed: s.TestSeed}
		}
	}
	nd, err := New(ctx, opts)
	if err != nil {
		fab.Close()
		if errors.Is(err, agent.ErrConfig) || errors.Is(err, membership.ErrConfig) {
			return fmt.Errorf("%w: %w", ErrSettings, err)
		}
		return err
	}
	ready.Store(true)
	attrs := []any{"fabric", where, "suite", s.Suite, "neighbours", len(s.Neighbours), "F", cfg.F(), "model", s.Model,
		"period", s.Period, "D", s.Delay}
	if ml := nd.Membership(); ml != nil {
		attrs = append(attrs, "gossip", ml.Addr())
	}
	log.Info("agent running", attrs...)
	err = nd.Run(ctx)
	ready.Store(false)
	log.Info("agent stopped", "value", nd.Engine().Value())
	return err
}

// dialMQTT starts the embedded broker when no broker URL is set and dials
// the MQTT fabric. A nil fabric with a nil error means ctx ended first.
func dialMQTT(ctx context.Context, s *Settings, log *slog.Logger) (*mqttfabric.Fabric, string, func(), error) {
	stop := func() {}
	brokerURL := s.Broker
	if brokerURL == "" {
		bc := broker.DefaultConfig()
		bc.Fleet, bc.FleetToken, bc.Logger = s.Fleet, []byte(s.Token), log.With("component", "broker")
		b, err := broker.New(bc)
		if err != nil {
			return nil, "", stop, fmt.Errorf("%w: %w", ErrSettings, err)
		}
		// Not ctx: on a signal the broker would close under this agent's
		// own client while the node shuts down ("mqtt connection lost" on
		// every clean stop). Every path out of here and out of Run stops
		// it, after the fabric is closed.
		addr, err := b.Start(context.WithoutCancel(ctx), s.BrokerListen)
		if err != nil {
			return nil, "", stop, err
		}
		stop = func() { b.Close() }
		brokerURL = "tcp://" + addr
		log.Info("embedded broker started", "addr", addr)
	}
	fc := mqttfabric.DefaultConfig()
	fc.Brokers, fc.Fleet, fc.ID, fc.Password = []string{brokerURL}, s.Fleet, s.ID, []byte(s.Token)
	fc.Logger = log.With("component", "fabric")
	if s.TLSCA != "" || s.TLSCert != "" || strings.HasPrefix(brokerURL, "ssl://") {
		tc, err := mqttfabric.ClientTLS(s.TLSCA, s.TLSCert, s.TLSKey, s.TLSServerName)
		if err != nil {
			stop()
			return nil, "", func() {}, fmt.Errorf("%w: tls: %w", ErrSettings, err)
		}
		fc.TLS = tc
	}
	if fc.PublishTimeout > s.Period/2 {
		fc.PublishTimeout = s.Period / 2
	}
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	f, err := mqttfabric.Dial(dctx, fc)
	cancel()
	if err != nil {
		stop()
		if ctx.Err() != nil {
			return nil, "", func() {}, nil
		}
		return nil, "", func() {}, fmt.Errorf("connect to broker %s: %w", brokerURL, err)
	}
	return f, brokerURL, stop, nil
}

// ServeHTTP serves /metrics from reg, /livez, and /readyz (ready decides)
// on addr, until the returned stop is called.
func ServeHTTP(addr string, reg *prometheus.Registry, ready func() bool, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("/livez", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !ready() {
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
	log.Info("metrics listening", "addr", ln.Addr().String())
	return func() {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}, nil
}

func gossipConfig(s *Settings) (*membership.Config, error) {
	var gc membership.Config
	if s.GossipProfile == "local" {
		gc = membership.DefaultLocalConfig()
	} else {
		gc = membership.DefaultLANConfig()
	}
	gc.Fleet = s.Fleet
	host, port, err := splitHostPort(s.GossipBind)
	if err != nil {
		return nil, fmt.Errorf("%w: gossip.bind: %v", ErrSettings, err)
	}
	gc.BindAddr, gc.BindPort = host, port
	if s.GossipAdvertise != "" {
		if gc.AdvertiseAddr, gc.AdvertisePort, err = splitHostPort(s.GossipAdvertise); err != nil {
			return nil, fmt.Errorf("%w: gossip.advertise: %v", ErrSettings, err)
		}
	}
	if s.GossipKeyring != "" {
		if gc.Keyring, err = readKeyring(s.GossipKeyring); err != nil {
			return nil, fmt.Errorf("%w: gossip.keyring: %w", ErrSettings, err)
		}
	}
	return &gc, nil
}

func splitHostPort(a string) (string, int, error) {
	h, p, err := net.SplitHostPort(a)
	if err != nil {
		return "", 0, err
	}
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil {
		return "", 0, fmt.Errorf("port %q: %v", p, err)
	}
	return h, int(n), nil
}

// readKeyring reads hex keys, one per line ('#' comments), primary first.
func readKeyring(path string) ([][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var keys [][]byte
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		k, err := hex.DecodeString(t)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: not hex: %v", path, line, err)
		}
		if l := len(k); l != 16 && l != 24 && l != 32 {
			return nil, fmt.Errorf("%s:%d: %d-byte key, want 16, 24 or 32", path, line, l)
		}
		keys = append(keys, k)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s: no keys", path)
	}
	return keys, nil
}

func hashFile(path string) ([32]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return [32]byte{}, err
	}
	defer f.Close()
	return attest.HashBinary(f)
}

// testFleetAdmitter admits the insecure test fleet's members: every id's
// record derives from the seed, so admission checks that a gossiped
// attestation claims exactly the derived keys. Every member of a test
// fleet is at epoch 1 for ever, so a restarted test-fleet agent reuses its
// counters and is refused as a replay until they pass the old ones: use
// real identities (keygen --epochs) where restarts matter.
type testFleetAdmitter struct{ seed uint64 }

func (t testFleetAdmitter) Admit(att attest.Attestation, prev *attest.Member, _ time.Time) (attest.Member, error) {
	_, m, err := TestFleetMember(t.seed, att.Claim.ID)
	if err != nil {
		return attest.Member{}, err
	}
	if m.Claim.Digest() != att.Claim.Digest() {
		return attest.Member{}, fmt.Errorf("%w: member %d does not hold the test fleet's derived keys", attest.ErrAttestation, att.Claim.ID)
	}
	if prev != nil && prev.Epoch >= m.Epoch {
		return attest.Member{}, fmt.Errorf("%w: member %d epoch %d already admitted", attest.ErrStale, m.ID, prev.Epoch)
	}
	return m, nil
}
