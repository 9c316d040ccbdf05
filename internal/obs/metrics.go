package obs

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the series scimd exports.
type Metrics struct {
	Registry *prometheus.Registry
	// Requests counts HTTP requests by route pattern, method and status.
	Requests *prometheus.CounterVec
	// Latency observes request durations in seconds by route and method.
	Latency *prometheus.HistogramVec
	// Rewrites counts the IdP quirks the compatibility layer rewrote, by kind.
	Rewrites *prometheus.CounterVec
	// Refusals counts policy refusals by rule.
	Refusals *prometheus.CounterVec
	// RateLimited counts requests refused by the rate limits (429), by the
	// scope of the bucket that refused: "token" or "tenant".
	RateLimited *prometheus.CounterVec
	// Deliveries counts webhook delivery attempts by outcome: "delivered",
	// "failed" (to be retried) or "dead" (the last attempt failed).
	Deliveries *prometheus.CounterVec
	// QueueDepth is the number of pending deliveries (all tenants).
	QueueDepth prometheus.Gauge
	// DeadDeliveries is the number of dead deliveries (all tenants).
	DeadDeliveries prometheus.Gauge
	// OldestPending is the age in seconds of the oldest pending event.
	OldestPending prometheus.Gauge
	// DeliveryLag observes the seconds from an event's commit to its
	// successful delivery.
	DeliveryLag prometheus.Histogram
}

// NewMetrics registers scimd's series, plus the Go runtime and process
// collectors, in a new registry.
func NewMetrics() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		Registry: reg,
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scimd_http_requests_total", Help: "HTTP requests by route pattern, method and status code.",
		}, []string{"route", "method", "status"}),
		Latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "scimd_http_request_duration_seconds", Help: "HTTP request latency by route pattern and method.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method"}),
		Rewrites: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scimd_compat_rewrites_total", Help: "IdP request shapes rewritten to RFC form, by kind.",
		}, []string{"kind"}),
		Refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scimd_policy_refusals_total", Help: "Changes refused by the lifecycle policy, by rule.",
		}, []string{"rule"}),
		RateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scimd_rate_limited_total", Help: "Requests refused with 429 by the rate limits, by the scope that refused (token, tenant).",
		}, []string{"scope"}),
		Deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scimd_event_deliveries_total", Help: "Webhook delivery attempts by outcome (delivered, failed, dead).",
		}, []string{"outcome"}),
		QueueDepth: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "scimd_event_queue_depth", Help: "Pending webhook deliveries, all tenants.",
		}),
		DeadDeliveries: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "scimd_event_dead_deliveries", Help: "Dead webhook deliveries waiting for `scimd events retry`, all tenants.",
		}),
		OldestPending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "scimd_event_oldest_pending_age_seconds", Help: "Age of the oldest event with a pending delivery (0 when none).",
		}),
		DeliveryLag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "scimd_event_delivery_lag_seconds", Help: "Time from an event's commit to its successful delivery.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 21600},
		}),
	}
	reg.MustRegister(m.Requests, m.Latency, m.Rewrites, m.Refusals, m.RateLimited,
		m.Deliveries, m.QueueDepth, m.DeadDeliveries, m.OldestPending, m.DeliveryLag,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}
