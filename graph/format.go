package graph

import (
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Format is a file format for a Digraph. Every format is read strictly: a
// reader either returns exactly the graph the file describes or an error
// naming the line (and column where it helps) and the reason.
//
// Orientation is the same in every format: an arc u→v means that v hears u.
// Names are carried by JSON ("names"), DOT (label attributes) and CSV (an
// optional header row); the text edge list has no place for them, so
// WriteText drops them.
type Format int

// The formats. The zero Format is invalid, so that a forgotten field is
// caught rather than silently read as text.
const (
	FormatText Format = iota + 1 // edge list: "n m", then m lines "u v"
	FormatJSON                   // {"n":N,"edges":[[u,v],...],"names":[...]}
	FormatDOT                    // Graphviz digraph (or graph: two arcs per edge)
	FormatCSV                    // n×n 0/1 adjacency matrix, A[u][v]=1 iff u→v
)

// Errors of the readers and writers, besides the sentinels of graph.go.
var (
	// ErrSyntax reports input that is not in the format at all: a malformed
	// token, a missing or extra field, trailing garbage.
	ErrSyntax = errors.New("syntax error")
	// ErrFormat reports an unknown format name or file extension.
	ErrFormat = errors.New("unknown graph format")
	// ErrName reports a node name that a format cannot represent faithfully
	// (for example invalid UTF-8 in JSON), or a names list of the wrong length.
	ErrName = errors.New("bad node name")
)

// String returns the format's canonical name, as accepted by ParseFormat.
func (f Format) String() string {
	switch f {
	case FormatText:
		return "text"
	case FormatJSON:
		return "json"
	case FormatDOT:
		return "dot"
	case FormatCSV:
		return "csv"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// ParseFormat maps a format name, case-insensitively, to a Format: "text"
// (also "txt", "edges", "el", "edgelist"), "json", "dot" (also "gv"), "csv".
func ParseFormat(name string) (Format, error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "text", "txt", "edges", "el", "edgelist":
		return FormatText, nil
	case "json":
		return FormatJSON, nil
	case "dot", "gv", "graphviz":
		return FormatDOT, nil
	case "csv":
		return FormatCSV, nil
	}
	return 0, fmt.Errorf("%w %q (want text, json, dot or csv)", ErrFormat, name)
}

// FormatFromPath picks the format from a file name's extension:
// .txt/.edges/.el → text, .json, .dot/.gv → DOT, .csv.
func FormatFromPath(path string) (Format, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".txt", ".edges", ".el":
		return FormatText, nil
	case ".json":
		return FormatJSON, nil
	case ".dot", ".gv":
		return FormatDOT, nil
	case ".csv":
		return FormatCSV, nil
	}
	return 0, fmt.Errorf("%w: cannot tell the format of %q from its extension", ErrFormat, path)
}

// Read reads one graph in format f.
func Read(r io.Reader, f Format) (*Digraph, error) {
	switch f {
	case FormatText:
		return ReadText(r)
	case FormatJSON:
		return ReadJSON(r)
	case FormatDOT:
		return ReadDOT(r)
	case FormatCSV:
		return ReadCSV(r)
	}
	return nil, fmt.Errorf("graph: read: %w %v", ErrFormat, f)
}

// Write writes g in format f.
func Write(w io.Writer, g *Digraph, f Format) error {
	switch f {
	case FormatText:
		return WriteText(w, g)
	case FormatJSON:
		return WriteJSON(w, g)
	case FormatDOT:
		return WriteDOT(w, g)
	case FormatCSV:
		return WriteCSV(w, g)
	}
	return fmt.Errorf("graph: write: %w %v", ErrFormat, f)
}

// ParseError is the error of every reader. Err wraps one of the sentinels
// (ErrSyntax, ErrNodeCount, ErrArcCount, ErrOutOfRange, ErrSelfLoop,
// ErrDuplicate, ErrName) or an I/O error, so errors.Is sees through it.
type ParseError struct {
	Format Format
	Line   int // 1-based; 0 when the error concerns the input as a whole
	Col    int // 1-based byte offset in the line; 0 when the whole line is meant
	Err    error
}

func (e *ParseError) Error() string {
	var b strings.Builder
	b.WriteString("graph: read ")
	b.WriteString(e.Format.String())
	if e.Line > 0 {
		fmt.Fprintf(&b, ": line %d", e.Line)
		if e.Col > 0 {
			fmt.Fprintf(&b, ", col %d", e.Col)
		}
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *ParseError) Unwrap() error { return e.Err }

// pos is a place in the input. Line numbers saturate rather than wrap, so a
// file of more than 2³¹ lines gets a wrong number in an error message, not a
// negative one; int32 halves the per-arc bookkeeping against int.
type pos struct{ line, col int32 }

func (p pos) next(b byte) pos {
	if b == '\n' {
		if p.line < math.MaxInt32 {
			p.line++
		}
		p.col = 1
	} else if p.col < math.MaxInt32 {
		p.col++
	}
	return p
}

// parseErr builds a reader error that wraps sentinel.
func parseErr(f Format, p pos, sentinel error, format string, args ...any) *ParseError {
	return &ParseError{
		Format: f,
		Line:   int(p.line),
		Col:    int(p.col),
		Err:    fmt.Errorf("%w: "+format, append([]any{sentinel}, args...)...),
	}
}

// quoteTok quotes a piece of input for an error message, cut short so that a
// megabyte of garbage does not become a megabyte of error.
func quoteTok(b []byte) string {
	const max = 32
	if len(b) > max {
		return fmt.Sprintf("%q…", b[:max])
	}
	return fmt.Sprintf("%q", b)
}

// checkArcBudget is called as each arc is read: a file may not describe more
// arcs than MaxArcs, or more than n(n−1), which no simple graph has.
func checkArcBudget(f Format, p pos, n, m int) error {
	if m > MaxArcs {
		return parseErr(f, p, ErrArcCount, "more than %d arcs", MaxArcs)
	}
	if n > 0 && int64(m) > int64(n)*int64(n-1) {
		return parseErr(f, p, ErrArcCount, "more than n(n−1) = %d arcs on %d nodes: some arc repeats", int64(n)*int64(n-1), n)
	}
	return nil
}

// buildParsed builds the graph a reader has collected. at[i] is where arc i
// was given. The Builder finds duplicates by sorting; only when it reports
// one is the input searched again, to name the line of the repetition.
//
// label, when not nil, says how the input called a node (DOT ids), so that
// the message speaks the file's language.
func buildParsed(f Format, n int, arcs []Arc, at []pos, names []string, label func(int) string) (*Digraph, error) {
	b := &Builder{n: n, arcs: arcs, names: names}
	g, err := b.Build()
	if err == nil {
		return g, nil
	}
	if errors.Is(err, ErrDuplicate) {
		if first, dup, ok := firstDuplicate(arcs); ok {
			if label == nil {
				label = strconv.Itoa
			}
			a := arcs[dup]
			where := "before"
			if p := at[first]; p.line > 0 && p.col > 0 {
				where = fmt.Sprintf("first at line %d, col %d", p.line, p.col)
			} else if p.line > 0 {
				where = fmt.Sprintf("first at line %d", p.line)
			}
			return nil, parseErr(f, at[dup], ErrDuplicate, "%s→%s given again (%s)", label(a.From), label(a.To), where)
		}
	}
	return nil, &ParseError{Format: f, Err: err}
}

// firstDuplicate returns the earliest index dup whose arc repeats an earlier
// one, and the index first of that earlier one.
func firstDuplicate(arcs []Arc) (first, dup int, ok bool) {
	idx := make([]int32, len(arcs))
	for i := range idx {
		idx[i] = int32(i)
	}
	slices.SortFunc(idx, func(x, y int32) int {
		a, b := arcs[x], arcs[y]
		if a.From != b.From {
			return a.From - b.From
		}
		if a.To != b.To {
			return a.To - b.To
		}
		return int(x - y)
	})
	dup = -1
	for i := 1; i < len(idx); i++ {
		if arcs[idx[i]] == arcs[idx[i-1]] && (dup < 0 || int(idx[i]) < dup) {
			// Within a run of equal arcs the indices increase, so the second
			// of the run is the first repetition of that arc.
			if i < 2 || arcs[idx[i-2]] != arcs[idx[i]] {
				first, dup = int(idx[i-1]), int(idx[i])
			}
		}
	}
	return first, dup, dup >= 0
}

// checkWritable refuses graphs no reader would accept back, so that Write
// followed by Read never fails on the writer's own output.
func checkWritable(g *Digraph) error {
	if g == nil || g.n <= 0 || g.n > MaxNodes {
		n := 0
		if g != nil {
			n = g.n
		}
		return fmt.Errorf("%w: cannot write a graph of %d nodes, want 1..%d", ErrNodeCount, n, MaxNodes)
	}
	return nil
}
