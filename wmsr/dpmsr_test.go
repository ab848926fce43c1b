package wmsr

import (
	"math"
	"testing"

	"pgregory.net/rapid"
)

func TestNewDP(t *testing.T) {
	for _, c := range [][3]float64{{0, 1, 1}, {1, -1, 1}, {1, 1, 0}, {math.NaN(), 1, 1}, {1, math.Inf(1), 1}} {
		if _, err := NewDP(c[0], c[1], c[2]); err == nil {
			t.Errorf("NewDP%v: no error", c)
		}
	}
	if p, err := NewDP(1, 6, 0.1); err != nil || p != (DP{1, 6, 0.1}) {
		t.Errorf("NewDP(1, 6, 0.1) = %v, %v", p, err)
	}
}

// With nothing heard the control is pure damping: u = −b·v, integrated
// exactly over one period.
func TestDPStepDamping(t *testing.T) {
	p := DP{A: 1, B: 2, T: 0.1}
	x1, v1, kept := p.Step(3, 1, nil, 1)
	u := -float64(p.B * 1.0)
	if kept != 0 || x1 != 3+float64(p.T*1)+float64(float64(p.T*p.T)/2*u) || v1 != 1+float64(p.T*u) {
		t.Fatalf("Step = %v, %v, %d", x1, v1, kept)
	}
}

// Positions are trimmed by the W-MSR rule around the agent's own position,
// so a removed value's magnitude does not matter: the adversary at the top
// may claim anything above the normal values, NaN and +Inf included: they
// rank above every real and take the removal as a huge value would.
func TestDPStepTrimsPositions(t *testing.T) {
	p := DP{A: 0.5, B: 3, T: 0.05}
	normal := []float64{1, -2, 0.5, 3}
	base1, base2, k := p.Step(0.2, 0.1, append(normal, 4), 1)
	for _, lie := range []float64{5, 1e6, math.MaxFloat64, math.Inf(1), math.NaN()} {
		x1, v1, kk := p.Step(0.2, 0.1, append(normal, lie), 1)
		if x1 != base1 || v1 != base2 || kk != k {
			t.Fatalf("adversary %v moved the step: %v, %v (want %v, %v)", lie, x1, v1, base1, base2)
		}
	}
	// Kept: 1, 0.5, 3 (above own: 1, 0.5, 3, 4 → 4 goes; below: -2 goes).
	u := 0.5*((1-0.2)+(0.5-0.2)+(3-0.2)) - 3*0.1
	if want := 0.2 + 0.05*0.1 + 0.05*0.05/2*u; math.Abs(base1-want) > 1e-15 || k != 3 {
		t.Fatalf("x1 = %v, want %v (kept %d)", base1, want, k)
	}
}

func TestDPNonnegativeFor(t *testing.T) {
	if _, ok := (DP{A: 1, B: 6, T: 0.1}).NonnegativeFor(6); !ok {
		t.Error("well-damped gains refused")
	}
	if _, ok := (DP{A: 1, B: 0.5, T: 0.1}).NonnegativeFor(6); ok {
		t.Error("underdamped gains (b² < 4ad) accepted")
	}
	if _, ok := (DP{A: 1, B: 25, T: 0.1}).NonnegativeFor(6); ok {
		t.Error("bT > 2 accepted")
	}
	if _, ok := (DP{A: 100, B: 6, T: 0.1}).NonnegativeFor(6); ok {
		t.Error("aT²d ≥ 2 accepted")
	}
	if _, ok := (DP{A: 1, B: 1, T: 0.1}).NonnegativeFor(0); !ok {
		t.Error("no neighbours: damping alone refused")
	}
}

// The derived invariant: when NonnegativeFor gives c, x' and z' = x'+c·v'
// lie in the range of x, z = x+c·v and the kept positions.
func TestDPInvariant(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := DP{
			A: rapid.Float64Range(0.01, 5).Draw(t, "a"),
			B: rapid.Float64Range(0.01, 20).Draw(t, "b"),
			T: rapid.Float64Range(0.001, 0.5).Draw(t, "T"),
		}
		D := rapid.IntRange(0, 12).Draw(t, "maxKept")
		c, ok := p.NonnegativeFor(D)
		if !ok {
			t.Skip("gains outside the derived condition")
		}
		num := rapid.Float64Range(-10, 10)
		x, v := num.Draw(t, "x"), num.Draw(t, "v")
		pos := rapid.SliceOfN(num, 0, D).Draw(t, "pos")
		f := rapid.IntRange(0, 2).Draw(t, "f")
		if rapid.Bool().Draw(t, "large f") {
			f = smallF + 1 // the radix path
		}
		x1, v1, _ := p.Step(x, v, pos, f)
		z, z1 := x+c*v, x1+c*v1
		lo, hi := min(x, z), max(x, z)
		for _, j := range keptIndices(x, pos, f, nil) {
			lo, hi = min(lo, pos[j]), max(hi, pos[j])
		}
		slack := 1e-12 * (1 + max(math.Abs(lo), math.Abs(hi)))
		for name, w := range map[string]float64{"x'": x1, "z'": z1} {
			if w < lo-slack || w > hi+slack {
				t.Fatalf("%s = %v outside [%v, %v] (c = %v)", name, w, lo, hi, c)
			}
		}
	})
}

// Resilient consensus of second-order agents (Dibaji & Ishii 2017): on the
// complete graph K7, (3,3)-robust, five normal agents running DP-MSR with
// F = 2 agree in position and come to rest although two adversaries send
// each of them a different, oscillating, huge position every period.
func TestDPConsensusUnderAttack(t *testing.T) {
	const normal, F = 5, 2
	p, err := NewDP(1, 6, 0.1)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := p.NonnegativeFor(normal - 1 + F); !ok {
		t.Fatal("test gains outside the derived condition")
	}
	x := []float64{-3, 0.5, 2, 7, 1}
	v := []float64{1, -2, 0, 0.5, 3}
	nx, nv := make([]float64, normal), make([]float64, normal)
	pos := make([]float64, 0, normal-1+F)
	for k := range 3000 {
		for i := range normal {
			pos = pos[:0]
			for j := range normal {
				if j != i {
					pos = append(pos, x[j])
				}
			}
			for a := range F {
				pos = append(pos, 1e3*math.Sin(float64(k*(i+1)+a*17)))
			}
			nx[i], nv[i], _ = p.Step(x[i], v[i], pos, F)
		}
		x, nx = nx, x
		v, nv = nv, v
	}
	lo, hi, vmax := x[0], x[0], 0.0
	for i := range normal {
		lo, hi, vmax = min(lo, x[i]), max(hi, x[i]), max(vmax, math.Abs(v[i]))
	}
	if hi-lo > 1e-6 || vmax > 1e-6 {
		t.Fatalf("no consensus: positions in [%v, %v], |v| ≤ %v", lo, hi, vmax)
	}
	if lo < -3-1 || hi > 7+1 {
		t.Fatalf("agreed on %v, far outside the initial positions", lo)
	}
}
