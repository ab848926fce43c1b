package rdma

import (
	"bytes"
	"encoding/binary"
	"errors"
	"sync"
	"testing"
	"unsafe"

	"pgregory.net/rapid"
)

// region returns a zeroed, 8-byte aligned ring region on the heap.
func region(l Layout) []byte {
	words := make([]uint64, (l.Size()+7)/8)
	return unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), l.Size())
}

// TestRingModel drives a writer and a reader over one region through
// random interleavings of writes, polls, writer restarts (new
// incarnations) and reader restarts, against a FIFO model.
func TestRingModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		l := Layout{Slots: 1 << rapid.IntRange(0, 4).Draw(t, "log2slots"), SlotSize: 64 * rapid.IntRange(1, 3).Draw(t, "slot64")}
		mem := region(l)
		w, err := NewWriter(mem, l)
		if err != nil {
			t.Fatal(err)
		}
		r, err := NewReader(mem, l)
		if err != nil {
			t.Fatal(err)
		}
		var queue [][]byte // frames written, not yet read, in order
		next := uint64(0)
		t.Repeat(map[string]func(*rapid.T){
			"write": func(t *rapid.T) {
				n := rapid.IntRange(0, l.MaxPayload()+2).Draw(t, "len")
				p := make([]byte, n)
				for i := range p {
					p[i] = byte(next>>(8*(i%8))) + byte(i/8)
				}
				next++
				err := w.Write(p)
				switch {
				case n > l.MaxPayload():
					if !errors.Is(err, ErrTooLarge) {
						t.Fatalf("oversize write: %v", err)
					}
				case len(queue) == l.Slots:
					if !errors.Is(err, ErrFull) {
						t.Fatalf("write to a full ring: %v", err)
					}
				default:
					if err != nil {
						t.Fatalf("write with %d queued of %d: %v", len(queue), l.Slots, err)
					}
					queue = append(queue, p)
				}
				if w.Free() != l.Slots-len(queue) {
					t.Fatalf("free %d, model %d", w.Free(), l.Slots-len(queue))
				}
			},
			"poll": func(t *rapid.T) {
				// Empty polls are no-ops for the protocol, except that a
				// reader notices a new incarnation within genCheckEvery of
				// them: poll until a frame comes or that bound passes.
				var got []byte
				var ok bool
				for range genCheckEvery + 1 {
					var err error
					if got, ok, err = r.Poll(nil); err != nil {
						t.Fatal(err)
					}
					if ok || len(queue) == 0 {
						break
					}
				}
				if len(queue) == 0 {
					if ok {
						t.Fatalf("frame %x from an empty ring", got)
					}
					return
				}
				if !ok || !bytes.Equal(got, queue[0]) {
					t.Fatalf("poll: ok=%v got %x, want %x", ok, got, queue[0])
				}
				queue = queue[1:]
			},
			"restartWriter": func(t *rapid.T) {
				// A new incarnation discards what the old one left unread.
				old := w.Gen()
				w, err = NewWriter(mem, l)
				if err != nil {
					t.Fatal(err)
				}
				if w.Gen() == old || w.Gen() == 0 {
					t.Fatalf("generation %d after %d", w.Gen(), old)
				}
				queue = nil
			},
			"restartReader": func(t *rapid.T) {
				// The published head survives: nothing lost, nothing repeated.
				r, err = NewReader(mem, l)
				if err != nil {
					t.Fatal(err)
				}
			},
		})
	})
}

// TestRingConcurrent: a producer and a consumer goroutine over one region
// (run with -race): every frame arrives once, in order, and ErrFull is the
// only refusal.
func TestRingConcurrent(t *testing.T) {
	l := Layout{Slots: 8, SlotSize: 64}
	mem := region(l)
	w, err := NewWriter(mem, l)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewReader(mem, l)
	if err != nil {
		t.Fatal(err)
	}
	const n = 20000
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		p := make([]byte, 40)
		for i := uint64(0); i < n; {
			binary.LittleEndian.PutUint64(p, i)
			if err := w.Write(p); err != nil {
				if !errors.Is(err, ErrFull) {
					t.Error(err)
					return
				}
				continue
			}
			i++
		}
	}()
	var buf []byte
	for i := uint64(0); i < n; {
		got, ok, err := r.Poll(buf[:0])
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			continue
		}
		buf = got
		if v := binary.LittleEndian.Uint64(got); v != i || len(got) != 40 {
			t.Fatalf("frame %d: got %d (%d bytes)", i, v, len(got))
		}
		i++
	}
	wg.Wait()
}

func TestNextGen(t *testing.T) {
	for _, c := range []struct {
		prev uint64
		want uint16
	}{{0, 1}, {1, 2}, {genInit | 5, 6}, {genInit - 1, 1}, {0xffff, 1}} {
		if got := NextGen(c.prev); got != c.want {
			t.Errorf("NextGen(%#x) = %d, want %d", c.prev, got, c.want)
		}
	}
}

func TestLayoutValidate(t *testing.T) {
	for _, l := range []Layout{{0, 64}, {3, 64}, {8, 32}, {8, 100}, {MaxSlots * 2, 64}} {
		if err := l.Validate(); !errors.Is(err, ErrLayout) {
			t.Errorf("%+v: %v", l, err)
		}
	}
	if err := DefaultLayout.Validate(); err != nil {
		t.Fatal(err)
	}
	l := Layout{Slots: 4, SlotSize: 64}
	if _, err := NewWriter(region(l)[:l.Size()-1], l); !errors.Is(err, ErrLayout) {
		t.Fatalf("short region: %v", err)
	}
	mem := region(l)
	if _, err := NewWriter(mem, l); err != nil {
		t.Fatal(err)
	}
	if _, err := NewReader(mem, Layout{Slots: 2, SlotSize: 64}); !errors.Is(err, ErrLayout) {
		t.Fatalf("reader with another layout: %v", err)
	}
}

// FuzzDecodeSlot: DecodeSlot never panics, never reads past the slot, and
// accepts exactly what EncodeSlot wrote.
func FuzzDecodeSlot(f *testing.F) {
	good := make([]byte, 64)
	_ = EncodeSlot(good, []byte("attest envelope"), PackWord(1, 1))
	f.Add(good, PackWord(1, 1))
	f.Add(good, PackWord(1, 2))
	f.Add(make([]byte, 64), uint64(0))
	f.Add([]byte("short"), uint64(1))
	f.Fuzz(func(t *testing.T, slot []byte, want uint64) {
		out, err := DecodeSlot(nil, slot, want)
		if err != nil {
			if !errors.Is(err, ErrEmpty) && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrLayout) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if len(out) > len(slot)-16 {
			t.Fatalf("payload of %d bytes from a %d-byte slot", len(out), len(slot))
		}
		// Round trip: re-encoding the payload gives the same slot prefix.
		again := make([]byte, len(slot))
		if err := EncodeSlot(again, out, want); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again[:8+len(out)], slot[:8+len(out)]) {
			t.Fatalf("re-encoding differs")
		}
	})
}

// BenchmarkRingSerial: the protocol's own cost, one 64-byte frame written
// and read back on one goroutine (no cross-core traffic).
func BenchmarkRingSerial(b *testing.B) {
	l := Layout{Slots: 1024, SlotSize: 128}
	mem := region(l)
	w, err := NewWriter(mem, l)
	if err != nil {
		b.Fatal(err)
	}
	r, err := NewReader(mem, l)
	if err != nil {
		b.Fatal(err)
	}
	p := make([]byte, 64)
	buf := make([]byte, 0, 128)
	for range b.N {
		if err := w.Write(p); err != nil {
			b.Fatal(err)
		}
		if _, ok, _ := r.Poll(buf[:0]); !ok {
			b.Fatal("frame not readable after Write")
		}
	}
}
