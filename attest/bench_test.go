package attest_test

// Benchmarks: seal (sign) and open (verify) per second and core for each
// mode, with a 64-byte value payload (eight float64s), against an
// unauthenticated encode/decode of the same format in the same run. Run
// per core with:
//
//	go test -run '^$' -bench . -cpu 1 ./attest/

import (
	"testing"

	"github.com/wmsr/wmsr/attest"
)

func payload64(b *testing.B) []byte {
	p, err := attest.AppendValues(nil, []float64{1, 2, 3, 4, 5, 6, 7, 8})
	if err != nil || len(p) != 64 {
		b.Fatal(len(p), err)
	}
	return p
}

func reportRate(b *testing.B, perOp int) {
	if b.Elapsed() > 0 {
		b.ReportMetric(float64(b.N*perOp)/b.Elapsed().Seconds(), "msgs/s")
	}
}

func BenchmarkBaseline(b *testing.B) {
	p := payload64(b)
	e := attest.Envelope{Suite: attest.SuiteHMACSHA256, Sender: 1, Epoch: 1, Stream: attest.Channel(7),
		Counter: 1, Payload: p, Auth: make([]byte, 32)}
	raw, _ := e.AppendBinary(nil)
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 256)
		for b.Loop() {
			e.Counter++
			buf, _ = e.AppendBinary(buf[:0])
		}
		reportRate(b, 1)
	})
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := attest.Parse(raw); err != nil {
				b.Fatal(err)
			}
		}
		reportRate(b, 1)
	})
}

type benchMode struct {
	name    string
	seal    func(b *testing.B, from, to *node) *attest.Sender
	subKey  []byte
	poolLen int
}

func benchModes() []benchMode {
	return []benchMode{
		{name: "ed25519", poolLen: 1 << 10, seal: func(b *testing.B, from, _ *node) *attest.Sender {
			return broadcast(b, from, valueChannel, nil)
		}},
		{name: "hmac", poolLen: 1 << 15, seal: func(b *testing.B, from, to *node) *attest.Sender {
			return unicast(b, from, to, attest.SuiteHMACSHA256, false)
		}},
		{name: "hmac+gcm", poolLen: 1 << 14, seal: func(b *testing.B, from, to *node) *attest.Sender {
			return unicast(b, from, to, attest.SuiteHMACSHA256, true)
		}},
	}
}

func BenchmarkSeal(b *testing.B) {
	p := payload64(b)
	for _, m := range benchModes() {
		b.Run(m.name, func(b *testing.B) {
			_, ns := newNodes(b, 1, 2)
			s := m.seal(b, ns[0], ns[1])
			buf := make([]byte, 0, 512)
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if buf, err = s.Seal(buf[:0], 0, p); err != nil {
					b.Fatal(err)
				}
			}
			reportRate(b, 1)
		})
	}
}

// BenchmarkOpen verifies a pool of pre-sealed envelopes with fresh
// receivers (so every counter is new); receiver set-up is not timed.
func BenchmarkOpen(b *testing.B) {
	p := payload64(b)
	for _, m := range benchModes() {
		b.Run(m.name, func(b *testing.B) {
			_, ns := newNodes(b, 1, 2)
			s := m.seal(b, ns[0], ns[1])
			pool := make([][]byte, m.poolLen)
			for i := range pool {
				pool[i] = mustSeal(b, s, 0, p)
			}
			fresh := func() *attest.Receiver {
				r := attest.NewReceiver(ns[1].id(), attest.ReceiverConfig{})
				if err := r.AddMember(ns[0].m); err != nil {
					b.Fatal(err)
				}
				_ = r.Subscribe(valueChannel, nil)
				return r
			}
			r := fresh()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if i == len(pool) {
					b.StopTimer()
					r, i = fresh(), 0
					b.StartTimer()
				}
				if _, err := r.Open(pool[i]); err != nil {
					b.Fatal(err)
				}
				i++
			}
			reportRate(b, 1)
		})
	}
}

// BenchmarkOpenBatch verifies 64 Ed25519 envelopes (one W-MSR round from 64
// neighbours) per operation with batch verification.
func BenchmarkOpenBatch(b *testing.B) {
	const n = 64
	p := payload64(b)
	_, ns := newNodes(b, 2, n+1)
	var round [][]byte
	for _, nd := range ns[1:] {
		round = append(round, mustSeal(b, broadcast(b, nd, valueChannel, nil), 0, p))
	}
	var out []attest.Result
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		r := attest.NewReceiver(ns[0].id(), attest.ReceiverConfig{})
		_ = r.Subscribe(valueChannel, nil)
		for _, nd := range ns[1:] {
			if err := r.AddMember(nd.m); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		out = r.OpenBatch(round, out)
		for _, res := range out {
			if res.Err != nil {
				b.Fatal(res.Err)
			}
		}
	}
	reportRate(b, n)
}
