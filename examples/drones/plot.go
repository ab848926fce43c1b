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

func writeOutputs(dir string, tr *sim.Trace, rec *recorder) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, "trace.csv"))
	if err != nil {
		return err
	}
	if err := sim.WriteCSV(f, tr); err != nil {
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

	for k := range tr.Nodes {
		pts := make(plotter.XYs, len(tr.Rounds))
		for t, rd := range tr.Rounds {
			pts[t] = plotter.XY{X: float64(t), Y: rd.Values[k]}
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return err
		}
		l.Color = hue(k, len(tr.Nodes))
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

// hue gives drone k of n its own colour, evenly around the colour wheel:
// the default palette has only seven, and a fleet has more drones.
func hue(k, n int) color.Color {
	h := float64(k) / float64(max(n, 1)) * 6
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
	const v = 0.8 // a little darker than full value, to read on white
	return color.RGBA{uint8(255 * v * r), uint8(255 * v * g), uint8(255 * v * b), 255}
}
