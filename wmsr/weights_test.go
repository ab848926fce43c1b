package wmsr

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestNewWeightedValidation(t *testing.T) {
	for _, a := range []float64{0, -0.1, 0.51, 1, math.NaN(), math.Inf(1)} {
		if _, err := NewWeighted(a, Uniform{}); err == nil || !strings.Contains(err.Error(), "α") {
			t.Errorf("NewWeighted(%v): err = %v, want an α error", a, err)
		}
	}
	if _, err := NewWeighted(0.1, nil); err == nil {
		t.Error("NewWeighted with nil weights: no error")
	}
	if u, err := NewWeighted(0.5, Uniform{}); err != nil || u.Alpha() != 0.5 {
		t.Errorf("NewWeighted(0.5): %v, %v", u, err)
	}
}

func TestWeightedUniformAgreesWithUpdate(t *testing.T) {
	u, err := NewWeighted(0.05, Uniform{})
	if err != nil {
		t.Fatal(err)
	}
	own, vals := 0.3, []float64{0.9, -4, 0.1, 0.4, 7, 0.2, math.NaN()}
	got, err := u.Update(own, vals, 1)
	if err != nil {
		t.Fatal(err)
	}
	// Above own 0.3: NaN, 0.9, 0.4, 7; NaN ranks above every value and
	// takes the one removal, so 7 stays. Below: -4, 0.1, 0.2; -4 goes.
	// Kept: 0.9, 0.1, 0.4, 7, 0.2.
	want := (0.3 + 0.9 + 0.1 + 0.4 + 7 + 0.2) / 6
	if math.Abs(got-want) > 1e-15 || math.Abs(got-Update(own, vals, 1)) > 1e-15 {
		t.Fatalf("weighted uniform = %v, want %v (Update %v)", got, want, Update(own, vals, 1))
	}
}

func TestWeightedLazy(t *testing.T) {
	u, err := NewWeighted(0.1, Lazy(0.6))
	if err != nil {
		t.Fatal(err)
	}
	got, err := u.Update(1, []float64{3, 5}, 0)
	if want := 0.6*1 + 0.2*3 + 0.2*5; err != nil || got != want {
		t.Fatalf("lazy update = %v, %v; want %v", got, err, want)
	}
	// Nothing kept: own keeps weight 1.
	if got, err := u.Update(1, []float64{9}, 1); err != nil || got != 1 {
		t.Fatalf("lazy with nothing kept = %v, %v; want 1", got, err)
	}
}

// Weights outside the bounds of Sec. III-B are refused with an error that
// names the weight.
func TestWeightedRejects(t *testing.T) {
	vals := []float64{1, 2, 3, 4}
	for _, c := range []struct {
		name string
		w    Weights
		want string
	}{
		{"uniform below α", Uniform{}, "own weight 0.2"},
		{"own below α", WeightsFunc(func(_ float64, _ []float64, kept []int, w []float64) float64 {
			for k := range w {
				w[k] = 0.95 / float64(len(w))
			}
			return 0.05
		}), "own weight 0.05"},
		{"neighbour below α", WeightsFunc(func(_ float64, _ []float64, kept []int, w []float64) float64 {
			w[0], w[1], w[2], w[3] = 0.25, 0.25, 0.25, 0
			return 0.25
		}), "weight 0 of kept value 3 (vals index 3)"},
		{"sum not 1", WeightsFunc(func(_ float64, _ []float64, kept []int, w []float64) float64 {
			for k := range w {
				w[k] = 0.3
			}
			return 0.3
		}), "sum to 1.5"},
		{"NaN weight", WeightsFunc(func(_ float64, _ []float64, kept []int, w []float64) float64 {
			for k := range w {
				w[k] = math.NaN()
			}
			return 0.5
		}), "weight NaN"},
	} {
		t.Run(c.name, func(t *testing.T) {
			u, err := NewWeighted(0.25, c.w)
			if err != nil {
				t.Fatal(err)
			}
			_, err = u.Update(2.5, vals, 0)
			if !errors.Is(err, ErrWeights) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want ErrWeights mentioning %q", err, c.want)
			}
		})
	}
}

// Weights see the kept indices, in increasing order, after trimming.
func TestWeightsSeeKeptIndices(t *testing.T) {
	var seen []int
	w := WeightsFunc(func(_ float64, _ []float64, kept []int, w []float64) float64 {
		seen = append(seen[:0], kept...)
		for k := range w {
			w[k] = 0.5 / float64(len(w))
		}
		return 0.5
	})
	u, _ := NewWeighted(0.05, w)
	if _, err := u.Update(0, []float64{-5, 1, math.Inf(1), 0, 9, -1}, 1); err != nil {
		t.Fatal(err)
	}
	// +Inf takes the removal above, so 1 and 9 stay; -5 goes below.
	if want := []int{1, 3, 4, 5}; !equalInts(seen, want) {
		t.Fatalf("kept = %v, want %v", seen, want)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
