package main

import (
	"net/http"
	"strconv"
	"time"

	"github.com/activityd/activityd/graph"
	"github.com/activityd/activityd/postgres"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// newMetrics registers activityd's metrics (Prometheus, github.com/prometheus/client_golang) and
// returns the handler that serves them: the Graph API's requests by route, method and status, their
// latency, the open live streams, the PostgreSQL pool, the limits hit, and the Go runtime and the
// process (memory, goroutines, open files). Routes are the request log's (a bounded set), never
// paths.
func newMetrics(api *graph.Server, store any, maxConns int) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "activityd_http_requests_total",
		Help: "Graph API requests (each $batch step counts), by route, method and status; 429 is throttled, 503 a store that cannot serve.",
	}, []string{"route", "method", "status"})
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "activityd_http_request_duration_seconds",
		Help:    "Time to answer a Graph API request, by route and method.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10},
	}, []string{"route", "method"})
	reg.MustRegister(requests, latency)
	api.Observe = func(route, method string, status int, d time.Duration) {
		if route == "" {
			route = "unknown"
		}
		requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
		latency.WithLabelValues(route, method).Observe(d.Seconds())
	}
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "activityd_live_streams", Help: "Live streams (Server-Sent Events) open now.",
	}, func() float64 { return float64(api.OpenStreams()) }))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "activityd_max_connections", Help: "The most connections open at once (--max-conns).",
	}, func() float64 { return float64(maxConns) }))
	if pg, ok := store.(*postgres.Store); ok {
		for _, g := range []struct {
			name, help string
			pick       func(a, i, t, m int32) int32
		}{
			{"activityd_pg_pool_acquired_connections", "PostgreSQL connections in use.", func(a, _, _, _ int32) int32 { return a }},
			{"activityd_pg_pool_idle_connections", "PostgreSQL connections idle in the pool.", func(_, i, _, _ int32) int32 { return i }},
			{"activityd_pg_pool_connections", "PostgreSQL connections open.", func(_, _, t, _ int32) int32 { return t }},
			{"activityd_pg_pool_max_connections", "The most PostgreSQL connections the pool opens.", func(_, _, _, m int32) int32 { return m }},
		} {
			reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: g.name, Help: g.help}, func() float64 {
				return float64(g.pick(pg.PoolStat()))
			}))
		}
	}
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}
