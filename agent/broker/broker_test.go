package broker

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// records keeps what a logger was given.
type records struct {
	mu  sync.Mutex
	got []slog.Record
}

func (r *records) Enabled(context.Context, slog.Level) bool { return true }
func (r *records) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *records) WithGroup(string) slog.Handler            { return r }
func (r *records) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, rec.Clone())
	return nil
}

// ended returns the levels and errors of the "client connection ended"
// records, and how many records had no message.
func (r *records) ended() (levels []slog.Level, errs []error, blank int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range r.got {
		if rec.Message == "" {
			blank++
		}
		if rec.Message != "broker: client connection ended" {
			continue
		}
		levels = append(levels, rec.Level)
		var err error
		rec.Attrs(func(a slog.Attr) bool {
			if e, ok := a.Value.Any().(error); ok && a.Key == "error" {
				err = e
			}
			return true
		})
		errs = append(errs, err)
	}
	return levels, errs, blank
}

// TestConnectionEndsLogged: mochi's listener reports a connection that
// ends unclean as a Warn with no message. The broker logs a client that
// vanished before its CONNECT at Info and its own shutdown's closing of
// client connections at Debug, both with a message, and never a blank
// line.
func TestConnectionEndsLogged(t *testing.T) {
	rec := &records{}
	cfg := DefaultConfig()
	cfg.Fleet, cfg.FleetToken, cfg.Logger = "demo", []byte("token"), slog.New(rec)
	b, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	addr, err := b.Start(context.Background(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	// A client that connects and goes away without a word.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	waitFor(t, "the vanished client's record", func() bool { l, _, _ := rec.ended(); return len(l) == 1 })
	levels, errs, _ := rec.ended()
	if levels[0] != slog.LevelInfo || errs[0] == nil || errors.Is(errs[0], net.ErrClosed) {
		t.Fatalf("vanished client: level %v, error %v; want Info with the read error", levels[0], errs[0])
	}

	// A connected agent, then the broker shuts down under it.
	o := paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID("7").SetUsername("7").SetPassword("token").SetAutoReconnect(false)
	cl := paho.NewClient(o)
	if tok := cl.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer cl.Disconnect(0)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the shutdown's record", func() bool { l, _, _ := rec.ended(); return len(l) == 2 })
	levels, errs, blank := rec.ended()
	if levels[1] != slog.LevelDebug || !errors.Is(errs[1], net.ErrClosed) {
		t.Fatalf("shutdown: level %v, error %v; want Debug with net.ErrClosed", levels[1], errs[1])
	}
	if blank > 0 {
		t.Fatalf("%d records with no message", blank)
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !ok(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 5 s", what)
		}
	}
}
