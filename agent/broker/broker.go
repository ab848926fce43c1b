// Package broker runs an MQTT broker (mochi-mqtt) inside the agent
// process, for fleets without an external broker and for tests. It
// enforces the wmsr topic layout (agent/mqtttopic): an authenticated client
// whose username is agent X may publish only under wmsr/<fleet>/X/, its
// last will included, and may read only its own fleet's topics.
//
// # Credentials
//
// The username is the agent's decimal attest.MemberID. The password is the
// agent's own secret from Config.Passwords if it has one, otherwise the
// shared Config.FleetToken. A fleet token is simpler to provision but lets
// any holder log in as any agent, so the per-agent topic ACL then only
// stops honest-but-buggy clients; with per-agent passwords, or with mTLS
// and Config.BindCertToUsername, it stops impersonation at the broker too.
// Either way impersonation cannot forge values: envelopes are signed
// (attest), so the ACL is defence in depth and a guard on broker
// resources, not the authentication of values.
package broker

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/wmsr/wmsr/agent/mqtttopic"
	"github.com/wmsr/wmsr/attest"
)

// Config configures a Broker. Start from DefaultConfig.
type Config struct {
	// Fleet is the fleet name, the second topic level.
	Fleet string
	// Passwords maps agent names (decimal member IDs) to their passwords.
	Passwords map[string][]byte
	// FleetToken, if not empty, is accepted as the password of any agent
	// without an entry in Passwords.
	FleetToken []byte
	// TLS, if not nil, makes the listener TLS (see LoadTLS); set
	// ClientAuth to tls.RequireAndVerifyClientCert for mTLS.
	TLS *tls.Config
	// BindCertToUsername requires, with mTLS, that the client
	// certificate's CommonName equals the MQTT username, so a stolen
	// password alone is not enough to act as an agent.
	BindCertToUsername bool
	// MaxPendingWrites bounds each client's outbound queue in the broker;
	// messages beyond it are dropped for that client (a slow subscriber
	// cannot grow broker memory without bound).
	MaxPendingWrites int
	// MaxPacketSize bounds incoming packets; an envelope plus topic fits.
	MaxPacketSize uint32
	// Logger receives the broker's logs (default: discarded).
	Logger *slog.Logger
}

// DefaultConfig returns a configuration with sane bounds; set Fleet and
// credentials.
func DefaultConfig() Config {
	return Config{
		MaxPendingWrites: 8192,
		MaxPacketSize:    attest.MaxEnvelopeSize + 1024,
	}
}

// Errors callers branch on.
var (
	ErrConfig  = errors.New("broker: invalid configuration")
	ErrStarted = errors.New("broker: already started")
)

// Broker is an embedded MQTT broker. Start it once; to restart on the
// same address, Close it and Start a new Broker.
type Broker struct {
	cfg Config
	log *slog.Logger

	mu     sync.Mutex
	srv    *mqtt.Server
	addr   string
	closed bool
	stop   chan struct{}
}

// New validates cfg and returns a broker that is not yet listening.
func New(cfg Config) (*Broker, error) {
	if err := mqtttopic.CheckFleet(cfg.Fleet); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if len(cfg.Passwords) == 0 && len(cfg.FleetToken) == 0 {
		// An open broker would let anyone fill the fleet's topics; there
		// is deliberately no "allow anonymous" switch.
		return nil, fmt.Errorf("%w: no credentials (Passwords or FleetToken)", ErrConfig)
	}
	for name := range cfg.Passwords {
		if _, err := mqtttopic.ParseAgent(name); err != nil {
			return nil, fmt.Errorf("%w: password entry: %w", ErrConfig, err)
		}
	}
	if cfg.BindCertToUsername && (cfg.TLS == nil || cfg.TLS.ClientAuth != tls.RequireAndVerifyClientCert) {
		return nil, fmt.Errorf("%w: BindCertToUsername needs TLS with RequireAndVerifyClientCert", ErrConfig)
	}
	d := DefaultConfig()
	if cfg.MaxPendingWrites <= 0 {
		cfg.MaxPendingWrites = d.MaxPendingWrites
	}
	if cfg.MaxPacketSize == 0 {
		cfg.MaxPacketSize = d.MaxPacketSize
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Broker{cfg: cfg, log: slog.New(connEndLog{log.Handler()})}, nil
}

// connEndLog gives mochi's reports of connections that end a message and
// a level. Its TCP listener logs the error of every connection that ends
// unclean as a Warn with an empty message: one line per client when the
// broker shuts down ("use of closed network connection"), and one for
// each agent that goes away without a DISCONNECT (EOF, reset). Both are
// routine for a broker: the first is logged at Debug, the second at Info,
// as "broker: client connection ended" with the error.
type connEndLog struct{ slog.Handler }

func (h connEndLog) Handle(ctx context.Context, r slog.Record) error {
	if r.Message != "" || r.Level != slog.LevelWarn {
		return h.Handler.Handle(ctx, r)
	}
	level := slog.LevelInfo
	r.Attrs(func(a slog.Attr) bool {
		if err, ok := a.Value.Any().(error); ok && a.Key == "error" && errors.Is(err, net.ErrClosed) {
			level = slog.LevelDebug
		}
		return true
	})
	if !h.Enabled(ctx, level) {
		return nil
	}
	out := slog.NewRecord(r.Time, level, "broker: client connection ended", r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(a)
		return true
	})
	return h.Handler.Handle(ctx, out)
}

func (h connEndLog) WithAttrs(as []slog.Attr) slog.Handler {
	return connEndLog{h.Handler.WithAttrs(as)}
}

func (h connEndLog) WithGroup(name string) slog.Handler {
	return connEndLog{h.Handler.WithGroup(name)}
}

// Start listens on addr ("127.0.0.1:0" picks a free port) and serves
// until Close or until ctx is done. It returns the bound address.
func (b *Broker) Start(ctx context.Context, addr string) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.srv != nil || b.closed {
		return "", ErrStarted
	}
	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumClientWritesPending = int32(b.cfg.MaxPendingWrites)
	caps.MaximumPacketSize = b.cfg.MaxPacketSize
	srv := mqtt.New(&mqtt.Options{
		Capabilities: caps,
		Logger:       b.log,
		// Clients never need $SYS; a long interval keeps the housekeeping
		// loop quiet.
		SysTopicResendInterval: 3600,
	})
	if err := srv.AddHook(&authHook{cfg: &b.cfg}, nil); err != nil {
		return "", fmt.Errorf("broker: add auth hook: %w", err)
	}
	l := listeners.NewTCP(listeners.Config{ID: "wmsr", Address: addr, TLSConfig: b.cfg.TLS})
	if err := srv.AddListener(l); err != nil {
		return "", fmt.Errorf("broker: listen %s: %w", addr, err)
	}
	if err := srv.Serve(); err != nil {
		_ = srv.Close()
		return "", fmt.Errorf("broker: serve: %w", err)
	}
	b.srv, b.addr, b.stop = srv, l.Address(), make(chan struct{})
	go func(stop chan struct{}) {
		select {
		case <-ctx.Done():
			_ = b.Close()
		case <-stop:
		}
	}(b.stop)
	b.log.Info("broker started", "addr", b.addr, "fleet", b.cfg.Fleet, "tls", b.cfg.TLS != nil)
	return b.addr, nil
}

// Addr returns the bound address ("" before Start).
func (b *Broker) Addr() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.addr
}

// Close disconnects all clients (their last wills fire) and releases the
// listener. Idempotent.
func (b *Broker) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	if b.srv == nil {
		return nil
	}
	close(b.stop)
	if err := b.srv.Close(); err != nil {
		return fmt.Errorf("broker: close: %w", err)
	}
	return nil
}

// LoadTLS builds a server TLS configuration from PEM files. If clientCAFile
// is not empty, clients must present a certificate signed by one of its
// CAs (mTLS).
func LoadTLS(certFile, keyFile, clientCAFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("broker: load key pair: %w", err)
	}
	c := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if clientCAFile != "" {
		pem, err := os.ReadFile(clientCAFile)
		if err != nil {
			return nil, fmt.Errorf("broker: read client CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w: no certificate in %s", ErrConfig, clientCAFile)
		}
		c.ClientCAs, c.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return c, nil
}

// authHook authenticates connections and enforces the topic ACL.
type authHook struct {
	mqtt.HookBase
	cfg *Config
}

func (h *authHook) ID() string { return "wmsr-auth" }

func (h *authHook) Provides(b byte) bool {
	return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck
}

func (h *authHook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	user := string(pk.Connect.Username)
	if _, err := mqtttopic.ParseAgent(user); err != nil {
		h.Log.Warn("refused connection: username is not an agent", "remote", cl.Net.Remote, "user", user)
		return false
	}
	want, ok := h.cfg.Passwords[user]
	if !ok {
		want = h.cfg.FleetToken
	}
	if len(want) == 0 || subtle.ConstantTimeCompare(want, pk.Connect.Password) != 1 {
		h.Log.Warn("refused connection: bad credentials", "remote", cl.Net.Remote, "user", user)
		return false
	}
	if h.cfg.BindCertToUsername {
		tc, ok := cl.Net.Conn.(*tls.Conn)
		if !ok {
			return false
		}
		certs := tc.ConnectionState().PeerCertificates
		if len(certs) == 0 || certs[0].Subject.CommonName != user {
			h.Log.Warn("refused connection: certificate does not name the user", "remote", cl.Net.Remote, "user", user)
			return false
		}
	}
	// mochi does not pass last wills through the ACL, so a will on another
	// agent's topic (a forged "lost") is refused here.
	if pk.Connect.WillFlag && !h.mayWrite(user, pk.Connect.WillTopic) {
		h.Log.Warn("refused connection: will outside own subtree", "user", user, "topic", pk.Connect.WillTopic)
		return false
	}
	return true
}

func (h *authHook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	user := string(cl.Properties.Username)
	if write {
		return h.mayWrite(user, topic)
	}
	// Reads (subscription filters and delivered topics) stay inside the
	// fleet; a bare "#" would otherwise also match other fleets.
	return strings.HasPrefix(topic, mqtttopic.Root+"/"+h.cfg.Fleet+"/")
}

func (h *authHook) mayWrite(user, topic string) bool {
	return strings.HasPrefix(topic, mqtttopic.Prefix(h.cfg.Fleet, user)) && !strings.ContainsAny(topic, "+#")
}
