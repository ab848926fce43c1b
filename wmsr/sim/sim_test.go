package sim

import (
	"bytes"
	"errors"
	"math"
	"testing"

	"github.com/wmsr/wmsr/graph"
	"github.com/wmsr/wmsr/wmsr"
	"pgregory.net/rapid"
)

// TestConfigValidation checks that every malformed configuration is refused
// with an error that says which field and wraps ErrConfig (or ErrBudget for
// the threat model), before anything is simulated.
func TestConfigValidation(t *testing.T) {
	g := must(graph.Complete(4))
	ok := func() Config {
		return Config{Graph: g, Initial: []float64{0, 1, 2, 3}, Scope: wmsr.Total(1)}
	}
	adv := func(node int, b Behavior) []Adversary { return []Adversary{{Node: node, Behavior: b}} }
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want error
	}{
		{"nil graph", func(c *Config) { c.Graph = nil }, ErrConfig},
		{"short initial", func(c *Config) { c.Initial = c.Initial[:3] }, ErrConfig},
		{"NaN initial", func(c *Config) { c.Initial = []float64{0, math.NaN(), 0, 0} }, ErrConfig},
		{"Inf initial", func(c *Config) { c.Initial = []float64{0, 0, math.Inf(-1), 0} }, ErrConfig},
		{"negative F", func(c *Config) { c.Scope = wmsr.Total(-1) }, ErrConfig},
		{"local scope length", func(c *Config) { c.Scope = wmsr.Local{1, 1} }, ErrConfig},
		{"fraction 1/2", func(c *Config) { c.Scope = wmsr.Fraction(0.5) }, ErrConfig},
		{"negative drop", func(c *Config) { c.DropProb = -0.1 }, ErrConfig},
		{"drop above 1", func(c *Config) { c.DropProb = 1.5 }, ErrConfig},
		{"NaN drop", func(c *Config) { c.DropProb = math.NaN() }, ErrConfig},
		{"negative delay", func(c *Config) { c.Delay = -1 }, ErrConfig},
		{"huge delay", func(c *Config) { c.Delay = MaxDelay + 1 }, ErrConfig},
		{"negative rounds", func(c *Config) { c.Rounds = -1 }, ErrConfig},
		{"negative epsilon", func(c *Config) { c.Epsilon = -1 }, ErrConfig},
		{"infinite epsilon", func(c *Config) { c.Epsilon = math.Inf(1) }, ErrConfig},
		{"adversary out of range", func(c *Config) { c.Adversaries = adv(4, Constant(0)) }, ErrConfig},
		{"nil behavior", func(c *Config) { c.Adversaries = adv(0, nil) }, ErrConfig},
		{"adversary twice", func(c *Config) { c.Adversaries = append(adv(1, Constant(0)), adv(1, Constant(1))...) }, ErrConfig},
		{"crash out of range", func(c *Config) { c.Crashes = []Crash{{Node: -1}} }, ErrConfig},
		{"crash round negative", func(c *Config) { c.Crashes = []Crash{{Node: 1, Round: -2}} }, ErrConfig},
		{"crash twice", func(c *Config) { c.Crashes = []Crash{{Node: 1}, {Node: 1, Round: 3}} }, ErrConfig},
		{"adversary and crash", func(c *Config) { c.Adversaries, c.Crashes = adv(2, Constant(0)), []Crash{{Node: 2}} }, ErrConfig},
		{"all faulty", func(c *Config) {
			c.Scope, c.AllowOverBudget = wmsr.Total(4), true
			c.Adversaries = append(append(adv(0, Constant(0)), adv(1, Constant(0))...), adv(2, Constant(0))...)
			c.Crashes = []Crash{{Node: 3}}
		}, ErrConfig},
		{"bad oscillation", func(c *Config) { c.Adversaries = adv(0, Oscillate{Lo: 0, Hi: 1}) }, ErrConfig},
		{"empty uniform", func(c *Config) { c.Adversaries = adv(0, Uniform{Lo: 2, Hi: 1}) }, ErrConfig},
		{"NaN ramp", func(c *Config) { c.Adversaries = adv(0, Ramp{Slope: math.NaN()}) }, ErrConfig},
		{"NaN pull", func(c *Config) { c.Adversaries = adv(0, Pull(math.NaN())) }, ErrConfig},
		{"F-total exceeded", func(c *Config) { c.Adversaries, c.Crashes = adv(0, Constant(0)), []Crash{{Node: 1}} }, ErrBudget},
		{"default scope with adversary", func(c *Config) { c.Scope, c.Adversaries = nil, adv(0, Constant(0)) }, ErrBudget},
		{"F-local exceeded", func(c *Config) {
			c.LocalThreat = true
			c.Adversaries, c.Crashes = adv(0, Constant(0)), []Crash{{Node: 1}}
		}, ErrBudget},
		{"fraction exceeded", func(c *Config) { c.Scope, c.Adversaries = wmsr.Fraction(0.3), adv(0, Constant(0)) }, ErrBudget},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok()
			tc.edit(&c)
			err := c.Validate()
			if !errors.Is(err, tc.want) {
				t.Fatalf("Validate() = %v, want %v", err, tc.want)
			}
			if _, err := Run(c); !errors.Is(err, tc.want) {
				t.Fatalf("Run: %v, want %v", err, tc.want)
			}
			if errors.Is(err, ErrBudget) {
				c.AllowOverBudget = true
				if err := c.Validate(); err != nil {
					t.Fatalf("with AllowOverBudget: %v", err)
				}
			}
		})
	}
	if err := ok().Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
}

// TestDefaults checks the documented defaults: 200 rounds, ε = 1e-9, and a
// nil scope meaning F = 0.
func TestDefaults(t *testing.T) {
	g := must(graph.Complete(3))
	tr := must(Run(Config{Graph: g, Initial: []float64{0, 0, 3}}))
	if len(tr.Rounds) != DefaultRounds+1 || tr.Epsilon != DefaultEpsilon {
		t.Fatalf("%d rounds, ε = %v", len(tr.Rounds)-1, tr.Epsilon)
	}
	// F = 0 on K_3 is plain averaging: one round to exact agreement at 1.
	if r := tr.Rounds[1]; r.Min != 1 || r.Max != 1 || tr.RoundsToEpsilon != 1 {
		t.Fatalf("round 1 = %+v, rounds to ε = %d", r, tr.RoundsToEpsilon)
	}
}

// TestStepMatchesDefinition checks the simulator against the round of
// definitions.v (x_general: a normal node applies the W-MSR step to the
// values of its in-neighbours, adversaries' values as they send them) with
// wmsr.ReferenceUpdate as the oracle, bit for bit, in the synchronous
// lossless model. Crash nodes update honestly until they crash, then are
// frozen and heard by nobody.
func TestStepMatchesDefinition(t *testing.T) {
	for model, name := range threatModels {
		t.Run(name, func(t *testing.T) { testStepMatchesDefinition(t, model) })
	}
}

func testStepMatchesDefinition(t *testing.T, model int) {
	rapid.Check(t, func(t *rapid.T) {
		g := genGraph(t, -1, 12)
		th := genThreat(t, model, g.N())
		adv, cr := genAdversaries(t, genFaulty(t, g, th), genBehavior)
		cfg := Config{Graph: g, Initial: genInitial(t, g.N()), Scope: th.scope, LocalThreat: th.local, Adversaries: adv, Crashes: cr}
		s, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		behavior := map[int]Behavior{}
		for _, a := range adv {
			behavior[a.Node] = a.Behavior
		}
		crashAt := map[int]int{}
		for _, c := range cr {
			crashAt[c.Node] = c.Round
		}
		silent := func(u, t int) bool { c, ok := crashAt[u]; return ok && t >= c }
		for range rapid.IntRange(1, 15).Draw(t, "rounds") {
			view, tt := s.View(), s.T()
			want := make([]float64, g.N())
			for v := range g.N() {
				want[v] = view.Value(v)
				if behavior[v] != nil || silent(v, tt) {
					continue
				}
				var vals []float64
				for _, u := range g.In(v) {
					switch {
					case behavior[int(u)] != nil:
						vals = append(vals, behavior[int(u)].Send(int(u), v, tt, view))
					case !silent(int(u), tt):
						vals = append(vals, view.Value(int(u)))
					}
				}
				want[v] = wmsr.ReferenceUpdate(view.Value(v), vals, th.scope.F(v, g.InDegree(v)))
			}
			r := s.Step()
			lo, hi := math.Inf(1), math.Inf(-1)
			for v := range g.N() {
				if got := s.View().Value(v); math.Float64bits(got) != math.Float64bits(want[v]) {
					t.Fatalf("round %d, node %d: %v, want %v", tt+1, v, got, want[v])
				}
				if behavior[v] == nil && !hasKey(crashAt, v) {
					lo, hi = min(lo, want[v]), max(hi, want[v])
				}
			}
			if r.Min != lo || r.Max != hi || r.Disagreement != hi-lo || r.T != tt+1 {
				t.Fatalf("round %+v, want m = %v, M = %v", r, lo, hi)
			}
		}
	})
}

func hasKey(m map[int]int, k int) bool { _, ok := m[k]; return ok }

// TestDeterminism checks that a run is a pure function of its Config: the
// same configuration, with message loss, delay, random and Byzantine
// adversaries, gives the same trace byte for byte, and a different network
// seed a different one.
func TestDeterminism(t *testing.T) {
	g := must(graph.KIn(300, 6, 9))
	x0 := make([]float64, g.N())
	for i := range x0 {
		x0[i] = math.Sin(float64(i))
	}
	cfg := Config{
		Graph: g, Initial: x0, Scope: wmsr.Total(2), LocalThreat: true,
		Adversaries: []Adversary{{Node: 3, Behavior: Uniform{Lo: -2, Hi: 2, Seed: 5}}, {Node: 150, Behavior: Polarize{}}},
		Crashes:     []Crash{{Node: 7, Round: 4}},
		DropProb:    0.2, Delay: 2, Rounds: 60, Seed: 11, RecordValues: true, AllowOverBudget: true,
	}
	encode := func(c Config) []byte {
		var buf bytes.Buffer
		if err := WriteJSON(&buf, must(Run(c))); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	a, b := encode(cfg), encode(cfg)
	if !bytes.Equal(a, b) {
		t.Fatal("two runs of the same config differ")
	}
	cfg.Seed++
	if bytes.Equal(a, encode(cfg)) {
		t.Fatal("a different network seed gave the same trace")
	}
}

// TestDropAll checks the omission model at its extreme: with every message
// lost, a node hears nothing, keeps its value, and every in-arc of every
// updating node is an omission in every round.
func TestDropAll(t *testing.T) {
	g := must(graph.Circulant(9, 2, false))
	x0 := []float64{0, 1, 2, 3, 4, 5, 6, 7, 8}
	tr := must(Run(Config{Graph: g, Initial: x0, Scope: wmsr.Total(1), DropProb: 1, Rounds: 10, Delay: 1}))
	for _, r := range tr.Rounds[1:] {
		if r.Omissions != g.M() || r.Min != 0 || r.Max != 8 {
			t.Fatalf("round %+v, want %d omissions and no movement", r, g.M())
		}
	}
	if tr.Omissions != int64(10*g.M()) {
		t.Fatalf("%d omissions in all, want %d", tr.Omissions, 10*g.M())
	}
}

// TestDelayWindow checks the bounded-delay model of Config.Delay on the
// delivery path itself: with message i carrying its send round, the value a
// node uses in round t was sent in t−D..t; without loss there is always one
// from round D on (a message sent in round t−D has arrived by t) and the
// freshest never goes backwards; with loss, a missing value is an omission. It also checks
// that the delay is exercised: some used values are stale.
func TestDelayWindow(t *testing.T) {
	g := must(graph.Complete(2))
	for _, drop := range []float64{0, 0.5} {
		for d := 1; d <= 5; d++ {
			s := must(New(Config{Graph: g, Initial: []float64{0, 0}, Delay: d, DropProb: drop, Seed: uint64(d)}))
			prev, stale, missing := -1.0, 0, 0
			for tt := range 2000 {
				v, ok := s.deliver(0, tt, float64(tt), true)
				if !ok {
					if drop == 0 && tt >= d {
						t.Fatalf("D = %d, round %d: omission without loss", d, tt)
					}
					missing++
					continue
				}
				if v < float64(tt-d) || v > float64(tt) {
					t.Fatalf("D = %d, round %d: used a value sent in round %v", d, tt, v)
				}
				if drop == 0 && v < prev {
					t.Fatalf("D = %d, round %d: freshest value went back from %v to %v", d, tt, prev, v)
				}
				if v < float64(tt) {
					stale++
				}
				prev = v
			}
			if stale == 0 || (drop > 0 && missing == 0 && d == 1) {
				t.Errorf("D = %d, drop %v: %d stale values, %d omissions", d, drop, stale, missing)
			}
		}
	}
}

// TestDelayOmissionsOnlyAtStart checks the same at the level of a run:
// without loss, omissions happen only while nothing sent at round 0 need
// have arrived, that is in the updates of rounds 0..D−1.
func TestDelayOmissionsOnlyAtStart(t *testing.T) {
	g := must(graph.KIn(50, 5, 3))
	x0 := make([]float64, g.N())
	for i := range x0 {
		x0[i] = float64(i % 7)
	}
	const d = 3
	tr := must(Run(Config{Graph: g, Initial: x0, Scope: wmsr.Total(1), Delay: d, Rounds: 40, Seed: 1}))
	if tr.Rounds[1].Omissions == 0 {
		t.Error("no omission in round 1 with delay")
	}
	for _, r := range tr.Rounds[d+1:] {
		if r.Omissions != 0 {
			t.Fatalf("round %d: %d omissions without loss past the delay bound", r.T, r.Omissions)
		}
	}
}

// TestCrash checks crash semantics: the node is frozen from its crash round
// and is never heard again; before that it updates like a normal node.
func TestCrash(t *testing.T) {
	g := must(graph.Complete(4))
	s := must(New(Config{Graph: g, Initial: []float64{0, 4, 8, 12}, Scope: wmsr.Total(1), Crashes: []Crash{{Node: 3, Round: 2}}}))
	s.Step()
	s.Step()
	frozen := s.View().Value(3)
	if frozen == 12 {
		t.Fatal("crash node did not update before crashing")
	}
	r := s.Step()
	if s.View().Value(3) != frozen || r.Omissions != 3 {
		t.Fatalf("after crash: value %v (was %v), %d omissions, want 3", s.View().Value(3), frozen, r.Omissions)
	}
	if got := s.Normal(); len(got) != 3 {
		t.Fatalf("normal nodes %v", got)
	}
}
