package host

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the host's Prometheus collectors. A nil *metrics records
// nothing, so the host works without [WithMetrics].
type metrics struct {
	calls    *prometheus.CounterVec
	errors   *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	restarts *prometheus.CounterVec
	running  *prometheus.GaugeVec
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
	}
	for _, c := range []prometheus.Collector{m.calls, m.errors, m.latency, m.restarts, m.running} {
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
