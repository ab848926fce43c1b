package agent

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are a Runner's Prometheus metrics. All names start with
// "wmsr_agent_"; to tell agents of one process apart, wrap the Registerer
// with prometheus.WrapRegistererWith(prometheus.Labels{"agent": ...}, reg).
type Metrics struct {
	Rounds        prometheus.Counter
	RoundsSkipped prometheus.Counter
	Value         prometheus.Gauge
	Disagreement  prometheus.Gauge
	Accepted      prometheus.Counter
	Rejected      *prometheus.CounterVec // label "reason" (RejectReasons)
	Omissions     prometheus.Counter
	CounterGaps   prometheus.Counter
	Evidence      prometheus.Counter
	PublishErrors prometheus.Counter
	RoundLatency  prometheus.Histogram
	// F and InNeighbours are the trimming parameter and the in-degree
	// (live neighbours and omissions) of the latest round: what a change
	// from the fleet log switched them to, and when.
	F            prometheus.Gauge
	InNeighbours prometheus.Gauge
}

// NewMetrics creates the metrics and registers them on reg (nothing is
// registered if reg is nil). Every rejection reason is pre-registered at
// zero, so that dashboards and alerts see the series before the first
// rejection.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	const ns = "wmsr_agent"
	m := &Metrics{
		Rounds: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "rounds_total",
			Help: "Rounds completed (W-MSR updates applied)."}),
		RoundsSkipped: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "rounds_skipped_total",
			Help: "Rounds skipped because the agent fell behind the shared clock."}),
		Value: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "value",
			Help: "The agent's value after the last update."}),
		Disagreement: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "disagreement",
			Help: "Max minus min of the agent's own and the neighbour values it used in the last update."}),
		Accepted: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "envelopes_accepted_total",
			Help: "Neighbour envelopes accepted."}),
		Rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "envelopes_rejected_total",
			Help: "Neighbour envelopes rejected, by reason."}, []string{"reason"}),
		Omissions: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "omissions_total",
			Help: "Neighbours without a value sealed within the delay bound at an update."}),
		CounterGaps: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "counter_gaps_total",
			Help: "Envelope counters skipped by neighbours (lost or superseded values)."}),
		Evidence: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "evidence_total",
			Help: "Distinct equivocation proofs seen."}),
		PublishErrors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "publish_errors_total",
			Help: "Rounds whose own envelope could not be published."}),
		RoundLatency: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "round_latency_seconds",
			Help:    "Time from a round's deadline to the completion of its update.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10)}),
		F: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "f",
			Help: "Values trimmed on each side in the latest round (F of the scope in effect, on the live in-degree)."}),
		InNeighbours: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "in_neighbours",
			Help: "Live in-neighbours in the latest round (the configured set, as changed by the fleet log, less those declared dead)."}),
	}
	for _, r := range RejectReasons() {
		m.Rejected.WithLabelValues(r)
	}
	if reg == nil {
		return m, nil
	}
	var errs []error
	for _, c := range []prometheus.Collector{m.Rounds, m.RoundsSkipped, m.Value, m.Disagreement, m.Accepted,
		m.Rejected, m.Omissions, m.CounterGaps, m.Evidence, m.PublishErrors, m.RoundLatency, m.F, m.InNeighbours} {
		errs = append(errs, reg.Register(c))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *Metrics) observeOutcome(o Outcome) {
	if o.Accepted {
		m.Accepted.Inc()
		m.CounterGaps.Add(float64(o.Gap))
	} else {
		m.Rejected.WithLabelValues(o.Reason).Inc()
	}
	if o.Evidence != nil {
		m.Evidence.Inc()
	}
}

func (m *Metrics) observeRound(r RoundReport) {
	m.Rounds.Inc()
	m.Value.Set(r.Value)
	m.Disagreement.Set(r.Disagreement)
	m.Omissions.Add(float64(r.Omissions))
	m.RoundLatency.Observe(r.Latency.Seconds())
	m.F.Set(float64(r.F))
	m.InNeighbours.Set(float64(r.Used + r.Omissions))
}
