package wmsr

import (
	"math"
	"testing"
)

func TestDelayBuffer(t *testing.T) {
	b := NewDelayBuffer(4)
	if b.Len() != 4 {
		t.Fatalf("Len = %d", b.Len())
	}
	var buf []float64
	vals, omitted := b.Values(0, 5, buf)
	if len(vals) != 0 || omitted != 4 {
		t.Fatalf("empty buffer: %v, %d omitted", vals, omitted)
	}
	b.Observe(0, 10, 1.0)
	b.Observe(1, 8, 2.0)
	b.Observe(2, 5, 3.0)
	b.Observe(3, 12, 4.0) // stamped after now = 10
	vals, omitted = b.Values(10, 2, buf)
	if want := []float64{1, 2}; !equalFloats(vals, want) || omitted != 2 {
		t.Fatalf("Values(10, D=2) = %v, %d omitted; want %v, 2", vals, omitted, want)
	}
	vals, omitted = b.Values(10, 5, buf)
	if want := []float64{1, 2, 3}; !equalFloats(vals, want) || omitted != 1 {
		t.Fatalf("Values(10, D=5) = %v, %d omitted; want %v, 1", vals, omitted, want)
	}
	// D = 0: synchronous, only this round's values.
	if vals, omitted = b.Values(10, 0, buf); !equalFloats(vals, []float64{1}) || omitted != 3 {
		t.Fatalf("Values(10, D=0) = %v, %d", vals, omitted)
	}
	// A late message from an earlier round does not replace a newer value.
	b.Observe(0, 9, -7)
	if vals, _ = b.Values(10, 0, buf); !equalFloats(vals, []float64{1}) {
		t.Fatalf("older message replaced newer: %v", vals)
	}
	// A newer one, or a second one for the same round, does.
	b.Observe(0, 10, 1.5)
	if vals, _ = b.Values(10, 0, buf); !equalFloats(vals, []float64{1.5}) {
		t.Fatalf("same-round message not taken: %v", vals)
	}
	// Values feeds Update directly; omissions just shrink the view.
	vals, _ = b.Values(10, 5, buf)
	if got := Update(2, vals, 1); got != Update(2, []float64{1.5, 2, 3}, 1) {
		t.Fatalf("Update on delayed view = %v", got)
	}
}

func TestDelayBufferPanics(t *testing.T) {
	for name, f := range map[string]func(){
		"negative degree": func() { NewDelayBuffer(-1) },
		"index":           func() { NewDelayBuffer(2).Observe(2, 0, 1) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			f()
		})
	}
}

// Safety with delays (Dibaji & Ishii 2017; LeBlanc & Koutsoukos 2012): a
// node using values up to D rounds old stays within the range the normal
// values spanned over those rounds, whatever at most F adversaries send.
func TestDelayedSafety(t *testing.T) {
	const deg, F, D = 8, 2, 3
	b := NewDelayBuffer(deg)
	lo, hi := math.Inf(1), math.Inf(-1)
	own := 0.5
	lo, hi = min(lo, own), max(hi, own)
	for r := range 20 {
		for k := range deg {
			var v float64
			if k < F {
				v = []float64{1e9, -1e9, math.NaN()}[r%3] // adversaries
			} else if (r+k)%3 != 0 { // normal neighbours report irregularly
				v = float64((r*7+k*3)%11) / 10
				lo, hi = min(lo, v), max(hi, v)
			} else {
				continue
			}
			b.Observe(k, r, v)
		}
		vals, _ := b.Values(r, D, nil)
		own = Update(own, vals, F)
		if own < lo-1e-15 || own > hi+1e-15 {
			t.Fatalf("round %d: %v outside the normal range [%v, %v]", r, own, lo, hi)
		}
	}
}

func equalFloats(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !sameFloat(a[i], b[i]) {
			return false
		}
	}
	return true
}
