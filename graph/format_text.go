package graph

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// The text edge list:
//
//	# comment (a '#' also starts a comment at the end of a line)
//	n m
//	u v      ← m lines, one arc each: u→v, v hears u
//
// Nodes are 0..n-1; an undirected link is written as its two arcs. Blank
// lines and comments may appear anywhere. Names are not stored.

// maxTextLine bounds the data part of a line (before any '#'). Lines hold two
// integers, so 64 KiB is generous, and it bounds the reader's buffer.
const maxTextLine = 64 << 10

// maxParsedInt is where integer parsing saturates: far above every bound
// checked afterwards, far below overflow.
const maxParsedInt = 1 << 40

// ReadText reads a text edge list. It streams: memory grows with the arcs
// actually present, never with the m the header announces.
func ReadText(r io.Reader) (*Digraph, error) {
	const f = FormatText
	br := bufio.NewReaderSize(r, maxTextLine)
	var (
		line       pos // line of the current line; col unused
		header     bool
		headerLine int32
		n, m       int
		arcs       []Arc
		at         []pos
	)
	for {
		raw, err := br.ReadSlice('\n')
		if len(raw) == 0 && err == io.EOF {
			break
		}
		line = line.next('\n')
		data := raw
		if i := bytes.IndexByte(raw, '#'); i >= 0 {
			data = raw[:i]
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			if len(data) == len(raw) {
				return nil, parseErr(f, pos{line.line, 0}, ErrSyntax, "line longer than %d bytes before any comment", maxTextLine)
			}
			// The rest of the line is comment. data aliases the buffer, so
			// copy it before reading on.
			data = bytes.Clone(data)
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
		}
		if err != nil && err != io.EOF {
			return nil, &ParseError{Format: f, Line: int(line.line), Err: fmt.Errorf("read: %w", err)}
		}
		var fld [3][2]int // start and end of up to three fields
		nf := 0
		for i := 0; i < len(data); {
			if isTextSpace(data[i]) {
				i++
				continue
			}
			j := i
			for j < len(data) && !isTextSpace(data[j]) {
				j++
			}
			if nf < len(fld) {
				fld[nf] = [2]int{i, j}
			}
			nf++
			i = j
		}
		if nf > 0 {
			fieldPos := func(k int) pos { return pos{line.line, int32(fld[k][0] + 1)} }
			what := "an arc line `u v`"
			if !header {
				what = "the header `n m`"
			}
			if nf != 2 {
				p := pos{line.line, 0}
				if nf > 2 {
					p = fieldPos(2)
				}
				return nil, parseErr(f, p, ErrSyntax, "want %s, two integers; got %d fields", what, nf)
			}
			var val [2]int64
			for k := range val {
				tok := data[fld[k][0]:fld[k][1]]
				v, ok := parseDecimal(tok)
				if !ok {
					return nil, parseErr(f, fieldPos(k), ErrSyntax, "%s is not an integer (in %s)", quoteTok(tok), what)
				}
				val[k] = v
			}
			if !header {
				header, headerLine = true, line.line
				if val[0] <= 0 || val[0] > MaxNodes {
					return nil, parseErr(f, fieldPos(0), ErrNodeCount, "n = %d, want 1..%d", val[0], MaxNodes)
				}
				n = int(val[0])
				if lim := min(int64(MaxArcs), int64(n)*int64(n-1)); val[1] < 0 || val[1] > lim {
					return nil, parseErr(f, fieldPos(1), ErrArcCount, "m = %d, want 0..%d for n = %d (at most n(n−1) and %d)", val[1], lim, n, MaxArcs)
				}
				m = int(val[1])
			} else {
				if len(arcs) == m {
					return nil, parseErr(f, pos{line.line, 0}, ErrArcCount, "more arc lines than the %d the header on line %d declares", m, headerLine)
				}
				for k := range val {
					if val[k] < 0 || val[k] >= int64(n) {
						return nil, parseErr(f, fieldPos(k), ErrOutOfRange, "node %d, want 0..%d", val[k], n-1)
					}
				}
				if val[0] == val[1] {
					return nil, parseErr(f, fieldPos(0), ErrSelfLoop, "%d→%d", val[0], val[1])
				}
				arcs = append(arcs, Arc{From: int(val[0]), To: int(val[1])})
				at = append(at, pos{line.line, 1})
			}
		}
		if err == io.EOF {
			break
		}
	}
	if !header {
		return nil, parseErr(f, pos{line.line, 0}, ErrSyntax, "no header line `n m`")
	}
	if len(arcs) < m {
		return nil, parseErr(f, pos{line.line, 0}, ErrArcCount, "input ends after %d arc lines; the header on line %d declares %d", len(arcs), headerLine, m)
	}
	return buildParsed(f, n, arcs, at, nil, nil)
}

func isTextSpace(b byte) bool {
	return b == ' ' || b == '\t' || b == '\r' || b == '\v' || b == '\f' || b == '\n'
}

// parseDecimal parses an optionally negative decimal integer, saturating at
// ±maxParsedInt so that a thousand-digit id is "out of range", not a wrap.
func parseDecimal(b []byte) (int64, bool) {
	neg := false
	if len(b) > 0 && b[0] == '-' {
		neg, b = true, b[1:]
	}
	if len(b) == 0 {
		return 0, false
	}
	var v int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		if v < maxParsedInt {
			v = v*10 + int64(c-'0')
		}
	}
	v = min(v, maxParsedInt)
	if neg {
		v = -v
	}
	return v, true
}

// WriteText writes g as a text edge list, arcs grouped by tail. Node names
// are not written: the format has no place for them.
func WriteText(w io.Writer, g *Digraph) error {
	if err := checkWritable(g); err != nil {
		return fmt.Errorf("graph: write text: %w", err)
	}
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "# %d nodes, %d arcs; a line \"u v\" is the arc u→v (v hears u)\n", g.N(), g.M())
	buf := make([]byte, 0, 32)
	buf = strconv.AppendInt(buf, int64(g.N()), 10)
	buf = append(buf, ' ')
	buf = strconv.AppendInt(buf, int64(g.M()), 10)
	buf = append(buf, '\n')
	bw.Write(buf)
	for u := 0; u < g.N(); u++ {
		for _, v := range g.Out(u) {
			buf = strconv.AppendInt(buf[:0], int64(u), 10)
			buf = append(buf, ' ')
			buf = strconv.AppendInt(buf, int64(v), 10)
			buf = append(buf, '\n')
			bw.Write(buf)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("graph: write text: %w", err)
	}
	return nil
}
