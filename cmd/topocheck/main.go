// Command topocheck decides how many compromised agents a fleet's
// communication topology tolerates under W-MSR: the exact r- and
// (r,s)-robustness of the digraph (LeBlanc, Zhang, Koutsoukos, Sundaram,
// IEEE JSAC 31(4), 2013), with witnesses, and a verdict per threat model.
//
// Usage:
//
//	topocheck [flags] FILE|-
//	topocheck bench [flags]
//
// FILE is a graph in one of graph's formats (text edge list "n m" then
// "u v" lines, JSON, DOT, CSV adjacency matrix), chosen by extension or
// --format; "-" reads standard input (text unless --format says otherwise).
//
// With no mode flag topocheck reports ρ, the largest r for which the graph
// is r-robust, the largest s for which it is (ρ,s)-robust, witnesses, and
// the faults each threat model tolerates. --r R reports the largest s for
// that R; --r R --s S checks (R,S)-robustness; --faults F --model M gives a
// verdict for one threat model.
//
// Exit status: 0 success (the property holds, the faults are tolerated);
// 1 the property fails (a witness is printed) or the faults are not
// tolerated; 2 bad usage or bad input; 3 undecided (within --timeout, or
// past the exact search's 4 096 nodes when no certificate settles it). The
// full report exits 0 when ρ and s at ρ are exact and 3 when either is
// bounds only; its threat verdicts, capped by --effort, say "exact" each.
package main

import "os"

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
