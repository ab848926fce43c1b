package graph

import (
	"bytes"
	"io"
	"math"
	"testing"
)

// Benchmarks at fleet scale: n = 10⁵ nodes, mean degree 10 (about 10⁶
// arcs). CSV is the exception: its n² matrix is benchmarked at n = 2000.
//
//	go test -run='^$' -bench=. -benchmem -benchtime=5x ./graph/

const (
	benchN   = 100_000
	benchDeg = 10
)

func benchGen(b *testing.B, gen func() (*Digraph, error)) {
	b.ReportAllocs()
	var m int
	for b.Loop() {
		g, err := gen()
		if err != nil {
			b.Fatal(err)
		}
		m = g.M()
	}
	b.ReportMetric(float64(m), "arcs")
}

func BenchmarkErdosRenyiDirected(b *testing.B) {
	benchGen(b, func() (*Digraph, error) { return ErdosRenyi(benchN, benchDeg/float64(benchN-1), true, 1) })
}

func BenchmarkErdosRenyiUndirected(b *testing.B) {
	benchGen(b, func() (*Digraph, error) { return ErdosRenyi(benchN, benchDeg/float64(benchN-1), false, 1) })
}

func BenchmarkKIn(b *testing.B) {
	benchGen(b, func() (*Digraph, error) { return KIn(benchN, benchDeg, 1) })
}

func BenchmarkKOut(b *testing.B) {
	benchGen(b, func() (*Digraph, error) { return KOut(benchN, benchDeg, 1) })
}

func BenchmarkCirculant(b *testing.B) {
	benchGen(b, func() (*Digraph, error) { return Circulant(benchN, benchDeg/2, false) })
}

// The radius gives mean degree 10 away from the border: π r² n = 10.
func BenchmarkRandomGeometric(b *testing.B) {
	r := math.Sqrt(benchDeg / (math.Pi * benchN))
	benchGen(b, func() (*Digraph, error) {
		g, _, err := RandomGeometric(benchN, 2, 1, r, 1)
		return g, err
	})
}

// r+s−1 = 5 links per new node: mean degree 10.
func BenchmarkPreferentialAttachment(b *testing.B) {
	benchGen(b, func() (*Digraph, error) { return PreferentialAttachment(benchN, 3, 3, 1) })
}

func BenchmarkGrid(b *testing.B) {
	benchGen(b, func() (*Digraph, error) { return Grid(316, 316) })
}

func benchData(b *testing.B, f Format) []byte {
	n := benchN
	if f == FormatCSV {
		n = 2000
	}
	g, err := KIn(n, benchDeg, 1)
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Write(&buf, g, f); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

func benchRead(b *testing.B, f Format) {
	data := benchData(b, f)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Read(bytes.NewReader(data), f); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadText(b *testing.B) { benchRead(b, FormatText) }
func BenchmarkReadJSON(b *testing.B) { benchRead(b, FormatJSON) }
func BenchmarkReadDOT(b *testing.B)  { benchRead(b, FormatDOT) }
func BenchmarkReadCSV(b *testing.B)  { benchRead(b, FormatCSV) }

func benchWrite(b *testing.B, f Format) {
	n := benchN
	if f == FormatCSV {
		n = 2000
	}
	g, err := KIn(n, benchDeg, 1)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := Write(io.Discard, g, f); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteText(b *testing.B) { benchWrite(b, FormatText) }
func BenchmarkWriteJSON(b *testing.B) { benchWrite(b, FormatJSON) }
func BenchmarkWriteDOT(b *testing.B)  { benchWrite(b, FormatDOT) }
func BenchmarkWriteCSV(b *testing.B)  { benchWrite(b, FormatCSV) }
