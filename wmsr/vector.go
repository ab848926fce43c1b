package wmsr

import "fmt"

// UpdateVec is W-MSR on vector states, coordinate by coordinate: for each
// coordinate c, out[c] = Update(own[c], (vals of the neighbours at c), f),
// bit for bit. own has the dimension n = len(own); vals holds the d
// neighbour vectors back to back (neighbour j's vector is
// vals[j·n : (j+1)·n]), so len(vals) must be a multiple of n; out needs
// length ≥ n and may be own itself (each coordinate reads own[c] before
// writing out[c]). It does not modify vals and allocates nothing for d ≤
// 256 (a larger d costs one buffer per call). It panics on mismatched
// lengths, which are programming errors.
//
// Coordinate-wise trimming guarantees less than it may seem to: each
// coordinate of the result lies between the extremes of the normal values
// in that coordinate, so the result lies in the bounding box of the normal
// vectors, but not necessarily in their convex hull. With f = 1, a node at
// (½, ½) hearing the normal (0, 1) and (1, 0) and an adversary at (1, 1)
// trims the adversary in both coordinates and yet moves to (¾, ¾): in x it
// removes (0, 1) as the lowest, in y it removes (1, 0), so each coordinate
// averages with a different normal neighbour, and the result leaves the
// segment the normal values span (TestUpdateVecLeavesHull).
//
// Agreement inside the convex hull needs the multidimensional rules of
// Mendes and Herlihy ("Multidimensional approximate agreement in Byzantine
// asynchronous systems", STOC 2013) and Vaidya and Garg ("Byzantine vector
// consensus in complete graphs", PODC 2013), whose safe-area
// (Tverberg-point) steps need more nodes per fault as the dimension grows,
// and Vaidya ("Iterative Byzantine vector consensus in incomplete graphs",
// ICDCN 2014) for graph conditions. For box-shaped requirements (per-axis
// limits, independent actuators) the coordinate-wise rule is the right one.
func UpdateVec(own, vals []float64, f int, out []float64) {
	n := len(own)
	if n == 0 {
		if len(vals) != 0 {
			panic("wmsr: UpdateVec with empty own and non-empty vals")
		}
		return
	}
	if len(vals)%n != 0 || len(out) < n {
		panic(fmt.Sprintf("wmsr: UpdateVec with dimension %d, len(vals) = %d, len(out) = %d", n, len(vals), len(out)))
	}
	d := len(vals) / n
	var stack [gatherCap]float64
	buf := stack[:]
	if d > gatherCap {
		buf = make([]float64, d)
	}
	buf = buf[:d]
	for c := range n {
		for j := range d {
			buf[j] = vals[j*n+c]
		}
		out[c] = updateRound(own[c], buf, f)
	}
}
