package graph

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"gonum.org/v1/gonum/graph/formats/dot"
	"gonum.org/v1/gonum/graph/formats/dot/ast"
)

// The DOT format is read with gonum's parser (gonum.org/v1/gonum/graph/
// formats/dot) and interpreted here:
//
//   - digraph: each a -> b is the arc a→b (b hears a); graph: each a -- b is
//     the two arcs. A "--" in a digraph or "->" in a graph is an error, as is
//     a self-loop, and a repeated arc unless the graph is "strict" (where DOT
//     merges repeats). Edge chains (a -> b -> c) and subgraphs as endpoints
//     ({a b} -> c: every node of the subgraph) follow Graphviz.
//   - Node ids: if every node's DOT id is a decimal integer and together they
//     are exactly 0..n-1, they are the ids, and the names are the nodes'
//     label attributes (if any node has one). Otherwise nodes are numbered in
//     order of first appearance and named by their DOT ids. Quoted ids are
//     unquoted as DOT does: only \" is an escape, so "a" and a are one node.
//   - Attributes other than a node's label, attribute statements (node [..])
//     and ports are ignored.
//
// gonum's AST keeps no positions, so a small lexer of our own (dotLex) finds
// the line and column of every id and edge operator; walking the AST in
// source order pairs them up, checking each id's text, so an error can name
// its line. The lexer also refuses, before gonum sees the input, nesting and
// edge chains deep enough to exhaust the stack of gonum's recursive checker.

// Limits on DOT input. gonum's parser holds the whole file, a token object
// per token and the AST: about 1.2 KiB allocated per "u -> v;" statement
// (1.3 GB to read 10⁶ arcs, see BenchmarkReadDOT). The token bound caps that
// at a few GB whatever the input — 2²³ tokens is some 2·10⁶ arcs in the
// writer's layout; larger fleets belong in the text or JSON format. The
// depth and chain bounds keep gonum's recursive checker off deep stacks.
const (
	maxDOTBytes  = 1 << 28
	maxDOTTokens = 1 << 23
	maxDOTDepth  = 128     // nested { } and [ ]
	maxDOTChain  = 1 << 16 // edge operators in one a -> b -> c … chain
)

// errDOTPanic marks a panic inside gonum's parser, recovered into an error.
// The fuzz test asserts it never happens; users just see a syntax error.
var errDOTPanic = errors.New("internal error in the DOT parser")

// ReadDOT reads a single Graphviz graph or digraph.
func ReadDOT(r io.Reader) (*Digraph, error) {
	const f = FormatDOT
	src, err := io.ReadAll(io.LimitReader(r, maxDOTBytes+1))
	if err != nil {
		return nil, &ParseError{Format: f, Err: fmt.Errorf("read: %w", err)}
	}
	if len(src) > maxDOTBytes {
		return nil, &ParseError{Format: f, Err: fmt.Errorf("%w: input larger than %d bytes", ErrSyntax, maxDOTBytes)}
	}
	toks, perr := dotLex(src)
	if perr != nil {
		return nil, perr
	}
	file, err := parseDOT(src)
	if err != nil {
		return nil, dotSyntaxErr(src, toks, err)
	}
	if len(file.Graphs) != 1 {
		p := pos{}
		if len(file.Graphs) > 1 {
			for _, t := range toks {
				if t.graph == 1 {
					p = t.at
					break
				}
			}
		}
		return nil, parseErr(f, p, ErrSyntax, "%d graphs in the input, want exactly one", len(file.Graphs))
	}
	d := &dotReader{src: src, toks: toks, aligned: true, ids: make(map[string]int)}
	return d.read(file.Graphs[0])
}

// parseDOT runs gonum's parser, turning a panic into an error: a reader must
// not take the program down whatever the input.
func parseDOT(src []byte) (file *ast.File, err error) {
	defer func() {
		if r := recover(); r != nil {
			file, err = nil, fmt.Errorf("%w: %v", errDOTPanic, r)
		}
	}()
	return dot.ParseBytes(src)
}

// dotSyntaxErr places an error from gonum's parser. Its lexer's line count
// can drift after backtracking and counts a tab as four columns, so the
// token's byte offset is taken from the error (via reflection: the error
// type is in a gonum-internal package) and converted here.
func dotSyntaxErr(src []byte, toks []dotTok, err error) error {
	msg := err.Error()
	p := pos{}
	if off, ok := goccOffset(err); ok && off >= 0 && off <= len(src) {
		p = offsetPos(src, off)
	} else if l, ok := goccLine(msg); ok {
		p = pos{int32(l), 0}
	} else if strings.HasPrefix(msg, "undirected graph") {
		// gonum's semantic check rejects "->" in a graph but says not where.
		for _, t := range toks {
			if t.kind == tokOp && t.directed && t.inUndirected {
				return parseErr(FormatDOT, t.at, ErrSyntax, "directed edge \"->\" in an undirected graph")
			}
		}
	}
	if i := strings.Index(msg, ": error: "); i >= 0 {
		msg = msg[i+len(": error: "):]
	}
	if len(msg) > 200 {
		cut := 200
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut] + "…"
	}
	pe := parseErr(FormatDOT, p, ErrSyntax, "%s", msg)
	if errors.Is(err, errDOTPanic) {
		pe.Err = fmt.Errorf("%w: %w", ErrSyntax, err)
	}
	return pe
}

// goccOffset digs the offending token's byte offset out of an error of
// gonum's generated parser (*errors.Error{ErrorToken *token.Token{Pos{Offset}}}).
func goccOffset(err error) (int, bool) {
	v := reflect.ValueOf(err)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return 0, false
	}
	tok := v.Elem().FieldByName("ErrorToken")
	if !tok.IsValid() || tok.Kind() != reflect.Pointer || tok.IsNil() || tok.Elem().Kind() != reflect.Struct {
		return 0, false
	}
	p := tok.Elem().FieldByName("Pos")
	if !p.IsValid() || p.Kind() != reflect.Struct {
		return 0, false
	}
	off := p.FieldByName("Offset")
	if !off.IsValid() || off.Kind() != reflect.Int {
		return 0, false
	}
	return int(off.Int()), true
}

// goccLine reads the line from the "line:col: error: " prefix of a gonum
// parser message, the fallback when goccOffset cannot see the token.
func goccLine(msg string) (int, bool) {
	i := strings.Index(msg, ": error: ")
	if i < 0 {
		return 0, false
	}
	lc := strings.Split(msg[:i], ":")
	if len(lc) < 2 {
		return 0, false
	}
	l, err := strconv.Atoi(lc[len(lc)-2])
	return l, err == nil && l > 0
}

func offsetPos(src []byte, off int) pos {
	line := bytes.Count(src[:off], []byte{'\n'}) + 1
	col := off - (bytes.LastIndexByte(src[:off], '\n') + 1) + 1
	return pos{int32(min(line, 1<<31-1)), int32(min(col, 1<<31-1))}
}

// --- positions: a lexer for the DOT language as gonum's grammar defines it --

const (
	tokID = iota
	tokOp
)

// Chain states of dotLex, per nesting level: it counts the operators of an
// a -> b -> c … chain, which gonum checks recursively.
const (
	stNone uint8 = iota
	stAfterOp
	stAfterOpSubgraph
	stInChain
)

// dotTok is an id or edge operator, in source order. Port ids (after ':')
// are left out: gonum drops an invalid compass point from its AST, so they
// cannot be paired reliably, and errors never point at them.
type dotTok struct {
	start, end   int32
	at           pos
	kind         uint8
	directed     bool // for tokOp: "->"
	inUndirected bool // for tokOp: inside a "graph", not a "digraph"
	graph        int32
}

func isDOTLetter(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c >= 0x80
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// isDOTKeyword reports gonum's keyword spellings; other casings (nOde) are
// plain ids there, so they are here.
func isDOTKeyword(w string) bool {
	switch w {
	case "node", "Node", "NODE",
		"edge", "Edge", "EDGE",
		"graph", "Graph", "GRAPH",
		"digraph", "Digraph", "diGraph", "DiGraph", "DIGRAPH",
		"subgraph", "Subgraph", "subGraph", "SubGraph", "SUBGRAPH",
		"strict", "Strict", "STRICT":
		return true
	}
	return false
}

// dotLex tokenises src. On input gonum accepts it agrees with gonum's lexer
// (the fuzz test checks this); on other input it only needs not to fail,
// since gonum then reports the error. It returns an error only for input
// beyond maxDOTTokens, maxDOTDepth or maxDOTChain.
func dotLex(src []byte) ([]dotTok, *ParseError) {
	type level struct {
		state uint8
		chain int
		brace bool
	}
	var (
		toks       []dotTok
		stack      = []level{{}}
		at         = pos{1, 1}
		graph      = int32(-1)
		undirected bool
		prevColon  bool
		ntok       int
	)
	advance := func(i, j int) {
		for _, c := range src[i:j] {
			at = at.next(c)
		}
	}
	top := func() *level { return &stack[len(stack)-1] }
	for i := 0; i < len(src); {
		c := src[i]
		start, startAt := i, at
		j := i + 1
		colon := false
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != '#' && c != '/' {
			// Comments and white space aside, every byte starts a token of
			// gonum's, which it allocates.
			if ntok++; ntok > maxDOTTokens {
				return nil, parseErr(FormatDOT, startAt, ErrSyntax, "more than %d tokens: too large for DOT, use the text or JSON format", maxDOTTokens)
			}
		}
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			advance(i, j)
			i = j
			continue
		case c == '#' || c == '/' && j < len(src) && src[j] == '/':
			for j < len(src) && src[j] != '\n' {
				j++
			}
			advance(i, j)
			i = j
			continue
		case c == '/' && j < len(src) && src[j] == '*':
			j++
			for j < len(src) && !(src[j] == '*' && j+1 < len(src) && src[j+1] == '/') {
				j++
			}
			j = min(j+2, len(src))
			advance(i, j)
			i = j
			continue
		case c == '"':
			for j < len(src) && src[j] != '"' {
				if src[j] == '\\' {
					j++
				}
				j++
			}
			j = min(j+1, len(src))
			toks = appendDOTID(toks, start, j, startAt, graph, prevColon)
			top().state = dotIDState(top().state, prevColon)
		case c == '<':
			depth := 1
			for ; j < len(src) && depth > 0; j++ {
				switch src[j] {
				case '<':
					depth++
				case '>':
					depth--
				}
			}
			toks = appendDOTID(toks, start, j, startAt, graph, prevColon)
			top().state = dotIDState(top().state, prevColon)
		case c == '-' && j < len(src) && (src[j] == '-' || src[j] == '>'):
			j++
			t := dotTok{start: int32(start), end: int32(j), at: startAt, kind: tokOp, directed: src[i+1] == '>', inUndirected: undirected, graph: graph}
			toks = append(toks, t)
			l := top()
			if l.state == stInChain {
				l.chain++
			} else {
				l.chain = 1
			}
			l.state = stAfterOp
			if l.chain > maxDOTChain {
				return nil, parseErr(FormatDOT, startAt, ErrSyntax, "edge chain longer than %d operators", maxDOTChain)
			}
		case c == '-' || c == '.' || isDigit(c):
			// A numeral: [-] ( . digits | digits [ . digits* ] ), longest match.
			k := i
			if src[k] == '-' {
				k++
			}
			intStart := k
			for k < len(src) && isDigit(src[k]) {
				k++
			}
			intDigits := k - intStart
			if k < len(src) && src[k] == '.' {
				m := k + 1
				for m < len(src) && isDigit(src[m]) {
					m++
				}
				if intDigits > 0 || m > k+1 {
					k = m
				}
			}
			if k == intStart {
				top().state = stNone // a lone '-' or '.': gonum will complain
				break
			}
			j = k
			toks = appendDOTID(toks, start, j, startAt, graph, prevColon)
			top().state = dotIDState(top().state, prevColon)
		case isDOTLetter(c):
			for j < len(src) && (isDOTLetter(src[j]) || isDigit(src[j])) {
				j++
			}
			word := string(src[i:j])
			if !isDOTKeyword(word) {
				toks = appendDOTID(toks, start, j, startAt, graph, prevColon)
				top().state = dotIDState(top().state, prevColon)
				break
			}
			l := top()
			switch strings.ToLower(word) {
			case "subgraph":
				if l.state == stAfterOp {
					l.state = stAfterOpSubgraph
				} else {
					l.state = stNone
				}
			case "graph", "digraph":
				if len(stack) == 1 {
					undirected = strings.ToLower(word) == "graph"
				}
				l.state = stNone
			default:
				l.state = stNone
			}
		case c == '{' || c == '[':
			if len(stack) == 1 && c == '{' {
				graph++
			}
			if len(stack) > maxDOTDepth {
				return nil, parseErr(FormatDOT, startAt, ErrSyntax, "nesting deeper than %d", maxDOTDepth)
			}
			stack = append(stack, level{brace: c == '{'})
		case c == '}' || c == ']':
			if len(stack) > 1 {
				wasBrace := top().brace
				stack = stack[:len(stack)-1]
				l := top()
				if wasBrace && (l.state == stAfterOp || l.state == stAfterOpSubgraph) {
					l.state = stInChain
				} else {
					l.state = stNone
				}
			}
		case c == ':':
			colon = true
		default: // ; , = and bytes gonum rejects
			top().state = stNone
		}
		prevColon = colon
		advance(i, j)
		i = j
	}
	return toks, nil
}

func appendDOTID(toks []dotTok, start, end int, at pos, graph int32, port bool) []dotTok {
	if port {
		return toks
	}
	return append(toks, dotTok{start: int32(start), end: int32(end), at: at, kind: tokID, graph: graph})
}

// dotIDState is the chain state after an id: it completes the vertex an
// operator was waiting for; a port id changes nothing; any other id begins a
// new statement.
func dotIDState(state uint8, port bool) uint8 {
	switch {
	case port:
		return state
	case state == stAfterOp:
		return stInChain
	case state == stAfterOpSubgraph:
		return state // the subgraph's own name
	}
	return stNone
}

// --- interpretation ---------------------------------------------------------

type dotReader struct {
	src     []byte
	toks    []dotTok
	k       int  // next token to pair with the AST
	aligned bool // all pairs so far matched

	directed, strict bool
	ids              map[string]int // unquoted DOT id → first-appearance number
	keys             []string
	keyAt            []pos
	labels           []string
	labelAt          []pos
	hasLabel         []bool
	anyLabel         bool
	arcs             []Arc
	arcsAt           []pos
}

// occ is one mention of a node, with where it was.
type occ struct {
	id int
	at pos
}

func (d *dotReader) errf(at pos, sentinel error, format string, args ...any) error {
	return parseErr(FormatDOT, at, sentinel, format, args...)
}

// pair matches the next lexer token with an AST id (or, when op, an edge
// operator) and returns its position, or the zero pos once pairing failed.
func (d *dotReader) pair(id string, op, directed bool) pos {
	if !d.aligned || d.k >= len(d.toks) {
		d.aligned = false
		return pos{}
	}
	t := d.toks[d.k]
	ok := false
	if op {
		ok = t.kind == tokOp && t.directed == directed
	} else if t.kind == tokID {
		lit := d.src[t.start:t.end]
		if len(lit) > 0 && lit[0] == '"' && bytes.Contains(lit, []byte("\\\n")) {
			// gonum's NewID strips backslash-newline from quoted ids.
			ok = strings.ReplaceAll(string(lit), "\\\n", "") == id
		} else {
			ok = string(lit) == id
		}
	}
	if !ok {
		d.aligned = false
		return pos{}
	}
	d.k++
	return t.at
}

func (d *dotReader) read(g *ast.Graph) (*Digraph, error) {
	d.directed, d.strict = g.Directed, g.Strict
	if g.ID != "" {
		d.pair(g.ID, false, false)
	}
	if err := d.stmts(g.Stmts, nil); err != nil {
		return nil, err
	}
	n := len(d.keys)
	if n == 0 {
		return nil, d.errf(pos{}, ErrNodeCount, "graph has no nodes")
	}
	// Integer mode: the ids are exactly 0..n-1.
	perm := make([]int, n)
	intMode := true
	for i, k := range d.keys {
		v, ok := canonicalID(k, n)
		if !ok {
			intMode = false
			break
		}
		perm[i] = v
	}
	var names []string
	if intMode {
		for i := range d.arcs {
			d.arcs[i] = Arc{From: perm[d.arcs[i].From], To: perm[d.arcs[i].To]}
		}
		if d.anyLabel {
			names = make([]string, n)
			for i, l := range d.labels {
				if err := dotNameOK(l); err != nil {
					return nil, d.errf(d.labelAt[i], ErrName, "label of node %s: %v", d.keys[i], err)
				}
				names[perm[i]] = l
			}
		}
	} else {
		for i, k := range d.keys {
			if err := dotNameOK(k); err != nil {
				return nil, d.errf(d.keyAt[i], ErrName, "node id %s cannot be kept as a name: %v", quoteTok([]byte(k)), err)
			}
		}
		names = d.keys
	}
	if d.strict {
		d.dedupe()
	}
	var label func(int) string
	if !intMode {
		label = func(i int) string { return strconv.Quote(d.keys[i]) }
	}
	return buildParsed(FormatDOT, n, d.arcs, d.arcsAt, names, label)
}

// canonicalID reports whether s is a decimal integer in 0..n-1 written
// without sign or leading zeros ("007" is a name, not node 7).
func canonicalID(s string, n int) (int, bool) {
	if s == "" || len(s) > 7 || (s[0] == '0' && len(s) > 1) {
		return 0, false
	}
	v := 0
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, false
		}
		v = v*10 + int(s[i]-'0')
	}
	return v, v < n
}

// dedupe keeps the first of repeated arcs: in a strict graph DOT merges them.
func (d *dotReader) dedupe() {
	idx := make([]int, len(d.arcs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(x, y int) int {
		a, b := d.arcs[x], d.arcs[y]
		if a.From != b.From {
			return a.From - b.From
		}
		if a.To != b.To {
			return a.To - b.To
		}
		return x - y
	})
	drop := make([]bool, len(d.arcs))
	for i := 1; i < len(idx); i++ {
		if d.arcs[idx[i]] == d.arcs[idx[i-1]] {
			drop[idx[i]] = true
		}
	}
	w := 0
	for i := range d.arcs {
		if !drop[i] {
			d.arcs[w], d.arcsAt[w] = d.arcs[i], d.arcsAt[i]
			w++
		}
	}
	d.arcs, d.arcsAt = d.arcs[:w], d.arcsAt[:w]
}

// node returns the number of the node with DOT id raw, creating it.
func (d *dotReader) node(raw string) (occ, error) {
	at := d.pair(raw, false, false)
	key := dotUnquote(raw)
	if id, ok := d.ids[key]; ok {
		return occ{id, at}, nil
	}
	if len(d.keys) >= MaxNodes {
		return occ{}, d.errf(at, ErrNodeCount, "more than %d nodes", MaxNodes)
	}
	id := len(d.keys)
	d.ids[key] = id
	d.keys = append(d.keys, key)
	d.keyAt = append(d.keyAt, at)
	d.labels = append(d.labels, "")
	d.labelAt = append(d.labelAt, pos{})
	d.hasLabel = append(d.hasLabel, false)
	return occ{id, at}, nil
}

// attrs pairs an attribute list with the tokens; for a node statement
// (node ≥ 0) it records the label.
func (d *dotReader) attrs(list []*ast.Attr, node int) {
	for _, a := range list {
		d.pair(a.Key, false, false)
		at := d.pair(a.Val, false, false)
		if node >= 0 && dotUnquote(a.Key) == "label" {
			d.labels[node] = dotUnquote(a.Val)
			d.labelAt[node] = at
			d.hasLabel[node] = true
			d.anyLabel = true
		}
	}
}

// stmts interprets a statement list. Every node mentioned is appended to
// *out when out is not nil: that is how a subgraph used as an edge endpoint
// learns its node set.
func (d *dotReader) stmts(list []ast.Stmt, out *[]occ) error {
	for _, s := range list {
		switch s := s.(type) {
		case *ast.NodeStmt:
			o, err := d.node(s.Node.ID)
			if err != nil {
				return err
			}
			if out != nil {
				*out = append(*out, o)
			}
			d.attrs(s.Attrs, o.id)
		case *ast.EdgeStmt:
			if err := d.edge(s, out); err != nil {
				return err
			}
		case *ast.AttrStmt:
			d.attrs(s.Attrs, -1)
		case *ast.Attr:
			d.pair(s.Key, false, false)
			d.pair(s.Val, false, false)
		case *ast.Subgraph:
			if _, err := d.subgraph(s, out); err != nil {
				return err
			}
		default:
			return d.errf(pos{}, ErrSyntax, "unsupported DOT statement %T", s)
		}
	}
	return nil
}

// subgraph interprets a subgraph and returns its distinct nodes.
func (d *dotReader) subgraph(s *ast.Subgraph, out *[]occ) ([]occ, error) {
	if s.ID != "" {
		d.pair(s.ID, false, false)
	}
	var set []occ
	if err := d.stmts(s.Stmts, &set); err != nil {
		return nil, err
	}
	slices.SortStableFunc(set, func(a, b occ) int { return a.id - b.id })
	set = slices.CompactFunc(set, func(a, b occ) bool { return a.id == b.id })
	if out != nil {
		*out = append(*out, set...)
	}
	return set, nil
}

func (d *dotReader) vertex(v ast.Vertex, out *[]occ) ([]occ, error) {
	switch v := v.(type) {
	case *ast.Node:
		o, err := d.node(v.ID)
		if err != nil {
			return nil, err
		}
		if out != nil {
			*out = append(*out, o)
		}
		return []occ{o}, nil
	case *ast.Subgraph:
		return d.subgraph(v, out)
	}
	return nil, d.errf(pos{}, ErrSyntax, "unsupported DOT vertex %T", v)
}

// edge interprets a → b → c …: arcs between each consecutive pair of
// endpoints, every node of one to every node of the next. An arc is placed,
// for error messages, at the mention of its head in this statement.
func (d *dotReader) edge(s *ast.EdgeStmt, out *[]occ) error {
	from, err := d.vertex(s.From, out)
	if err != nil {
		return err
	}
	for e := s.To; e != nil; e = e.To {
		opAt := d.pair("", true, e.Directed)
		if e.Directed != d.directed {
			if d.directed {
				return d.errf(opAt, ErrSyntax, "undirected edge \"--\" in a digraph")
			}
			return d.errf(opAt, ErrSyntax, "directed edge \"->\" in an undirected graph")
		}
		to, err := d.vertex(e.Vertex, out)
		if err != nil {
			return err
		}
		for _, u := range from {
			for _, v := range to {
				if u.id == v.id {
					return d.errf(v.at, ErrSelfLoop, "edge %s %s %s", d.keys[u.id], edgeOp(d.directed), d.keys[v.id])
				}
				d.arcs = append(d.arcs, Arc{From: u.id, To: v.id})
				d.arcsAt = append(d.arcsAt, v.at)
				if !d.directed {
					d.arcs = append(d.arcs, Arc{From: v.id, To: u.id})
					d.arcsAt = append(d.arcsAt, v.at)
				}
				if err := checkArcBudget(FormatDOT, v.at, 0, len(d.arcs)); err != nil {
					return err
				}
			}
		}
		from = to
	}
	d.attrs(s.Attrs, -1)
	return nil
}

func edgeOp(directed bool) string {
	if directed {
		return "->"
	}
	return "--"
}

// dotUnquote gives the value of a DOT id: a quoted string loses its quotes
// and its \" escapes (the only escape DOT has; \\ stays as it is). Other ids,
// HTML strings included, are their own text.
func dotUnquote(s string) string {
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return s
	}
	body := s[1 : len(s)-1]
	if !strings.Contains(body, `\"`) {
		return body
	}
	var b strings.Builder
	b.Grow(len(body))
	for i := 0; i < len(body); i++ {
		if body[i] == '\\' && i+1 < len(body) {
			if body[i+1] != '"' {
				b.WriteByte('\\')
			}
			b.WriteByte(body[i+1])
			i++
			continue
		}
		b.WriteByte(body[i])
	}
	return b.String()
}

// dotNameOK reports whether a name survives WriteDOT and ReadDOT unchanged.
// DOT strings cannot hold NUL, invalid UTF-8 or U+FFFD (gonum's lexer rejects
// them); a backslash before a newline is a line continuation; and since a
// backslash pairs with the next character, an odd run of backslashes cannot
// precede a quote or the end of the string.
func dotNameOK(s string) error {
	if !utf8.ValidString(s) {
		return errors.New("not valid UTF-8")
	}
	if strings.ContainsRune(s, 0) || strings.ContainsRune(s, utf8.RuneError) {
		return errors.New("contains NUL or U+FFFD")
	}
	run := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			run++
			continue
		}
		if run > 0 && (s[i] == '\n' || run%2 == 1 && s[i] == '"') {
			return errors.New("a backslash before a newline or quote cannot be written in DOT")
		}
		run = 0
	}
	if run%2 == 1 {
		return errors.New("ends in an odd number of backslashes")
	}
	return nil
}

// WriteDOT writes g as a digraph with integer node ids, every node declared
// (so isolated nodes and the numbering survive), names as label attributes.
func WriteDOT(w io.Writer, g *Digraph) error {
	if err := checkWritable(g); err != nil {
		return fmt.Errorf("graph: write dot: %w", err)
	}
	for i := 0; g.HasNames() && i < g.N(); i++ {
		if err := dotNameOK(g.Name(i)); err != nil {
			return fmt.Errorf("graph: write dot: %w: name of node %d %v", ErrName, i, err)
		}
	}
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "// %d nodes, %d arcs; u -> v is the arc u→v (v hears u)\ndigraph {\n", g.N(), g.M())
	buf := make([]byte, 0, 64)
	for i := 0; i < g.N(); i++ {
		buf = append(buf[:0], '\t')
		buf = strconv.AppendInt(buf, int64(i), 10)
		if g.HasNames() {
			buf = append(buf, ` [label="`...)
			buf = append(buf, strings.ReplaceAll(g.Name(i), `"`, `\"`)...)
			buf = append(buf, `"]`...)
		}
		buf = append(buf, ";\n"...)
		bw.Write(buf)
	}
	for u := 0; u < g.N(); u++ {
		for _, v := range g.Out(u) {
			buf = append(buf[:0], '\t')
			buf = strconv.AppendInt(buf, int64(u), 10)
			buf = append(buf, " -> "...)
			buf = strconv.AppendInt(buf, int64(v), 10)
			buf = append(buf, ";\n"...)
			bw.Write(buf)
		}
	}
	bw.WriteString("}\n")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("graph: write dot: %w", err)
	}
	return nil
}
