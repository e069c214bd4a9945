package host

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cloudbss/provisioning/host/store"
)

// metrics are the host's Prometheus collectors. A nil *metrics records
// nothing, so the host works without [WithMetrics].
type metrics struct {
	calls    *prometheus.CounterVec
	errors   *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	restarts *prometheus.CounterVec
	running  *prometheus.GaugeVec
	lockWait *prometheus.HistogramVec
	storeOps *prometheus.HistogramVec
	settler  *prometheus.GaugeVec
}

func newMetrics(r prometheus.Registerer) (*metrics, error) {
	if r == nil {
		return nil, nil
	}
	m := &metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "provisioning", Subsystem: "host", Name: "plugin_calls_total",
			Help: "Calls made to plugins, by plugin, RPC and gRPC code (OK included).",
		}, []string{"plugin", "rpc", "code"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "provisioning", Subsystem: "host", Name: "plugin_call_errors_total",
			Help: "Calls to plugins that failed, by plugin, RPC and gRPC code.",
		}, []string{"plugin", "rpc", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "provisioning", Subsystem: "host", Name: "plugin_call_duration_seconds",
			Help:    "Latency of calls to plugins, including waits for a restart and a retry.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"plugin", "rpc"}),
		restarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "provisioning", Subsystem: "host", Name: "plugin_restarts_total",
			Help: "Restarts of plugins after a crash or failed health checks.",
		}, []string{"plugin"}),
		running: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "provisioning", Subsystem: "host", Name: "plugin_up",
			Help: "1 when the plugin is running and serving calls.",
		}, []string{"plugin"}),
		lockWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "provisioning", Subsystem: "host", Name: "lock_wait_seconds",
			Help:    "Time a call waited for its account's (or subscription's) lock, across daemons on a shared store, by kind and outcome (acquired, deadline, canceled, error).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"kind", "outcome"}),
		storeOps: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "provisioning", Subsystem: "host", Name: "store_operation_duration_seconds",
			Help:    "Latency of sync- and subscription-record store operations, by operation and outcome (ok, error).",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"op", "outcome"}),
		settler: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "provisioning", Subsystem: "host", Name: "settle_leader",
			Help: "1 when this daemon ran the plugin's last PENDING settle round, 0 when another daemon held the settle lock.",
		}, []string{"plugin"}),
	}
	for _, c := range []prometheus.Collector{m.calls, m.errors, m.latency, m.restarts, m.running, m.lockWait, m.storeOps, m.settler} {
		if err := r.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) observe(plugin, rpc string, err error, d time.Duration) {
	if m == nil {
		return
	}
	code := errCode(err).String()
	m.calls.WithLabelValues(plugin, rpc, code).Inc()
	if err != nil {
		m.errors.WithLabelValues(plugin, rpc, code).Inc()
	}
	m.latency.WithLabelValues(plugin, rpc).Observe(d.Seconds())
}

func (m *metrics) restarted(plugin string) {
	if m == nil {
		return
	}
	m.restarts.WithLabelValues(plugin).Inc()
}

func (m *metrics) up(plugin string, up bool) {
	if m == nil {
		return
	}
	v := 0.0
	if up {
		v = 1
	}
	m.running.WithLabelValues(plugin).Set(v)
}

func (m *metrics) lockWaited(kind string, err error, d time.Duration) {
	if m == nil {
		return
	}
	outcome := "acquired"
	switch {
	case err == nil:
	case errors.Is(err, context.DeadlineExceeded):
		outcome = "deadline"
	case errors.Is(err, context.Canceled):
		outcome = "canceled"
	default:
		outcome = "error"
	}
	m.lockWait.WithLabelValues(kind, outcome).Observe(d.Seconds())
}

func (m *metrics) storeOp(op string, err error, d time.Duration) {
	if m == nil {
		return
	}
	outcome := "ok"
	if err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrSubscriptionNotFound) {
		outcome = "error"
	}
	m.storeOps.WithLabelValues(op, outcome).Observe(d.Seconds())
}

func (m *metrics) settled(plugin string, leader bool) {
	if m == nil {
		return
	}
	v := 0.0
	if leader {
		v = 1
	}
	m.settler.WithLabelValues(plugin).Set(v)
}
