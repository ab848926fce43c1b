package sim

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/wmsr/wmsr/graph"
	"github.com/wmsr/wmsr/wmsr"
)

// sampleTrace is a short run with everything a trace can hold: values,
// omissions (loss), and violations (an over-budget adversary).
func sampleTrace(tb testing.TB, record bool) *Trace {
	g := must(graph.Circulant(8, 2, false))
	x0 := []float64{0.1, 0.2, 0.3, 0.7, 1.1, 1.3, 2.9, 3}
	tr, err := Run(Config{
		Graph: g, Initial: x0, Scope: wmsr.Total(0), AllowOverBudget: true,
		Adversaries: []Adversary{{Node: 0, Behavior: Ramp{Start: 4, Slope: 1.0 / 3}}},
		DropProb:    0.25, Rounds: 12, Seed: 3, RecordValues: record,
	})
	if err != nil {
		tb.Fatal(err)
	}
	if tr.Omissions == 0 || tr.Violations == 0 {
		tb.Fatalf("sample trace lacks omissions (%d) or violations (%d)", tr.Omissions, tr.Violations)
	}
	return tr
}

// TestJSONRoundTrip writes a trace as JSON and parses it back: the same
// trace, every float bit for bit, under the documented field names.
func TestJSONRoundTrip(t *testing.T) {
	for _, record := range []bool{false, true} {
		tr := sampleTrace(t, record)
		var buf bytes.Buffer
		if err := WriteJSON(&buf, tr); err != nil {
			t.Fatal(err)
		}
		var back Trace
		if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(&back, tr) {
			t.Fatalf("record %v: parsed trace differs:\n%+v\n%+v", record, back, *tr)
		}
		var raw struct {
			Rounds []map[string]json.RawMessage `json:"rounds"`
		}
		if err := json.Unmarshal(buf.Bytes(), &raw); err != nil {
			t.Fatal(err)
		}
		for _, key := range []string{"t", "m", "M", "disagreement", "omissions", "violations"} {
			if _, ok := raw.Rounds[3][key]; !ok {
				t.Errorf("round object lacks %q: %v", key, raw.Rounds[3])
			}
		}
		if _, ok := raw.Rounds[3]["values"]; ok != record {
			t.Errorf("values present = %v, want %v", ok, record)
		}
	}
}

// TestCSVRoundTrip writes a trace as CSV and parses it back with
// encoding/csv and strconv: the header, and every number bit for bit.
func TestCSVRoundTrip(t *testing.T) {
	for _, record := range []bool{false, true} {
		tr := sampleTrace(t, record)
		var buf bytes.Buffer
		if err := WriteCSV(&buf, tr); err != nil {
			t.Fatal(err)
		}
		rows, err := csv.NewReader(&buf).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		header := "t,m,M,disagreement,omissions,violations"
		if record {
			for _, v := range tr.Nodes {
				header += ",x" + strconv.Itoa(v)
			}
		}
		if got := strings.Join(rows[0], ","); got != header {
			t.Fatalf("header %q, want %q", got, header)
		}
		if len(rows) != len(tr.Rounds)+1 {
			t.Fatalf("%d rows for %d rounds", len(rows)-1, len(tr.Rounds))
		}
		for i, r := range tr.Rounds {
			row := rows[i+1]
			ints := []int{r.T, r.Omissions, r.Violations}
			for k, col := range []int{0, 4, 5} {
				if got, err := strconv.Atoi(row[col]); err != nil || got != ints[k] {
					t.Fatalf("round %d column %d: %q, want %d", r.T, col, row[col], ints[k])
				}
			}
			floats := append([]float64{r.Min, r.Max, r.Disagreement}, r.Values...)
			cols := append([]string{row[1], row[2], row[3]}, row[6:]...)
			if len(cols) != len(floats) {
				t.Fatalf("round %d: %d float columns, want %d", r.T, len(cols), len(floats))
			}
			for k, s := range cols {
				got, err := strconv.ParseFloat(s, 64)
				if err != nil || math.Float64bits(got) != math.Float64bits(floats[k]) {
					t.Fatalf("round %d: %q parses to %v (%v), want %v", r.T, s, got, err, floats[k])
				}
			}
		}
	}
}

// TestWritersReportErrors checks that a failing writer and a value JSON
// cannot carry are reported, not swallowed.
func TestWritersReportErrors(t *testing.T) {
	tr := sampleTrace(t, true)
	if err := WriteCSV(failWriter{}, tr); err == nil {
		t.Error("WriteCSV to a failing writer succeeded")
	}
	if err := WriteJSON(failWriter{}, tr); err == nil {
		t.Error("WriteJSON to a failing writer succeeded")
	}
	tr.Rounds[1].Min = math.NaN()
	if err := WriteJSON(&bytes.Buffer{}, tr); err == nil {
		t.Error("WriteJSON of a NaN succeeded")
	}
	tr.Rounds[1].Values = tr.Rounds[1].Values[:1]
	if err := WriteCSV(&bytes.Buffer{}, tr); err == nil {
		t.Error("WriteCSV of a ragged trace succeeded")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }
