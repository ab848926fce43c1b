package graph

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gonum.org/v1/gonum/graph/formats/dot"
)

// The fuzz targets check, for any input: the reader does not panic; a
// failure is a *ParseError wrapping one of the package's sentinels, at a line
// that exists; a success is a valid graph that its writer writes and the
// reader reads back identically.
//
//	go test -run='^$' -fuzz=FuzzReadText -fuzztime=60s ./graph/
//
// Seeds: f.Add below, plus testdata/fuzz/<FuzzName>/.

func FuzzReadText(f *testing.F) {
	for _, s := range []string{
		"3 2\n0 1\n1 2\n",
		"# comment\n\n2 2 # header\n0 1\n1 0 # back\n",
		"5 0\n",
		"3 2\n0 1\n0 1\n",
		"3 1\n1 1\n",
		"3 1\n0 3\n",
		"3 3\n0 1\n",
		"1000000 67108864\n",
		"2 1\n0 1\n1 0\n",
		"0 0\n",
		"3 1\n0 -1\n",
		"3 1\r\n0\t1\r\n",
		"2 1\n0 1 2\n",
		"x y\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRead(t, FormatText, data) })
}

func FuzzReadJSON(f *testing.F) {
	for _, s := range []string{
		`{"n":3,"edges":[[0,1],[1,2]]}`,
		`{"edges":[[0,1]],"n":2,"names":["a","b"]}`,
		`{"n":2,"edges":[],"names":["\u00e9\ud83d\ude00","\"\\\/\b\f\n\r\t"]}`,
		`{"n":2,"edges":[[0,1],[0,1]]}`,
		`{"n":2,"edges":[[0,0]]}`,
		`{"n":2,"edges":[[0,2]]}`,
		`{"n":2,"edges":[[0,1]],"extra":1}`,
		`{"n":2,"edges":[[0,1]]}{}`,
		`{"n":2,"n":2,"edges":[]}`,
		`{"n":1.0,"edges":[]}`,
		`{"n":2,"edges":[[0,1,1]]}`,
		`{"n":2,"edges":[],"names":["a"]}`,
		`{"n":2,"edges":[],"names":["\ud800","b"]}`,
		`{"n":1000000,"edges":[]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRead(t, FormatJSON, data) })
}

func FuzzReadDOT(f *testing.F) {
	for _, s := range []string{
		"digraph { 0 -> 1; 1 -> 2; 2 }",
		"graph G { a -- b -- c; c -- a }",
		"strict digraph { a -> {b c}; a -> b; subgraph s { d } -> a }",
		"digraph {\n 0 [label=\"zero\"]; 1 [label=\"x\\\"y\"]\n 0 -> 1 [w=3]\n}",
		"digraph { node [shape=box]; a:p:n -> b:s; rankdir=LR }",
		"digraph { \"a\" -> a }",
		"digraph { a -> b; a -> b }",
		"graph { a -> b }",
		"digraph { a -- b }",
		"digraph { <b>x</b> -> -1.5 -> .5 }",
		"digraph { a -> b } digraph { c }",
		"digraph { a -> }",
		"/* c */ digraph { // c\n # c\n a }\n",
		"digraph { 1 -> 0 }",
		"digraph { 0 -> 2 }",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRead(t, FormatDOT, data) })
}

func FuzzReadCSV(f *testing.F) {
	for _, s := range []string{
		"0,1\n1,0\n",
		"a,b,c\n0,1,0\n0,0,1\n1,0,0\n",
		"\"x,y\",\"\"\"\"\n0,1\n0,0\n",
		"0\n",
		"1\n",
		"0,1\n1,1\n",
		"0,2\n1,0\n",
		"0,1\n1,0\n0,0\n1,1\n",
		"0,1,0\n1,0,1\n",
		"0,1\n1\n",
		"\"a\nb\",c\r\n0,0\r\n0,0\r\n",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRead(t, FormatCSV, data) })
}

var readSentinels = []error{ErrSyntax, ErrNodeCount, ErrArcCount, ErrOutOfRange, ErrSelfLoop, ErrDuplicate, ErrName}

func fuzzRead(t *testing.T, f Format, data []byte) {
	g, err := Read(bytes.NewReader(data), f)
	if err != nil {
		var pe *ParseError
		if !errors.As(err, &pe) || pe.Format != f {
			t.Fatalf("error is not a %v *ParseError: %v", f, err)
		}
		if errors.Is(err, errDOTPanic) {
			t.Fatalf("gonum's DOT parser panicked: %v", err)
		}
		if !slices.ContainsFunc(readSentinels, func(s error) bool { return errors.Is(err, s) }) {
			t.Fatalf("error wraps no sentinel: %v", err)
		}
		if lines := bytes.Count(data, []byte{'\n'}) + 1; pe.Line < 0 || pe.Line > lines || pe.Col < 0 {
			t.Fatalf("error at line %d col %d of a %d-line input: %v", pe.Line, pe.Col, lines, err)
		}
		return
	}
	if msg := checkInvariants(g); msg != "" {
		t.Fatalf("reader built an invalid graph: %s", msg)
	}
	if f == FormatDOT {
		if msg := dotAlignment(data); msg != "" {
			t.Fatalf("DOT positions: %s", msg)
		}
	}
	var buf bytes.Buffer
	if err := Write(&buf, g, f); err != nil {
		t.Fatalf("cannot write back a graph just read: %v", err)
	}
	h, err := Read(bytes.NewReader(buf.Bytes()), f)
	if err != nil {
		t.Fatalf("cannot read back what was written: %v\n%s", err, buf.Bytes())
	}
	if msg := sameGraph(g, h); msg != "" {
		t.Fatalf("round trip changed the graph: %s", msg)
	}
}

// dotAlignment checks that on input gonum accepts, our lexer's tokens pair
// up exactly with gonum's AST, so that every position in an error is right.
func dotAlignment(src []byte) string {
	file, err := dot.ParseBytes(src)
	if err != nil || len(file.Graphs) != 1 {
		return "ReadDOT accepted what gonum rejects"
	}
	toks, perr := dotLex(src)
	if perr != nil {
		return perr.Error()
	}
	d := &dotReader{src: src, toks: toks, aligned: true, ids: make(map[string]int)}
	if _, err := d.read(file.Graphs[0]); err != nil {
		return err.Error()
	}
	if !d.aligned || d.k != len(d.toks) {
		return "lexer tokens do not pair with the AST"
	}
	return ""
}

// sameGraph describes the first difference between two graphs, names
// included, or returns "".
func sameGraph(a, b *Digraph) string {
	switch {
	case a.N() != b.N():
		return "node counts differ"
	case !slices.Equal(a.inOff, b.inOff) || !slices.Equal(a.inAdj, b.inAdj):
		return "in-neighbours differ"
	case !slices.Equal(a.outOff, b.outOff) || !slices.Equal(a.outAdj, b.outAdj):
		return "out-neighbours differ"
	case a.HasNames() != b.HasNames():
		return "one has names, the other not"
	case !slices.Equal(a.names, b.names):
		return "names differ"
	}
	return ""
}

// checkInvariants checks a Digraph's representation: offsets, sorted
// duplicate-free lists without self-loops, in and out lists mirroring each
// other, names absent or one per node.
func checkInvariants(g *Digraph) string {
	n := g.N()
	if n < 0 || len(g.inOff) != n+1 || len(g.outOff) != n+1 || g.inOff[0] != 0 || g.outOff[0] != 0 {
		return "bad offsets"
	}
	if int(g.inOff[n]) != len(g.inAdj) || int(g.outOff[n]) != len(g.outAdj) || len(g.inAdj) != len(g.outAdj) {
		return "offsets do not cover the lists"
	}
	count := 0
	for v := 0; v < n; v++ {
		if g.inOff[v] > g.inOff[v+1] || g.outOff[v] > g.outOff[v+1] {
			return "offsets decrease"
		}
		in := g.In(v)
		for i, u := range in {
			if u < 0 || int(u) >= n || int(u) == v || (i > 0 && in[i-1] >= u) {
				return "in-list not sorted, in range, loop-free"
			}
			if _, ok := slices.BinarySearch(g.Out(int(u)), int32(v)); !ok {
				return "arc in In missing from Out"
			}
			count++
		}
		out := g.Out(v)
		for i, w := range out {
			if w < 0 || int(w) >= n || int(w) == v || (i > 0 && out[i-1] >= w) {
				return "out-list not sorted, in range, loop-free"
			}
		}
	}
	if count != g.M() {
		return "arc count"
	}
	if g.names != nil && len(g.names) != n {
		return "names length"
	}
	return ""
}

// TestFuzzCorpusLabels keeps the hand-written seed corpus honest: entries
// named valid_* must read, bad_* must not. (Entries the fuzzer added are
// named by hash and only run through the fuzz targets.)
func TestFuzzCorpusLabels(t *testing.T) {
	for fz, f := range map[string]Format{
		"FuzzReadText": FormatText, "FuzzReadJSON": FormatJSON, "FuzzReadDOT": FormatDOT, "FuzzReadCSV": FormatCSV,
	} {
		files, err := filepath.Glob(filepath.Join("testdata", "fuzz", fz, "*"))
		if err != nil || len(files) == 0 {
			t.Fatalf("%s: no seed corpus (%v)", fz, err)
		}
		for _, file := range files {
			base := filepath.Base(file)
			valid, bad := strings.HasPrefix(base, "valid_"), strings.HasPrefix(base, "bad_")
			if !valid && !bad {
				continue
			}
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.SplitN(string(raw), "\n", 3)
			if len(lines) < 2 || lines[0] != "go test fuzz v1" || !strings.HasPrefix(lines[1], "[]byte(") {
				t.Fatalf("%s: not a fuzz corpus file", file)
			}
			data, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			_, err = Read(strings.NewReader(data), f)
			if valid && err != nil {
				t.Errorf("%s: %v", file, err)
			}
			if bad && err == nil {
				t.Errorf("%s: accepted", file)
			}
		}
	}
}
