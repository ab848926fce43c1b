// Package mqttfabric implements agent.Fabric over MQTT 3.1.1 with the
// Eclipse Paho client, on the topic layout of agent/mqtttopic.
//
// # Choices
//
//   - Values are QoS 0, not retained (Config.ValueQoS): a value is useless
//     after its round and the envelope counters detect loss end to end.
//     The state topic is QoS 1 and retained, with last will "lost", so a
//     late subscriber learns who is alive.
//   - Clean sessions, and a resubscription on every (re)connection in the
//     OnConnect handler: the fabric, not the broker, owns the subscription
//     set, so a broker restart (which forgets sessions, as the embedded
//     broker does) or a failover to another broker loses nothing, and a
//     broker never queues stale values for an absent agent.
//   - Per-sender order is preserved within a connection: one publisher
//     connection, one broker, QoS 0, and Paho's ordered delivery
//     (OrderMatters) whose handler here never blocks. Across a reconnect
//     nothing is replayed, so order still holds; loss is possible.
//   - Handlers copy the payload and do a non-blocking put into the
//     agent.Inbox (drop oldest, counted).
//   - Publish refuses at once when the connection is not open (Paho would
//     otherwise silently discard QoS 0 messages while reconnecting) and
//     reports ErrBackPressure when Paho's outbound queue stays full for
//     PublishTimeout.
package mqttfabric

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"

	"github.com/wmsr/wmsr/agent"
	"github.com/wmsr/wmsr/agent/mqtttopic"
	"github.com/wmsr/wmsr/attest"
)

// ErrConfig is wrapped by configuration errors.
var ErrConfig = errors.New("mqttfabric: invalid configuration")

// Fabric is an agent.Fabric over MQTT. It is safe for concurrent use.
type Fabric struct {
	cfg    Config
	client paho.Client
	inbox  *agent.Inbox
	value  string // own value topic
	state  string // own state topic

	// subMu serialises changes of the subscription set and the
	// resubscription after a reconnect.
	subMu   sync.Mutex
	want    []attest.MemberID            // the set asked for by Subscribe
	applied map[attest.MemberID]struct{} // the set the broker confirmed on this connection
	// hear is want as a set, read by onMessage without a lock: messages
	// from anyone else (still in flight after an unsubscription) are
	// dropped there, as paho's per-topic routes used to drop them.
	hear atomic.Pointer[map[attest.MemberID]struct{}]

	peerMu sync.Mutex
	peers  map[attest.MemberID]string // last state message per peer

	closeOnce sync.Once
	closed    chan struct{}

	published, publishErrors, malformed, connects, connLost atomic.Uint64
}

var _ agent.Fabric = (*Fabric)(nil)

// Dial connects to the broker and returns once connected, or fails when
// ctx is done. After that, connection losses are repaired in the
// background.
func Dial(ctx context.Context, cfg Config) (*Fabric, error) {
	if err := cfg.normalise(); err != nil {
		return nil, err
	}
	f := &Fabric{
		cfg:     cfg,
		inbox:   agent.NewInbox(cfg.InboxCapacity),
		value:   mqtttopic.ValueTopic(cfg.Fleet, cfg.ID),
		state:   mqtttopic.StateTopic(cfg.Fleet, cfg.ID),
		applied: make(map[attest.MemberID]struct{}),
		peers:   make(map[attest.MemberID]string),
		closed:  make(chan struct{}),
	}
	o := paho.NewClientOptions()
	for _, b := range cfg.Brokers {
		o.AddBroker(b)
	}
	o.SetClientID(cfg.ClientID).
		SetUsername(mqtttopic.Agent(cfg.ID)).
		SetPassword(string(cfg.Password)).
		SetTLSConfig(cfg.TLS).
		SetCleanSession(true).
		SetStore(newCopyStore()).
		SetResumeSubs(false).
		SetOrderMatters(true).
		SetAutoReconnect(true).
		SetConnectRetry(false).
		SetMaxReconnectInterval(cfg.MaxReconnectInterval).
		SetConnectTimeout(cfg.ConnectTimeout).
		SetWriteTimeout(cfg.PublishTimeout).
		SetKeepAlive(cfg.KeepAlive).
		SetPingTimeout(cfg.KeepAlive/2).
		SetBinaryWill(f.state, []byte(mqtttopic.StateLost), 1, true).
		SetOnConnectHandler(f.onConnect).
		// One handler for every message instead of a route per
		// subscription: paho matches each message against every route
		// with two strings.Split calls, which was a fifth of all the
		// bytes allocated by a 100-agent fleet (BenchmarkFleetRound).
		// onMessage parses the topic once and filters by hear.
		SetDefaultPublishHandler(f.onMessage).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			f.connLost.Add(1)
			f.cfg.Logger.Warn("mqtt connection lost", "err", err)
		})
	f.client = paho.NewClient(o)
	// The first connection is retried here rather than by paho's
	// ConnectRetry, which retries every failure for ever: a broker that
	// refuses the credentials will refuse them again, and the caller must
	// hear so at once (ErrRefused) rather than at its deadline.
	retry := time.NewTimer(0)
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			f.shutdown()
			return nil, fmt.Errorf("mqttfabric: connect %v: %w", cfg.Brokers, ctx.Err())
		case <-retry.C:
		}
		tok := f.client.Connect()
		select {
		case <-tok.Done():
		case <-ctx.Done():
			f.shutdown()
			return nil, fmt.Errorf("mqttfabric: connect %v: %w", cfg.Brokers, ctx.Err())
		}
		err := tok.Error()
		if err == nil {
			return f, nil
		}
		if ct, ok := tok.(*paho.ConnectToken); ok {
			switch ct.ReturnCode() {
			case packets.ErrRefusedBadUsernameOrPassword, packets.ErrRefusedNotAuthorised:
				f.shutdown()
				return nil, fmt.Errorf("mqttfabric: connect %v as %s: %w: %w", cfg.Brokers, mqtttopic.Agent(cfg.ID), ErrRefused, err)
			}
		}
		f.cfg.Logger.Debug("mqtt connect failed, retrying", "err", err)
		retry.Reset(cfg.MaxReconnectInterval)
	}
}

// ErrRefused: the broker refused this agent's credentials (wrong fleet
// token or password, or not authorised); retrying cannot help.
var ErrRefused = errors.New("broker refused the credentials")

// onConnect runs in its own goroutine after every successful connection:
// it announces the agent and restores the subscriptions (clean session:
// the broker kept none).
func (f *Fabric) onConnect(c paho.Client) {
	f.connects.Add(1)
	f.cfg.Logger.Info("mqtt connected", "client", f.cfg.ClientID)
	if !f.resubscribe(c) {
		return
	}
	// The announcement comes after the subscriptions, which matter more,
	// and is best effort: a failure only delays liveness information, which
	// the next reconnect repeats. It waits as long as a subscription may,
	// not a value's publish timeout (half a round): right after a reconnect
	// over a slow link the retained QoS 1 message routinely takes longer,
	// and still arrives.
	if err := f.wait(context.Background(), c.Publish(f.state, 1, true, mqtttopic.StateOnline), f.cfg.SubscribeTimeout); err != nil {
		f.cfg.Logger.Warn("announce online", "err", err)
	}
}

// resubscribe restores the subscriptions on a new connection, retrying
// while it is up: without them an agent would silently hear nothing. The
// lock is taken per attempt so that Subscribe never waits longer than one
// attempt. It reports whether the subscriptions are in place.
func (f *Fabric) resubscribe(c paho.Client) bool {
	f.subMu.Lock()
	clear(f.applied)
	f.subMu.Unlock()
	for attempt := 0; ; attempt++ {
		select {
		case <-f.closed:
			return false
		default:
		}
		f.subMu.Lock()
		err := f.syncLocked(context.Background())
		f.subMu.Unlock()
		if err == nil {
			return true
		}
		f.cfg.Logger.Warn("resubscribe after connect", "err", err, "attempt", attempt)
		if !c.IsConnectionOpen() {
			return false // the next onConnect will do it
		}
		select {
		case <-f.closed:
			return false
		case <-time.After(min(f.cfg.MaxReconnectInterval, 100*time.Millisecond<<min(attempt, 4))):
		}
	}
}

// Publish implements agent.Fabric.
func (f *Fabric) Publish(ctx context.Context, env []byte) error {
	err := f.publish(ctx, env)
	if err != nil {
		f.publishErrors.Add(1)
		return err
	}
	f.published.Add(1)
	return nil
}

func (f *Fabric) publish(ctx context.Context, env []byte) error {
	select {
	case <-f.closed:
		return agent.ErrClosed
	default:
	}
	if len(env) > attest.MaxEnvelopeSize {
		return fmt.Errorf("mqttfabric: publish: %w: %d bytes", attest.ErrTooLarge, len(env))
	}
	if !f.client.IsConnectionOpen() {
		return fmt.Errorf("mqttfabric: publish: %w", agent.ErrNotConnected)
	}
	// Paho keeps the payload until written; the caller may reuse env.
	tok := f.client.Publish(f.value, f.cfg.ValueQoS, false, slices.Clone(env))
	if err := f.wait(ctx, tok, f.cfg.PublishTimeout); err != nil {
		return fmt.Errorf("mqttfabric: publish: %w", err)
	}
	return nil
}

// wait waits for tok, ctx or d, and maps Paho's errors to the agent ones.
func (f *Fabric) wait(ctx context.Context, tok paho.Token, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-tok.Done():
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return agent.ErrTimeout
	case <-f.closed:
		return agent.ErrClosed
	}
	err := tok.Error()
	switch {
	case err == nil:
		return nil
	case errors.Is(err, paho.ErrNotConnected):
		return fmt.Errorf("%w: %w", agent.ErrNotConnected, err)
	case errors.As(err, new(*net.OpError)):
		// The connection broke while Paho was writing this packet (closed
		// socket, reset, broken pipe): the value is lost with the
		// connection, which Paho is already re-establishing.
		return fmt.Errorf("%w: %w", agent.ErrNotConnected, err)
	case err.Error() == "publish was broken by timeout":
		// Paho's outbound queue stayed full for WriteTimeout.
		return fmt.Errorf("%w: %w", agent.ErrBackPressure, err)
	}
	return err
}

// Subscribe implements agent.Fabric.
func (f *Fabric) Subscribe(ctx context.Context, from []attest.MemberID) error {
	select {
	case <-f.closed:
		return agent.ErrClosed
	default:
	}
	f.subMu.Lock()
	defer f.subMu.Unlock()
	f.want = slices.Clone(from)
	hear := make(map[attest.MemberID]struct{}, len(from))
	for _, id := range from {
		hear[id] = struct{}{}
	}
	f.hear.Store(&hear)
	if !f.client.IsConnectionOpen() {
		return nil // onConnect applies it
	}
	if err := f.syncLocked(ctx); err != nil {
		if !f.client.IsConnectionOpen() {
			return nil // lost meanwhile; onConnect applies it
		}
		return err
	}
	return nil
}

// syncLocked makes the broker's subscriptions equal to f.want.
func (f *Fabric) syncLocked(ctx context.Context) error {
	want := make(map[attest.MemberID]struct{}, len(f.want))
	for _, id := range f.want {
		want[id] = struct{}{}
	}
	var drop []string
	var dropIDs []attest.MemberID
	for id := range f.applied {
		if _, ok := want[id]; !ok {
			drop = append(drop, mqtttopic.ValueTopic(f.cfg.Fleet, id), mqtttopic.StateTopic(f.cfg.Fleet, id))
			dropIDs = append(dropIDs, id)
		}
	}
	add := make(map[string]byte)
	var addIDs []attest.MemberID
	for id := range want {
		if _, ok := f.applied[id]; !ok {
			add[mqtttopic.ValueTopic(f.cfg.Fleet, id)] = f.cfg.ValueQoS
			add[mqtttopic.StateTopic(f.cfg.Fleet, id)] = 1
			addIDs = append(addIDs, id)
		}
	}
	if len(drop) > 0 {
		if err := f.wait(ctx, f.client.Unsubscribe(drop...), f.cfg.SubscribeTimeout); err != nil {
			return fmt.Errorf("mqttfabric: unsubscribe: %w", err)
		}
		for _, id := range dropIDs {
			delete(f.applied, id)
		}
	}
	if len(add) > 0 {
		tok := f.client.SubscribeMultiple(add, nil) // nil: the default handler
		if err := f.wait(ctx, tok, f.cfg.SubscribeTimeout); err != nil {
			return fmt.Errorf("mqttfabric: subscribe: %w", err)
		}
		// A broker refuses a filter with return code 0x80 (e.g. the ACL).
		if st, ok := tok.(*paho.SubscribeToken); ok {
			for topic, code := range st.Result() {
				if code == 0x80 {
					return fmt.Errorf("mqttfabric: subscribe %s: refused by broker", topic)
				}
			}
		}
		for _, id := range addIDs {
			f.applied[id] = struct{}{}
		}
	}
	return nil
}

// onMessage runs on Paho's router goroutine; it must not block.
func (f *Fabric) onMessage(_ paho.Client, m paho.Message) {
	id, leaf, err := mqtttopic.Parse(f.cfg.Fleet, m.Topic())
	if err != nil {
		f.malformed.Add(1)
		return
	}
	if hear := f.hear.Load(); hear == nil {
		return
	} else if _, ok := (*hear)[id]; !ok {
		return
	}
	switch leaf {
	case mqtttopic.Value:
		p := m.Payload()
		if len(p) == 0 || len(p) > attest.MaxEnvelopeSize {
			f.malformed.Add(1)
			return
		}
		f.inbox.Put(agent.Delivery{From: id, Envelope: slices.Clone(p)})
	case mqtttopic.State:
		f.peerMu.Lock()
		f.peers[id] = string(m.Payload())
		f.peerMu.Unlock()
	default:
		f.malformed.Add(1)
	}
}

// Inbox implements agent.Fabric.
func (f *Fabric) Inbox() <-chan agent.Delivery { return f.inbox.C() }

// PeerStates returns the last announced state of each subscribed peer
// (mqtttopic.StateOnline, StateOffline or StateLost).
func (f *Fabric) PeerStates() map[attest.MemberID]string {
	f.peerMu.Lock()
	defer f.peerMu.Unlock()
	out := make(map[attest.MemberID]string, len(f.peers))
	for k, v := range f.peers {
		out[k] = v
	}
	return out
}

// Connected reports whether the connection is currently open.
func (f *Fabric) Connected() bool { return f.client.IsConnectionOpen() }

// Stats implements agent.Fabric.
func (f *Fabric) Stats() agent.Stats {
	return agent.Stats{
		Published:     f.published.Load(),
		PublishErrors: f.publishErrors.Load(),
		Received:      f.inbox.Received(),
		Dropped:       f.inbox.Dropped(),
		Malformed:     f.malformed.Load(),
		Connects:      f.connects.Load(),
		ConnLost:      f.connLost.Load(),
	}
}

// Close announces "offline" (best effort, bounded), disconnects and closes
// the Inbox. Idempotent.
func (f *Fabric) Close() error {
	f.closeOnce.Do(func() {
		if f.client.IsConnectionOpen() {
			tok := f.client.Publish(f.state, 1, true, mqtttopic.StateOffline)
			tok.WaitTimeout(f.cfg.PublishTimeout)
		}
		f.shutdown()
	})
	return nil
}

func (f *Fabric) shutdown() {
	select {
	case <-f.closed:
	default:
		close(f.closed)
	}
	// Disconnect waits at most this long for in-flight work; it also stops
	// the reconnect loop.
	f.client.Disconnect(250)
	f.inbox.Close()
}
