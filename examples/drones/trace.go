package main

import (
	"bufio"
	"fmt"
	"io"
	"maps"
	"math"
	"strconv"
	"sync"

	"github.com/wmsr/wmsr/agent"
	"github.com/wmsr/wmsr/attest"
)

// dim is the dimension of a drone's state: its position [x, y, z].
const dim = 3

type point = [dim]float64

// box is a bounding box, coordinate by coordinate.
type box struct{ lo, hi point }

func emptyBox() box {
	var b box
	for c := range dim {
		b.lo[c], b.hi[c] = math.Inf(1), math.Inf(-1)
	}
	return b
}

func (b *box) add(p point) {
	for c := range dim {
		b.lo[c], b.hi[c] = min(b.lo[c], p[c]), max(b.hi[c], p[c])
	}
}

// spread is the largest side of the box: the disagreement in the worst
// coordinate.
func (b box) spread() float64 {
	s := 0.0
	for c := range dim {
		s = max(s, b.hi[c]-b.lo[c])
	}
	return s
}

func (b box) centre() point {
	var p point
	for c := range dim {
		p[c] = b.lo[c] + (b.hi[c]-b.lo[c])/2
	}
	return p
}

// trace collects what the normal drones report, through their
// agent.Delegate, while the fleet flies: per drone and round its position
// after the update, the envelopes it accepted and rejected, and the
// equivocation evidence it caught. It also keeps what each attacker sent.
// The runners call it from their own goroutines, so it locks.
type trace struct {
	mu     sync.Mutex
	rounds int

	ids []attest.MemberID // per normal drone (row)
	// pos[row][k]: position at the start of round k, i.e. after the
	// update of round k−1 (k = 0: the initial position); have marks the
	// rounds reported (a runner that falls behind skips rounds, and the
	// position does not change in a skipped round).
	pos  [][]point
	have [][]bool

	accepted  []int
	rejected  []map[string]int
	omissions []int
	gaps      []uint64
	evidence  [][]attest.Evidence
	finished  []bool
	remaining int
	done      chan struct{} // closed when every drone reported the last round

	attackerIDs []attest.MemberID
	sent        [][][]point // sent[k][t]: the faces attacker k sealed for round t
}

func newTrace(rounds int, ids []attest.MemberID, initial []point, attackerIDs []attest.MemberID) *trace {
	n := len(ids)
	tr := &trace{
		rounds: rounds, ids: ids,
		pos: make([][]point, n), have: make([][]bool, n),
		accepted: make([]int, n), rejected: make([]map[string]int, n), omissions: make([]int, n),
		gaps: make([]uint64, n), evidence: make([][]attest.Evidence, n), finished: make([]bool, n),
		remaining: n, done: make(chan struct{}),
		attackerIDs: attackerIDs, sent: make([][][]point, len(attackerIDs)),
	}
	for r := range n {
		tr.pos[r] = make([]point, rounds+1)
		tr.have[r] = make([]bool, rounds+1)
		tr.pos[r][0], tr.have[r][0] = initial[r], true
		tr.rejected[r] = map[string]int{}
	}
	for k := range tr.sent {
		tr.sent[k] = make([][]point, rounds)
	}
	if n == 0 {
		close(tr.done)
	}
	return tr
}

// delegate returns the agent.Delegate of normal drone row.
func (tr *trace) delegate(row int) agent.Delegate { return droneDelegate{tr, row} }

type droneDelegate struct {
	tr  *trace
	row int
}

// NotifyRound records a round's report. Rounds after the last one the
// fleet was asked to fly (the runners go on until they are stopped) are
// not part of the trace.
func (d droneDelegate) NotifyRound(rep agent.RoundReport) {
	tr := d.tr
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if rep.Round < uint64(tr.rounds) {
		k := int(rep.Round) + 1
		var p point
		copy(p[:], rep.State)
		tr.pos[d.row][k], tr.have[d.row][k] = p, true
		tr.accepted[d.row] += rep.Accepted
		for reason, c := range rep.Rejected {
			tr.rejected[d.row][reason] += c
		}
		tr.omissions[d.row] += rep.Omissions
		tr.gaps[d.row] += rep.CounterGaps
	}
	if rep.Round+1 >= uint64(tr.rounds) && !tr.finished[d.row] {
		tr.finished[d.row] = true
		if tr.remaining--; tr.remaining == 0 {
			close(tr.done)
		}
	}
}

// NotifyEvidence keeps a proof that a neighbour equivocated.
func (d droneDelegate) NotifyEvidence(ev attest.Evidence) {
	d.tr.mu.Lock()
	defer d.tr.mu.Unlock()
	d.tr.evidence[d.row] = append(d.tr.evidence[d.row], ev)
}

// latest returns the bounding box of the normal drones' latest reported
// positions: what the (omniscient) attackers aim at.
func (tr *trace) latest() box {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	b := emptyBox()
	for r := range tr.pos {
		for k := tr.rounds; k >= 0; k-- {
			if tr.have[r][k] {
				b.add(tr.pos[r][k])
				break
			}
		}
	}
	return b
}

// recordSent keeps what attacker k sealed for round t.
func (tr *trace) recordSent(k, t int, faces []point) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.sent[k][t] = append([]point(nil), faces...)
}

// outcome is the analysis of a finished trace.
type outcome struct {
	rounds  int
	epsilon float64
	// spread[k]: the normal drones' largest disagreement over the
	// coordinates at the start of round k.
	spread []float64
	// roundsToEps is the first k after which spread stays ≤ ε, −1 if it
	// does not by the end.
	roundsToEps int
	initial     box // of the normal drones' initial positions
	final       box
	// settled[row]: the round from which that drone stays within ε of the
	// final box (its own rounds to ε).
	settled []int
	// missed[row]: rounds that drone did not report (skipped or cut off).
	missed []int
	// violations counts positions outside the initial box (safety);
	// firstViolation describes the first.
	violations     int
	firstViolation string
}

// safetyTolerance is the relative slack of the safety check: a DP-MSR step
// is a convex combination computed in floating point, which may land an
// ulp or so outside the box it is a combination of.
const safetyTolerance = 1e-9

// analyse fills the positions of unreported rounds (a skipped round leaves
// the position as it was) and computes agreement and safety.
func (tr *trace) analyse(epsilon float64) outcome {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	n := len(tr.pos)
	out := outcome{rounds: tr.rounds, epsilon: epsilon, spread: make([]float64, tr.rounds+1),
		settled: make([]int, n), missed: make([]int, n), initial: emptyBox(), final: emptyBox()}
	for r := range n {
		for k := 1; k <= tr.rounds; k++ {
			if !tr.have[r][k] {
				tr.pos[r][k] = tr.pos[r][k-1]
				tr.have[r][k] = true
				out.missed[r]++
			}
		}
		out.initial.add(tr.pos[r][0])
		out.final.add(tr.pos[r][tr.rounds])
	}
	var tol point
	for c := range dim {
		tol[c] = safetyTolerance * max(1, math.Abs(out.initial.lo[c]), math.Abs(out.initial.hi[c]))
	}
	for k := 0; k <= tr.rounds; k++ {
		b := emptyBox()
		for r := range n {
			p := tr.pos[r][k]
			b.add(p)
			for c := range dim {
				if p[c] < out.initial.lo[c]-tol[c] || p[c] > out.initial.hi[c]+tol[c] || math.IsNaN(p[c]) {
					if out.violations == 0 {
						out.firstViolation = fmt.Sprintf("drone %d at round %d: %s = %.6g outside [%.6g, %.6g]",
							tr.ids[r], k, axis[c], p[c], out.initial.lo[c], out.initial.hi[c])
					}
					out.violations++
				}
			}
		}
		out.spread[k] = b.spread()
	}
	out.roundsToEps = -1
	if n > 0 && out.spread[tr.rounds] <= epsilon {
		out.roundsToEps = 0
		for k := tr.rounds; k >= 0; k-- {
			if out.spread[k] > epsilon {
				out.roundsToEps = k + 1
				break
			}
		}
	}
	for r := range n {
	rounds:
		for k := tr.rounds; k >= 0; k-- {
			for c := range dim {
				if x := tr.pos[r][k][c]; x < out.final.lo[c]-epsilon || x > out.final.hi[c]+epsilon {
					out.settled[r] = k + 1
					break rounds
				}
			}
		}
	}
	return out
}

var axis = [dim]string{"x", "y", "z"}

// totals returns a drone's counters (copies).
func (tr *trace) totals(row int) (accepted int, rejected map[string]int, omissions int, evidence []attest.Evidence) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.accepted[row], maps.Clone(tr.rejected[row]), tr.omissions[row], append([]attest.Evidence(nil), tr.evidence[row]...)
}

// writeCSV writes one row per drone and round: the normal drones'
// positions at the start of each round (round = rounds: the final one),
// and what each attacker sealed for each round ("attacker-2nd-face": the
// equivocator's second envelope under the same counter).
func (tr *trace) writeCSV(w io.Writer) error {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, "round,drone,role,x,y,z")
	row := func(k int, id attest.MemberID, role string, p point) {
		bw.WriteString(strconv.Itoa(k))
		bw.WriteByte(',')
		bw.WriteString(strconv.FormatUint(uint64(id), 10))
		bw.WriteByte(',')
		bw.WriteString(role)
		for _, v := range p {
			bw.WriteByte(',')
			bw.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
		}
		bw.WriteByte('\n')
	}
	for k := 0; k <= tr.rounds; k++ {
		for r, id := range tr.ids {
			row(k, id, "normal", tr.pos[r][k])
		}
		if k == tr.rounds {
			break
		}
		for a, id := range tr.attackerIDs {
			for i, p := range tr.sent[a][k] {
				role := "attacker"
				if i > 0 {
					role = "attacker-2nd-face"
				}
				row(k, id, role, p)
			}
		}
	}
	return bw.Flush()
}
