package membership

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/wmsr/wmsr/attest"
)

// ErrConfig is wrapped by every error Config.Validate (and so New) returns.
var ErrConfig = errors.New("membership: invalid configuration")

// Admitter admits attestations into member records; *attest.Admitter is
// the implementation. It is an interface so that the composing agent can
// interpose (count, audit, or admit through the fleet configuration log)
// without this package knowing.
type Admitter interface {
	// Admit verifies att and returns the member record; prev is the
	// record currently admitted for att.Claim.ID, or nil, and an epoch not
	// above prev's must be refused (attest.ErrStale).
	Admit(att attest.Attestation, prev *attest.Member, now time.Time) (attest.Member, error)
}

var _ Admitter = (*attest.Admitter)(nil)

// maxFleetLen bounds Config.Fleet so that node names and the memberlist
// label stay short (memberlist allows labels of up to 255 bytes).
const maxFleetLen = 64

// labelPrefix prefixes the fleet name in the memberlist label.
const labelPrefix = "wmsr/"

// Config configures a Membership. Start from DefaultLANConfig or
// DefaultLocalConfig and fill in Fleet, Self, Admitter and Keyring: the
// timings are memberlist's, and a Config with zero timings is refused
// rather than silently defaulted, because a zero in memberlist often means
// "disabled".
type Config struct {
	// Fleet names the fleet. Node names are "<Fleet>-<id>", so an id is
	// unique per fleet, and the fleet is also the memberlist label
	// ("wmsr/<Fleet>"), so that fleets sharing a network and a gossip key
	// still do not merge. Letters, digits, '.', '_' and '-', at most 64.
	Fleet string
	// Self is this agent's attestation (from its attest.Backend). Its claim
	// gives the member id and epoch gossiped as node metadata.
	Self attest.Attestation
	// Admitter admits the peers' attestations (an *attest.Admitter with
	// the fleet's policy). Self must be admissible by it too: a node whose
	// own policy refuses it is misconfigured.
	Admitter Admitter

	// BindAddr and BindPort are where memberlist listens, on both UDP
	// (probes, gossip) and TCP (push/pull, attestations). BindPort 0 lets
	// the OS choose a free port; Addr reports it.
	BindAddr string
	BindPort int
	// AdvertiseAddr and AdvertisePort are what other nodes are told to use
	// (NAT traversal); empty and 0 mean the bound ones.
	AdvertiseAddr string
	AdvertisePort int

	// Keyring holds the gossip encryption keys (AES-GCM, 16, 24 or 32
	// bytes each); the first is the primary (used to encrypt), the others
	// only decrypt, for key rotation. nil means plaintext gossip, which is
	// logged as a warning: anyone on the network can then join, inject
	// gossip and declare members dead (not impersonate them: identities
	// come from attestation).
	Keyring [][]byte

	// Failure detection and dissemination, as in memberlist.Config (see
	// its documentation): ProbeInterval between probes of a random node,
	// ProbeTimeout to wait for its ack (the RTT 99th percentile),
	// IndirectChecks nodes asked to probe on our behalf when a direct probe
	// fails; a suspect is declared dead after
	// SuspicionMult·max(1, log10 N)·ProbeInterval, up to
	// SuspicionMaxTimeoutMult times that without confirmations.
	ProbeInterval           time.Duration
	ProbeTimeout            time.Duration
	IndirectChecks          int
	SuspicionMult           int
	SuspicionMaxTimeoutMult int
	// GossipInterval and GossipNodes: every GossipInterval, gossip to
	// GossipNodes random nodes; RetransmitMult·log(N+1) retransmissions of
	// each gossip message; GossipToTheDeadTime keeps gossiping to a dead
	// node for that long so that it can refute.
	GossipInterval      time.Duration
	GossipNodes         int
	RetransmitMult      int
	GossipToTheDeadTime time.Duration
	// PushPullInterval between full state syncs with a random node over
	// TCP. The sync carries this agent's attestation too, so it is also
	// the anti-entropy of the attestation exchange: it must be positive.
	PushPullInterval time.Duration
	// TCPTimeout bounds a stream connection (push/pull, join, attestation
	// sends).
	TCPTimeout time.Duration
	// DeadNodeReclaimTime lets a node that was dead for that long come
	// back under the same name at another address: an agent restarted on
	// a new port or address (port 0, DHCP, a new container). 0 means
	// never: a restart must then reuse the address, or wait until the dead
	// node is forgotten (GossipToTheDeadTime) and a later push/pull.
	DeadNodeReclaimTime time.Duration
	// DeadDelay is how long a node must stay dead (or left) in memberlist
	// before its member is reported dead (Delegate.NotifyDead, and
	// Info.Alive). memberlist can flap a node dead and alive within a few
	// gossip rounds: a false suspicion refuted late, or, right after a
	// restart, gossip of the old process's death that the new process
	// refutes. The delay absorbs such flaps at the cost of reporting real
	// deaths that much later (detection itself takes several probe
	// intervals). 0 reports at once.
	DeadDelay time.Duration

	// QueueSize bounds the queue of received attestation messages between
	// memberlist's callbacks (which must never block) and this package's
	// worker; messages beyond it are dropped and counted (Stats.Dropped)
	// and recovered by the next push/pull. Membership events are never
	// dropped: they are coalesced per node.
	QueueSize int

	// Delegate receives admissions, deaths and rejections; nil ignores
	// them (Member and Members still work).
	Delegate Delegate
	// Logger receives this package's log and memberlist's, mapped to slog
	// levels; nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock for admission (fleet-CA statement validity); nil
	// means time.Now.
	Now func() time.Time
}

// DefaultLANConfig returns memberlist.DefaultLANConfig's timings, listening
// on all addresses at memberlist's port 7946, a DeadDelay of five gossip
// intervals (1 s), and a dead-node reclaim time
// of 1 s, so that an agent restarted at a new address is readmitted soon
// after its old incarnation is declared dead instead of after
// GossipToTheDeadTime and a push/pull (memberlist's default, 0, never
// reclaims). Reclaiming a dead name is harmless here: whoever takes it
// still needs an admissible attestation to be admitted.
func DefaultLANConfig() Config {
	return fromMemberlist(memberlist.DefaultLANConfig(), time.Second)
}

// DefaultLocalConfig returns fast timings for agents on one host
// (loopback): 200 ms probes with a 100 ms timeout and a 0.6 s suspicion
// timeout (2.4 s without confirmations), so that a failure is detected
// within about one to two seconds (plus a DeadDelay of 250 ms); 50 ms
// gossip with LAN's retransmission multiplier (4); 5 s push/pull; a dead
// node's name can be reclaimed at once (1 ms). It binds 127.0.0.1 on a port
// chosen by the OS. Too aggressive for real networks, where it would
// produce false suspicions.
func DefaultLocalConfig() Config {
	c := fromMemberlist(memberlist.DefaultLocalConfig(), time.Millisecond)
	c.BindAddr = "127.0.0.1"
	c.BindPort = 0
	c.AdvertisePort = 0
	c.ProbeInterval = 200 * time.Millisecond
	c.ProbeTimeout = 100 * time.Millisecond
	c.SuspicionMult = 3
	c.SuspicionMaxTimeoutMult = 4
	c.GossipInterval = 50 * time.Millisecond
	c.DeadDelay = 5 * c.GossipInterval
	// memberlist's local config retransmits each gossip message only
	// 2·⌈log10(N+1)⌉ times, which a burst of joins can lose; LAN's 4 is
	// cheap on loopback.
	c.RetransmitMult = 4
	c.GossipToTheDeadTime = 5 * time.Second
	// On one host a full state sync costs next to nothing, and it is the
	// repair for a join whose gossip a loaded host lost: without it a
	// member can miss a neighbour's attestation for a whole short run.
	c.PushPullInterval = time.Second
	return c
}

func fromMemberlist(mc *memberlist.Config, reclaim time.Duration) Config {
	return Config{
		BindAddr:                mc.BindAddr,
		BindPort:                mc.BindPort,
		AdvertisePort:           mc.AdvertisePort,
		ProbeInterval:           mc.ProbeInterval,
		ProbeTimeout:            mc.ProbeTimeout,
		IndirectChecks:          mc.IndirectChecks,
		SuspicionMult:           mc.SuspicionMult,
		SuspicionMaxTimeoutMult: mc.SuspicionMaxTimeoutMult,
		GossipInterval:          mc.GossipInterval,
		GossipNodes:             mc.GossipNodes,
		RetransmitMult:          mc.RetransmitMult,
		GossipToTheDeadTime:     mc.GossipToTheDeadTime,
		PushPullInterval:        mc.PushPullInterval,
		TCPTimeout:              mc.TCPTimeout,
		DeadNodeReclaimTime:     reclaim,
		DeadDelay:               5 * mc.GossipInterval,
		QueueSize:               1024,
	}
}

// Validate reports the first problem with c, wrapping ErrConfig.
func (c *Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...))
	}
	if err := checkFleet(c.Fleet); err != nil {
		return fmt.Errorf("%w: Fleet: %w", ErrConfig, err)
	}
	enc, err := c.Self.MarshalBinary()
	if err != nil {
		return fmt.Errorf("%w: Self: %w", ErrConfig, err)
	}
	if _, err := attest.ParseAttestation(enc); err != nil {
		return fmt.Errorf("%w: Self: %w", ErrConfig, err)
	}
	if a, ok := c.Admitter.(*attest.Admitter); c.Admitter == nil || ok && a == nil {
		return bad("Admitter: required (it admits the peers' attestations)")
	}
	if c.BindAddr == "" || net.ParseIP(c.BindAddr) == nil {
		return bad("BindAddr: %q is not an IP address", c.BindAddr)
	}
	if c.AdvertiseAddr != "" && net.ParseIP(c.AdvertiseAddr) == nil {
		return bad("AdvertiseAddr: %q is not an IP address", c.AdvertiseAddr)
	}
	if c.BindPort < 0 || c.BindPort > 65535 {
		return bad("BindPort: %d out of range 0..65535", c.BindPort)
	}
	if c.AdvertisePort < 0 || c.AdvertisePort > 65535 {
		return bad("AdvertisePort: %d out of range 0..65535", c.AdvertisePort)
	}
	if c.Keyring != nil && len(c.Keyring) == 0 {
		return bad("Keyring: empty (use nil for plaintext gossip)")
	}
	for i, k := range c.Keyring {
		if err := memberlist.ValidateKey(k); err != nil {
			return fmt.Errorf("%w: Keyring[%d]: %d bytes: %w", ErrConfig, i, len(k), err)
		}
		for j := range i {
			if bytes.Equal(c.Keyring[j], k) {
				return bad("Keyring[%d]: duplicate of Keyring[%d]", i, j)
			}
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"ProbeInterval", c.ProbeInterval},
		{"ProbeTimeout", c.ProbeTimeout},
		{"GossipInterval", c.GossipInterval},
		{"GossipToTheDeadTime", c.GossipToTheDeadTime},
		{"PushPullInterval", c.PushPullInterval},
		{"TCPTimeout", c.TCPTimeout},
	} {
		if d.v <= 0 {
			return bad("%s: %v, must be positive (start from DefaultLANConfig or DefaultLocalConfig)", d.name, d.v)
		}
	}
	if c.ProbeTimeout > c.ProbeInterval {
		return bad("ProbeTimeout: %v exceeds ProbeInterval %v", c.ProbeTimeout, c.ProbeInterval)
	}
	if c.DeadNodeReclaimTime < 0 {
		return bad("DeadNodeReclaimTime: %v is negative", c.DeadNodeReclaimTime)
	}
	if c.DeadDelay < 0 {
		return bad("DeadDelay: %v is negative", c.DeadDelay)
	}
	for _, n := range []struct {
		name     string
		v, least int
	}{
		{"IndirectChecks", c.IndirectChecks, 0},
		{"SuspicionMult", c.SuspicionMult, 1},
		{"SuspicionMaxTimeoutMult", c.SuspicionMaxTimeoutMult, 1},
		{"GossipNodes", c.GossipNodes, 1},
		{"RetransmitMult", c.RetransmitMult, 1},
		{"QueueSize", c.QueueSize, 1},
	} {
		if n.v < n.least {
			return bad("%s: %d, must be at least %d (start from DefaultLANConfig or DefaultLocalConfig)", n.name, n.v, n.least)
		}
	}
	return nil
}

// checkFleet keeps fleet names to a conservative alphabet: they end up in
// node names, log lines and the memberlist label.
func checkFleet(f string) error {
	if f == "" {
		return errors.New("required")
	}
	if len(f) > maxFleetLen {
		return fmt.Errorf("%d bytes, at most %d", len(f), maxFleetLen)
	}
	for i := 0; i < len(f); i++ {
		switch c := f[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == '-':
		default:
			return fmt.Errorf("%q: byte %d (%q) is not a letter, digit, '.', '_' or '-'", f, i, c)
		}
	}
	return nil
}
