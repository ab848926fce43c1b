package main

import (
	"context"
	"fmt"

	"github.com/wmsr/wmsr/graph"
	"github.com/wmsr/wmsr/topology"
)

// verdict is what topology says of a placement before the fleet flies.
type verdict struct {
	tolerates bool   // (F+1,F+1)-robust: F attackers cannot stop agreement
	decided   bool   // false when the check ran out of time
	why       string // topology's reason
	maxF      int    // the largest F-total tolerated, -1 when unknown
}

func (v verdict) String() string {
	if !v.decided {
		return "robustness not decided within the timeout"
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
	v := verdict{tolerates: ok && err == nil, decided: decided && err == nil, why: why, maxF: -1}
	if err != nil {
		v.why = err.Error()
	}
	if v.tolerates {
		rep, err := topology.Analyze(ctx, g, topology.ThreatOptions{})
		if err == nil && rep.Tolerates.Total.Exact {
			v.maxF = rep.Tolerates.Total.F
		}
	}
	return v
}
