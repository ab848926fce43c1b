package agent

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/wmsr/wmsr/attest"
)

// Clock is the Runner's only source of time: RealClock in production, a
// fake in tests.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives once d has elapsed (at once
	// if d ≤ 0).
	After(d time.Duration) <-chan time.Time
}

// RealClock is the wall clock.
type RealClock struct{}

// Now returns time.Now().
func (RealClock) Now() time.Time { return time.Now() }

// After returns time.After(d).
func (RealClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// RunnerOptions are the Runner's collaborators; all are optional.
type RunnerOptions struct {
	// Clock defaults to RealClock.
	Clock Clock
	// Delegate, if not nil, receives round reports and evidence.
	Delegate Delegate
	// Registerer, if not nil, receives the metrics (see Metrics).
	Registerer prometheus.Registerer
}

// Runner is the I/O edge of an agent: it drives an Engine on the shared
// round clock over a Fabric. Round t begins at Config.Epoch + t·Period,
// when the runner seals and publishes its value; deliveries are handed to
// the engine as they arrive; at Epoch + (t+1)·Period the runner ends the
// round (W-MSR update), reports it, and begins round t+1. A runner that
// falls behind by more than a round skips to the current one.
type Runner struct {
	eng     *Engine
	fab     Fabric
	clock   Clock
	del     Delegate
	metrics *Metrics
	log     *slog.Logger
}

// NewRunner returns a runner for eng over fab. It registers the metrics
// on opts.Registerer.
func NewRunner(eng *Engine, fab Fabric, opts RunnerOptions) (*Runner, error) {
	if eng == nil || fab == nil {
		return nil, fmt.Errorf("%w: nil engine or fabric", ErrConfig)
	}
	m, err := NewMetrics(opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("agent: metrics: %w", err)
	}
	r := &Runner{eng: eng, fab: fab, clock: opts.Clock, del: opts.Delegate, metrics: m, log: eng.log}
	if r.clock == nil {
		r.clock = RealClock{}
	}
	return r, nil
}

// Engine returns the runner's engine (Value, Evidence, ... are safe to
// call while Run runs).
func (r *Runner) Engine() *Engine { return r.eng }

// Metrics returns the runner's metrics.
func (r *Runner) Metrics() *Metrics { return r.metrics }

// Value returns the agent's current value.
func (r *Runner) Value() float64 { return r.eng.Value() }

// Evidence returns the equivocation evidence the engine kept.
func (r *Runner) Evidence() []attest.Evidence { return r.eng.Evidence() }

// start returns the start of round t.
func (r *Runner) start(t uint64) time.Time {
	c := r.eng.cfg
	return c.Epoch.Add(time.Duration(t) * c.Period)
}

// roundAt returns the round running at now (0 before the epoch).
func (r *Runner) roundAt(now time.Time) uint64 {
	c := r.eng.cfg
	d := now.Sub(c.Epoch)
	if d < 0 {
		return 0
	}
	return uint64(d / c.Period)
}

// Run subscribes to the neighbours and runs rounds until ctx is done (it
// then returns ctx.Err()) or the fabric's inbox closes (an error wrapping
// ErrClosed). The first round is the first to start at or after now.
func (r *Runner) Run(ctx context.Context) error {
	cfg := r.eng.cfg
	if err := r.fab.Subscribe(ctx, cfg.Neighbours); err != nil {
		return fmt.Errorf("agent: subscribe: %w", err)
	}
	now := r.clock.Now()
	t := r.roundAt(now)
	if now.After(r.start(t)) {
		t++
	}
	if started, ok := r.eng.Round(); ok && t <= started {
		t = started + 1
	}
	ptimeout := cfg.PublishTimeout
	if ptimeout == 0 {
		ptimeout = cfg.Period / 2
	}
	for {
		if err := r.waitUntil(ctx, r.start(t)); err != nil {
			return err
		}
		env, err := r.eng.Begin(t)
		if err != nil {
			return err
		}
		if env != nil { // nil: nobody to send to yet (HMAC, no out-neighbour admitted)
			pctx, cancel := context.WithTimeout(ctx, ptimeout)
			err = r.fab.Publish(pctx, env)
			cancel()
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			r.metrics.PublishErrors.Inc()
			r.log.Debug("agent: publish failed", "agent", cfg.ID, "round", t, "err", err)
		}
		deadline := r.start(t + 1)
		if err := r.waitUntil(ctx, deadline); err != nil {
			return err
		}
		_, rep, err := r.eng.End(t)
		if err != nil {
			return err
		}
		now := r.clock.Now()
		rep.Latency = now.Sub(deadline)
		r.metrics.observeRound(rep)
		if r.del != nil {
			r.del.NotifyRound(rep)
		}
		next := t + 1
		if cur := r.roundAt(now); cur > next {
			// Round next is already over: skip to the current one.
			r.metrics.RoundsSkipped.Add(float64(cur - next))
			r.log.Warn("agent: fell behind the round clock", "agent", cfg.ID, "skipped", cur-next, "round", cur)
			next = cur
		}
		t = next
	}
}

// waitUntil hands deliveries to the engine until the clock reaches until.
func (r *Runner) waitUntil(ctx context.Context, until time.Time) error {
	d := until.Sub(r.clock.Now())
	if d <= 0 {
		// Still drain what is already queued, without blocking.
		return r.drain(ctx)
	}
	timer := r.clock.After(d)
	inbox := r.fab.Inbox()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer:
			return nil
		case dl, ok := <-inbox:
			if !ok {
				return fmt.Errorf("agent: inbox closed: %w", ErrClosed)
			}
			r.deliver(dl)
		}
	}
}

func (r *Runner) drain(ctx context.Context) error {
	inbox := r.fab.Inbox()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case dl, ok := <-inbox:
			if !ok {
				return fmt.Errorf("agent: inbox closed: %w", ErrClosed)
			}
			r.deliver(dl)
		default:
			return nil
		}
	}
}

func (r *Runner) deliver(d Delivery) {
	o := r.eng.Deliver(d)
	r.metrics.observeOutcome(o)
	if o.Evidence != nil && r.del != nil {
		r.del.NotifyEvidence(*o.Evidence)
	}
}
