package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wmsr/wmsr/graph"
	"github.com/wmsr/wmsr/topology"
	"github.com/wmsr/wmsr/topology/bench"
)

// Exit statuses.
const (
	exitOK        = 0
	exitFails     = 1
	exitBadInput  = 2
	exitUndecided = 3
)

// maxInput bounds what topocheck reads, so a runaway pipe cannot exhaust
// memory before the reader's own limits (graph.MaxNodes, MaxArcs) apply.
const maxInput = 1 << 30

type config struct {
	format  string
	json    bool
	r, s    int
	faults  string
	model   string
	timeout time.Duration
	effort  int64
	workers int
	quiet   bool
	file    string
}

func usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, `usage: topocheck [flags] FILE|-
       topocheck bench [flags]

Decides the exact r- and (r,s)-robustness of a communication digraph
(arc u→v: v hears u) and how many compromised agents W-MSR tolerates.

Exit status: 0 holds/tolerated (the report: r and s exact), 1 fails
(witness printed), 2 bad input, 3 undecided within --timeout or, past
4096 nodes, by the certificates and local search used there (the report:
r or s are bounds only).

flags:
`)
	fs.SetOutput(w)
	fs.PrintDefaults()
}

// run is the whole command; main only exits with its result.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "bench" {
		return runBench(args[1:], stdout, stderr)
	}
	var c config
	fs := flag.NewFlagSet("topocheck", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&c.format, "format", "", "input format: text, json, dot or csv (default: from the file extension; text for -)")
	fs.BoolVar(&c.json, "json", false, "print one JSON object instead of text")
	fs.IntVar(&c.r, "r", 0, "report the largest s for which the graph is (R,s)-robust")
	fs.IntVar(&c.s, "s", 0, "with --r: check (R,S)-robustness (exit 0 holds, 1 fails)")
	fs.StringVar(&c.faults, "faults", "", "with --model: decide whether F faults are tolerated (a fraction f for --model fraction)")
	fs.StringVar(&c.model, "model", "", "threat model: total, local, fraction, byzantine or byzantine-signed")
	fs.DurationVar(&c.timeout, "timeout", time.Minute, "give up after this long and report proven bounds (the full report keeps a quarter of it for the threat verdicts, at most a minute when --effort is set)")
	fs.Int64Var(&c.effort, "effort", 1<<17, "search nodes per threat-model decision in the full report, as on graphs of up to 128 nodes (divided past that by what a node costs there); 0: only --timeout")
	fs.IntVar(&c.workers, "workers", 0, "goroutines per search (0: GOMAXPROCS; 1 makes witnesses and --effort-capped bounds repeat exactly between runs)")
	fs.BoolVar(&c.quiet, "quiet", false, "no progress on stderr")
	// Accept flags after the file name too.
	var pos []string
	rest := args
	for {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				usage(stdout, fs)
				return exitOK
			}
			fmt.Fprintf(stderr, "topocheck: %v\n", err)
			usage(stderr, fs)
			return exitBadInput
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(pos) != 1 {
		fmt.Fprintf(stderr, "topocheck: want exactly one FILE or -, got %d arguments\n", len(pos))
		usage(stderr, fs)
		return exitBadInput
	}
	c.file = pos[0]
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch {
	case set["s"] && !set["r"]:
		return badUsage(stderr, "--s needs --r")
	case set["r"] && c.r < 1:
		return badUsage(stderr, "--r must be at least 1")
	case set["s"] && c.s < 1:
		return badUsage(stderr, "--s must be at least 1")
	case set["faults"] != set["model"]:
		return badUsage(stderr, "--faults and --model go together")
	case set["faults"] && set["r"]:
		return badUsage(stderr, "--faults/--model and --r/--s are different modes")
	case c.timeout <= 0:
		return badUsage(stderr, "--timeout must be positive")
	case c.effort < 0 || c.workers < 0:
		return badUsage(stderr, "--effort and --workers must not be negative")
	}
	var model topology.Model
	if set["model"] {
		var err error
		if model, err = topology.ParseModel(c.model); err != nil {
			return badUsage(stderr, err.Error())
		}
	}

	g, name, err := load(c, stdin)
	if err != nil {
		fmt.Fprintf(stderr, "topocheck: %v\n", err)
		return exitBadInput
	}

	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	prog := newProgress(stderr, c.quiet)
	defer prog.done()
	opt := topology.Options{Workers: c.workers, Progress: prog.report}
	out := &printer{w: stdout, g: g, json: c.json, name: name}

	switch {
	case set["faults"]:
		return verdict(ctx, out, g, model, c.faults, opt, stderr)
	case set["s"]:
		res, err := topology.Check(ctx, g, c.r, c.s, opt)
		if err != nil {
			return badUsage(stderr, err.Error())
		}
		return out.check(c.r, c.s, res)
	case set["r"]:
		res, err := topology.MaxS(ctx, g, c.r, opt)
		if err != nil {
			return badUsage(stderr, err.Error())
		}
		return out.maxS(res)
	}
	// The proofs of r and s stop early, so that the threat verdicts always
	// get time (topology.AnalyzeWithin).
	proofs, cancelProofs := context.WithTimeout(ctx, c.timeout-verdictReserve(c.timeout, c.effort))
	defer cancelProofs()
	rep, err := topology.AnalyzeWithin(ctx, proofs, g, topology.ThreatOptions{Options: opt, Effort: c.effort})
	if err != nil {
		fmt.Fprintf(stderr, "topocheck: %v\n", err)
		return exitBadInput
	}
	return out.report(rep)
}

// verdictReserve is the part of --timeout the full report keeps for the
// threat verdicts: a quarter, and at most a minute when --effort caps
// each of their decisions, which then take seconds in all, so that a
// long --timeout goes to the proofs (with --timeout 1h they would
// otherwise stop 15 minutes early for nothing).
func verdictReserve(timeout time.Duration, effort int64) time.Duration {
	if effort > 0 {
		return min(timeout/4, time.Minute)
	}
	return timeout / 4
}

func badUsage(stderr io.Writer, msg string) int {
	fmt.Fprintf(stderr, "topocheck: %s\n", msg)
	return exitBadInput
}

// load reads the graph named by c.file. Errors name the file and, through
// graph.ParseError, the line and column.
func load(c config, stdin io.Reader) (*graph.Digraph, string, error) {
	name := c.file
	var f graph.Format
	var err error
	switch {
	case c.format != "":
		f, err = graph.ParseFormat(c.format)
	case name == "-":
		f = graph.FormatText
	default:
		f, err = graph.FormatFromPath(name)
	}
	if err != nil {
		return nil, name, fmt.Errorf("%s: %w (use --format)", name, err)
	}
	var r io.Reader = stdin
	if name == "-" {
		name = "<stdin>"
	} else {
		fh, err := os.Open(name)
		if err != nil {
			return nil, name, err
		}
		defer fh.Close()
		if st, err := fh.Stat(); err == nil && st.IsDir() {
			return nil, name, fmt.Errorf("%s: is a directory", name)
		}
		r = fh
	}
	g, err := graph.Read(io.LimitReader(r, maxInput), f)
	if err != nil {
		return nil, name, fmt.Errorf("%s: %w", name, err)
	}
	return g, name, nil
}

// verdict answers --faults F --model M.
func verdict(ctx context.Context, out *printer, g *graph.Digraph, m topology.Model, faults string, opt topology.Options, stderr io.Writer) int {
	if m == topology.Fraction {
		f, err := strconv.ParseFloat(faults, 64)
		if err != nil || !(f >= 0 && f < 0.5) {
			return badUsage(stderr, fmt.Sprintf("--faults %q: the fraction model wants 0 ≤ f < 1/2", faults))
		}
		rr, _ := topology.MaxR(ctx, g, opt)
		v := topology.FractionVerdict(ctx, g, rr, topology.ThreatOptions{Options: opt})
		lo, _ := strconv.ParseFloat(ratFloat(v.PLower), 64)
		hi := v.PValue
		switch {
		case lo > 2*f:
			return out.verdict(m, faults, true, false, true, fmt.Sprintf("p-fraction robust with p = %s > 2f: sufficient", v.PLower), nil)
		case hi <= f:
			return out.verdict(m, faults, false, true, true, fmt.Sprintf("not p-fraction robust for any p > %s ≥ f, which is necessary", v.P), v.Witness)
		case v.Exact:
			return out.verdict(m, faults, false, false, true, fmt.Sprintf("p* = %s: f < p* (necessary) but 2f ≥ p* (sufficient fails): not decided by theory", v.P), v.Witness)
		}
		return out.verdict(m, faults, false, false, false, "", nil)
	}
	f, err := strconv.Atoi(faults)
	if err != nil || f < 0 {
		return badUsage(stderr, fmt.Sprintf("--faults %q: want an integer F ≥ 0", faults))
	}
	ok, refuted, decided, why, w, err := topology.Tolerates(ctx, g, m, f, opt)
	if err != nil {
		return badUsage(stderr, err.Error())
	}
	return out.verdict(m, faults, ok, refuted, decided, why, w)
}

func ratFloat(s string) string {
	if a, b, ok := strings.Cut(s, "/"); ok {
		x, _ := strconv.ParseFloat(a, 64)
		y, _ := strconv.ParseFloat(b, 64)
		if y != 0 {
			return strconv.FormatFloat(x/y, 'g', -1, 64)
		}
	}
	return s
}

// progress prints the proven bounds to stderr when it is a terminal, on
// one rewritten line: at once when a bound moves, and at most every
// quarter second when only the node count does. (Throttling bound changes
// too dropped them: a dense graph's first second moves ρ's bounds a dozen
// times, then a long decision reports nothing for seconds, and the line
// showed the bounds of the start.)
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	on    bool
	last  time.Time
	shown topology.Progress // the last line printed, nodes aside
	wrote bool
}

func newProgress(stderr io.Writer, quiet bool) *progress {
	p := &progress{w: stderr}
	if f, ok := stderr.(*os.File); ok && !quiet {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.on = true
		}
	}
	return p
}

func (p *progress) report(pr topology.Progress) {
	if !p.on {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	moved := pr.Task != p.shown.Task || pr.Lower != p.shown.Lower || pr.Upper != p.shown.Upper
	if now := time.Now(); moved || now.Sub(p.last) >= 250*time.Millisecond {
		p.last, p.shown = now, pr
		switch pr.Task {
		case "check": // a single decision: no bounds to show
			fmt.Fprintf(p.w, "\r\033[Kcheck: %d search nodes", pr.Nodes)
		case "r":
			fmt.Fprintf(p.w, "\r\033[Kr: %d ≤ ρ ≤ %d, %d search nodes", pr.Lower, pr.Upper, pr.Nodes)
		case "total": // named as in the report
			fmt.Fprintf(p.w, "\r\033[KF-total malicious: %d ≤ F ≤ %d, %d search nodes", pr.Lower, pr.Upper, pr.Nodes)
		case "byzantine":
			fmt.Fprintf(p.w, "\r\033[KF-total Byzantine: %d ≤ F ≤ %d, %d search nodes", pr.Lower, pr.Upper, pr.Nodes)
		case "fraction": // p* is a fraction: no integer bounds
			fmt.Fprintf(p.w, "\r\033[Kf-fraction: %d search nodes", pr.Nodes)
		default:
			fmt.Fprintf(p.w, "\r\033[K%s: %d ≤ %s ≤ %d, %d search nodes", pr.Task, pr.Lower, pr.Task, pr.Upper, pr.Nodes)
		}
		p.wrote = true
	}
}

func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.wrote {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

func runBench(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("topocheck bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg bench.Config
	fs.BoolVar(&cfg.Full, "full", false, "the full grid (all families at n = 20, 30, 40, 50, 60, 80); default: a subsample")
	fs.DurationVar(&cfg.MILPCap, "milp-cap", time.Minute, "time cap per CBC run")
	fs.DurationVar(&cfg.Timeout, "timeout", time.Minute, "topocheck --timeout per graph")
	fs.BoolVar(&cfg.NoMILP, "no-milp", false, "skip the CBC column")
	fs.BoolVar(&cfg.NoInstall, "no-install", false, "do not try to install coinor-cbc")
	fs.StringVar(&cfg.Only, "only", "", "run only rows whose family contains this string")
	fs.IntVar(&cfg.Seeds, "seeds", 1, "run each random graph for seeds 1..N (the table shows the spread between graphs of one family)")
	if err := fs.Parse(args); err != nil {
		return exitBadInput
	}
	if cfg.Seeds < 1 {
		fmt.Fprintf(stderr, "topocheck bench: --seeds %d: want at least 1\n", cfg.Seeds)
		return exitBadInput
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "topocheck bench: unexpected argument %q\n", fs.Arg(0))
		return exitBadInput
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "topocheck bench: %v\n", err)
		return exitBadInput
	}
	cfg.Topocheck = self
	cfg.Log = stderr
	if err := bench.Run(context.Background(), cfg, stdout); err != nil {
		fmt.Fprintf(stderr, "topocheck bench: %v\n", err)
		return exitFails
	}
	return exitOK
}

// printer renders results as text or JSON.
type printer struct {
	w    io.Writer
	g    *graph.Digraph
	json bool
	name string
}

func (p *printer) emit(v any) {
	enc := json.NewEncoder(p.w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// jsonPair is a witness in JSON: node ids, names when the graph has them,
// the reachable nodes of each set, and what it shows.
type jsonPair struct {
	S1      []int    `json:"s1"`
	S2      []int    `json:"s2"`
	Removed []int    `json:"removed,omitempty"`
	X1      []int    `json:"x1"`
	X2      []int    `json:"x2"`
	Names1  []string `json:"s1_names,omitempty"`
	Names2  []string `json:"s2_names,omitempty"`
	Shows   string   `json:"shows"`
}

func (p *printer) pair(w *topology.Pair, r int, shows string) *jsonPair {
	if w == nil {
		return nil
	}
	j := &jsonPair{S1: w.S1, S2: w.S2, Removed: w.Removed, Shows: shows,
		X1: nonNil(topology.Reachable(p.g, w.S1, r, w.Removed...)),
		X2: nonNil(topology.Reachable(p.g, w.S2, r, w.Removed...))}
	if p.g.HasNames() {
		for _, v := range w.S1 {
			j.Names1 = append(j.Names1, p.g.Name(v))
		}
		for _, v := range w.S2 {
			j.Names2 = append(j.Names2, p.g.Name(v))
		}
	}
	return j
}

func nonNil(x []int) []int {
	if x == nil {
		return []int{}
	}
	return x
}

// set prints a node set for people: ids in increasing order, with runs of
// three or more consecutive ids as a range (a witness on a fleet of
// hundreds is often "everything but a few", which in full is a screen of
// numbers), and the size when it is not obvious at a glance. Named nodes
// are listed one by one with their names, which is what an operator
// reads; --json always has the full lists.
func (p *printer) set(s []int) string {
	s = slices.Sorted(slices.Values(s))
	named := p.g.HasNames()
	var b strings.Builder
	b.WriteByte('{')
	for i := 0; i < len(s); i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		v := s[i]
		if named {
			if nm := p.g.Name(v); nm != "" {
				fmt.Fprintf(&b, "%d:%s", v, nm)
				continue
			}
			fmt.Fprintf(&b, "%d", v)
			continue
		}
		j := i
		for j+1 < len(s) && s[j+1] == s[j]+1 {
			j++
		}
		if j-i >= 2 {
			fmt.Fprintf(&b, "%d–%d", v, s[j])
			i = j
		} else {
			fmt.Fprintf(&b, "%d", v)
		}
	}
	b.WriteByte('}')
	if len(s) > setSizeShown {
		fmt.Fprintf(&b, " (%d nodes)", len(s))
	}
	return b.String()
}

// setSizeShown is the largest set printed without its size.
const setSizeShown = 8

func (p *printer) textPair(indent string, w *topology.Pair, r int) {
	if w == nil {
		return
	}
	if len(w.Removed) > 0 {
		fmt.Fprintf(p.w, "%sremoved = %s\n", indent, p.set(w.Removed))
	}
	fmt.Fprintf(p.w, "%sS1 = %s\n%sS2 = %s\n", indent, p.set(w.S1), indent, p.set(w.S2))
	x1 := topology.Reachable(p.g, w.S1, r, w.Removed...)
	x2 := topology.Reachable(p.g, w.S2, r, w.Removed...)
	fmt.Fprintf(p.w, "%s%d-reachable: %s in S1, %s in S2\n", indent, r, p.set(x1), p.set(x2))
}

// undecidedWhy says why a yes-or-no question was left open.
func (p *printer) undecidedWhy() string {
	if p.g.N() > topology.MaxExactNodes {
		return fmt.Sprintf("undecided: the exact search takes at most %d nodes, and no certificate or local search settled it", topology.MaxExactNodes)
	}
	return "undecided within the timeout"
}

// boundsWhy says why an answer is bounds only: the time or effort ran
// out, or the graph is past the exact search's size.
func (p *printer) boundsWhy() string {
	if p.g.N() > topology.MaxExactNodes {
		return fmt.Sprintf("bounds only: the exact search takes at most %d nodes; these come from lemmas and a local search", topology.MaxExactNodes)
	}
	return "bounds only: --timeout or --effort reached"
}

// report prints the full report. It exits 3 (undecided) when ρ or s at ρ,
// the values the JSON "exact" covers, are bounds only, as --r R does: a
// script that gates a deployment on the report must not read bounds as an
// answer. Threat verdicts capped by --effort carry their own "exact" and
// do not change the status; the effort cap is how the report stays quick.
func (p *printer) report(rep topology.Report) int {
	rr, sr, t := rep.R, rep.S, rep.Tolerates
	status := exitOK
	if !rr.Exact || !sr.Exact {
		status = exitUndecided
	}
	if p.json {
		type jv struct {
			F            *int      `json:"f,omitempty"`
			Lower        *int      `json:"lower,omitempty"`
			Upper        *int      `json:"upper,omitempty"`
			NecessaryMax *int      `json:"necessary_max,omitempty"`
			P            string    `json:"p,omitempty"`
			PValue       *float64  `json:"p_value,omitempty"`
			PLower       string    `json:"p_lower,omitempty"`
			FBelow       *float64  `json:"f_below,omitempty"`
			Exact        bool      `json:"exact"`
			Sufficient   string    `json:"sufficient"`
			Necessary    string    `json:"necessary"`
			Strength     string    `json:"strength"`
			Undecided    string    `json:"undecided,omitempty"`
			Witness      *jsonPair `json:"witness,omitempty"`
		}
		conv := func(v topology.Verdict, r int) jv {
			o := jv{Exact: v.Exact, Sufficient: v.Sufficient, Necessary: v.Necessary, Strength: v.Strength, Undecided: v.Undecided}
			if v.Model == topology.Fraction {
				pv, fb := v.PValue, v.PValue/2
				o.P, o.PValue, o.PLower, o.FBelow = v.P, &pv, v.PLower, &fb
				o.Witness = p.pair(v.Witness, 0, "no node of either set has more than a p fraction of its in-neighbours outside it")
				return o
			}
			f, lo, hi, nm := v.F, v.Lower, v.Upper, v.NecessaryMax
			o.F, o.Lower, o.Upper, o.NecessaryMax = &f, &lo, &hi, &nm
			if v.Witness != nil {
				o.Witness = p.pair(v.Witness, r, fmt.Sprintf("the sufficient condition fails at F = %d", v.Upper+1))
			}
			return o
		}
		type out struct {
			File      string           `json:"file"`
			Nodes     int              `json:"nodes"`
			Arcs      int              `json:"arcs"`
			R         int              `json:"r"`
			RLower    int              `json:"r_lower"`
			RUpper    int              `json:"r_upper"`
			S         int              `json:"s"`
			SLower    int              `json:"s_lower"`
			SUpper    int              `json:"s_upper"`
			Exact     bool             `json:"exact"`
			Witness   map[string]any   `json:"witness"`
			Tolerates map[string]jv    `json:"tolerates"`
			Nodes2    map[string]int64 `json:"search_nodes"`
		}
		o := out{File: p.name, Nodes: rep.Nodes, Arcs: rep.Arcs, R: rr.R, RLower: rr.Lower, RUpper: rr.Upper,
			S: sr.S, SLower: sr.Lower, SUpper: sr.Upper, Exact: rr.Exact && sr.Exact,
			Witness: map[string]any{}, Nodes2: map[string]int64{"r": rr.Nodes, "s": sr.Nodes}}
		if rr.Witness != nil {
			o.Witness["r"] = p.pair(rr.Witness, rr.Upper+1, fmt.Sprintf("not %d-robust: no node of either set is %d-reachable", rr.Upper+1, rr.Upper+1))
		}
		if sr.Witness != nil {
			o.Witness["s"] = p.pair(sr.Witness, sr.R, fmt.Sprintf("not (%d,%d)-robust: |X1|+|X2| = %d and neither set is fully %d-reachable", sr.R, sr.Upper+1, sr.Upper, sr.R))
		}
		o.Tolerates = map[string]jv{
			"total":            conv(t.Total, t.Total.Upper+2),
			"local":            conv(t.Local, rr.Upper+1),
			"fraction":         conv(t.Fraction, 0),
			"byzantine":        conv(t.Byzantine, t.Byzantine.Upper+2),
			"byzantine_signed": conv(t.ByzantineSigned, t.Total.Upper+2),
		}
		p.emit(o)
		return status
	}
	fmt.Fprintf(p.w, "%s: %d nodes, %d arcs\n", p.name, rep.Nodes, rep.Arcs)
	if rr.Exact {
		fmt.Fprintf(p.w, "r = %d (exact): %d-robust, not %d-robust\n", rr.R, rr.R, rr.R+1)
	} else {
		fmt.Fprintf(p.w, "r: %d ≤ ρ ≤ %d (%s)\n", rr.Lower, rr.Upper, p.boundsWhy())
	}
	if rr.Witness != nil {
		fmt.Fprintf(p.w, "  witness, not %d-robust:\n", rr.Upper+1)
		p.textPair("    ", rr.Witness, rr.Upper+1)
	}
	switch {
	case sr.R == 0:
		fmt.Fprintf(p.w, "s: none (not even 1-robust)\n")
	case sr.Exact && sr.S >= rep.Nodes:
		fmt.Fprintf(p.w, "s = %d (exact): (%d,s)-robust for every s\n", sr.S, sr.R)
	case sr.Exact:
		fmt.Fprintf(p.w, "s = %d at r = %d (exact): (%d,%d)-robust, not (%d,%d)-robust\n", sr.S, sr.R, sr.R, sr.S, sr.R, sr.S+1)
	default:
		fmt.Fprintf(p.w, "s at r = %d: %d ≤ s ≤ %d (%s)\n", sr.R, sr.Lower, sr.Upper, p.boundsWhy())
	}
	if sr.Witness != nil {
		fmt.Fprintf(p.w, "  witness, not (%d,%d)-robust:\n", sr.R, sr.Upper+1)
		p.textPair("    ", sr.Witness, sr.R)
	}
	fmt.Fprintf(p.w, "tolerates:\n")
	for _, v := range []topology.Verdict{t.Total, t.Local, t.Fraction, t.Byzantine, t.ByzantineSigned} {
		p.textVerdict(v)
	}
	return status
}

func (p *printer) textVerdict(v topology.Verdict) {
	label := map[topology.Model]string{
		topology.Total:           "F-total malicious",
		topology.Local:           "F-local malicious",
		topology.Fraction:        "f-fraction local",
		topology.Byzantine:       "F-total Byzantine",
		topology.ByzantineSigned: "Byzantine, signed",
	}[v.Model]
	if v.Model == topology.Fraction {
		if v.Exact && v.PValue == 0 {
			// p* = 0 exactly when D is not 1-robust (for p ≤ 1/Δ,
			// p-fraction reachable is 1-reachable): no f is tolerated,
			// which "f < 0" said less plainly.
			fmt.Fprintf(p.w, "  %-20s none (not even 1-robust; p* = 0)  [%s]\n", label+":", v.Strength)
		} else if v.Exact {
			fmt.Fprintf(p.w, "  %-20s f < %.4g (p* = %s; %s)\n", label+":", v.PValue/2, v.P, v.Strength)
		} else {
			fmt.Fprintf(p.w, "  %-20s p* in [%s, %s] (%s)\n", label+":", v.PLower, v.P, p.boundsWhy())
		}
		return
	}
	fs := fmt.Sprintf("F = %d", v.F)
	if !v.Exact {
		fs = fmt.Sprintf("%d ≤ F ≤ %d", v.Lower, v.Upper)
	}
	if v.F < 0 && v.Exact {
		fs = "none (not even 1-robust)"
	}
	fmt.Fprintf(p.w, "  %-20s %s  [%s: %s]", label+":", fs, v.Sufficient, v.Strength)
	if v.Undecided != "" {
		fmt.Fprintf(p.w, "; %s", v.Undecided)
	}
	fmt.Fprintln(p.w)
}

func (p *printer) maxS(res topology.SResult) int {
	if p.json {
		o := map[string]any{"file": p.name, "nodes": p.g.N(), "arcs": p.g.M(), "r": res.R, "s": res.S,
			"s_lower": res.Lower, "s_upper": res.Upper, "exact": res.Exact, "witness": nil}
		if res.Witness != nil {
			o["witness"] = p.pair(res.Witness, res.R, fmt.Sprintf("not (%d,%d)-robust", res.R, res.Upper+1))
		}
		p.emit(o)
	} else {
		switch {
		case res.Exact && res.S >= p.g.N():
			fmt.Fprintf(p.w, "%s: (%d,s)-robust for every s (s = %d)\n", p.name, res.R, res.S)
		case res.Exact:
			fmt.Fprintf(p.w, "%s: s = %d at r = %d (exact): (%d,%d)-robust, not (%d,%d)-robust\n", p.name, res.S, res.R, res.R, res.S, res.R, res.S+1)
		default:
			fmt.Fprintf(p.w, "%s: %d ≤ s ≤ %d at r = %d (%s)\n", p.name, res.Lower, res.Upper, res.R, p.boundsWhy())
		}
		if res.Witness != nil {
			fmt.Fprintf(p.w, "  witness, not (%d,%d)-robust:\n", res.R, res.Upper+1)
			p.textPair("    ", res.Witness, res.R)
		}
	}
	if !res.Exact {
		return exitUndecided
	}
	return exitOK
}

func (p *printer) check(r, s int, res topology.CheckResult) int {
	if p.json {
		o := map[string]any{"file": p.name, "nodes": p.g.N(), "arcs": p.g.M(), "r": r, "s": s,
			"holds": res.Holds, "decided": res.Decided, "exact": res.Decided, "witness": nil}
		if res.Witness != nil {
			o["witness"] = p.pair(res.Witness, r, fmt.Sprintf("not (%d,%d)-robust", r, s))
		}
		p.emit(o)
	} else {
		switch {
		case !res.Decided:
			fmt.Fprintf(p.w, "%s: (%d,%d)-robustness %s\n", p.name, r, s, p.undecidedWhy())
		case res.Holds:
			fmt.Fprintf(p.w, "%s: (%d,%d)-robust: holds\n", p.name, r, s)
		default:
			fmt.Fprintf(p.w, "%s: not (%d,%d)-robust: fails\n", p.name, r, s)
			p.textPair("  ", res.Witness, r)
		}
	}
	switch {
	case !res.Decided:
		return exitUndecided
	case res.Holds:
		return exitOK
	}
	return exitFails
}

func (p *printer) verdict(m topology.Model, faults string, ok, refuted, decided bool, why string, w *topology.Pair) int {
	r := 0
	if f, err := strconv.Atoi(faults); err == nil {
		r = f + 1
		if m == topology.Local && !refuted {
			r = 2*f + 1
		}
	}
	if p.json {
		o := map[string]any{"file": p.name, "nodes": p.g.N(), "arcs": p.g.M(), "model": string(m), "faults": faults,
			"tolerated": ok, "refuted": refuted, "decided": decided, "reason": why, "witness": nil}
		if w != nil {
			o["witness"] = p.pair(w, r, why)
		}
		p.emit(o)
	} else {
		switch {
		case !decided:
			fmt.Fprintf(p.w, "%s: %s with F = %s: %s\n", p.name, m, faults, p.undecidedWhy())
		case ok:
			fmt.Fprintf(p.w, "%s: %s with F = %s: tolerated (%s)\n", p.name, m, faults, why)
		default:
			fmt.Fprintf(p.w, "%s: %s with F = %s: NOT guaranteed (%s)\n", p.name, m, faults, why)
			if w != nil && r > 0 {
				p.textPair("  ", w, r)
			}
		}
	}
	switch {
	case !decided:
		return exitUndecided
	case ok:
		return exitOK
	}
	return exitFails
}
