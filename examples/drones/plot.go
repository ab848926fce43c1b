package main

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/wmsr/wmsr/wmsr/sim"
)

// recorder keeps what the plot needs beyond the trace: what each attacker
// broadcast in each round.
type recorder struct {
	advs   []sim.Adversary
	to     []int // a receiver of each attacker, to ask its behaviour what it sends
	rounds []sim.Round
	sent   [][]float64 // sent[k][t]: attacker k's value in round t
}

func newRecorder(s *sim.Sim, advs []sim.Adversary) *recorder {
	r := &recorder{advs: advs, rounds: []sim.Round{s.Last()}, sent: make([][]float64, len(advs))}
	g := s.View().Graph()
	for _, a := range advs {
		to := a.Node
		if out := g.Out(a.Node); len(out) > 0 {
			to = int(out[0])
		}
		r.to = append(r.to, to)
	}
	return r
}

// before records the attackers' values for the round about to be computed.
// For a two-faced attacker this is what its first listener hears.
func (r *recorder) before(s *sim.Sim) {
	v := s.View()
	for k, a := range r.advs {
		r.sent[k] = append(r.sent[k], a.Behavior.Send(a.Node, r.to[k], v.Round(), v))
	}
}

func (r *recorder) after(rd sim.Round) { r.rounds = append(r.rounds, rd) }

func (r *recorder) trace(s *sim.Sim) *sim.Trace { return s.Trace(r.rounds) }

// maxCSVColumns bounds the per-drone columns of the simulator's
// trace.csv: a 10⁴-drone run keeps every k-th drone's altitude (the
// summary columns, m, M and disagreement, are over all of them).
const maxCSVColumns = 1000

// sampled returns tr with the values of every k-th normal drone only, so
// that at most max remain.
func sampled(tr *sim.Trace, max int) *sim.Trace {
	step := (len(tr.Nodes) + max - 1) / max
	if step <= 1 {
		return tr
	}
	out := *tr
	out.Nodes = nil
	for k := 0; k < len(tr.Nodes); k += step {
		out.Nodes = append(out.Nodes, tr.Nodes[k])
	}
	out.Rounds = make([]sim.Round, len(tr.Rounds))
	for t, rd := range tr.Rounds {
		out.Rounds[t] = rd
		if rd.Values == nil {
			continue
		}
		out.Rounds[t].Values = make([]float64, 0, len(out.Nodes))
		for k := 0; k < len(tr.Nodes); k += step {
			out.Rounds[t].Values = append(out.Rounds[t].Values, rd.Values[k])
		}
	}
	return &out
}

func writeOutputs(dir string, tr *sim.Trace, rec *recorder) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, "trace.csv"))
	if err != nil {
		return err
	}
	if err := sim.WriteCSV(f, sampled(tr, maxCSVColumns)); err != nil {
		f.Close()
		return fmt.Errorf("write trace: %w", err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	return plotAltitudes(filepath.Join(dir, "altitude.png"), tr, rec)
}

// plotAltitudes draws every normal drone's altitude over the rounds, one
// colour each, and the attackers' broadcasts as thick dashed black lines.
// The y range is that of the normal drones, widened a little: an attacker
// shouting 10⁹ would otherwise flatten the picture, so its line is clipped
// at the frame, which is itself the point.
func plotAltitudes(path string, tr *sim.Trace, rec *recorder) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("W-MSR altitude consensus: %d normal drones, %d attackers", len(tr.Nodes), len(rec.advs))
	p.X.Label.Text = "round"
	p.Y.Label.Text = "altitude (m)"
	lo, hi := tr.Rounds[0].Min, tr.Rounds[0].Max
	pad := math.Max(5, 0.15*(hi-lo))
	p.Y.Min, p.Y.Max = lo-pad, hi+pad
	p.X.Min, p.X.Max = 0, float64(len(tr.Rounds)-1)

	// A 10⁴-drone simulation draws every step-th drone: the picture is
	// the same and the file stays small.
	step := max(1, len(tr.Nodes)/maxPlotLines)
	if step > 1 {
		p.Title.Text += fmt.Sprintf(" (every %dth drone drawn)", step)
	}
	for k := 0; k < len(tr.Nodes); k += step {
		pts := make(plotter.XYs, len(tr.Rounds))
		for t, rd := range tr.Rounds {
			pts[t] = plotter.XY{X: float64(t), Y: rd.Values[k]}
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return err
		}
		l.Color = hue(k/step, (len(tr.Nodes)+step-1)/step)
		l.Width = vg.Points(1)
		p.Add(l)
	}
	for k, sent := range rec.sent {
		pts := make(plotter.XYs, 0, len(sent))
		for t, y := range sent {
			if math.IsNaN(y) || math.IsInf(y, 0) {
				continue // a non-finite report has no place on the axis
			}
			pts = append(pts, plotter.XY{X: float64(t + 1), Y: math.Max(p.Y.Min, math.Min(p.Y.Max, y))})
		}
		if len(pts) == 0 {
			continue
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return err
		}
		l.Color = color.Black
		l.Width = vg.Points(2.5)
		l.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
		p.Add(l)
		if k == 0 {
			p.Legend.Add("attacker broadcast", l)
		}
	}
	p.Legend.Top = true
	p.Legend.Left = false
	p.Add(plotter.NewGrid())
	return p.Save(8*vg.Inch, 5*vg.Inch, path)
}

// maxPlotLines bounds the drones a plot draws.
const maxPlotLines = 500

// hue gives drone k of n its own colour: the default palette has only
// seven, and a fleet has more drones. The n hues are evenly spaced around
// the colour wheel, and handed out with a stride of about n/φ² coprime
// with n, so that drones k and k+1 (often neighbours in the table) get
// far-apart hues; odd drones are a little darker.
func hue(k, n int) color.Color {
	n = max(n, 1)
	stride := max(1, int(math.Round(float64(n)*0.381966)))
	for gcd(stride, n) != 1 {
		stride++
	}
	h := float64((k*stride)%n) / float64(n) * 6
	x := 1 - math.Abs(math.Mod(h, 2)-1)
	var r, g, b float64
	switch int(h) {
	case 0:
		r, g = 1, x
	case 1:
		r, g = x, 1
	case 2:
		g, b = 1, x
	case 3:
		g, b = x, 1
	case 4:
		r, b = x, 1
	default:
		r, b = 1, x
	}
	v := 0.85 // a little darker than full value, to read on white
	if k%2 == 1 {
		v = 0.65
	}
	return color.RGBA{uint8(255 * v * r), uint8(255 * v * g), uint8(255 * v * b), 255}
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// attackerStyle draws attacker k distinctly from every normal drone: black
// or dark grey, thick, dashed (a different dash for each), with crosses
// at what it sent; face 1 is an equivocator's second envelope, dotted.
func attackerStyle(k, face int) (color.Color, []vg.Length) {
	c := color.Color(color.Black)
	if k%2 == 1 {
		c = color.Gray{Y: 0x60}
	}
	if face > 0 {
		return c, []vg.Length{vg.Points(1.5), vg.Points(2.5)}
	}
	return c, []vg.Length{vg.Points(7 + 2*float64(k%3)), vg.Points(3)}
}

// clip keeps v inside [lo, hi]: an attacker shouting 10⁹ is drawn at the
// frame, which is itself the point; non-finite values are dropped.
func clip(v, lo, hi float64) (float64, bool) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false
	}
	return math.Max(lo, math.Min(hi, v)), true
}

// addAttackers draws what each attacker sent, as (X, Y) = xy(t, p) for the
// face p it sealed for round t, clipped to the frame below the legend
// (whose top is yTop).
func (f *netFleet) addAttackers(p *plot.Plot, yTop float64, xy func(t int, q point) (float64, float64)) error {
	for k, a := range f.attackers {
		sent := f.tr.sent[k]
		faces := 1
		if a.plan.twoFaced {
			faces = 2
		}
		for face := range faces {
			var pts plotter.XYs
			for t, fs := range sent {
				if face >= len(fs) {
					continue
				}
				x, y := xy(t, fs[face])
				x, okx := clip(x, p.X.Min, p.X.Max)
				y, oky := clip(y, p.Y.Min, yTop)
				if okx && oky {
					pts = append(pts, plotter.XY{X: x, Y: y})
				}
			}
			if len(pts) == 0 {
				continue
			}
			c, dashes := attackerStyle(k, face)
			l, s, err := plotter.NewLinePoints(pts)
			if err != nil {
				return err
			}
			l.Color, l.Width, l.Dashes = c, vg.Points(2), dashes
			s.Shape, s.Color, s.Radius = draw.CrossGlyph{}, c, vg.Points(2.5)
			p.Add(l, s)
			label := fmt.Sprintf("attacker %d: %s", a.id, a.plan.name)
			if a.plan.twoFaced {
				label += fmt.Sprintf(" (face %d)", face+1)
			}
			p.Legend.Add(label, l, s)
		}
	}
	return nil
}

// legendEntries is the number of attacker entries in a legend.
func (f *netFleet) legendEntries() int {
	e := 0
	for _, a := range f.attackers {
		e++
		if a.plan.twoFaced {
			e++
		}
	}
	return e
}

// legendRoom is how far to raise the top of a frame spanning span so that
// a legend of entries lines fits above the data.
func legendRoom(entries int, span float64) float64 {
	return float64(entries) * 0.045 * span / (1 - float64(entries)*0.045)
}

// plotRendezvous draws the x–y view: every normal drone's path from its
// start (ring) to the rendezvous (star), one colour each, and what the
// attackers claimed their position was.
func (f *netFleet) plotRendezvous(path string, out outcome) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("DP-MSR rendezvous (x–y view): %d normal drones, %d attackers (%s), F = %d",
		len(f.normal), len(f.attackers), f.o.strategy, f.o.f)
	p.X.Label.Text, p.Y.Label.Text = "x (m)", "y (m)"
	ib := out.initial
	pad := math.Max(5, 0.1*math.Max(ib.hi[0]-ib.lo[0], ib.hi[1]-ib.lo[1]))
	p.X.Min, p.X.Max = ib.lo[0]-pad, ib.hi[0]+pad
	p.Y.Min, p.Y.Max = ib.lo[1]-pad, ib.hi[1]+pad
	// Room above the drones for the legend, which would hide some.
	yTop := p.Y.Max
	p.Y.Max += legendRoom(f.legendEntries()+1, p.Y.Max-p.Y.Min)
	p.Add(plotter.NewGrid())
	n := f.g.N()
	for r, v := range f.normal {
		pts := make(plotter.XYs, out.rounds+1)
		for k := range pts {
			q := f.tr.pos[r][k]
			pts[k] = plotter.XY{X: q[0], Y: q[1]}
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return err
		}
		l.Color, l.Width = hue(v, n), vg.Points(1.2)
		start, err := plotter.NewScatter(pts[:1])
		if err != nil {
			return err
		}
		start.Shape, start.Color, start.Radius = draw.RingGlyph{}, hue(v, n), vg.Points(3)
		p.Add(l, start)
	}
	if err := f.addAttackers(p, yTop, func(_ int, q point) (float64, float64) { return q[0], q[1] }); err != nil {
		return err
	}
	c := out.final.centre()
	meet, err := plotter.NewScatter(plotter.XYs{{X: c[0], Y: c[1]}})
	if err != nil {
		return err
	}
	meet.Shape, meet.Color, meet.Radius = draw.PyramidGlyph{}, color.Black, vg.Points(6)
	p.Add(meet)
	p.Legend.Add(fmt.Sprintf("rendezvous (%.1f, %.1f), altitude %.1f m", c[0], c[1], c[2]), meet)
	p.Legend.Top = true
	return p.Save(8*vg.Inch, 8*vg.Inch, path)
}

// plotAltitude draws every normal drone's altitude (z) over the rounds,
// one colour each, and the altitudes the attackers claimed.
func (f *netFleet) plotAltitude(path string, out outcome) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Altitude: %d normal drones agree on z, %d attackers (%s), F = %d",
		len(f.normal), len(f.attackers), f.o.strategy, f.o.f)
	p.X.Label.Text, p.Y.Label.Text = "round", "altitude z (m)"
	lo, hi := out.initial.lo[2], out.initial.hi[2]
	pad := math.Max(5, 0.15*(hi-lo))
	p.Y.Min, p.Y.Max = lo-pad, hi+pad
	yTop := p.Y.Max
	p.Y.Max += legendRoom(f.legendEntries(), p.Y.Max-p.Y.Min)
	p.X.Min, p.X.Max = 0, float64(out.rounds)
	p.Add(plotter.NewGrid())
	n := f.g.N()
	for r, v := range f.normal {
		pts := make(plotter.XYs, out.rounds+1)
		for k := range pts {
			pts[k] = plotter.XY{X: float64(k), Y: f.tr.pos[r][k][2]}
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return err
		}
		l.Color, l.Width = hue(v, n), vg.Points(1.2)
		p.Add(l)
	}
	if err := f.addAttackers(p, yTop, func(t int, q point) (float64, float64) { return float64(t), q[2] }); err != nil {
		return err
	}
	p.Legend.Top = true
	return p.Save(9*vg.Inch, 5*vg.Inch, path)
}
