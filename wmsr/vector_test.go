package wmsr

import (
	"math"
	"testing"

	"pgregory.net/rapid"
)

func TestUpdateVecMatchesUpdate(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 4).Draw(t, "dim")
		d := rapid.IntRange(0, 30).Draw(t, "d")
		f := rapid.IntRange(0, 4).Draw(t, "f")
		gen := genValue([]float64{0, 1, -1})
		own := rapid.SliceOfN(gen, n, n).Draw(t, "own")
		vals := rapid.SliceOfN(gen, n*d, n*d).Draw(t, "vals")
		out := make([]float64, n)
		UpdateVec(own, vals, f, out)
		for c := range n {
			col := make([]float64, d)
			for j := range d {
				col[j] = vals[j*n+c]
			}
			if want := Update(own[c], col, f); !sameFloat(out[c], want) {
				t.Fatalf("coordinate %d: UpdateVec %v, Update %v", c, out[c], want)
			}
		}
		// out may be own.
		in := append([]float64(nil), own...)
		UpdateVec(in, vals, f, in)
		for c := range n {
			if !sameFloat(in[c], out[c]) {
				t.Fatalf("in place: coordinate %d = %v, want %v", c, in[c], out[c])
			}
		}
	})
}

// The bounding box holds: every coordinate stays within the range of own
// and the normal neighbours in that coordinate, at most f adversaries.
func TestUpdateVecBoundingBox(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 3).Draw(t, "dim")
		f := rapid.IntRange(0, 3).Draw(t, "f")
		normal := rapid.Float64Range(-10, 10)
		own := rapid.SliceOfN(normal, n, n).Draw(t, "own")
		dn := rapid.IntRange(0, 12).Draw(t, "normal neighbours")
		da := rapid.IntRange(0, f).Draw(t, "adversaries")
		vals := rapid.SliceOfN(normal, n*dn, n*dn).Draw(t, "normal vals")
		lo, hi := append([]float64(nil), own...), append([]float64(nil), own...)
		for j := range dn {
			for c := range n {
				lo[c], hi[c] = min(lo[c], vals[j*n+c]), max(hi[c], vals[j*n+c])
			}
		}
		bad := rapid.SliceOfN(rapid.Float64Range(-1e6, 1e6), n*da, n*da).Draw(t, "adversarial vals")
		vals = append(bad, vals...)
		out := make([]float64, n)
		UpdateVec(own, vals, f, out)
		for c := range n {
			slack := roundingSlack(dn+da, 10)
			if !(out[c] >= lo[c]-slack && out[c] <= hi[c]+slack) {
				t.Fatalf("coordinate %d = %v outside [%v, %v]", c, out[c], lo[c], hi[c])
			}
		}
	})
}

// The convex hull does not hold (see UpdateVec): the example of its doc.
func TestUpdateVecLeavesHull(t *testing.T) {
	own := []float64{0.5, 0.5}
	vals := []float64{0, 1, 1, 0, 1, 1} // normal (0,1), (1,0); adversary (1,1)
	out := make([]float64, 2)
	UpdateVec(own, vals, 1, out)
	if out[0] != 0.75 || out[1] != 0.75 {
		t.Fatalf("UpdateVec = %v, want [0.75 0.75]", out)
	}
	// The normal values (½,½), (0,1), (1,0) lie on x + y = 1; the result
	// does not.
	if s := out[0] + out[1]; math.Abs(s-1) < 0.1 {
		t.Fatalf("result %v stayed in the hull", out)
	}
}

func TestUpdateVecPanics(t *testing.T) {
	for name, f := range map[string]func(){
		"ragged":    func() { UpdateVec([]float64{1, 2}, []float64{1, 2, 3}, 0, make([]float64, 2)) },
		"short out": func() { UpdateVec([]float64{1, 2}, []float64{1, 2}, 0, make([]float64, 1)) },
		"empty own": func() { UpdateVec(nil, []float64{1}, 0, nil) },
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
	UpdateVec(nil, nil, 1, nil) // dimension 0: nothing to do
}

// More neighbours than the stack buffer holds.
func TestUpdateVecManyNeighbours(t *testing.T) {
	const n, d = 2, 300
	own := []float64{0, 0}
	vals := make([]float64, n*d)
	for j := range d {
		vals[j*n], vals[j*n+1] = float64(j%17), -float64(j%5)
	}
	out := make([]float64, n)
	UpdateVec(own, vals, 3, out)
	for c := range n {
		col := make([]float64, d)
		for j := range d {
			col[j] = vals[j*n+c]
		}
		if want := Update(own[c], col, 3); out[c] != want {
			t.Fatalf("coordinate %d: %v, want %v", c, out[c], want)
		}
	}
}
