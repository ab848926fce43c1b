package bench

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestFormatRow pins what a row says in each state of the two solvers: a
// speed-up only when topocheck finished, proven bounds when it did not,
// and a flag when CBC's answer falls outside what topocheck proved.
func TestFormatRow(t *testing.T) {
	exact := Row{Family: "f", N: 40, Arcs: 99, R: 3, S: 4, RLower: 3, RUpper: 3, SLower: 4, SUpper: 4, Exact: true, Topocheck: 10 * time.Millisecond}
	settled := Row{Family: "f", N: 40, Arcs: 99, R: 10, S: 1, RLower: 10, RUpper: 10, SLower: 1, SUpper: 2, Topocheck: time.Minute}
	bounded := Row{Family: "f", N: 80, Arcs: 99, R: 9, S: 1, RLower: 9, RUpper: 12, SLower: 1, SUpper: 5, Topocheck: time.Minute}
	for _, c := range []struct {
		name  string
		row   Row
		rho   int
		s     int
		cap   bool
		milp  time.Duration
		cells []string // ρ, s, MILP, ratio
	}{
		{"both finish", exact, 3, 4, false, 250 * time.Millisecond, []string{"3", "4", "250 ms", "25×"}},
		{"MILP capped", exact, 0, 0, true, time.Minute, []string{"3", "4", "> 60.00 s", "> 6000×"}},
		{"MILP wrong", exact, 3, 3, false, 250 * time.Millisecond, []string{"3", "4", "250 ms (CBC: ρ=3 s=3!)", "25×"}},
		{"topocheck bounds, MILP finishes", bounded, 10, 2, false, 30 * time.Second, []string{"9–12*", "1–5*", "30.00 s", "< 0.50×"}},
		{"topocheck bounds, MILP outside them", bounded, 13, 2, false, 30 * time.Second, []string{"9–12*", "1–5*", "30.00 s (CBC: ρ=13 s=2!)", "< 0.50×"}},
		{"topocheck bounds, MILP s outside them", bounded, 9, 6, false, 30 * time.Second, []string{"9–12*", "1–5*", "30.00 s (CBC: ρ=9 s=6!)", "< 0.50×"}},
		{"both capped", bounded, 0, 0, true, time.Minute, []string{"9–12*", "1–5*", "> 60.00 s", "–"}},
		{"ρ settled, s bounded", settled, 0, 0, true, time.Minute, []string{"10", "1–2*", "> 60.00 s", "–"}},
	} {
		r := c.row
		r.MILP, r.MILPCapped = c.milp, c.cap
		if !c.cap {
			r.MILPR, r.MILPS = strconv.Itoa(c.rho), strconv.Itoa(c.s)
			r.Agree = agrees(r, c.rho, c.s)
		}
		cells := strings.Split(strings.Trim(formatRow(r), "| "), " | ")
		got := []string{cells[3], cells[4], cells[9], cells[10]}
		if strings.Join(got, "|") != strings.Join(c.cells, "|") {
			t.Errorf("%s: ρ, s, MILP, ratio = %q, want %q", c.name, got, c.cells)
		}
	}
}

// TestCasesSeeds: each random graph once per seed, in seed order; the
// circulant, which has no seed, once.
func TestCasesSeeds(t *testing.T) {
	one, three := Cases(false, 1), Cases(false, 3)
	random := 0
	for _, c := range one {
		if c.Seed != 1 {
			t.Fatalf("%s n=%d: seed %d with one seed", c.Family, c.N, c.Seed)
		}
		if c.Random {
			random++
		}
	}
	if want := len(one) + 2*random; len(three) != want {
		t.Fatalf("%d cases with three seeds, want %d", len(three), want)
	}
	for i := 0; i < len(three); {
		c := three[i]
		k := 1
		if c.Random {
			k = 3
		}
		for j := 0; j < k; j++ {
			d := three[i+j]
			if d.Family != c.Family || d.N != c.N || d.Seed != uint64(j+1) {
				t.Fatalf("case %d: %s n=%d seed %d, want %s n=%d seed %d", i+j, d.Family, d.N, d.Seed, c.Family, c.N, j+1)
			}
		}
		i += k
	}
}
