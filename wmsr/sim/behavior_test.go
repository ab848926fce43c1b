package sim

import (
	"math"
	"testing"

	"github.com/wmsr/wmsr/graph"
	"pgregory.net/rapid"
)

// testView returns a view of a small running simulation, for calling
// behaviours directly.
func testView(tb fataler, n int, x0 []float64) View {
	s, err := New(Config{Graph: must(graph.Complete(n)), Initial: x0})
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return s.View()
}

// TestMaliciousSendsSameToAll checks the defining property of a malicious
// adversary (LeBlanc et al. 2013, malicious model; in definitions.v the adversary's value
// mal t j depends on the round and the node only): every malicious
// behaviour of the library sends one value per round to all receivers, and
// does not declare itself Byzantine.
func TestMaliciousSendsSameToAll(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(2, 8).Draw(t, "n")
		view := testView(t, n, genInitial(t, n))
		b := genMalicious(t)
		if IsByzantine(b) {
			t.Fatalf("%T declares itself Byzantine", b)
		}
		a := rapid.IntRange(0, n-1).Draw(t, "a")
		round := rapid.IntRange(0, 1000).Draw(t, "t")
		first := b.Send(a, 0, round, view)
		for to := 1; to < n; to++ {
			if got := b.Send(a, to, round, view); math.Float64bits(got) != math.Float64bits(first) {
				t.Fatalf("%T%v sends %v to 0 but %v to %d in round %d", b, b, first, got, to, round)
			}
		}
	})
}

// TestByzantineEquivocate checks that the two-faced behaviours do what
// makes them Byzantine (LeBlanc et al. 2013, Byzantine model): different values to
// different receivers in the same round.
func TestByzantineEquivocate(t *testing.T) {
	view := testView(t, 4, []float64{0, 1, 2, 3})
	for _, b := range []Behavior{Equivocate{Even: -1, Odd: 7}, Polarize{}} {
		if !IsByzantine(b) {
			t.Errorf("%T does not declare itself Byzantine", b)
		}
		if x, y := b.Send(0, 1, 0, view), b.Send(0, 2, 0, view); x == y {
			t.Errorf("%T sends %v to both receivers", b, x)
		}
	}
	// Polarize stays inside the normal hull and pushes each side outward.
	if lo, hi := (Polarize{}).Send(0, 1, 0, view), (Polarize{}).Send(0, 3, 0, view); lo != 0 || hi != 3 {
		t.Errorf("Polarize sends %v below and %v above, want m = 0 and M = 3", lo, hi)
	}
}

// TestBehaviorSchedules pins what each malicious behaviour sends.
func TestBehaviorSchedules(t *testing.T) {
	view := testView(t, 3, []float64{-1, 0, 2})
	for _, tc := range []struct {
		b    Behavior
		want []float64 // rounds 0, 1, 2, 3
	}{
		{Constant(3), []float64{3, 3, 3, 3}},
		{Ramp{Start: 1, Slope: 0.5}, []float64{1, 1.5, 2, 2.5}},
		{Oscillate{Lo: -1, Hi: 1, Period: 1}, []float64{1, -1, 1, -1}},
		{Oscillate{Lo: -1, Hi: 1, Period: 2}, []float64{1, 1, -1, -1}},
		{Extreme(1), []float64{1e9, 1e9, 1e9, 1e9}},
		{Extreme(-1), []float64{-1e9, -1e9, -1e9, -1e9}},
		{Extreme(0), []float64{1e9, -1e9, 1e9, -1e9}},
		{NonFinite{}, []float64{math.NaN(), math.Inf(1), math.Inf(-1), math.NaN()}},
		{Pull(10), []float64{2, 2, 2, 2}},
		{Pull(-10), []float64{-1, -1, -1, -1}},
		{Pull(0.5), []float64{0.5, 0.5, 0.5, 0.5}},
	} {
		for round, want := range tc.want {
			if got := tc.b.Send(0, 1, round, view); math.Float64bits(got) != math.Float64bits(want) {
				t.Errorf("%T%v in round %d: %v, want %v", tc.b, tc.b, round, got, want)
			}
		}
	}
}

// TestUniform checks the random adversary: values in [Lo, Hi), a pure
// function of (seed, a, t), varying from round to round and adversary to
// adversary, and roughly uniform.
func TestUniform(t *testing.T) {
	view := testView(t, 2, []float64{0, 0})
	u := Uniform{Lo: -2, Hi: 6, Seed: 42}
	var sum float64
	seen := map[float64]bool{}
	const rounds = 4000
	for round := range rounds {
		x := u.Send(0, 1, round, view)
		if x < u.Lo || x >= u.Hi {
			t.Fatalf("round %d: %v outside [%v, %v)", round, x, u.Lo, u.Hi)
		}
		if u.Send(0, 0, round, view) != x {
			t.Fatal("not a pure function of (seed, a, t)")
		}
		seen[x] = true
		sum += x
	}
	if len(seen) < rounds-5 {
		t.Errorf("only %d distinct values in %d rounds", len(seen), rounds)
	}
	if mean := sum / rounds; math.Abs(mean-2) > 0.2 {
		t.Errorf("mean %v, want about 2", mean)
	}
	if u.Send(0, 1, 7, view) == u.Send(1, 1, 7, view) {
		t.Error("two adversaries with one seed send the same value")
	}
	if (Uniform{Lo: 3, Hi: 3}).Send(0, 1, 0, view) != 3 {
		t.Error("a point range does not send its point")
	}
}
