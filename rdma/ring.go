package rdma

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"sync/atomic"
	"unsafe"
)

// This file is the mailbox protocol: one single-producer single-consumer
// ring per directed pair (sender → receiver), living in the receiver's
// registered memory, written by the sender with one-sided writes only. It
// is pure: it touches nothing but the byte slices it is given, so the same
// code runs over a shared-memory mapping (shm), over a heap slice in the
// model test, and builds the frames the ibverbs provider RDMA-WRITEs.
//
// # Layout of a ring region (all words little-endian, 8-byte aligned)
//
//	offset 0   magic      "WMSRRNG1" once the first writer initialised it
//	offset 8   layout     Slots<<32 | SlotSize, checked by both sides
//	offset 16  gen word   generation of the writer incarnation (| genInit while it initialises)
//	offset 24  reserved   (zeroed at initialisation)
//	offset 32  reserved   (scratch for providers)
//	offset 64  head word  pack(gen, frames consumed), written by the receiver,
//	                      read by the sender; its own cache line so the
//	                      receiver's stores do not bounce the sender's line
//	offset 128 slot 0 … slot Slots-1, SlotSize bytes each
//
// # Layout of a slot
//
//	[0:4]             payload length n (uint32)
//	[4:8]             CRC-32C of the length word and the payload
//	[8:8+n]           payload (an attest envelope, unchanged)
//	[SlotSize-8:]     trailer = pack(gen, seq), stored LAST with an atomic store
//
// # Invariants
//
//   - Frame seq k (k = 1, 2, …) of generation g lives in slot (k-1) mod
//     Slots; its trailer is pack(g, k). Zero is never a valid trailer, so a
//     zeroed slot is empty.
//   - The sender writes frame k only when k - head ≤ Slots, i.e. after the
//     receiver published that it consumed frame k - Slots: a slot is never
//     overwritten while the receiver may still read it. When the ring is
//     full Write fails at once with ErrFull; it never waits.
//   - The receiver consumes frame head+1 only when the slot's trailer is
//     exactly pack(g, head+1): the frame of the previous lap (k - Slots),
//     of another generation, or a half-written slot never matches.
//   - The receiver publishes head only after it copied the payload out.
//   - A head word whose generation is not the sender's counts as head 0:
//     a receiver that has not yet seen a new generation cannot free slots
//     of it.
//
// # Recovery rule
//
// A writer incarnation owns the ring from the moment it initialises it: it
// reads the previous generation g, stores g+1|genInit, zeroes every
// trailer and the tail, then stores g+1. Frames of the previous
// incarnation that were not consumed are discarded (a newer value
// supersedes them; attest counters report the gap end to end). A receiver
// that sees a generation other than its own (and without genInit) adopts
// it and restarts at head 0; it publishes pack(g+1, 0). Generations are
// 16 bits and wrap (skipping 0); a collision needs 65535 writer restarts
// unseen by the receiver.

// Layout constants. HeaderSize keeps the head word on its own cache line
// and slots 64-byte aligned.
const (
	HeaderSize = 128

	offMagic  = 0
	offLayout = 8
	offGen    = 16
	offTail   = 24
	// offScratch is reserved header space a provider may use as the
	// source of a word it writes remotely (ibverbs: the "initialising"
	// gen word).
	offScratch = 32
	offHead    = 64

	slotHeader  = 8 // length + CRC
	slotTrailer = 8 // pack(gen, seq)

	// MinSlotSize holds a 48-byte payload; slot sizes are multiples of 64
	// so slots never share a cache line.
	MinSlotSize = 64
	// MaxSlots bounds a ring to a sane size (and seq arithmetic far from
	// any wrap).
	MaxSlots = 1 << 20

	magic   = 0x31474e5252534d57 // "WMSRRNG1" little-endian
	genInit = 1 << 15            // set in the gen word while a writer initialises
	seqBits = 48
	seqMask = 1<<seqBits - 1
)

// Errors of the ring protocol. Providers and the fabric wrap them.
var (
	// ErrFull: the receiver has not consumed enough frames; the frame was
	// not written. Back-pressure is refusal: the caller decides.
	ErrFull = errors.New("rdma: ring full")
	// ErrTooLarge: the payload does not fit a slot.
	ErrTooLarge = errors.New("rdma: payload larger than a ring slot")
	// ErrEmpty: the slot does not hold the expected frame (yet).
	ErrEmpty = errors.New("rdma: slot empty")
	// ErrCorrupt: the slot holds the expected trailer but an impossible
	// length or a bad checksum (a torn or foreign write).
	ErrCorrupt = errors.New("rdma: corrupt frame")
	// ErrLayout: the ring region is misaligned, too small, or was
	// initialised with another layout.
	ErrLayout = errors.New("rdma: ring layout mismatch")
	// ErrNotReady: no writer has initialised the ring yet (or one is
	// initialising it).
	ErrNotReady = errors.New("rdma: ring not initialised by a writer yet")
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Layout is the geometry of a ring; both sides must agree on it.
type Layout struct {
	Slots    int // a power of two, ≤ MaxSlots
	SlotSize int // bytes per slot, a multiple of 64, ≥ MinSlotSize
}

// DefaultLayout: 1024 slots of 512 bytes (an attest envelope with a value
// and an Ed25519 signature is about 150 bytes), 512 KiB per directed pair.
var DefaultLayout = Layout{Slots: 1024, SlotSize: 512}

// Validate reports whether l is usable.
func (l Layout) Validate() error {
	if l.Slots <= 0 || l.Slots > MaxSlots || l.Slots&(l.Slots-1) != 0 {
		return fmt.Errorf("%w: %d slots (want a power of two ≤ %d)", ErrLayout, l.Slots, MaxSlots)
	}
	if l.SlotSize < MinSlotSize || l.SlotSize%64 != 0 || l.SlotSize > 1<<24 {
		return fmt.Errorf("%w: slot size %d (want a multiple of 64 in [%d, 16 MiB])", ErrLayout, l.SlotSize, MinSlotSize)
	}
	return nil
}

// Size is the bytes of a ring region.
func (l Layout) Size() int { return HeaderSize + l.Slots*l.SlotSize }

// MaxPayload is the largest payload a slot holds.
func (l Layout) MaxPayload() int { return l.SlotSize - slotHeader - slotTrailer }

// SlotOffset is the offset in the region of the slot of frame seq (≥ 1).
func (l Layout) SlotOffset(seq uint64) int {
	return HeaderSize + int((seq-1)&uint64(l.Slots-1))*l.SlotSize
}

func (l Layout) word() uint64 { return uint64(l.Slots)<<32 | uint64(l.SlotSize) }

// PackWord joins a generation and a sequence number or head count into
// the 64-bit words the ring publishes atomically.
func PackWord(gen uint16, n uint64) uint64 { return uint64(gen)<<seqBits | n&seqMask }

// UnpackWord splits a word made by PackWord.
func UnpackWord(w uint64) (gen uint16, n uint64) { return uint16(w >> seqBits), w & seqMask }

// NextGen is the generation a new writer incarnation takes after prev
// (the gen word it found, genInit bit included): never 0, never with
// genInit set.
func NextGen(prev uint64) uint16 {
	g := (uint16(prev)&^genInit + 1) &^ genInit
	if g == 0 {
		g = 1
	}
	return g
}

// EncodeSlot writes payload and trailer into slot (len SlotSize). The
// trailer is stored last, atomically when slot is 8-byte aligned, so a
// reader that matches the trailer sees a complete frame in the same
// address space; for RDMA the provider writes the whole slot in one WRITE
// and the CRC guards against a placement order that differs.
func EncodeSlot(slot, payload []byte, trailer uint64) error {
	if len(slot) < MinSlotSize {
		return fmt.Errorf("%w: slot of %d bytes", ErrLayout, len(slot))
	}
	if max := len(slot) - slotHeader - slotTrailer; len(payload) > max {
		return fmt.Errorf("%w: %d bytes, slot holds %d", ErrTooLarge, len(payload), max)
	}
	binary.LittleEndian.PutUint32(slot[0:4], uint32(len(payload)))
	copy(slot[slotHeader:], payload)
	binary.LittleEndian.PutUint32(slot[4:8], frameCRC(slot[0:4], payload))
	storeWord(slot, len(slot)-slotTrailer, trailer)
	return nil
}

// DecodeSlot checks that slot holds the frame whose trailer is want and
// returns its payload appended to dst. ErrEmpty means not (yet) there;
// ErrCorrupt means the trailer matched but the contents cannot be a frame
// this protocol wrote. It never reads outside slot and never panics.
func DecodeSlot(dst, slot []byte, want uint64) ([]byte, error) {
	if len(slot) < MinSlotSize {
		return dst, fmt.Errorf("%w: slot of %d bytes", ErrLayout, len(slot))
	}
	if got := loadWord(slot, len(slot)-slotTrailer); got != want || want == 0 {
		return dst, ErrEmpty
	}
	n := binary.LittleEndian.Uint32(slot[0:4])
	if int64(n) > int64(len(slot)-slotHeader-slotTrailer) {
		return dst, fmt.Errorf("%w: length %d in a slot of %d bytes", ErrCorrupt, n, len(slot))
	}
	payload := slot[slotHeader : slotHeader+int(n)]
	if frameCRC(slot[0:4], payload) != binary.LittleEndian.Uint32(slot[4:8]) {
		return dst, fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
	}
	return append(dst, payload...), nil
}

func frameCRC(lenWord, payload []byte) uint32 {
	return crc32.Update(crc32.Checksum(lenWord, castagnoli), castagnoli, payload)
}

// loadWord and storeWord access the 8 bytes at b[off:] atomically when
// they are 8-byte aligned in memory (always so in a ring region, which the
// constructors check); otherwise, as for arbitrary fuzz input, plainly.
func loadWord(b []byte, off int) uint64 {
	w := b[off : off+8 : off+8]
	if uintptr(unsafe.Pointer(&w[0]))%8 == 0 {
		return atomic.LoadUint64((*uint64)(unsafe.Pointer(&w[0])))
	}
	return binary.LittleEndian.Uint64(w)
}

func storeWord(b []byte, off int, v uint64) {
	w := b[off : off+8 : off+8]
	if uintptr(unsafe.Pointer(&w[0]))%8 == 0 {
		atomic.StoreUint64((*uint64)(unsafe.Pointer(&w[0])), v)
		return
	}
	binary.LittleEndian.PutUint64(w, v)
}

func checkRegion(mem []byte, l Layout) error {
	if err := l.Validate(); err != nil {
		return err
	}
	if len(mem) < l.Size() {
		return fmt.Errorf("%w: region of %d bytes, layout needs %d", ErrLayout, len(mem), l.Size())
	}
	if uintptr(unsafe.Pointer(&mem[0]))%8 != 0 {
		return fmt.Errorf("%w: region not 8-byte aligned", ErrLayout)
	}
	// The atomic paths store native-endian words and the protocol is
	// little-endian: refuse a host where they would differ.
	probe := uint64(1)
	if (*[8]byte)(unsafe.Pointer(&probe))[0] != 1 {
		return fmt.Errorf("%w: big-endian host", ErrLayout)
	}
	return nil
}

// Writer is the sending side of one ring mapped in this address space (the
// shm provider, and the model test). It is not safe for concurrent use:
// one sender owns a ring.
type Writer struct {
	mem  []byte
	l    Layout
	gen  uint16
	tail uint64
	// head is the last head the receiver published, as seen by this
	// writer. It is reloaded only when the ring looks full, so the
	// writer does not pull the receiver's cache line on every frame.
	head uint64
}

// NewWriter initialises the ring in mem as a new writer incarnation (see
// the recovery rule) and returns its writer.
func NewWriter(mem []byte, l Layout) (*Writer, error) {
	if err := checkRegion(mem, l); err != nil {
		return nil, err
	}
	prev := uint64(0)
	if loadWord(mem, offMagic) == magic {
		if loadWord(mem, offLayout) != l.word() {
			return nil, fmt.Errorf("%w: ring initialised as %#x, want %#x", ErrLayout, loadWord(mem, offLayout), l.word())
		}
		prev = loadWord(mem, offGen)
	}
	gen := NextGen(prev)
	// Mark the ring as initialising before touching slots, so a receiver
	// neither adopts a half-reset generation nor reads slots being reset.
	storeWord(mem, offGen, uint64(gen)|genInit)
	storeWord(mem, offLayout, l.word())
	storeWord(mem, offMagic, magic)
	for i := range l.Slots {
		storeWord(mem, HeaderSize+(i+1)*l.SlotSize-slotTrailer, 0)
	}
	storeWord(mem, offTail, 0)
	storeWord(mem, offGen, uint64(gen))
	return &Writer{mem: mem[:l.Size():l.Size()], l: l, gen: gen}, nil
}

// Gen returns the writer's generation.
func (w *Writer) Gen() uint16 { return w.gen }

// Tail returns how many frames this incarnation wrote.
func (w *Writer) Tail() uint64 { return w.tail }

// Free returns how many frames can be written now.
func (w *Writer) Free() int {
	w.loadHead()
	return w.l.Slots - int(w.tail-w.head)
}

func (w *Writer) loadHead() {
	g, h := UnpackWord(loadWord(w.mem, offHead))
	if g != w.gen || h > w.tail || h < w.head {
		// A receiver that has not adopted this generation (or a stale
		// store of the previous one) frees nothing; a head never moves
		// back.
		return
	}
	w.head = h
}

// Write publishes payload as the next frame, or fails at once with
// ErrFull or ErrTooLarge.
func (w *Writer) Write(payload []byte) error {
	if len(payload) > w.l.MaxPayload() {
		return fmt.Errorf("%w: %d bytes, slot holds %d", ErrTooLarge, len(payload), w.l.MaxPayload())
	}
	if w.tail-w.head >= uint64(w.l.Slots) {
		if w.loadHead(); w.tail-w.head >= uint64(w.l.Slots) {
			return ErrFull
		}
	}
	seq := w.tail + 1
	off := w.l.SlotOffset(seq)
	if err := EncodeSlot(w.mem[off:off+w.l.SlotSize], payload, PackWord(w.gen, seq)); err != nil {
		return err
	}
	// The tail word is not stored per frame: it shares the header line
	// the receiver reads, and the protocol does not need it.
	w.tail = seq
	return nil
}

// Reader is the receiving side of one ring in this address space. It is
// not safe for concurrent use.
type Reader struct {
	mem    []byte
	l      Layout
	gen    uint16 // 0 until a generation was adopted
	head   uint64
	resets uint64
	idle   int // empty polls since the gen word was last checked
}

// genCheckEvery: an idle reader looks at the gen word once per this many
// empty polls, so that polling an idle ring touches only the expected
// slot's line, not the header line a new writer incarnation writes.
const genCheckEvery = 64

// NewReader attaches to the ring in mem. A ring no writer initialised yet
// is fine: Poll reports nothing until one does. A reader that restarts
// resumes at the head it published if the writer's generation is
// unchanged.
func NewReader(mem []byte, l Layout) (*Reader, error) {
	if err := checkRegion(mem, l); err != nil {
		return nil, err
	}
	r := &Reader{mem: mem[:l.Size():l.Size()], l: l}
	if loadWord(mem, offMagic) == magic && loadWord(mem, offLayout) != l.word() {
		return nil, fmt.Errorf("%w: ring initialised as %#x, want %#x", ErrLayout, loadWord(mem, offLayout), l.word())
	}
	if g := loadWord(mem, offGen); g&genInit == 0 && g != 0 && loadWord(mem, offMagic) == magic {
		hg, h := UnpackWord(loadWord(mem, offHead))
		r.gen = uint16(g)
		if hg == r.gen {
			r.head = h
		}
		storeWord(r.mem, offHead, PackWord(r.gen, r.head))
	}
	return r, nil
}

// Gen returns the generation the reader follows (0: none yet).
func (r *Reader) Gen() uint16 { return r.gen }

// Head returns how many frames of the current generation were consumed.
func (r *Reader) Head() uint64 { return r.head }

// Resets returns how many writer incarnations the reader adopted.
func (r *Reader) Resets() uint64 { return r.resets }

// Poll appends the next frame's payload to dst and reports true, or
// reports false when there is none. A frame that fails its checksum is
// consumed and reported with ErrCorrupt (so one bad write cannot wedge
// the ring). A new writer incarnation is noticed at once if its frame is
// in the expected slot, else within genCheckEvery empty polls.
func (r *Reader) Poll(dst []byte) ([]byte, bool, error) {
	check := r.gen == 0
	if r.gen != 0 {
		want := PackWord(r.gen, r.head+1)
		off := r.l.SlotOffset(r.head + 1)
		slot := r.mem[off : off+r.l.SlotSize]
		out, err := DecodeSlot(dst, slot, want)
		if err == nil {
			// Seqlock-style re-check: a new writer incarnation zeroes
			// trailers before it writes any payload, so if the trailer
			// still matches, the copy was not torn by a reset.
			if loadWord(slot, r.l.SlotSize-slotTrailer) != want {
				return dst, false, nil
			}
			r.consume()
			return out, true, nil
		}
		if !errors.Is(err, ErrEmpty) {
			r.consume()
			return dst, false, err
		}
		// The previous lap's frame carries our generation; a frame of
		// another one means a new incarnation took over.
		g, _ := UnpackWord(loadWord(slot, r.l.SlotSize-slotTrailer))
		r.idle++
		check = (g != r.gen && g != 0) || r.idle >= genCheckEvery
	}
	if !check {
		return dst, false, nil
	}
	r.idle = 0
	if loadWord(r.mem, offMagic) != magic {
		return dst, false, nil
	}
	g := loadWord(r.mem, offGen)
	if g&genInit != 0 || g == 0 || uint16(g) == r.gen {
		return dst, false, nil
	}
	r.gen, r.head = uint16(g), 0
	r.resets++
	storeWord(r.mem, offHead, PackWord(r.gen, 0))
	return r.Poll(dst)
}

func (r *Reader) consume() {
	r.head++
	storeWord(r.mem, offHead, PackWord(r.gen, r.head))
}

// addWord atomically adds d to the aligned word at b[off:] (control
// counters shared between processes).
func addWord(b []byte, off int, d uint64) uint64 {
	w := b[off : off+8 : off+8]
	return atomic.AddUint64((*uint64)(unsafe.Pointer(&w[0])), d)
}
