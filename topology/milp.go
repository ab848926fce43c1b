package topology

import (
	"bufio"
	"fmt"
	"io"

	"github.com/wmsr/wmsr/graph"
)

// The mixed-integer programs of Usevitch & Panagou ("Determining r- and
// (r,s)-robustness of digraphs using mixed integer linear programming",
// Automatica 111, 2020), written in the CPLEX LP format that CBC, GLPK,
// HiGHS and SCIP read. They are the state of the art topocheck is measured
// against; nothing in this package solves them.
//
// Binary b1_i, b2_i say i ∈ S1, i ∈ S2. With L the in-degree Laplacian,
// (L b)_i = d_i b_i − Σ_{j ∈ N_i} b_j is |N_i \ S| for i ∈ S and ≤ 0
// otherwise, so
//
//	ρ(D) = min t  s.t.  L b1 ≤ t·1, L b2 ≤ t·1, 1 ≤ Σb1 ≤ n−1,
//	                    1 ≤ Σb2 ≤ n−1, b1 + b2 ≤ 1, 0 ≤ t ≤ ⌈n/2⌉
//
// and, for a given r, with binary y_k,i marking i ∈ X_{S_k}^r,
//
//	s*(r) = min Σy1 + Σy2  s.t.  L b_k − (n−1) y_k ≤ (r−1)·1,
//	                             Σy_k ≤ Σb_k − 1, plus the set constraints,
//
// s*(r) being the largest s for which D is (r,s)-robust; an infeasible
// program means every s (topocheck reports n).

// WriteMILPR writes the program whose optimum is ρ(D).
func WriteMILPR(w io.Writer, g *graph.Digraph) error {
	bw := bufio.NewWriter(w)
	n := g.N()
	fmt.Fprintf(bw, "\\ Usevitch-Panagou r-robustness MILP, n = %d, m = %d\nMinimize\n obj: t\nSubject To\n", n, g.M())
	for k := 1; k <= 2; k++ {
		for i := 0; i < n; i++ {
			fmt.Fprintf(bw, " reach%d_%d: %d b%d_%d", k, i, g.InDegree(i), k, i)
			for _, j := range g.In(i) {
				fmt.Fprintf(bw, " - b%d_%d", k, j)
			}
			fmt.Fprintf(bw, " - t <= 0\n")
		}
	}
	writeSetConstraints(bw, n)
	fmt.Fprintf(bw, "Bounds\n 0 <= t <= %d\n", (n+1)/2)
	writeBinaries(bw, n, false)
	return bw.Flush()
}

// WriteMILPS writes the program whose optimum is s*(r).
func WriteMILPS(w io.Writer, g *graph.Digraph, r int) error {
	bw := bufio.NewWriter(w)
	n := g.N()
	fmt.Fprintf(bw, "\\ Usevitch-Panagou (r,s)-robustness MILP, n = %d, m = %d, r = %d\nMinimize\n obj:", n, g.M(), r)
	for k := 1; k <= 2; k++ {
		for i := 0; i < n; i++ {
			fmt.Fprintf(bw, " + y%d_%d", k, i)
		}
	}
	fmt.Fprintf(bw, "\nSubject To\n")
	for k := 1; k <= 2; k++ {
		for i := 0; i < n; i++ {
			fmt.Fprintf(bw, " x%d_%d: %d b%d_%d", k, i, g.InDegree(i), k, i)
			for _, j := range g.In(i) {
				fmt.Fprintf(bw, " - b%d_%d", k, j)
			}
			fmt.Fprintf(bw, " - %d y%d_%d <= %d\n", n-1, k, i, r-1)
		}
		fmt.Fprintf(bw, " notall%d:", k)
		for i := 0; i < n; i++ {
			fmt.Fprintf(bw, " + y%d_%d - b%d_%d", k, i, k, i)
		}
		fmt.Fprintf(bw, " <= -1\n")
	}
	writeSetConstraints(bw, n)
	writeBinaries(bw, n, true)
	return bw.Flush()
}

func writeSetConstraints(bw *bufio.Writer, n int) {
	for k := 1; k <= 2; k++ {
		for _, c := range []struct {
			name, op string
			rhs      int
		}{{"min", ">=", 1}, {"max", "<=", n - 1}} {
			fmt.Fprintf(bw, " size%s%d:", c.name, k)
			for i := 0; i < n; i++ {
				fmt.Fprintf(bw, " + b%d_%d", k, i)
			}
			fmt.Fprintf(bw, " %s %d\n", c.op, c.rhs)
		}
	}
	for i := 0; i < n; i++ {
		fmt.Fprintf(bw, " disjoint_%d: b1_%d + b2_%d <= 1\n", i, i, i)
	}
}

func writeBinaries(bw *bufio.Writer, n int, ys bool) {
	fmt.Fprintf(bw, "Binaries\n")
	vars := []string{"b1", "b2"}
	if ys {
		vars = append(vars, "y1", "y2")
	}
	for _, v := range vars {
		for i := 0; i < n; i++ {
			fmt.Fprintf(bw, " %s_%d", v, i)
		}
		fmt.Fprintln(bw)
	}
	fmt.Fprintf(bw, "End\n")
}
