package rdma

import (
	"runtime"
	"time"
)

// pollLoop is the poller of both mailbox fabrics: it drains rings with
// sweep until stop is closed, spinning while traffic is recent, then
// sleeping with exponential backoff bounded by maxBackoff (a send on kick
// wakes it), so an idle agent costs next to no CPU. maintain, if not nil,
// runs every maintainEvery while idle.
type pollLoop struct {
	stop, kick    <-chan struct{}
	spinFor       time.Duration
	maxBackoff    time.Duration
	maintainEvery time.Duration
	sweep         func() int
	maintain      func()
	backlog       Backlogger // the Sink as a Backlogger, or nil
}

func (p pollLoop) run() {
	var (
		lastActive   = time.Now()
		lastMaintain = time.Now()
		backoff      time.Duration
		spins        int
		timer        = time.NewTimer(time.Hour)
	)
	defer timer.Stop()
	for {
		select {
		case <-p.stop:
			return
		default:
		}
		if p.sweep() > 0 {
			lastActive, backoff, spins = time.Now(), 0, 0
			// The delivery may have made the Sink's consumer (the round
			// engine) runnable on this P: when it is keeping up (the
			// backlog nearly empty, so it was parked waiting), yield so it
			// runs now instead of after our next spins. A backlog means it
			// is busy: keep draining.
			if p.backlog == nil || p.backlog.Backlog() <= 1 {
				runtime.Gosched()
			}
			continue
		}
		now := time.Now()
		if p.maintain != nil && now.Sub(lastMaintain) >= p.maintainEvery {
			p.maintain()
			lastMaintain = now
		}
		if now.Sub(lastActive) < p.spinFor {
			if spins++; spins%32 == 0 {
				runtime.Gosched()
			}
			continue
		}
		backoff = min(max(2*backoff, 2*time.Microsecond), p.maxBackoff)
		timer.Reset(backoff)
		select {
		case <-p.stop:
			return
		case <-p.kick:
			lastActive, backoff = time.Now(), 0
		case <-timer.C:
		}
	}
}
