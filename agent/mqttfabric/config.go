package mqttfabric

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/wmsr/wmsr/agent"
	"github.com/wmsr/wmsr/agent/mqtttopic"
	"github.com/wmsr/wmsr/attest"
)

// Config configures a Fabric. Start from DefaultConfig and set Brokers,
// Fleet, ID and credentials.
type Config struct {
	// Brokers are broker URLs, tried in order: "tcp://host:1883",
	// "ssl://host:8883" (with TLS).
	Brokers []string
	// Fleet is the fleet name, the second topic level.
	Fleet string
	// ID is this agent; its decimal form is the MQTT username.
	ID attest.MemberID
	// Password is the agent's password or the fleet token (see
	// agent/broker).
	Password []byte
	// TLS, if not nil, is used for ssl:// brokers (see ClientTLS).
	TLS *tls.Config
	// ClientID defaults to "wmsr-<fleet>-<id>". It must be unique per
	// connection: a broker disconnects the older of two clients with the
	// same ID.
	ClientID string

	// ValueQoS is the QoS of value messages, 0 by default: a value is
	// worthless after its round, the envelope counters already detect
	// loss, and QoS 1 would make the broker and client retransmit stale
	// rounds and hold per-message state (and pay a PUBACK per value).
	ValueQoS byte

	// InboxCapacity bounds the queue of received envelopes (see
	// agent.Inbox); default agent.DefaultInboxCapacity.
	InboxCapacity int

	// ConnectTimeout bounds each connection attempt (TCP + TLS + CONNACK).
	ConnectTimeout time.Duration
	// PublishTimeout bounds Publish when ctx has no earlier deadline; keep
	// it below the round period.
	PublishTimeout time.Duration
	// SubscribeTimeout bounds Subscribe and the resubscription after each
	// reconnect.
	SubscribeTimeout time.Duration
	// KeepAlive is the MQTT keep-alive; the broker publishes the last will
	// ("lost") about 1.5 keep-alives after a silent failure.
	KeepAlive time.Duration
	// MaxReconnectInterval caps the reconnection back-off. Paho's default
	// (10 minutes) is far too long for a control loop.
	MaxReconnectInterval time.Duration

	// Logger receives the fabric's logs (default: discarded).
	Logger *slog.Logger
}

// DefaultConfig returns sane defaults for a fleet on a LAN.
func DefaultConfig() Config {
	return Config{
		InboxCapacity:        agent.DefaultInboxCapacity,
		ConnectTimeout:       5 * time.Second,
		PublishTimeout:       time.Second,
		SubscribeTimeout:     5 * time.Second,
		KeepAlive:            10 * time.Second,
		MaxReconnectInterval: time.Second,
	}
}

func (c *Config) normalise() error {
	if len(c.Brokers) == 0 {
		return fmt.Errorf("%w: no broker", ErrConfig)
	}
	if err := mqtttopic.CheckFleet(c.Fleet); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if c.ValueQoS > 1 {
		return fmt.Errorf("%w: ValueQoS %d (0 or 1)", ErrConfig, c.ValueQoS)
	}
	d := DefaultConfig()
	if c.InboxCapacity <= 0 {
		c.InboxCapacity = d.InboxCapacity
	}
	for _, p := range []struct{ v, d *time.Duration }{
		{&c.ConnectTimeout, &d.ConnectTimeout},
		{&c.PublishTimeout, &d.PublishTimeout},
		{&c.SubscribeTimeout, &d.SubscribeTimeout},
		{&c.KeepAlive, &d.KeepAlive},
		{&c.MaxReconnectInterval, &d.MaxReconnectInterval},
	} {
		if *p.v <= 0 {
			*p.v = *p.d
		}
	}
	if c.ClientID == "" {
		c.ClientID = "wmsr-" + c.Fleet + "-" + mqtttopic.Agent(c.ID)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// ClientTLS builds a client TLS configuration from PEM files: caFile is the
// CA that signed the broker's certificate; certFile and keyFile, if not
// empty, are this agent's client certificate for mTLS.
func ClientTLS(caFile, certFile, keyFile, serverName string) (*tls.Config, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("mqttfabric: read CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%w: no certificate in %s", ErrConfig, caFile)
	}
	c := &tls.Config{RootCAs: pool, ServerName: serverName, MinVersion: tls.VersionTLS12}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("mqttfabric: load client key pair: %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}
