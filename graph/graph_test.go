package graph

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

func TestNewBuilderBounds(t *testing.T) {
	for _, n := range []int{-1, 0, MaxNodes + 1} {
		if _, err := NewBuilder(n); !errors.Is(err, ErrNodeCount) {
			t.Errorf("NewBuilder(%d) = %v, want ErrNodeCount", n, err)
		}
	}
	for _, n := range []int{1, MaxNodes} {
		if b, err := NewBuilder(n); err != nil || b.N() != n {
			t.Errorf("NewBuilder(%d) = %v", n, err)
		}
	}
}

func TestBuilderErrors(t *testing.T) {
	b, _ := NewBuilder(3)
	for _, c := range []struct {
		u, v int
		want error
	}{
		{-1, 0, ErrOutOfRange}, {0, 3, ErrOutOfRange}, {3, 0, ErrOutOfRange},
		{0, -1, ErrOutOfRange}, {1, 1, ErrSelfLoop},
	} {
		if err := b.AddArc(c.u, c.v); !errors.Is(err, c.want) {
			t.Errorf("AddArc(%d,%d) = %v, want %v", c.u, c.v, err, c.want)
		}
	}
	if err := b.AddEdge(2, 2); !errors.Is(err, ErrSelfLoop) {
		t.Errorf("AddEdge(2,2) = %v", err)
	}
	if err := b.SetName(3, "x"); !errors.Is(err, ErrOutOfRange) {
		t.Errorf("SetName(3) = %v", err)
	}
	if err := b.SetName(-1, "x"); !errors.Is(err, ErrOutOfRange) {
		t.Errorf("SetName(-1) = %v", err)
	}
	// Rejected arcs were not recorded.
	g, err := b.Build()
	if err != nil || g.M() != 0 || g.HasNames() {
		t.Fatalf("Build after rejected arcs: %v, m = %d", err, g.M())
	}
	b.AddArc(0, 1)
	b.AddArc(2, 1)
	b.AddArc(0, 1)
	_, err = b.Build()
	if !errors.Is(err, ErrDuplicate) || !strings.Contains(err.Error(), "0→1") {
		t.Fatalf("Build with a repeated arc = %v, want ErrDuplicate naming 0→1", err)
	}
}

func TestBuilderNamesAndReuse(t *testing.T) {
	b, _ := NewBuilder(3)
	b.AddEdge(0, 1)
	b.SetName(1, "b")
	g1, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	if !g1.HasNames() || g1.Name(0) != "" || g1.Name(1) != "b" {
		t.Fatalf("names = %q", g1.names)
	}
	// Build copies: later changes to the builder leave g1 alone.
	b.SetName(1, "B")
	b.AddArc(2, 0)
	g2, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	if g1.Name(1) != "b" || g1.M() != 2 || g2.Name(1) != "B" || g2.M() != 3 {
		t.Fatalf("builder reuse: g1 %q m=%d, g2 %q m=%d", g1.names, g1.M(), g2.names, g2.M())
	}
	plain, _ := FromArcs(2, []Arc{{0, 1}})
	if plain.HasNames() || plain.Name(1) != "" {
		t.Fatal("graph without SetName has names")
	}
}

func TestFromArcs(t *testing.T) {
	if _, err := FromArcs(0, nil); !errors.Is(err, ErrNodeCount) {
		t.Error(err)
	}
	if _, err := FromArcs(2, []Arc{{0, 2}}); !errors.Is(err, ErrOutOfRange) {
		t.Error(err)
	}
	if _, err := FromArcs(2, []Arc{{1, 1}}); !errors.Is(err, ErrSelfLoop) {
		t.Error(err)
	}
	if _, err := FromArcs(2, []Arc{{0, 1}, {0, 1}}); !errors.Is(err, ErrDuplicate) {
		t.Error(err)
	}
	g, err := FromArcs(4, []Arc{{3, 0}, {1, 0}, {0, 2}, {2, 0}})
	if err != nil {
		t.Fatal(err)
	}
	want := []Arc{{1, 0}, {2, 0}, {3, 0}, {0, 2}} // by head, then tail
	if !slices.Equal(g.Arcs(), want) {
		t.Fatalf("Arcs = %v, want %v", g.Arcs(), want)
	}
	if g.MinInDegree() != 0 || g.InDegree(0) != 3 || g.OutDegree(0) != 1 {
		t.Fatal("degrees")
	}
}

// model is the naive adjacency-matrix graph the CSR is checked against.
type model struct {
	n   int
	adj [][]bool // adj[u][v]: arc u→v
}

func (m *model) in(v int) []int32 {
	var s []int32
	for u := 0; u < m.n; u++ {
		if m.adj[u][v] {
			s = append(s, int32(u))
		}
	}
	return s
}

func (m *model) out(u int) []int32 {
	var s []int32
	for v := 0; v < m.n; v++ {
		if m.adj[u][v] {
			s = append(s, int32(v))
		}
	}
	return s
}

// drawArcs draws n and a list of candidate arcs, some of them bad.
func drawArcs(t *rapid.T) (int, []Arc) {
	n := rapid.IntRange(1, 24).Draw(t, "n")
	k := rapid.IntRange(0, 3*n).Draw(t, "arcs")
	arcs := make([]Arc, k)
	for i := range arcs {
		arcs[i] = Arc{
			From: rapid.IntRange(-1, n).Draw(t, "u"),
			To:   rapid.IntRange(-1, n).Draw(t, "v"),
		}
	}
	return n, arcs
}

// TestCSRMatchesModel feeds random arcs, bad ones included, to a Builder and
// checks every accessor of the result against the adjacency matrix.
func TestCSRMatchesModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n, arcs := drawArcs(t)
		b, _ := NewBuilder(n)
		m := &model{n: n, adj: make([][]bool, n)}
		for i := range m.adj {
			m.adj[i] = make([]bool, n)
		}
		dup := false
		for _, a := range arcs {
			err := b.AddArc(a.From, a.To)
			switch {
			case a.From < 0 || a.From >= n || a.To < 0 || a.To >= n:
				if !errors.Is(err, ErrOutOfRange) {
					t.Fatalf("AddArc(%v) = %v, want ErrOutOfRange", a, err)
				}
			case a.From == a.To:
				if !errors.Is(err, ErrSelfLoop) {
					t.Fatalf("AddArc(%v) = %v, want ErrSelfLoop", a, err)
				}
			default:
				if err != nil {
					t.Fatalf("AddArc(%v) = %v", a, err)
				}
				dup = dup || m.adj[a.From][a.To]
				m.adj[a.From][a.To] = true
			}
		}
		g, err := b.Build()
		if dup {
			if !errors.Is(err, ErrDuplicate) {
				t.Fatalf("Build = %v, want ErrDuplicate", err)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if msg := checkInvariants(g); msg != "" {
			t.Fatal(msg)
		}
		checkAgainstModel(t, g, m)
	})
}

func checkAgainstModel(t *rapid.T, g *Digraph, m *model) {
	if g.N() != m.n {
		t.Fatalf("N = %d, want %d", g.N(), m.n)
	}
	arcs, minIn, sym := 0, m.n, true
	var order []Arc
	for v := 0; v < m.n; v++ {
		in, out := m.in(v), m.out(v)
		if !slices.Equal(g.In(v), in) || !slices.Equal(g.Out(v), out) {
			t.Fatalf("node %d: In %v Out %v, want %v %v", v, g.In(v), g.Out(v), in, out)
		}
		if g.InDegree(v) != len(in) || g.OutDegree(v) != len(out) {
			t.Fatalf("node %d degrees", v)
		}
		off, adj := g.InCSR()
		if !slices.Equal(adj[off[v]:off[v+1]], in) {
			t.Fatalf("InCSR node %d", v)
		}
		arcs += len(in)
		minIn = min(minIn, len(in))
		for _, u := range in {
			order = append(order, Arc{int(u), v})
		}
		for u := -1; u <= m.n; u++ {
			want := u >= 0 && u < m.n && m.adj[u][v]
			if g.HasArc(u, v) != want || g.HasArc(v, u) != (u >= 0 && u < m.n && m.adj[v][u]) {
				t.Fatalf("HasArc(%d,%d) wrong", u, v)
			}
			if u >= 0 && u < m.n && m.adj[u][v] != m.adj[v][u] {
				sym = false
			}
		}
	}
	if g.M() != arcs || g.MinInDegree() != minIn || g.IsSymmetric() != sym {
		t.Fatalf("M %d MinInDegree %d IsSymmetric %v, want %d %d %v", g.M(), g.MinInDegree(), g.IsSymmetric(), arcs, minIn, sym)
	}
	if !slices.Equal(g.Arcs(), order) {
		t.Fatalf("Arcs not in head-then-tail order")
	}
}

// drawGraph draws a valid graph with optional names, and its model.
func drawGraph(t *rapid.T) (*Digraph, *model) {
	n := rapid.IntRange(1, 20).Draw(t, "n")
	m := &model{n: n, adj: make([][]bool, n)}
	b, _ := NewBuilder(n)
	for u := range m.adj {
		m.adj[u] = make([]bool, n)
	}
	density := rapid.Float64Range(0, 1).Draw(t, "density")
	for u := 0; u < n; u++ {
		for v := 0; v < n; v++ {
			if u != v && rapid.Float64Range(0, 1).Draw(t, "coin") < density {
				m.adj[u][v] = true
				b.AddArc(u, v)
			}
		}
	}
	if rapid.Bool().Draw(t, "named") {
		for i := 0; i < n; i++ {
			b.SetName(i, fmt.Sprintf("node-%d", i))
		}
	}
	g, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return g, m
}

func TestInduced(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		g, m := drawGraph(t)
		keep := make([]bool, g.N())
		for i := range keep {
			keep[i] = rapid.Bool().Draw(t, "keep")
		}
		h, old := g.Induced(keep)
		var want []int
		for v, k := range keep {
			if k {
				want = append(want, v)
			}
		}
		if !slices.Equal(old, want) || h.N() != len(want) {
			t.Fatalf("Induced kept %v, want %v", old, want)
		}
		if h.N() > 0 {
			if msg := checkInvariants(h); msg != "" {
				t.Fatal(msg)
			}
		}
		sub := &model{n: len(old), adj: make([][]bool, len(old))}
		for i := range sub.adj {
			sub.adj[i] = make([]bool, len(old))
			for j := range sub.adj[i] {
				sub.adj[i][j] = m.adj[old[i]][old[j]]
			}
		}
		if h.N() > 0 {
			checkAgainstModel(t, h, sub)
		}
		if h.HasNames() != g.HasNames() {
			t.Fatal("names not carried")
		}
		for i, v := range old {
			if h.Name(i) != g.Name(v) {
				t.Fatalf("name of %d", i)
			}
		}
	})
}

func TestInducedAllAndNone(t *testing.T) {
	g, _ := Circulant(7, 2, false)
	all := make([]bool, 7)
	for i := range all {
		all[i] = true
	}
	h, old := g.Induced(all)
	if msg := sameGraph(g, h); msg != "" || len(old) != 7 {
		t.Fatalf("Induced(all): %s", msg)
	}
	h, old = g.Induced(make([]bool, 7))
	if h.N() != 0 || h.M() != 0 || len(old) != 0 || h.MinInDegree() != 0 {
		t.Fatal("Induced(none) is not empty")
	}
}

func TestInSets(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		g, m := drawGraph(t)
		sets, err := g.InSets()
		if err != nil {
			t.Fatal(err)
		}
		for v, s := range sets {
			want := m.in(v)
			got := s.Members()
			if len(got) != len(want) || s.Count() != len(want) {
				t.Fatalf("node %d: %v, want %v", v, got, want)
			}
			for i := range got {
				if got[i] != int(want[i]) {
					t.Fatalf("node %d: %v, want %v", v, got, want)
				}
			}
			for u := 0; u < g.N(); u++ {
				if s.Has(u) != m.adj[u][v] {
					t.Fatalf("Has(%d) in N_%d", u, v)
				}
			}
		}
		// The sets share one backing array: appending to one must not be
		// able to overwrite the next, which the full slice expression ensures.
		if len(sets) > 1 && cap(sets[0]) != len(sets[0]) {
			t.Fatal("InSets slices have spare capacity into their neighbours")
		}
	})
	big, _ := Circulant(MaxBitsetNodes+1, 1, true)
	if _, err := big.InSets(); err == nil || !errors.Is(err, ErrNodeCount) {
		t.Fatalf("InSets on %d nodes = %v, want ErrNodeCount", big.N(), err)
	}
}

func TestBitset(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 300).Draw(t, "n")
		s, u := NewBitset(n), NewBitset(n)
		ms, mu := map[int]bool{}, map[int]bool{}
		for range rapid.IntRange(0, 100).Draw(t, "ops") {
			i := rapid.IntRange(0, n-1).Draw(t, "i")
			switch rapid.IntRange(0, 2).Draw(t, "op") {
			case 0:
				s.Add(i)
				ms[i] = true
			case 1:
				s.Remove(i)
				delete(ms, i)
			case 2:
				u.Add(i)
				mu[i] = true
			}
		}
		var want []int
		both := 0
		for i := 0; i < n; i++ {
			if s.Has(i) != ms[i] {
				t.Fatalf("Has(%d)", i)
			}
			if ms[i] {
				want = append(want, i)
				if mu[i] {
					both++
				}
			}
		}
		if !slices.Equal(s.Members(), want) || s.Count() != len(ms) || s.AndCount(u) != both {
			t.Fatalf("Members %v Count %d AndCount %d, want %v %d %d", s.Members(), s.Count(), s.AndCount(u), want, len(ms), both)
		}
	})
}
