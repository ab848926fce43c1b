package wmsr

import "testing"

func TestWindow(t *testing.T) {
	if _, err := NewWindow(0); err == nil {
		t.Fatal("NewWindow(0): no error")
	}
	w, err := NewWindow(3)
	if err != nil || w.T() != 3 {
		t.Fatal(w, err)
	}
	// Agents come and go: 7 heard in round 1, 2 in rounds 2 and 4, 5 in 3.
	w.Observe(7, 1, 70)
	w.Observe(2, 2, 20)
	w.Observe(5, 3, 50)
	w.Observe(2, 4, 21)
	w.Observe(2, 3, 99) // late and older: ignored
	var buf []float64
	var ids []int
	// At round 4 the window is rounds 2..4: senders 2 (newest, 21) and 5.
	if got := w.Values(4, buf); !equalFloats(got, []float64{21, 50}) {
		t.Fatalf("Values(4) = %v", got)
	}
	if got := w.Senders(4, ids); !equalInts(got, []int{2, 5}) {
		t.Fatalf("Senders(4) = %v", got)
	}
	// At round 3 the window is 1..3, and 2's value of round 4 is not yet
	// sent as far as round 3 is concerned.
	if got := w.Values(3, buf); !equalFloats(got, []float64{50, 70}) {
		t.Fatalf("Values(3) = %v", got)
	}
	// SW-MSR trims over the union of the window: 7 is heard only in round
	// 1, yet counts at round 3.
	if got, want := Update(0, w.Values(3, buf), 1), Update(0, []float64{50, 70}, 1); got != want {
		t.Fatalf("Update over the window = %v, want %v", got, want)
	}
	w.Prune(5) // keeps rounds 3..5: senders 5 (round 3) and 2 (round 4)
	if got := w.Senders(5, ids); !equalInts(got, []int{2, 5}) {
		t.Fatalf("after Prune(5): %v", got)
	}
	w.Prune(7)
	if got := w.Senders(7, ids); len(got) != 0 || len(w.from) != 0 {
		t.Fatalf("after Prune(7): %v, %d held", got, len(w.from))
	}
}

// One value per sender: an adversary that spoke in every round of the
// window contributes one value, so F = 1 still removes it.
func TestWindowOneValuePerSender(t *testing.T) {
	w, _ := NewWindow(5)
	for r := range 5 {
		w.Observe(99, r, 1e6) // the adversary, every round
	}
	w.Observe(1, 2, 1.0)
	w.Observe(2, 3, 1.2)
	w.Observe(3, 4, 0.8)
	vals := w.Values(4, nil)
	if len(vals) != 4 {
		t.Fatalf("window holds %d values, want 4 (one per sender)", len(vals))
	}
	if got := Update(1, vals, 1); got > 1.2 {
		t.Fatalf("adversary got through: %v", got)
	}
}
