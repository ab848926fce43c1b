package graph

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

var allFormats = []Format{FormatText, FormatJSON, FormatDOT, FormatCSV}

func TestParseFormat(t *testing.T) {
	for name, want := range map[string]Format{
		"text": FormatText, "TXT": FormatText, "edges": FormatText, "el": FormatText, "edgelist": FormatText,
		"json": FormatJSON, " JSON ": FormatJSON, "dot": FormatDOT, "gv": FormatDOT, "graphviz": FormatDOT, "csv": FormatCSV,
	} {
		if got, err := ParseFormat(name); err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %v, %v; want %v", name, got, err, want)
		}
	}
	for _, name := range []string{"", "xml", "gml"} {
		if _, err := ParseFormat(name); !errors.Is(err, ErrFormat) {
			t.Errorf("ParseFormat(%q) = %v, want ErrFormat", name, err)
		}
	}
	for _, f := range allFormats {
		if got, err := ParseFormat(f.String()); err != nil || got != f {
			t.Errorf("ParseFormat(%v.String()) = %v, %v", f, got, err)
		}
	}
	if s := Format(0).String(); s != "Format(0)" {
		t.Errorf("Format(0).String() = %q", s)
	}
}

func TestFormatFromPath(t *testing.T) {
	for path, want := range map[string]Format{
		"g.txt": FormatText, "dir.d/g.edges": FormatText, "G.EL": FormatText, "a/b.json": FormatJSON,
		"x.dot": FormatDOT, "x.GV": FormatDOT, "m.csv": FormatCSV,
	} {
		if got, err := FormatFromPath(path); err != nil || got != want {
			t.Errorf("FormatFromPath(%q) = %v, %v; want %v", path, got, err, want)
		}
	}
	for _, path := range []string{"graph", "g.xml", "json", "g.json.gz", "dot/"} {
		if _, err := FormatFromPath(path); !errors.Is(err, ErrFormat) {
			t.Errorf("FormatFromPath(%q) = %v, want ErrFormat", path, err)
		}
	}
	if _, err := Read(strings.NewReader(""), Format(9)); !errors.Is(err, ErrFormat) {
		t.Error(err)
	}
	g, _ := Complete(2)
	if err := Write(io.Discard, g, 0); !errors.Is(err, ErrFormat) {
		t.Error(err)
	}
}

// roundTripGraphs are graphs every writer must reproduce exactly.
func roundTripGraphs(t *testing.T) map[string]*Digraph {
	gs := map[string]*Digraph{}
	add := func(name string, g *Digraph, err error) {
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		gs[name] = g
	}
	g, err := Complete(1)
	add("K1", g, err)
	g, err = FromArcs(5, nil)
	add("5 isolated nodes", g, err)
	g, err = Circulant(8, 2, false)
	add("circulant", g, err)
	g, err = KOut(40, 3, 1)
	add("k-out", g, err)
	g, err = ErdosRenyi(30, 0.2, true, 2)
	add("G(n,p)", g, err)
	b, _ := NewBuilder(6)
	for i, name := range []string{"", "plain", `quo"te`, "comma,separated\nnew line", `back\slash \\"q" \\`, "ünïcødé ✈ \t tab"} {
		b.SetName(i, name)
		b.AddArc(i, (i+1)%6)
	}
	g, err = b.Build()
	add("tricky names", g, err)
	b, _ = NewBuilder(3)
	b.SetName(1, "only one named")
	b.AddEdge(0, 2)
	g, err = b.Build()
	add("mostly empty names", g, err)
	return gs
}

func TestRoundTrip(t *testing.T) {
	for name, g := range roundTripGraphs(t) {
		for _, f := range allFormats {
			var buf bytes.Buffer
			if err := Write(&buf, g, f); err != nil {
				t.Fatalf("%s, %v: write: %v", name, f, err)
			}
			h, err := Read(bytes.NewReader(buf.Bytes()), f)
			if err != nil {
				t.Fatalf("%s, %v: read back: %v\n%s", name, f, err, buf.Bytes())
			}
			want := g
			if f == FormatText && g.HasNames() {
				want, _ = FromArcs(g.N(), g.Arcs()) // the text format has no names
			}
			if msg := sameGraph(want, h); msg != "" {
				t.Errorf("%s, %v: %s\n%s", name, f, msg, buf.Bytes())
			}
		}
	}
}

func TestSamples(t *testing.T) {
	circ, _ := Circulant(8, 2, false)
	swarm := readSample(t, "swarm.json")
	for _, f := range []string{"circulant8_2.txt", "circulant8_2.json", "circulant8_2.dot", "circulant8_2.csv"} {
		if msg := sameGraph(circ, readSample(t, f)); msg != "" {
			t.Errorf("%s is not Circulant(8, 2, undirected): %s", f, msg)
		}
	}
	for _, f := range []string{"swarm.dot", "swarm.csv"} {
		if msg := sameGraph(swarm, readSample(t, f)); msg != "" {
			t.Errorf("%s differs from swarm.json: %s", f, msg)
		}
	}
	if swarm.Name(4) != `uav "3"` || !swarm.HasArc(3, 4) {
		t.Errorf("swarm: name %q", swarm.Name(4))
	}
}

func readSample(t *testing.T, name string) *Digraph {
	t.Helper()
	path := filepath.Join("testdata", name)
	f, err := FormatFromPath(path)
	if err != nil {
		t.Fatal(err)
	}
	file, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	g, err := Read(file, f)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return g
}

// readCase is an input a reader must reject with sentinel err at line:col
// (col −1: any column), or accept when err is nil.
type readCase struct {
	in        string
	err       error
	line, col int
}

func checkReadCases(t *testing.T, f Format, cases []readCase) {
	t.Helper()
	for _, c := range cases {
		g, err := Read(strings.NewReader(c.in), f)
		if c.err == nil {
			if err != nil {
				t.Errorf("%v %q: %v", f, short(c.in), err)
			} else if msg := checkInvariants(g); msg != "" {
				t.Errorf("%v %q: %s", f, short(c.in), msg)
			}
			continue
		}
		var pe *ParseError
		if !errors.Is(err, c.err) || !errors.As(err, &pe) {
			t.Errorf("%v %q: got %v, want %v", f, short(c.in), err, c.err)
			continue
		}
		if pe.Format != f || pe.Line != c.line || (c.col >= 0 && pe.Col != c.col) {
			t.Errorf("%v %q: error at line %d col %d, want %d:%d: %v", f, short(c.in), pe.Line, pe.Col, c.line, c.col, err)
		}
		if !strings.Contains(err.Error(), "graph: read "+f.String()) {
			t.Errorf("message %q does not say what was read", err)
		}
	}
}

func short(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

func TestReadTextErrors(t *testing.T) {
	long := strings.Repeat("x", 100<<10)
	checkReadCases(t, FormatText, []readCase{
		{"3 2\n0 1\n1 2\n", nil, 0, 0},
		{"# c\n\n  3\t2  # header\r\n0 1#x\n\n1 2\n# end", nil, 0, 0},
		{"# " + long + "\n3 0 #" + long + "\n", nil, 0, 0},
		{"007 1\n0 1\n", nil, 0, 0},
		{"", ErrSyntax, 0, 0},
		{"# only a comment\n", ErrSyntax, 1, 0},
		{"3\n", ErrSyntax, 1, 0},
		{"3 1 2\n", ErrSyntax, 1, 5},
		{"x 1\n", ErrSyntax, 1, 1},
		{"0 0\n", ErrNodeCount, 1, 1},
		{"-3 0\n", ErrNodeCount, 1, 1},
		{"1048577 0\n", ErrNodeCount, 1, 1},
		{"99999999999999999999999999 0\n", ErrNodeCount, 1, 1},
		{"3 7\n", ErrArcCount, 1, 3},
		{"3 -1\n", ErrArcCount, 1, 3},
		{"1000000 67108865\n", ErrArcCount, 1, 9},
		{"3 2\n0 1\n", ErrArcCount, 2, 0},
		{"3 2\n0 1\n\n", ErrArcCount, 3, 0},
		{"3 1\n0 1\n1 2\n", ErrArcCount, 3, 0},
		{"3 2\n0 1\n\n# c\n0 1 # again\n", ErrDuplicate, 5, 1},
		{"3 1\n2 2\n", ErrSelfLoop, 2, 1},
		{"3 1\n0 3\n", ErrOutOfRange, 2, 3},
		{"3 1\n-1 0\n", ErrOutOfRange, 2, 1},
		{"3 1\n0 1x\n", ErrSyntax, 2, 3},
		{"3 1\n0,1\n", ErrSyntax, 2, 0},
		{"3 1\n0 +1\n", ErrSyntax, 2, 3},
		{"3 1\n0 -\n", ErrSyntax, 2, 3},
		{strings.Repeat(" ", 70000) + "3 0\n", ErrSyntax, 1, 0},
	})
	_, err := ReadText(strings.NewReader("3 3\n0 1\n1 0\n0 1\n"))
	if err == nil || !strings.Contains(err.Error(), "first at line 2") {
		t.Errorf("duplicate message %v does not point at the first occurrence", err)
	}
}

func TestReadJSONErrors(t *testing.T) {
	checkReadCases(t, FormatJSON, []readCase{
		{`{"n":3,"edges":[[0,1],[1,2]]}`, nil, 0, 0},
		{" \n{ \"edges\" : [ [ 0 , 1 ] ] , \"names\":[\"a\",\"\\u00e9\\ud83d\\ude00\\\"\\\\\\/\\b\\f\\n\\r\\t\"], \"n\" : 2 }\n\t", nil, 0, 0},
		{`{"\u006e":2,"edges":[]}`, nil, 0, 0},
		{`{"n":-0,"edges":[]}`, ErrNodeCount, 1, 6},
		{``, ErrSyntax, 1, 1},
		{`[]`, ErrSyntax, 1, 1},
		{`{}`, ErrSyntax, 1, 2},
		{`{"n":3}`, ErrSyntax, 1, 8},
		{`{"edges":[]}`, ErrSyntax, 1, 13},
		{`{"n":0,"edges":[]}`, ErrNodeCount, 1, 6},
		{`{"n":1048577,"edges":[]}`, ErrNodeCount, 1, 6},
		{`{"n":3,"edges":[[0,1]],"x":2}`, ErrSyntax, 1, 24},
		{`{"n":3,"Edges":[]}`, ErrSyntax, 1, 8},
		{`{"n":3,"edges":[]} {}`, ErrSyntax, 1, 20},
		{`{"n":3,"edges":[]}x`, ErrSyntax, 1, 19},
		{`{"n":3,"n":3,"edges":[]}`, ErrSyntax, 1, 8},
		{`{"n":3.0,"edges":[]}`, ErrSyntax, 1, 6},
		{`{"n":3e0,"edges":[]}`, ErrSyntax, 1, 6},
		{`{"n":03,"edges":[]}`, ErrSyntax, 1, 6},
		{`{"n":"3","edges":[]}`, ErrSyntax, 1, 6},
		{`{"n":3,"edges":[[0,1],[0,1]]}`, ErrDuplicate, 1, 23},
		{`{"n":3,"edges":[[0,0]]}`, ErrSelfLoop, 1, 17},
		{`{"n":3,"edges":[[0,3]]}`, ErrOutOfRange, 1, 17},
		{`{"edges":[[0,1],[0,3]],"n":3}`, ErrOutOfRange, 1, 17},
		{`{"n":3,"edges":[[0,1,2]]}`, ErrSyntax, 1, 21},
		{`{"n":3,"edges":[[0]]}`, ErrSyntax, 1, 19},
		{`{"n":3,"edges":[[0,1],]}`, ErrSyntax, 1, 23},
		{`{"n":3,"edges":[[0,1]]`, ErrSyntax, 1, 23},
		{`{"n":3,"edges":{}}`, ErrSyntax, 1, 16},
		{`{"n":2,"edges":[],"names":["a"]}`, ErrName, 1, 27},
		{`{"n":1,"edges":[],"names":["a","b"]}`, ErrName, 1, 32},
		{`{"names":["a","b"],"n":1,"edges":[]}`, ErrName, 1, 10},
		{`{"n":2,"edges":[],"names":null}`, ErrSyntax, 1, 27},
		{`{"n":2,"edges":[],"names":["a",1]}`, ErrSyntax, 1, 32},
		{`{"n":2,"edges":[],"names":["\ud800","b"]}`, ErrSyntax, 1, 29},
		{`{"n":2,"edges":[],"names":["\udc00","b"]}`, ErrSyntax, 1, 29},
		{`{"n":2,"edges":[],"names":["\ud800\u0041","b"]}`, ErrSyntax, 1, 29},
		{"{\"n\":2,\"edges\":[],\"names\":[\"a\x01\",\"b\"]}", ErrSyntax, 1, 30},
		{"{\"n\":2,\"edges\":[],\"names\":[\"\xff\",\"b\"]}", ErrSyntax, 1, 28},
		{`{"n":2,"edges":[],"names":["\q","b"]}`, ErrSyntax, 1, 29},
		{`{"n":2,"edges":[],"names":["\u00zz","b"]}`, ErrSyntax, 1, 29},
		{"{\n  \"n\": 3,\n  \"edges\": [\n    [0, 1],\n    [1, 1]\n  ]\n}", ErrSelfLoop, 5, 5},
		{"\xef\xbb\xbf{\"n\":1,\"edges\":[]}", ErrSyntax, 1, 1},
		// Edges are read whole, then token by token only to place an error:
		// the place must be the same either way.
		{`{"n":3,"edges":[[0,1] [1,2]]}`, ErrSyntax, 1, 23},
		{`{"n":3,"edges":[[0,1]:[1,2]]}`, ErrSyntax, 1, 22},
		{`{"n":3,"edges":[[0,1],null]}`, ErrSyntax, 1, 23},
		{`{"n":3,"edges":[[0,1],[01,2]]}`, ErrSyntax, 1, 24},
		{`{"n":3,"edges":[[0,1],[0,1,2,0,1]]}`, ErrSyntax, 1, 27},
		{`{"n":3,"edges":[[0,1],[0,` + "\n ", ErrSyntax, 2, 2},
		{`{"n":3,"edges":[[0,1],[2,1.0]]}`, ErrSyntax, 1, 26},
		{`{"n":3,"edges":[[0,1],[2,-]]}`, ErrSyntax, 1, 26},
		{`{"n":100000000000000000000.0,"edges":[]}`, ErrSyntax, 1, 6},
		{`{"n":3,"edges":[[0,100000000000000000000.5]]}`, ErrSyntax, 1, 20},
		// A U+FFFD that was written is kept; one the decoder would invent is not.
		{"{\"n\":2,\"edges\":[],\"names\":[\"\\ufffd\",\"\uFFFD\"]}", nil, 0, 0},
		{"{\"n\":2,\"edges\":[],\"names\":[\"\\u00e9\\ud800\\u00zz\",\"b\"]}", ErrSyntax, 1, 41},
		{"{\"n\":2,\"edges\":[],\"names\":[\"\xff\x01\",\"b\"]}", ErrSyntax, 1, 30},
	})
}

func TestReadDOTErrors(t *testing.T) {
	checkReadCases(t, FormatDOT, []readCase{
		{"digraph { 0 -> 1; 1 -> 2 }", nil, 0, 0},
		{"", ErrSyntax, 1, 1},
		{"digraph {}", ErrNodeCount, 0, 0},
		{"digraph { a -> a }", ErrSelfLoop, 1, 16},
		{"digraph { {a b} -> {c b} }", ErrSelfLoop, 1, 23},
		{"digraph {\n a -> b\n a -> b\n}", ErrDuplicate, 3, 7},
		{"digraph {\n a -> b -> c\n\t{x b} -> c\n}", ErrDuplicate, 3, 11},
		{"graph { a -- b; b -- a }", ErrDuplicate, 1, 22},
		{"graph {\n a -> b }", ErrSyntax, 2, 4},
		{"digraph {\n a -- b }", ErrSyntax, 2, 4},
		{"digraph { a -> }", ErrSyntax, 1, 16},
		{"digraph {\n\ta -> b\n\t\"unterminated -> c\n}\n", ErrSyntax, 3, -1},
		{"digraph { a } digraph { b }", ErrSyntax, 1, -1},
		{"digraph { <\\\"> }", ErrName, 1, 11},
		{"digraph {" + strings.Repeat("{", 200) + strings.Repeat("}", 200) + "}", ErrSyntax, 1, -1},
		{"digraph { 0" + strings.Repeat(" -> 1 -> 0", 40000) + " }", ErrSyntax, 1, -1},
		{"digraph {" + strings.Repeat("a ", maxDOTTokens) + "}", ErrSyntax, 1, -1},
	})
}

func TestReadCSVErrors(t *testing.T) {
	checkReadCases(t, FormatCSV, []readCase{
		{"0,1\n1,0\n", nil, 0, 0},
		{"0,1\r\n1,0", nil, 0, 0},
		{"0,1\n\n1,0\n", nil, 0, 0},
		{"\"\",\"\"\n0,1\n1,0\n", nil, 0, 0},
		{"", ErrNodeCount, 1, 0},
		{"0,1\n1,0,1\n", ErrSyntax, 2, 0},
		{"0,2\n1,0\n", ErrSyntax, 1, 3},
		{"0,1\n1, 0\n", ErrSyntax, 2, 3},
		{"1,0\n0,0\n", ErrSelfLoop, 1, 1},
		{"0,0\n0,1\n", ErrSelfLoop, 2, 3},
		{"a,b\n0,0\n0,1\n", ErrSelfLoop, 3, 3},
		{"a,b\n1,0\n0,0\n", ErrSelfLoop, 2, 1},
		{"0,1\n", ErrSyntax, 1, 0},
		{"0,1\n1,0\n0,0\n0,0\n", ErrSyntax, 4, 0},
		{"a,b\n0,1\n", ErrSyntax, 1, 1},
		{"0,1\n\"1,0\n", ErrSyntax, 2, -1},
		{"0,1\n1\"x,0\n", ErrSyntax, 2, -1},
	})
}

// TestDOTSemantics pins how DOT constructs become arcs and names.
func TestDOTSemantics(t *testing.T) {
	for _, c := range []struct {
		in    string
		n     int
		arcs  []Arc
		names []string // nil: no names
	}{
		{"digraph { 0 -> 1; 1 -> 2; 2 }", 3, []Arc{{0, 1}, {1, 2}}, nil},
		{"digraph { 2; 1 -> 0 }", 3, []Arc{{1, 0}}, nil},
		{`digraph { "1" -> 0 }`, 2, []Arc{{1, 0}}, nil},
		{"digraph { 1 -> 2 }", 2, []Arc{{0, 1}}, []string{"1", "2"}},
		{"digraph { 0 -> 007 }", 2, []Arc{{0, 1}}, []string{"0", "007"}},
		{"digraph { 0 -> -1 -> 1.5 }", 3, []Arc{{0, 1}, {1, 2}}, []string{"0", "-1", "1.5"}},
		{`digraph { 0 [label="x"]; 1; 0 -> 1 }`, 2, []Arc{{0, 1}}, []string{"x", ""}},
		{`digraph { 1 -> 0 [label=e]; 0 [label=<<b>zero</b>>] }`, 2, []Arc{{1, 0}}, []string{"<<b>zero</b>>", ""}},
		{`digraph { a [label="A"]; a -> b }`, 2, []Arc{{0, 1}}, []string{"a", "b"}},
		{`digraph { "a" -> b; a -> c }`, 3, []Arc{{0, 1}, {0, 2}}, []string{"a", "b", "c"}},
		{`digraph { "x\"y" -> "p\\q" -> "l\` + "\n" + `ine" }`, 3, []Arc{{0, 1}, {1, 2}}, []string{`x"y`, `p\\q`, "line"}},
		{"digraph { a -> {b c} -> d }", 4, []Arc{{0, 1}, {0, 2}, {1, 3}, {2, 3}}, []string{"a", "b", "c", "d"}},
		{"digraph { {a b} -> {c d} }", 4, []Arc{{0, 2}, {0, 3}, {1, 2}, {1, 3}}, []string{"a", "b", "c", "d"}},
		{"digraph { a; {a b} -> c }", 3, []Arc{{0, 2}, {1, 2}}, []string{"a", "b", "c"}},
		{"digraph { subgraph s { a -> b } -> c }", 3, []Arc{{0, 1}, {0, 2}, {1, 2}}, []string{"a", "b", "c"}},
		{"digraph { {a {b}} -> c }", 3, []Arc{{0, 2}, {1, 2}}, []string{"a", "b", "c"}},
		{"digraph { a:p:n -> b:s; node [shape=box]; rankdir=LR; edge [w=1] }", 2, []Arc{{0, 1}}, []string{"a", "b"}},
		{"strict digraph { a -> b; a -> b; b -> a }", 2, []Arc{{0, 1}, {1, 0}}, []string{"a", "b"}},
		{"graph { 0 -- 1 -- 2 }", 3, []Arc{{0, 1}, {1, 0}, {1, 2}, {2, 1}}, nil},
		{"strict graph { 0 -- 1; 1 -- 0 }", 2, []Arc{{0, 1}, {1, 0}}, nil},
		{"/* c */ digraph G { // c\n # c\n 0 }\n", 1, nil, nil},
		{"DiGraph { nOde -> Node2 }", 2, []Arc{{0, 1}}, []string{"nOde", "Node2"}},
	} {
		g, err := ReadDOT(strings.NewReader(c.in))
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		want, _ := FromArcs(c.n, c.arcs)
		if c.names != nil {
			b := &Builder{n: c.n, arcs: c.arcs, names: c.names}
			want, _ = b.Build()
		}
		if msg := sameGraph(want, g); msg != "" {
			t.Errorf("%q: %s: got arcs %v names %q", c.in, msg, g.Arcs(), g.names)
		}
	}
}

func TestWriteErrors(t *testing.T) {
	empty, _ := Complete(3)
	empty, _ = empty.Induced(make([]bool, 3))
	for _, f := range allFormats {
		if err := Write(io.Discard, empty, f); !errors.Is(err, ErrNodeCount) {
			t.Errorf("%v: writing an empty graph = %v, want ErrNodeCount", f, err)
		}
		if err := Write(io.Discard, nil, f); !errors.Is(err, ErrNodeCount) {
			t.Errorf("%v: writing nil = %v, want ErrNodeCount", f, err)
		}
	}
	named := func(name string) *Digraph {
		b, _ := NewBuilder(2)
		b.SetName(0, name)
		g, _ := b.Build()
		return g
	}
	for _, c := range []struct {
		f    Format
		name string
	}{
		{FormatJSON, "bad \xff utf-8"},
		{FormatDOT, "bad \xff utf-8"},
		{FormatDOT, "nul \x00"},
		{FormatDOT, "replacement \uFFFD"},
		{FormatDOT, `ends in \`},
		{FormatDOT, `ends in \\\`},
		{FormatDOT, `\"`},
		{FormatDOT, "continued \\\nline"},
		{FormatCSV, "crlf \r\n inside"},
	} {
		if err := Write(io.Discard, named(c.name), c.f); !errors.Is(err, ErrName) {
			t.Errorf("%v name %q: %v, want ErrName", c.f, c.name, err)
		}
	}
	// Names a format can hold are written, including the near misses.
	for _, c := range []struct {
		f    Format
		name string
	}{
		{FormatDOT, `ends in \\`}, {FormatDOT, `\\"`}, {FormatDOT, `\q`}, {FormatDOT, "\\\r"},
		{FormatCSV, "cr \r alone"}, {FormatCSV, "lf \n alone"}, {FormatJSON, "\x00\x1f\u2028"},
	} {
		g := named(c.name)
		var buf bytes.Buffer
		if err := Write(&buf, g, c.f); err != nil {
			t.Errorf("%v name %q: %v", c.f, c.name, err)
			continue
		}
		if h, err := Read(&buf, c.f); err != nil || h.Name(0) != c.name {
			t.Errorf("%v name %q read back as %q, %v", c.f, c.name, h.Name(0), err)
		}
	}
	g, _ := Circulant(50, 3, false)
	boom := errors.New("disk full")
	for _, f := range allFormats {
		if err := Write(failWriter{boom}, g, f); !errors.Is(err, boom) {
			t.Errorf("%v: write error lost: %v", f, err)
		}
	}
}

type failWriter struct{ err error }

func (w failWriter) Write([]byte) (int, error) { return 0, w.err }

// failReader yields data, then fails.
type failReader struct {
	data []byte
	err  error
}

func (r *failReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestReadIOError(t *testing.T) {
	boom := errors.New("connection reset")
	for f, prefix := range map[Format]string{
		FormatText: "3 2\n0 1\n", FormatJSON: `{"n":3,"edges":[[0,1],`, FormatDOT: "digraph { 0 -> 1",
		FormatCSV: "0,1,0\n",
	} {
		_, err := Read(&failReader{[]byte(prefix), boom}, f)
		var pe *ParseError
		if !errors.Is(err, boom) || !errors.As(err, &pe) {
			t.Errorf("%v: I/O error not passed on: %v", f, err)
		}
	}
}

// TestHugeHeaderFailsFast: a header promising a huge graph on a tiny input
// must fail without allocating for the promise.
func TestHugeHeaderFailsFast(t *testing.T) {
	for _, c := range []struct {
		f  Format
		in string
	}{
		{FormatText, "1000000 67108864\n0 1\n"},
		{FormatText, "1048576 67108864\n" + strings.Repeat("0 1\n", 3)},
		{FormatJSON, `{"n":1048576,"edges":[[0,1],[1,2]`},
		{FormatJSON, `{"n":1048576,"names":["a"`},
		{FormatCSV, "0,1,0\n0,0,1\n"},
		{FormatDOT, "digraph { 0 -> 1 -> 2 "},
	} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := Read(strings.NewReader(c.in), c.f)
		runtime.ReadMemStats(&after)
		if err == nil {
			t.Errorf("%v %q: accepted", c.f, c.in)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
			t.Errorf("%v %q: allocated %d bytes before failing", c.f, c.in, alloc)
		}
	}
}

func TestParseErrorMessage(t *testing.T) {
	_, err := ReadText(strings.NewReader("3 1\n0 5\n"))
	want := "graph: read text: line 2, col 3: node id out of range: node 5, want 0..2"
	if err == nil || err.Error() != want {
		t.Errorf("got %q\nwant %q", err, want)
	}
	e := &ParseError{Format: FormatCSV, Err: ErrNodeCount}
	if e.Error() != "graph: read csv: bad node count" {
		t.Errorf("got %q", e.Error())
	}
}
