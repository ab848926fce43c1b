package graph

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"
)

// The JSON format:
//
//	{"n": 4, "edges": [[0,1],[1,0],[2,3]], "names": ["a","b","c","d"]}
//
// "n" and "edges" are required, "names" is optional (length n). Each edge
// [u,v] is the arc u→v: v hears u. The members may come in any order.
//
// The reader is a small hand-written parser for exactly this shape rather
// than encoding/json. A version on json.Decoder was written and measured:
// it came out longer (594 lines against 545) and 1.3× slower, because the
// decoder cannot give line and column for its own syntax errors once
// Token() has consumed separators, silently replaces invalid UTF-8 in names
// with U+FFFD (which a strict reader must refuse, so raw bytes had to be
// re-checked by hand), reads "03" as two tokens, and holds a whole token or
// whitespace run in memory. Here every error names its line and column, the
// input is streamed so memory follows the arcs actually present, and
// unknown or repeated members, non-integer ids ("1.0", "1e0"), invalid
// UTF-8, lone surrogates and anything after the closing brace are rejected.

// ReadJSON reads a graph in the JSON format.
func ReadJSON(r io.Reader) (*Digraph, error) {
	p := &jsonParser{br: bufio.NewReader(r), at: pos{1, 1}}
	g, err := p.parse()
	if err != nil {
		if p.ioErr != nil {
			return nil, &ParseError{Format: FormatJSON, Line: int(p.at.line), Col: int(p.at.col), Err: fmt.Errorf("read: %w", p.ioErr)}
		}
		return nil, err
	}
	return g, nil
}

type jsonParser struct {
	br    *bufio.Reader
	at    pos   // position of the next byte
	ioErr error // a read error other than EOF; it ends parsing
	str   []byte

	n      int // 0 until "n" is read
	arcs   []Arc
	arcsAt []pos
}

func (p *jsonParser) errf(at pos, sentinel error, format string, args ...any) error {
	return parseErr(FormatJSON, at, sentinel, format, args...)
}

// peek returns the next byte without consuming it; ok is false at the end.
func (p *jsonParser) peek() (byte, bool) {
	b, err := p.br.ReadByte()
	if err != nil {
		if err != io.EOF {
			p.ioErr = err
		}
		return 0, false
	}
	_ = p.br.UnreadByte()
	return b, true
}

func (p *jsonParser) next() (byte, bool) {
	b, err := p.br.ReadByte()
	if err != nil {
		if err != io.EOF {
			p.ioErr = err
		}
		return 0, false
	}
	p.at = p.at.next(b)
	return b, true
}

func (p *jsonParser) skipSpace() {
	for {
		b, ok := p.peek()
		if !ok || (b != ' ' && b != '\t' && b != '\n' && b != '\r') {
			return
		}
		p.next()
	}
}

// describe names the next byte for an error message.
func (p *jsonParser) describe() string {
	b, ok := p.peek()
	if !ok {
		return "end of input"
	}
	return strconv.QuoteRune(rune(b))
}

// expect consumes c, after optional white space.
func (p *jsonParser) expect(c byte, context string) error {
	p.skipSpace()
	at := p.at
	if b, ok := p.peek(); !ok || b != c {
		return p.errf(at, ErrSyntax, "want '%c' %s, got %s", c, context, p.describe())
	}
	p.next()
	return nil
}

// more reads the separator after an element of an array or object: true
// after a comma, false after the closing bracket.
func (p *jsonParser) more(closing byte, context string) (bool, error) {
	p.skipSpace()
	at := p.at
	b, ok := p.peek()
	switch {
	case ok && b == ',':
		p.next()
		return true, nil
	case ok && b == closing:
		p.next()
		return false, nil
	}
	return false, p.errf(at, ErrSyntax, "want ',' or '%c' %s, got %s", closing, context, p.describe())
}

func (p *jsonParser) parse() (*Digraph, error) {
	if err := p.expect('{', "to open the graph object"); err != nil {
		return nil, err
	}
	var seenN, seenEdges, seenNames bool
	var namesAt pos
	var names []string
	p.skipSpace()
	if b, ok := p.peek(); ok && b == '}' {
		return nil, p.errf(p.at, ErrSyntax, `empty object: "n" and "edges" are required`)
	}
	for {
		p.skipSpace()
		keyAt := p.at
		key, err := p.readString("as a member name")
		if err != nil {
			return nil, err
		}
		if err := p.expect(':', "after a member name"); err != nil {
			return nil, err
		}
		p.skipSpace()
		dup := func(seen bool) error {
			if seen {
				return p.errf(keyAt, ErrSyntax, "member %q given twice", key)
			}
			return nil
		}
		switch key {
		case "n":
			if err := dup(seenN); err != nil {
				return nil, err
			}
			seenN = true
			if err := p.readN(); err != nil {
				return nil, err
			}
			if names != nil && len(names) > p.n {
				return nil, p.errf(namesAt, ErrName, "%d names for n = %d", len(names), p.n)
			}
		case "edges":
			if err := dup(seenEdges); err != nil {
				return nil, err
			}
			seenEdges = true
			if err := p.readEdges(); err != nil {
				return nil, err
			}
		case "names":
			if err := dup(seenNames); err != nil {
				return nil, err
			}
			seenNames, namesAt = true, p.at
			if names, err = p.readNames(); err != nil {
				return nil, err
			}
		default:
			return nil, p.errf(keyAt, ErrSyntax, `unknown member %q (want "n", "edges", "names")`, key)
		}
		more, err := p.more('}', "after a member of the graph object")
		if err != nil {
			return nil, err
		}
		if !more {
			break
		}
	}
	end := p.at
	p.skipSpace()
	if _, ok := p.peek(); ok {
		return nil, p.errf(p.at, ErrSyntax, "%s after the graph object", p.describe())
	}
	if !seenN {
		return nil, p.errf(end, ErrSyntax, `member "n" missing`)
	}
	if !seenEdges {
		return nil, p.errf(end, ErrSyntax, `member "edges" missing`)
	}
	if names != nil && len(names) != p.n {
		return nil, p.errf(namesAt, ErrName, "%d names for n = %d", len(names), p.n)
	}
	return buildParsed(FormatJSON, p.n, p.arcs, p.arcsAt, names, nil)
}

// readN reads n and checks the arcs that came before it against it.
func (p *jsonParser) readN() error {
	at := p.at
	v, err := p.readInt("for n")
	if err != nil {
		return err
	}
	if v <= 0 || v > MaxNodes {
		return p.errf(at, ErrNodeCount, "n = %d, want 1..%d", v, MaxNodes)
	}
	p.n = int(v)
	for i, a := range p.arcs {
		if err := p.checkArc(p.arcsAt[i], int64(a.From), int64(a.To)); err != nil {
			return err
		}
	}
	return checkArcBudget(FormatJSON, at, p.n, len(p.arcs))
}

func (p *jsonParser) checkArc(at pos, u, v int64) error {
	if p.n > 0 {
		for _, x := range [2]int64{u, v} {
			if x < 0 || x >= int64(p.n) {
				return p.errf(at, ErrOutOfRange, "node %d in edge [%d,%d], want 0..%d", x, u, v, p.n-1)
			}
		}
	}
	if u == v {
		return p.errf(at, ErrSelfLoop, "edge [%d,%d]", u, v)
	}
	return nil
}

func (p *jsonParser) readEdges() error {
	if err := p.expect('[', `to open "edges"`); err != nil {
		return err
	}
	p.skipSpace()
	if b, ok := p.peek(); ok && b == ']' {
		p.next()
		return nil
	}
	for {
		p.skipSpace()
		at := p.at
		if err := p.expect('[', "to open an edge [u,v]"); err != nil {
			return err
		}
		p.skipSpace()
		u, err := p.readInt("for the tail u of an edge [u,v]")
		if err != nil {
			return err
		}
		if err := p.expect(',', "between u and v in an edge [u,v]"); err != nil {
			return err
		}
		p.skipSpace()
		v, err := p.readInt("for the head v of an edge [u,v]")
		if err != nil {
			return err
		}
		if err := p.expect(']', "to close an edge [u,v] (an edge has exactly two nodes)"); err != nil {
			return err
		}
		if err := p.checkArc(at, u, v); err != nil {
			return err
		}
		// Ids are saturated at ±maxParsedInt by readInt; when n is not yet
		// known they wait here and are range-checked by readN.
		p.arcs = append(p.arcs, Arc{From: int(u), To: int(v)})
		p.arcsAt = append(p.arcsAt, at)
		if err := checkArcBudget(FormatJSON, at, p.n, len(p.arcs)); err != nil {
			return err
		}
		more, err := p.more(']', `in "edges"`)
		if err != nil {
			return err
		}
		if !more {
			return nil
		}
	}
}

func (p *jsonParser) readNames() ([]string, error) {
	if err := p.expect('[', `to open "names"`); err != nil {
		return nil, err
	}
	names := []string{}
	p.skipSpace()
	if b, ok := p.peek(); ok && b == ']' {
		p.next()
		return names, nil
	}
	for {
		p.skipSpace()
		at := p.at
		s, err := p.readString("in \"names\"")
		if err != nil {
			return nil, err
		}
		names = append(names, s)
		if p.n > 0 && len(names) > p.n {
			return nil, p.errf(at, ErrName, "more names than n = %d", p.n)
		}
		if len(names) > MaxNodes {
			return nil, p.errf(at, ErrName, "more than %d names", MaxNodes)
		}
		more, err := p.more(']', `in "names"`)
		if err != nil {
			return nil, err
		}
		if !more {
			return names, nil
		}
	}
}

// readInt reads a JSON number that must be an integer. The value saturates
// at ±maxParsedInt: it is then out of every range anyway.
func (p *jsonParser) readInt(context string) (int64, error) {
	at := p.at
	neg := false
	if b, ok := p.peek(); ok && b == '-' {
		neg = true
		p.next()
	}
	b, ok := p.peek()
	if !ok || b < '0' || b > '9' {
		return 0, p.errf(at, ErrSyntax, "want an integer %s, got %s", context, p.describe())
	}
	var v int64
	digits := 0
	for {
		b, ok := p.peek()
		if !ok || b < '0' || b > '9' {
			break
		}
		p.next()
		if digits == 1 && v == 0 {
			return 0, p.errf(at, ErrSyntax, "number with a leading zero %s", context)
		}
		digits++
		if v < maxParsedInt {
			v = v*10 + int64(b-'0')
		}
	}
	if b, ok := p.peek(); ok && (b == '.' || b == 'e' || b == 'E') {
		return 0, p.errf(at, ErrSyntax, "want an integer %s, got a number with a fraction or exponent", context)
	}
	v = min(v, maxParsedInt)
	if neg {
		v = -v
	}
	return v, nil
}

// readString reads a JSON string. The result must be valid UTF-8; escapes
// must be well formed and \u escapes must not leave a surrogate unpaired,
// because such a string cannot be written back as the same text.
func (p *jsonParser) readString(context string) (string, error) {
	at := p.at
	if b, ok := p.peek(); !ok || b != '"' {
		return "", p.errf(at, ErrSyntax, "want a string %s, got %s", context, p.describe())
	}
	p.next()
	p.str = p.str[:0]
	for {
		escAt := p.at
		b, ok := p.next()
		switch {
		case !ok:
			return "", p.errf(at, ErrSyntax, "unterminated string %s", context)
		case b == '"':
			if !utf8.Valid(p.str) {
				return "", p.errf(at, ErrSyntax, "string %s is not valid UTF-8", context)
			}
			return string(p.str), nil
		case b < 0x20:
			return "", p.errf(escAt, ErrSyntax, "control character %U in a string %s", rune(b), context)
		case b != '\\':
			p.str = append(p.str, b)
			continue
		}
		e, ok := p.next()
		if !ok {
			return "", p.errf(at, ErrSyntax, "unterminated string %s", context)
		}
		switch e {
		case '"', '\\', '/':
			p.str = append(p.str, e)
		case 'b':
			p.str = append(p.str, '\b')
		case 'f':
			p.str = append(p.str, '\f')
		case 'n':
			p.str = append(p.str, '\n')
		case 'r':
			p.str = append(p.str, '\r')
		case 't':
			p.str = append(p.str, '\t')
		case 'u':
			r, err := p.readHex4(escAt)
			if err != nil {
				return "", err
			}
			if r >= 0xDC00 && r < 0xE000 {
				return "", p.errf(escAt, ErrSyntax, "unpaired surrogate \\u%04X in a string %s", r, context)
			}
			if r >= 0xD800 && r < 0xDC00 {
				lowAt := p.at
				b1, ok1 := p.next()
				b2, ok2 := p.next()
				if !ok1 || !ok2 || b1 != '\\' || b2 != 'u' {
					return "", p.errf(escAt, ErrSyntax, "unpaired surrogate \\u%04X in a string %s", r, context)
				}
				lo, err := p.readHex4(lowAt)
				if err != nil {
					return "", err
				}
				if lo < 0xDC00 || lo >= 0xE000 {
					return "", p.errf(escAt, ErrSyntax, "unpaired surrogate \\u%04X in a string %s", r, context)
				}
				r = 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00)
			}
			p.str = utf8.AppendRune(p.str, r)
		default:
			return "", p.errf(escAt, ErrSyntax, "bad escape \\%c in a string %s", e, context)
		}
	}
}

func (p *jsonParser) readHex4(escAt pos) (rune, error) {
	var r rune
	for range 4 {
		b, ok := p.next()
		var d byte
		switch {
		case !ok:
			return 0, p.errf(escAt, ErrSyntax, "unterminated \\u escape")
		case b >= '0' && b <= '9':
			d = b - '0'
		case b >= 'a' && b <= 'f':
			d = b - 'a' + 10
		case b >= 'A' && b <= 'F':
			d = b - 'A' + 10
		default:
			return 0, p.errf(escAt, ErrSyntax, "bad \\u escape: %q is not a hex digit", b)
		}
		r = r<<4 | rune(d)
	}
	return r, nil
}

// WriteJSON writes g in the JSON format, one edge per line (arcs grouped by
// tail) so that files diff well. Names must be valid UTF-8: JSON has no way
// to carry other bytes, and silently replacing them would change the graph.
func WriteJSON(w io.Writer, g *Digraph) error {
	if err := checkWritable(g); err != nil {
		return fmt.Errorf("graph: write json: %w", err)
	}
	for i := 0; g.HasNames() && i < g.N(); i++ {
		if !utf8.ValidString(g.Name(i)) {
			return fmt.Errorf("graph: write json: %w: name of node %d is not valid UTF-8", ErrName, i)
		}
	}
	bw := bufio.NewWriter(w)
	buf := make([]byte, 0, 64)
	buf = append(buf, "{\n  \"n\": "...)
	buf = strconv.AppendInt(buf, int64(g.N()), 10)
	buf = append(buf, ",\n  \"edges\": ["...)
	first := true
	for u := 0; u < g.N(); u++ {
		for _, v := range g.Out(u) {
			if !first {
				buf = append(buf, ',')
			}
			first = false
			buf = append(buf, "\n    ["...)
			buf = strconv.AppendInt(buf, int64(u), 10)
			buf = append(buf, ", "...)
			buf = strconv.AppendInt(buf, int64(v), 10)
			buf = append(buf, ']')
			bw.Write(buf)
			buf = buf[:0]
		}
	}
	if !first {
		buf = append(buf, "\n  "...)
	}
	buf = append(buf, ']')
	if g.HasNames() {
		buf = append(buf, ",\n  \"names\": ["...)
		for i := 0; i < g.N(); i++ {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, "\n    "...)
			buf = appendJSONString(buf, g.Name(i))
			bw.Write(buf)
			buf = buf[:0]
		}
		buf = append(buf, "\n  ]"...)
	}
	buf = append(buf, "\n}\n"...)
	bw.Write(buf)
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("graph: write json: %w", err)
	}
	return nil
}

// appendJSONString quotes a valid UTF-8 string for JSON, escaping only what
// JSON requires (quote, backslash, control characters).
func appendJSONString(buf []byte, s string) []byte {
	const hex = "0123456789abcdef"
	buf = append(buf, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			buf = append(buf, '\\', c)
		case c == '\n':
			buf = append(buf, '\\', 'n')
		case c == '\r':
			buf = append(buf, '\\', 'r')
		case c == '\t':
			buf = append(buf, '\\', 't')
		case c < 0x20:
			buf = append(buf, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		default:
			buf = append(buf, c)
		}
	}
	return append(buf, '"')
}
