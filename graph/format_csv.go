package graph

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// The CSV format is the adjacency matrix: n rows of n entries, each 0 or 1.
//
//	A[u][v] = 1  ⇔  arc u→v  ⇔  v hears u.
//
// So row u lists the nodes that hear u (u's out-neighbours), and column v
// lists the nodes v hears (N_v^in). The diagonal must be 0.
//
// An optional first row of n node names may precede the matrix. It is
// recognised by the row count alone: a file of n columns holds either n rows
// (no names) or n+1 rows (names, then the matrix). Content is never used to
// guess, so names such as "0" and "1" are fine and a file means one thing.
//
// CSV is meant for small graphs that people edit in a spreadsheet: the
// matrix has n² entries, 2·10¹⁰ bytes at n = 10⁵.

// ReadCSV reads an adjacency matrix, optionally headed by a row of names.
func ReadCSV(r io.Reader) (*Digraph, error) {
	const f = FormatCSV
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	// FieldsPerRecord 0: every row must have as many fields as the first.
	rec, err := cr.Read()
	if err == io.EOF {
		return nil, parseErr(f, pos{1, 0}, ErrNodeCount, "no rows")
	}
	if err != nil {
		return nil, csvErr(err, nil)
	}
	n := len(rec)
	line0, _ := cr.FieldPos(0)
	if n > MaxNodes {
		return nil, parseErr(f, pos{int32(line0), 0}, ErrNodeCount, "%d columns, want at most %d", n, MaxNodes)
	}
	// The first row is either names or matrix row 0; which one is known only
	// at the end. Keep it, and where each field was.
	first := slices.Clone(rec)
	firstAt := make([]pos, n)
	for j := range firstAt {
		l, c := cr.FieldPos(j)
		firstAt[j] = pos{int32(l), int32(c)}
	}
	// Rows after the first get the tentative index k = 1, 2, … (right if
	// there is no header row; one too high if there is). A 1 at column k or
	// k−1 is a self-loop under one reading or the other: remember those.
	type loop struct {
		k, j int
		at   pos
	}
	var (
		arcs  []Arc
		at    []pos
		loops []loop
		rows  = 1
	)
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, csvErr(err, rec)
		}
		k := rows
		rows++
		if rows > n+1 {
			l, _ := cr.FieldPos(0)
			return nil, parseErr(f, pos{int32(l), 0}, ErrSyntax, "%d columns but more than %d rows (at most a names row and the %d×%d matrix)", n, n+1, n, n)
		}
		for j, fld := range rec {
			switch fld {
			case "0":
			case "1":
				l, c := cr.FieldPos(j)
				p := pos{int32(l), int32(c)}
				arcs = append(arcs, Arc{From: k, To: j})
				at = append(at, p)
				if j == k || j == k-1 {
					loops = append(loops, loop{k, j, p})
				}
			default:
				l, c := cr.FieldPos(j)
				return nil, parseErr(f, pos{int32(l), int32(c)}, ErrSyntax, "entry %s in row %d, column %d is not 0 or 1", quoteTok([]byte(fld)), rows, j+1)
			}
		}
		// n = 0 skips the n(n−1) bound: rows are tentative and may still
		// hold diagonal ones, which the end reports as self-loops.
		if l, _ := cr.FieldPos(0); len(arcs) > MaxArcs {
			return nil, checkArcBudget(f, pos{int32(l), 0}, 0, len(arcs))
		}
	}
	var names []string
	switch rows {
	case n:
		for j, fld := range first {
			switch fld {
			case "0":
			case "1":
				if j == 0 {
					return nil, parseErr(f, firstAt[j], ErrSelfLoop, "A[0][0] = 1, arc 0→0")
				}
				arcs = append(arcs, Arc{From: 0, To: j})
				at = append(at, firstAt[j])
			default:
				return nil, parseErr(f, firstAt[j], ErrSyntax, "entry %s in row 1, column %d is not 0 or 1 (with %d rows and %d columns there is no names row)", quoteTok([]byte(fld)), j+1, n, n)
			}
		}
		for _, l := range loops {
			if l.j == l.k {
				return nil, parseErr(f, l.at, ErrSelfLoop, "A[%d][%d] = 1, arc %d→%d", l.k, l.k, l.k, l.k)
			}
		}
	case n + 1:
		names = first
		for j, name := range names {
			// encoding/csv turns a quoted "\r\r\n" into "\r\n", which no
			// writer can produce again (see WriteCSV); refuse it here.
			if strings.Contains(name, "\r\n") {
				return nil, parseErr(f, firstAt[j], ErrName, "name in column %d contains \\r\\n, which CSV cannot carry", j+1)
			}
		}
		for _, l := range loops {
			if l.j == l.k-1 {
				return nil, parseErr(f, l.at, ErrSelfLoop, "A[%d][%d] = 1, arc %d→%d", l.j, l.j, l.j, l.j)
			}
		}
		for i := range arcs {
			arcs[i].From--
		}
	default:
		line, _ := cr.FieldPos(0)
		return nil, parseErr(f, pos{int32(line), 0}, ErrSyntax, "%d columns but only %d rows: want %d (or %d with a names row)", n, rows, n, n+1)
	}
	return buildParsed(f, n, arcs, at, names, nil)
}

// csvErr turns an encoding/csv error into a ParseError at its position.
func csvErr(err error, rec []string) error {
	var pe *csv.ParseError
	if !errors.As(err, &pe) {
		return &ParseError{Format: FormatCSV, Err: fmt.Errorf("read: %w", err)}
	}
	if errors.Is(pe.Err, csv.ErrFieldCount) {
		return parseErr(FormatCSV, pos{int32(pe.StartLine), 0}, ErrSyntax, "row has %d fields; the first row has a different number", len(rec))
	}
	return parseErr(FormatCSV, pos{int32(pe.Line), int32(pe.Column)}, ErrSyntax, "%v", pe.Err)
}

// WriteCSV writes g as an adjacency matrix, preceded by a row of names when
// g has names. Names are always quoted. A name containing "\r\n" is refused:
// CSV readers turn it into "\n", so it would not read back the same.
func WriteCSV(w io.Writer, g *Digraph) error {
	if err := checkWritable(g); err != nil {
		return fmt.Errorf("graph: write csv: %w", err)
	}
	n := g.N()
	bw := bufio.NewWriter(w)
	if g.HasNames() {
		for i := 0; i < n; i++ {
			name := g.Name(i)
			if strings.Contains(name, "\r\n") {
				return fmt.Errorf("graph: write csv: %w: name of node %d contains \\r\\n", ErrName, i)
			}
			if i > 0 {
				bw.WriteByte(',')
			}
			bw.WriteByte('"')
			bw.WriteString(strings.ReplaceAll(name, `"`, `""`))
			bw.WriteByte('"')
		}
		bw.WriteByte('\n')
	}
	row := make([]byte, 2*n)
	for u := 0; u < n; u++ {
		for v := 0; v < n; v++ {
			row[2*v], row[2*v+1] = '0', ','
		}
		for _, v := range g.Out(u) {
			row[2*v] = '1'
		}
		row[2*n-1] = '\n'
		bw.Write(row)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("graph: write csv: %w", err)
	}
	return nil
}
