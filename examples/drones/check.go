package main

import (
	"context"
	"fmt"

	"github.com/wmsr/wmsr/graph"
	"github.com/wmsr/wmsr/topology"
)

// exactLimit is the largest graph topology decides robustness on exactly
// (its engine's bitsets are 64 words).
const exactLimit = 64 * 64

// verdict is what topology says of a placement before the fleet flies.
type verdict struct {
	tolerates bool   // (F+1,F+1)-robust: F attackers cannot stop agreement
	decided   bool   // false when the check ran out of time or the graph is too large
	why       string // topology's reason
	maxF      int    // the largest F-total tolerated, -1 when unknown
	// localOnly: not decided, but every drone hears at least 2F+1 others,
	// so none is left with nobody after trimming 2F; the fleet flies on
	// that weaker, local evidence (10⁴-drone simulations).
	localOnly bool
	minIn     int
	f         int
	n         int
}

func (v verdict) String() string {
	if !v.decided {
		s := "robustness not decided within the time allowed"
		if v.n > exactLimit {
			s = fmt.Sprintf("robustness not decided (the exact check is limited to %d drones)", exactLimit)
		}
		if v.localOnly {
			s += fmt.Sprintf("; every drone hears at least %d ≥ 2F+1 = %d others (a local condition only)", v.minIn, 2*v.f+1)
		}
		return s
	}
	s := v.why
	if v.maxF >= 0 {
		s += fmt.Sprintf("; tolerates up to F = %d malicious (or signed Byzantine) drones in all", v.maxF)
	}
	return s
}

// check decides whether g tolerates f attackers under the F-total model
// (LeBlanc et al. 2013; Tekriwal et al.: (F+1,F+1)-robust, necessary and
// sufficient) and, when it does, how many it tolerates at most.
func check(ctx context.Context, g *graph.Digraph, f int) verdict {
	ok, _, decided, why, _, err := topology.Tolerates(ctx, g, topology.Total, f, topology.Options{})
	v := verdict{tolerates: ok && err == nil, decided: decided && err == nil, why: why, maxF: -1,
		minIn: g.MinInDegree(), f: f, n: g.N()}
	if err != nil {
		v.why = err.Error()
	}
	if !v.decided && err == nil {
		v.localOnly = v.minIn >= 2*f+1
	}
	if v.tolerates {
		rep, err := topology.Analyze(ctx, g, topology.ThreatOptions{})
		if err == nil && rep.Tolerates.Total.Exact {
			v.maxF = rep.Tolerates.Total.F
		}
	}
	return v
}
