package mqttfabric_test

import (
	"context"
	"errors"
	"net"
	"runtime"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"

	"github.com/wmsr/wmsr/agent/broker"
	"github.com/wmsr/wmsr/agent/mqttfabric"
	"github.com/wmsr/wmsr/agent/mqtttopic"
	"github.com/wmsr/wmsr/attest"
)

// rawClient is a bare Paho client logged in as user, for doing what the
// fabric never does (publishing on another agent's topic).
func rawClient(t *testing.T, url, user string, pw []byte, will string) (paho.Client, error) {
	t.Helper()
	o := paho.NewClientOptions().AddBroker(url).SetClientID("raw-" + user + "-" + t.Name()).
		SetUsername(user).SetPassword(string(pw)).SetAutoReconnect(false).SetConnectTimeout(2 * time.Second)
	if will != "" {
		o.SetWill(will, mqtttopic.StateLost, 1, true)
	}
	c := paho.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(5 * time.Second) {
		return nil, errors.New("connect timed out")
	}
	if err := tok.Error(); err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c, nil
}

// testImpersonation: agent 801 publishes on 802's value topic; the
// subscriber of 802 never sees it, but does see 802's own value.
func testImpersonation(t *testing.T, b testBroker) {
	sub := dial(t, clientConfig(b.URL(), 803))
	defer sub.Close()
	real := dial(t, clientConfig(b.URL(), 802))
	defer real.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := sub.Subscribe(ctx, []attest.MemberID{802}); err != nil {
		t.Fatal(err)
	}
	evil, err := rawClient(t, b.URL(), mqtttopic.Agent(801), password(801), "")
	if err != nil {
		t.Fatal(err)
	}
	forged := []byte("forged by 801")
	tok := evil.Publish(mqtttopic.ValueTopic(fleet, 802), 0, false, forged)
	tok.WaitTimeout(time.Second)
	if err := real.Publish(ctx, []byte("genuine")); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(500 * time.Millisecond)
	genuine := false
	for {
		select {
		case d := <-sub.Inbox():
			if string(d.Envelope) == string(forged) {
				t.Fatal("the broker delivered 801's publication on 802's topic")
			}
			genuine = true
		case <-deadline:
			if !genuine {
				t.Fatal("802's own value did not arrive")
			}
			return
		}
	}
}

func testBadCredentials(t *testing.T, b testBroker) {
	if _, err := rawClient(t, b.URL(), mqtttopic.Agent(801), []byte("wrong"), ""); err == nil {
		t.Fatal("wrong password accepted")
	}
	if _, err := rawClient(t, b.URL(), "admin", password(801), ""); err == nil {
		t.Fatal("non-agent username accepted")
	}
	cfg := clientConfig(b.URL(), 801)
	cfg.Password = []byte("wrong")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	f, err := mqttfabric.Dial(ctx, cfg)
	if err == nil {
		f.Close()
		t.Fatal("Dial with a wrong password succeeded")
	}
	// A refusal is final: Dial says so at once instead of retrying until
	// the caller's deadline.
	if !errors.Is(err, mqttfabric.ErrRefused) || time.Since(start) > 2*time.Second {
		t.Fatalf("Dial with a wrong password: %v after %v, want ErrRefused at once", err, time.Since(start))
	}
}

func TestACLEmbedded(t *testing.T) {
	b := startEmbedded(t, embeddedConfig())
	t.Run("Impersonation", func(t *testing.T) { testImpersonation(t, b) })
	t.Run("BadCredentials", func(t *testing.T) { testBadCredentials(t, b) })
	t.Run("ForeignWill", func(t *testing.T) {
		// mochi does not ACL-check wills; the hook refuses the connection.
		if _, err := rawClient(t, b.URL(), mqtttopic.Agent(801), password(801), mqtttopic.StateTopic(fleet, 802)); err == nil {
			t.Fatal("a will on another agent's state topic was accepted")
		}
		if _, err := rawClient(t, b.URL(), mqtttopic.Agent(801), password(801), mqtttopic.StateTopic(fleet, 801)); err != nil {
			t.Fatalf("own will refused: %v", err)
		}
	})
	t.Run("ForeignFleetSubscription", func(t *testing.T) {
		c, err := rawClient(t, b.URL(), mqtttopic.Agent(801), password(801), "")
		if err != nil {
			t.Fatal(err)
		}
		tok := c.Subscribe("#", 0, func(paho.Client, paho.Message) {})
		tok.WaitTimeout(2 * time.Second)
		if code := tok.(*paho.SubscribeToken).Result()["#"]; code != 0x80 {
			t.Fatalf("subscription to # granted with code %#x", code)
		}
	})
}

func TestACLMosquitto(t *testing.T) {
	b := startMosquitto(t)
	t.Run("Impersonation", func(t *testing.T) { testImpersonation(t, b) })
	t.Run("BadCredentials", func(t *testing.T) { testBadCredentials(t, b) })
}

// TestFleetToken: a shared token logs any agent in, and the ACL still
// confines each one to its own subtree.
func TestFleetToken(t *testing.T) {
	cfg := broker.DefaultConfig()
	cfg.Fleet = fleet
	cfg.FleetToken = []byte("fleet-secret")
	cfg.Passwords = map[string][]byte{"7": []byte("own")}
	b := startEmbedded(t, cfg)
	if _, err := rawClient(t, b.URL(), "5", []byte("fleet-secret"), ""); err != nil {
		t.Fatalf("token refused: %v", err)
	}
	if _, err := rawClient(t, b.URL(), "7", []byte("fleet-secret"), ""); err == nil {
		t.Fatal("token accepted for an agent with its own password")
	}
	if _, err := rawClient(t, b.URL(), "7", []byte("own"), ""); err != nil {
		t.Fatalf("own password refused: %v", err)
	}
}

// TestPeerStates: the retained state topic tells a subscriber who is
// online, who left cleanly, and (last will) who was lost.
func TestPeerStates(t *testing.T) {
	b := startEmbedded(t, embeddedConfig())
	sub := dial(t, clientConfig(b.URL(), 851))
	defer sub.Close()
	a := dial(t, clientConfig(b.URL(), 852))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := sub.Subscribe(ctx, []attest.MemberID{852, 853}); err != nil {
		t.Fatal(err)
	}
	waitState(t, sub, 852, mqtttopic.StateOnline)
	a.Close()
	waitState(t, sub, 852, mqtttopic.StateOffline)
	// 853 is lost: its TCP connection ends without a DISCONNECT, so the
	// broker publishes its will.
	conn, err := net.DialTimeout("tcp", b.addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	cp := packets.NewControlPacket(packets.Connect).(*packets.ConnectPacket)
	cp.ProtocolName, cp.ProtocolVersion = "MQTT", 4
	cp.ClientIdentifier, cp.Keepalive, cp.CleanSession = "lost-853", 30, true
	cp.UsernameFlag, cp.Username = true, "853"
	cp.PasswordFlag, cp.Password = true, password(853)
	cp.WillFlag, cp.WillQos, cp.WillRetain = true, 1, true
	cp.WillTopic, cp.WillMessage = mqtttopic.StateTopic(fleet, 853), []byte(mqtttopic.StateLost)
	if err := cp.Write(conn); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	ack, err := packets.ReadPacket(conn)
	if err != nil {
		t.Fatal(err)
	}
	if ca, ok := ack.(*packets.ConnackPacket); !ok || ca.ReturnCode != 0 {
		t.Fatalf("CONNACK %v", ack)
	}
	conn.Close()
	waitState(t, sub, 853, mqtttopic.StateLost)
}

func waitState(t *testing.T, f *mqttfabric.Fabric, id attest.MemberID, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for f.PeerStates()[id] != want {
		if time.Now().After(deadline) {
			t.Fatalf("state of %d is %q, want %q", id, f.PeerStates()[id], want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestDialGivesUp: Dial to a dead address ends with ctx, and the client
// stops retrying (no goroutines left behind).
func TestDialGivesUp(t *testing.T) {
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := mqttfabric.Dial(ctx, clientConfig("tcp://"+freeAddr(t), 1))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Dial: %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Dial took %v", d)
	}
	deadline := time.Now().Add(3 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines left, %d before", runtime.NumGoroutine(), before)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Dial keeps trying while the broker is not there yet (an agent started
// before its broker), and connects once it listens.
func TestDialWaitsForBroker(t *testing.T) {
	addr := freeAddr(t)
	cfg := clientConfig("tcp://"+addr, 1)
	cfg.MaxReconnectInterval = 50 * time.Millisecond
	started := make(chan error, 1)
	b, err := broker.New(embeddedConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	go func() {
		time.Sleep(300 * time.Millisecond)
		_, err := b.Start(context.Background(), addr)
		started <- err
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	f, err := mqttfabric.Dial(ctx, cfg)
	if err != nil {
		t.Fatalf("Dial before the broker listens: %v (broker start: %v)", err, <-started)
	}
	f.Close()
	if err := <-started; err != nil {
		t.Fatal(err)
	}
}
