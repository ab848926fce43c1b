// Package bench measures topocheck against plain enumeration and against
// the Usevitch–Panagou MILP solved by CBC, on the same graphs in the same
// run, and prints a Markdown table. It is driven by "topocheck bench".
//
// topocheck is timed as a whole process ("topocheck --json FILE", start to
// exit), which is what an operator waits for. Enumeration (n ≤ 14) is timed
// in process (topology.Enumerate computes ρ and every s at once). The MILP
// is timed as two CBC processes, the ρ program and then the s program at
// the ρ it found, under one cap.
package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/wmsr/wmsr/graph"
	"github.com/wmsr/wmsr/topology"
)

// Config says what to run.
type Config struct {
	Topocheck string        // path of the topocheck binary
	Full      bool          // the full grid instead of the default subsample
	MILPCap   time.Duration // cap per graph for the two CBC runs together
	Timeout   time.Duration // topocheck --timeout
	NoMILP    bool
	NoInstall bool
	Only      string // keep rows whose family contains this
	// Seeds runs each random graph for seeds 1..Seeds (0 means 1): one
	// seed shows a typical graph, several show the spread, which on the
	// sparse families is wide.
	Seeds int
	Log   io.Writer // progress lines; may be nil
}

// Case is one benchmark graph: Make(N, Seed).
type Case struct {
	Family string
	N      int
	Seed   uint64
	Random bool // Make depends on the seed
	Make   func(n int, seed uint64) (*graph.Digraph, error)
}

func families() []Case {
	return []Case{
		{Family: "directed ER p=0.3", Random: true, Make: func(n int, seed uint64) (*graph.Digraph, error) { return graph.ErdosRenyi(n, 0.3, true, seed) }},
		{Family: "directed ER p=0.5", Random: true, Make: func(n int, seed uint64) (*graph.Digraph, error) { return graph.ErdosRenyi(n, 0.5, true, seed) }},
		{Family: "undirected ER p=0.3", Random: true, Make: func(n int, seed uint64) (*graph.Digraph, error) { return graph.ErdosRenyi(n, 0.3, false, seed) }},
		{Family: "undirected ER p=0.1", Random: true, Make: func(n int, seed uint64) (*graph.Digraph, error) { return graph.ErdosRenyi(n, 0.1, false, seed) }},
		{Family: "k-out k=6", Random: true, Make: func(n int, seed uint64) (*graph.Digraph, error) { return graph.KOut(n, 6, seed) }},
		{Family: "k-in k=6", Random: true, Make: func(n int, seed uint64) (*graph.Digraph, error) { return graph.KIn(n, 6, seed) }},
		{Family: "geometric deg≈10", Random: true, Make: func(n int, seed uint64) (*graph.Digraph, error) {
			// Unit square, radius for a mean degree of about 10.
			g, _, err := graph.RandomGeometric(n, 2, 1, math.Sqrt(10/(math.Pi*float64(n))), seed)
			return g, err
		}},
		{Family: "circulant k=4", Make: func(n int, _ uint64) (*graph.Digraph, error) { return graph.Circulant(n, 4, false) }},
	}
}

// Cases returns the benchmark grid, each random graph for seeds 1..seeds
// (at least seed 1).
func Cases(full bool, seeds int) []Case {
	var out []Case
	add := func(f Case, ns ...int) {
		for _, n := range ns {
			for sd := 1; sd <= max(seeds, 1); sd++ {
				if sd > 1 && !f.Random {
					break
				}
				c := f
				c.N, c.Seed = n, uint64(sd)
				out = append(out, c)
			}
		}
	}
	fam := families()
	if full {
		for _, f := range fam {
			add(f, 12, 14, 20, 30, 40, 50, 60, 80)
		}
		add(fam[1], 44)
		return out
	}
	// The default run stays near a quarter of an hour on two cores (each
	// graph the MILP cannot finish costs its cap): every family against
	// enumeration at n = 14 and at sizes the MILP can still reach, the
	// three directed targets, and the sparse families at n = 64.
	add(fam[0], 14, 20, 30, 50)
	add(fam[1], 14, 20, 30, 40, 44)
	add(fam[2], 14, 20, 40)
	add(fam[3], 40, 64)
	add(fam[4], 14, 20, 40, 64)
	add(fam[5], 20, 40, 64)
	add(fam[6], 14, 20, 40, 64)
	add(fam[7], 14, 20, 40)
	return out
}

// Row is one measured line.
type Row struct {
	Family  string
	N, Arcs int
	// R and S are topocheck's values when Exact; otherwise its proven
	// bounds RLower ≤ ρ ≤ RUpper, and SLower ≤ s ≤ SUpper at ρ = RLower.
	R, S            int
	RLower, RUpper  int
	SLower, SUpper  int
	Exact           bool
	Topocheck       time.Duration
	TimeR, TimeS    time.Duration // in process: MaxR, then MaxSAt
	Enum            time.Duration // 0: not run
	MILP            time.Duration // 0: not run
	MILPCapped      bool
	MILPR, MILPS    string // what CBC found ("" when capped)
	Agree           bool   // CBC's values equal topocheck's (when both finished)
	TopocheckFailed string
}

// Run measures every case and writes the table to w.
func Run(ctx context.Context, cfg Config, w io.Writer) error {
	logf := func(format string, args ...any) {
		if cfg.Log != nil {
			fmt.Fprintf(cfg.Log, format+"\n", args...)
		}
	}
	if cfg.MILPCap <= 0 {
		cfg.MILPCap = time.Minute
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Minute
	}
	cbc := ""
	if !cfg.NoMILP {
		cbc = findCBC(cfg.NoInstall, logf)
		if cbc == "" {
			logf("CBC not available: the MILP column is skipped")
		}
	}
	dir, err := os.MkdirTemp("", "topobench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	// Warm up: the first exec of a fresh binary pays for page faults.
	if warm, err := graph.Complete(3); err == nil {
		if f := filepath.Join(dir, "warm.txt"); writeGraph(f, warm) == nil {
			var r Row
			measureTopocheck(ctx, cfg, f, &r)
		}
	}
	var rows []Row
	for _, c := range Cases(cfg.Full, cfg.Seeds) {
		if cfg.Only != "" && !strings.Contains(c.Family, cfg.Only) {
			continue
		}
		g, err := c.Make(c.N, c.Seed)
		if err != nil {
			return fmt.Errorf("%s n=%d seed %d: %w", c.Family, c.N, c.Seed, err)
		}
		row := Row{Family: c.Family, N: c.N, Arcs: g.M()}
		if cfg.Seeds > 1 && c.Random {
			row.Family = fmt.Sprintf("%s, seed %d", c.Family, c.Seed)
		}
		file := filepath.Join(dir, fmt.Sprintf("g%d.txt", len(rows)))
		if err := writeGraph(file, g); err != nil {
			return err
		}
		measureTopocheck(ctx, cfg, file, &row)
		if row.Topocheck < cfg.Timeout {
			tctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
			t0 := time.Now()
			rr, _ := topology.MaxR(tctx, g, topology.Options{})
			row.TimeR = time.Since(t0)
			topology.MaxSAt(tctx, g, rr, topology.Options{})
			row.TimeS = time.Since(t0) - row.TimeR
			cancel()
		}
		if c.N <= 14 {
			for i := 0; i < 2; i++ {
				t0 := time.Now()
				if _, _, err := topology.Enumerate(g); err == nil {
					if d := time.Since(t0); i == 0 || d < row.Enum {
						row.Enum = d
					}
				}
			}
		}
		if cbc != "" {
			measureMILP(ctx, cbc, dir, g, cfg.MILPCap, &row)
		}
		logf("%s", formatRow(row))
		rows = append(rows, row)
	}
	writeTable(w, rows, cbc != "", cfg)
	return nil
}

func writeGraph(path string, g *graph.Digraph) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := graph.Write(f, g, graph.FormatText); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// measureTopocheck times one whole "topocheck --json" process; runs under
// a second are repeated twice more and the fastest kept, since on a shared
// machine a short run is mostly scheduling noise.
func measureTopocheck(ctx context.Context, cfg Config, file string, row *Row) {
	args := []string{"--json", "--quiet", "--timeout", cfg.Timeout.String(), file}
	var out bytes.Buffer
	for i := 0; i < 3; i++ {
		var errb bytes.Buffer
		out.Reset()
		cmd := exec.CommandContext(ctx, cfg.Topocheck, args...)
		cmd.Stdout, cmd.Stderr = &out, &errb
		t0 := time.Now()
		err := cmd.Run()
		d := time.Since(t0)
		// Exit status 3: the report holds bounds only (--timeout); the
		// JSON says so and the row shows them.
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() == 3 {
			err = nil
		}
		if err != nil {
			row.TopocheckFailed = strings.TrimSpace(errb.String() + " " + err.Error())
			return
		}
		if i == 0 || d < row.Topocheck {
			row.Topocheck = d
		}
		if d >= time.Second {
			break
		}
	}
	var res struct {
		R, S   int
		RLower int `json:"r_lower"`
		RUpper int `json:"r_upper"`
		SLower int `json:"s_lower"`
		SUpper int `json:"s_upper"`
		Exact  bool
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		row.TopocheckFailed = err.Error()
		return
	}
	row.R, row.S, row.Exact = res.R, res.S, res.Exact
	row.RLower, row.RUpper, row.SLower, row.SUpper = res.RLower, res.RUpper, res.SLower, res.SUpper
}

// findCBC returns the cbc binary, installing Debian's coinor-cbc if asked.
func findCBC(noInstall bool, logf func(string, ...any)) string {
	if p, err := exec.LookPath("cbc"); err == nil {
		return p
	}
	if noInstall {
		return ""
	}
	logf("installing coinor-cbc (apt-get update && apt-get install -y coinor-cbc)")
	for _, args := range [][]string{{"update"}, {"install", "-y", "coinor-cbc"}} {
		cmd := exec.Command("apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			logf("apt-get %s failed: %v: %s", args[0], err, lastLine(out))
			return ""
		}
	}
	if p, err := exec.LookPath("cbc"); err == nil {
		return p
	}
	return ""
}

func lastLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}

// measureMILP solves the ρ program, then the s program at that ρ, within
// one cap. Like topocheck's, a solve under a second is repeated twice more
// and the fastest kept: on a shared machine a short run is mostly
// scheduling noise, and the two columns are divided by each other.
func measureMILP(ctx context.Context, cbc, dir string, g *graph.Digraph, cap time.Duration, row *Row) {
	solveMILP(ctx, cbc, dir, g, cap, row)
	for i := 0; i < 2 && !row.MILPCapped && row.MILP > 0 && row.MILP < time.Second; i++ {
		again := *row
		solveMILP(ctx, cbc, dir, g, cap, &again)
		if again.MILPCapped {
			return
		}
		if again.MILPR != row.MILPR || again.MILPS != row.MILPS {
			// CBC disagreeing with itself is worth seeing, not hiding.
			row.MILPR, row.MILPS, row.Agree = again.MILPR+"/"+row.MILPR, again.MILPS+"/"+row.MILPS, false
			return
		}
		row.MILP = min(row.MILP, again.MILP)
	}
}

// solveMILP is one measurement of measureMILP.
func solveMILP(ctx context.Context, cbc, dir string, g *graph.Digraph, cap time.Duration, row *Row) {
	deadline := time.Now().Add(cap)
	t0 := time.Now()
	rFile := filepath.Join(dir, "r.lp")
	if err := writeLP(rFile, func(w io.Writer) error { return topology.WriteMILPR(w, g) }); err != nil {
		row.MILPCapped = true
		return
	}
	status, obj, err := solveCBC(ctx, cbc, rFile, time.Until(deadline))
	if err != nil || status != "Optimal" {
		row.MILP, row.MILPCapped = cap, true
		return
	}
	rho := int(math.Round(obj))
	row.MILPR = strconv.Itoa(rho)
	s := 0
	if rho >= 1 {
		sFile := filepath.Join(dir, "s.lp")
		if err := writeLP(sFile, func(w io.Writer) error { return topology.WriteMILPS(w, g, rho) }); err != nil {
			row.MILPCapped = true
			return
		}
		status, obj, err = solveCBC(ctx, cbc, sFile, time.Until(deadline))
		switch {
		case err == nil && status == "Optimal":
			s = int(math.Round(obj))
		case err == nil && status == "Infeasible":
			s = g.N()
		default:
			row.MILP, row.MILPCapped = cap, true
			return
		}
	}
	row.MILP = time.Since(t0)
	row.MILPS = strconv.Itoa(s)
	row.Agree = agrees(*row, rho, s)
}

// agrees reports whether CBC's ρ and s fit what topocheck proved: its
// values when exact, its bounds otherwise (s only when CBC's ρ is
// topocheck's lower bound, where topocheck's s bounds were proven).
func agrees(r Row, rho, s int) bool {
	switch {
	case r.TopocheckFailed != "":
		return false
	case r.Exact:
		return rho == r.R && s == r.S
	case rho < r.RLower || rho > r.RUpper:
		return false
	}
	return rho != r.RLower || (r.SLower <= s && s <= r.SUpper)
}

func writeLP(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

var errTimeUp = errors.New("time cap reached")

// solveCBC runs "cbc FILE sec T solve solution SOL" and returns the status
// word of the solution file ("Optimal", "Infeasible", "Stopped", ...) and
// the objective.
func solveCBC(ctx context.Context, cbc, lp string, left time.Duration) (string, float64, error) {
	if left <= 0 {
		return "", 0, errTimeUp
	}
	sol := lp + ".sol"
	os.Remove(sol)
	ctx, cancel := context.WithTimeout(ctx, left+5*time.Second)
	defer cancel()
	secs := strconv.FormatFloat(math.Max(left.Seconds(), 1), 'f', 0, 64)
	cmd := exec.CommandContext(ctx, cbc, lp, "sec", secs, "solve", "solution", sol)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", 0, fmt.Errorf("cbc: %w: %s", err, lastLine(out))
	}
	b, err := os.ReadFile(sol)
	if err != nil {
		return "", 0, err
	}
	first, _, _ := strings.Cut(string(b), "\n")
	status, _, _ := strings.Cut(strings.TrimSpace(first), " ")
	var obj float64
	if i := strings.Index(first, "objective value"); i >= 0 {
		obj, _ = strconv.ParseFloat(strings.TrimSpace(first[i+len("objective value"):]), 64)
	}
	return status, obj, nil
}

func ms(d time.Duration) string {
	switch {
	case d <= 0:
		return "–"
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	case d < time.Second:
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

// bounds prints a value topocheck proved, or its proven range.
func bounds(lo, hi int) string {
	if lo == hi {
		return strconv.Itoa(lo)
	}
	return fmt.Sprintf("%d–%d*", lo, hi)
}

func formatRow(r Row) string {
	rs := fmt.Sprintf("%d", r.R)
	ss := fmt.Sprintf("%d", r.S)
	if r.TopocheckFailed != "" {
		rs, ss = "error", "error"
	} else if !r.Exact {
		rs, ss = bounds(r.RLower, r.RUpper), bounds(r.SLower, r.SUpper)
	}
	// The ratio is a speed-up only when topocheck finished; when it ran
	// into its timeout its time is a lower bound, so the ratio is an
	// upper bound, and when both ran into their caps it says nothing.
	milp := "–"
	ratio := "–"
	x := r.MILP.Seconds() / r.Topocheck.Seconds()
	done := r.TopocheckFailed == "" && r.Exact
	switch {
	case r.MILPCapped:
		milp = "> " + ms(r.MILP)
		if done {
			ratio = fmt.Sprintf("> %.0f×", x)
		}
	case r.MILP > 0:
		milp = ms(r.MILP)
		if done {
			ratio = fmt.Sprintf("%.0f×", x)
		} else if r.TopocheckFailed == "" {
			ratio = fmt.Sprintf("< %.2f×", x)
		}
		if !r.Agree {
			milp += fmt.Sprintf(" (CBC: ρ=%s s=%s!)", r.MILPR, r.MILPS)
		}
	}
	enum := ms(r.Enum)
	return fmt.Sprintf("| %s | %d | %d | %s | %s | %s | %s | %s | %s | %s | %s |", r.Family, r.N, r.Arcs, rs, ss, ms(r.TimeR), ms(r.TimeS), ms(r.Topocheck), enum, milp, ratio)
}

func writeTable(w io.Writer, rows []Row, milp bool, cfg Config) {
	fmt.Fprintf(w, "| family | n | arcs | ρ | s at ρ | time to ρ | then to s | topocheck --json (process) | enumeration | CBC MILP ρ then s (cap %s) | MILP / topocheck |\n", cfg.MILPCap)
	fmt.Fprintf(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		fmt.Fprintln(w, formatRow(r))
	}
	seeds := "seed 1"
	if cfg.Seeds > 1 {
		seeds = fmt.Sprintf("seeds 1–%d", cfg.Seeds)
	}
	fmt.Fprintf(w, "\n%s; time to ρ and to s: in process, all cores; topocheck: whole process including the threat verdicts; a–b* = proven bounds only, s at the lower ρ (--timeout %s reached); – = not run", seeds, cfg.Timeout)
	switch {
	case cfg.NoMILP:
		fmt.Fprintf(w, "; MILP not run (--no-milp)")
	case !milp:
		fmt.Fprintf(w, "; CBC unavailable")
	}
	fmt.Fprintln(w)
}
