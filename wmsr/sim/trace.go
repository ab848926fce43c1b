package sim

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
)

// Round is the state after round T: x(T) summarised over the normal nodes
// (LeBlanc et al. 2013: m(t), M(t) are the least and greatest normal
// values, and the disagreement M(t)−m(t) tends to 0 exactly when they reach
// asymptotic consensus). Round 0 is the initial state.
type Round struct {
	T            int     `json:"t"`
	Min          float64 `json:"m"`
	Max          float64 `json:"M"`
	Disagreement float64 `json:"disagreement"`
	// Omissions counts in-arcs of updating nodes with no usable value in the
	// update that produced x(T): lost, late, or from a crashed node.
	Omissions int `json:"omissions"`
	// Violations counts normal nodes whose x_i(T) left the hull of round T−1
	// (see Violation).
	Violations int `json:"violations"`
	// Values holds x_i(T) for the normal nodes in Trace.Nodes order, when
	// Config.RecordValues is set.
	Values []float64 `json:"values,omitempty"`
}

// Violation records a normal node whose new value left the interval the
// safety lemma confines it to (lemma_1.v, lem_1_general):
// Lo = m(t), Hi = M(t) in the synchronous model, the hull over rounds t−D..t
// with delay D. Values within floating-point rounding of the interval are not
// violations (see the rounding slack in sim.go). Within the threat budget
// there should be none; outside it (AllowOverBudget) they show the lemma's
// hypothesis at work.
type Violation struct {
	Round int     `json:"t"` // t+1, the round of the offending value
	Node  int     `json:"node"`
	Value float64 `json:"value"`
	Lo    float64 `json:"lo"`
	Hi    float64 `json:"hi"`
}

// Trace is the record of a run.
type Trace struct {
	// Nodes lists the normal nodes, ascending: the columns of Round.Values.
	Nodes   []int   `json:"nodes"`
	Epsilon float64 `json:"epsilon"`
	// RoundsToEpsilon is the first t with disagreement below Epsilon, or −1.
	RoundsToEpsilon int `json:"rounds_to_epsilon"`
	// Rounds[t] is round t, from 0 to the last simulated.
	Rounds     []Round `json:"rounds"`
	Omissions  int64   `json:"omissions"`
	Violations int64   `json:"violations"`
	// ViolationDetails holds the first MaxViolationDetails violations.
	ViolationDetails []Violation `json:"violation_details,omitempty"`
	// NonFinite counts normal values that were NaN or ±Inf after an update.
	// wmsr.Update never averages a non-finite value in, so it must be 0; it
	// is counted so that a regression is loud.
	NonFinite int64 `json:"non_finite"`
}

// Final returns the last round.
func (tr *Trace) Final() Round { return tr.Rounds[len(tr.Rounds)-1] }

// WriteJSON writes tr as one JSON object with the field names of the struct
// tags: per round t, m, M, disagreement, omissions, violations and, if
// recorded, values. Floats are written in the shortest form that parses
// back to the same float64. It fails on a non-finite value, which JSON
// cannot carry (and which a trace within the threat model never holds).
func WriteJSON(w io.Writer, tr *Trace) error {
	enc := json.NewEncoder(w)
	if err := enc.Encode(tr); err != nil {
		return fmt.Errorf("sim: writing JSON trace: %w", err)
	}
	return nil
}

// WriteCSV writes one line per round under the header
// t,m,M,disagreement,omissions,violations followed, when values were
// recorded, by one column x<i> per normal node i. Floats are written in the
// shortest form that parses back to the same float64 (non-finite ones as
// NaN, +Inf, -Inf, which strconv.ParseFloat reads).
func WriteCSV(w io.Writer, tr *Trace) error {
	bw := bufio.NewWriter(w)
	withValues := len(tr.Rounds) > 0 && tr.Rounds[0].Values != nil
	line := []byte("t,m,M,disagreement,omissions,violations")
	if withValues {
		for _, v := range tr.Nodes {
			line = append(line, ",x"...)
			line = strconv.AppendInt(line, int64(v), 10)
		}
	}
	line = append(line, '\n')
	if _, err := bw.Write(line); err != nil {
		return fmt.Errorf("sim: writing CSV trace: %w", err)
	}
	for _, r := range tr.Rounds {
		line = strconv.AppendInt(line[:0], int64(r.T), 10)
		for _, f := range [...]float64{r.Min, r.Max, r.Disagreement} {
			line = append(line, ',')
			line = strconv.AppendFloat(line, f, 'g', -1, 64)
		}
		line = append(line, ',')
		line = strconv.AppendInt(line, int64(r.Omissions), 10)
		line = append(line, ',')
		line = strconv.AppendInt(line, int64(r.Violations), 10)
		if withValues {
			if len(r.Values) != len(tr.Nodes) {
				return fmt.Errorf("sim: writing CSV trace: round %d has %d values for %d nodes", r.T, len(r.Values), len(tr.Nodes))
			}
			for _, x := range r.Values {
				line = append(line, ',')
				line = strconv.AppendFloat(line, x, 'g', -1, 64)
			}
		}
		line = append(line, '\n')
		if _, err := bw.Write(line); err != nil {
			return fmt.Errorf("sim: writing CSV trace: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("sim: writing CSV trace: %w", err)
	}
	return nil
}
