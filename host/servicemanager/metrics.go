package servicemanager

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the server's collectors; a nil *metrics records nothing.
// Labels are bounded: route is a registered route name or "unknown"; plugin
// is a configured plugin or "other" (see [Server.ServeHTTP]).
type metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newMetrics(r prometheus.Registerer) (*metrics, error) {
	if r == nil {
		return nil, nil
	}
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "provisioning", Subsystem: "service_manager", Name: "requests_total",
			Help: "interworks Service Management calls, by plugin, route, HTTP status and envelope Code (0 is success).",
		}, []string{"plugin", "route", "status", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "provisioning", Subsystem: "service_manager", Name: "request_duration_seconds",
			Help:    "Latency of interworks Service Management calls, by plugin and route.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"plugin", "route"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.latency} {
		if err := r.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) observe(plugin, route string, status, code int, d time.Duration) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(plugin, route, strconv.Itoa(status), strconv.Itoa(code)).Inc()
	m.latency.WithLabelValues(plugin, route).Observe(d.Seconds())
}
