package main

import (
	"github.com/gin-gonic/gin"
	"github.com/ginsession/ginsession"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics turns ginsession's Observe events into Prometheus metrics, kept
// in a registry of the app's own (no process-wide state), served at
// /metrics. In production serve them on an internal port instead: they
// tell an outsider how busy the site is.
type metrics struct {
	registry       *prometheus.Registry
	loads          *prometheus.CounterVec   // by result: found, not_stored, expired, ...
	conflicts      prometheus.Counter       // writes whose CAS lost a race
	merges         prometheus.Counter       // re-read-and-merge rounds they took
	storeErrors    *prometheus.CounterVec   // by kind: timeout, unreachable, tls, ...
	regenerations  prometheus.Counter       // sessions moved to a new ID
	destroys       prometheus.Counter       // sessions deleted (logouts)
	stampMismatch  prometheus.Counter       // sessions ended by a changed security stamp
	storeCalls     *prometheus.HistogramVec // memcached call durations, by command
	storeCallFails *prometheus.CounterVec   // memcached calls that failed, by command and kind
}

// newMetrics registers the session metrics and Go's runtime metrics.
func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		loads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ginsession_loads_total", Help: "Session loads, by what they found.",
		}, []string{"result"}),
		conflicts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ginsession_conflicts_total", Help: "Session writes that lost a compare-and-swap race and merged.",
		}),
		merges: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ginsession_conflict_merges_total", Help: "Re-read-and-merge rounds taken by conflicting writes.",
		}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ginsession_store_errors_total", Help: "Session loads, writes and deletes that failed, by kind.",
		}, []string{"kind"}),
		regenerations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ginsession_regenerations_total", Help: "Stored sessions moved to a new ID (login, Regenerate).",
		}),
		destroys: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ginsession_destroys_total", Help: "Sessions deleted (logout, Destroy).",
		}),
		stampMismatch: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ginsession_stamp_mismatches_total", Help: "Sessions ended because the user's security stamp changed.",
		}),
		storeCalls: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ginsession_store_call_duration_seconds", Help: "Duration of memcached calls, by command.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}, []string{"op"}),
		storeCallFails: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ginsession_store_call_failures_total", Help: "memcached calls that failed, by command and kind.",
		}, []string{"op", "kind"}),
	}
	m.registry.MustRegister(m.loads, m.conflicts, m.merges, m.storeErrors, m.regenerations, m.destroys,
		m.stampMismatch, m.storeCalls, m.storeCallFails,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// observe is the app's ginsession.Options.Observe: it only counts, as the
// hook must be cheap.
func (m *metrics) observe(e ginsession.Event) {
	switch e.Kind {
	case ginsession.EventLoad:
		m.loads.WithLabelValues(e.Load.String()).Inc()
	case ginsession.EventConflict:
		m.conflicts.Inc()
		m.merges.Add(float64(e.Merges))
	case ginsession.EventStoreError:
		m.storeErrors.WithLabelValues(e.Failure.String()).Inc()
	case ginsession.EventRegenerate:
		m.regenerations.Inc()
	case ginsession.EventDestroy:
		m.destroys.Inc()
	case ginsession.EventStampMismatch:
		m.stampMismatch.Inc()
	case ginsession.EventStoreCall:
		m.storeCalls.WithLabelValues(e.Op.String()).Observe(e.Duration.Seconds())
		if e.Failure != ginsession.FailureNone {
			m.storeCallFails.WithLabelValues(e.Op.String(), e.Failure.String()).Inc()
		}
	}
}

// handler serves the registry in Prometheus' text format.
func (m *metrics) handler() gin.HandlerFunc {
	h := promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
	return func(c *gin.Context) { h.ServeHTTP(c.Writer, c.Request) }
}
