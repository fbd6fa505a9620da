package main

import (
	"net/http"
	"strconv"
	"time"

	"github.com/activityd/activityd"
	"github.com/activityd/activityd/graph"
	"github.com/activityd/activityd/notify"
	"github.com/activityd/activityd/postgres"
	"github.com/activityd/activityd/sqlite"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// newMetrics registers activityd's metrics (Prometheus, github.com/prometheus/client_golang) and
// returns the handler that serves them: the Graph API's requests by route, method and status, their
// latency, the tokens refused by reason, the store's operations (time and errors), SQLite's group
// commits (writes per commit, COMMIT time), webhook deliveries, the open live streams, the
// PostgreSQL pool, the limits hit, and the Go runtime and the process (memory, goroutines, open
// files). Every label is from a bounded set: routes are the request log's, never paths.
func newMetrics(api *graph.Server, service *activity.Service, notifier *notify.Notifier, store any, maxConns int) http.Handler {
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
		method = methodLabel(method)
		requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
		latency.WithLabelValues(route, method).Observe(d.Seconds())
	}
	refused := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "activityd_token_refusals_total",
		Help: "Graph and admin API requests refused for their token, by reason: missing, malformed, untrusted_issuer, unknown_key, bad_signature, expired, wrong_audience, missing_scope, bad_claims, revoked, other.",
	}, []string{"reason"})
	reg.MustRegister(refused)
	api.Refused = func(reason string) { refused.WithLabelValues(reason).Inc() }
	storeTime := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "activityd_store_operation_duration_seconds",
		Help:    "Time of the store's operations (upsert_activity, list_activities, …), failed or not.",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1, 5},
	}, []string{"op"})
	storeErrors := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "activityd_store_operation_errors_total",
		Help: "The store's operations that failed, by operation and class: unavailable, storage_full and internal are the server's; not_found, invalid, conflict the request's.",
	}, []string{"op", "class"})
	reg.MustRegister(storeTime, storeErrors)
	service.Observe = func(op string, d time.Duration, err error) {
		storeTime.WithLabelValues(op).Observe(d.Seconds())
		if err != nil {
			storeErrors.WithLabelValues(op, activity.ErrorCode(err)).Inc()
		}
	}
	if sq, ok := store.(*sqlite.Store); ok {
		writes := prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "activityd_sqlite_commit_writes",
			Help:    "Writes carried by each SQLite group commit (one transaction, one fsync).",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256},
		})
		commit := prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "activityd_sqlite_commit_duration_seconds",
			Help:    "Time of each SQLite group commit's COMMIT (with synchronous=FULL, the WAL's fsync).",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		})
		reg.MustRegister(writes, commit)
		sq.ObserveBatch(func(n int, d time.Duration) {
			writes.Observe(float64(n))
			commit.Observe(d.Seconds())
		})
	}
	if notifier != nil {
		deliveries := prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "activityd_webhook_deliveries_total",
			Help: "POSTs of change notifications to subscribers, by outcome: delivered, failed (retried later), given_up (past --webhook-max-retry).",
		}, []string{"outcome"})
		reg.MustRegister(deliveries)
		notifier.Observe = func(outcome string) { deliveries.WithLabelValues(outcome).Inc() }
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

// methodLabel is method as a metric label: one of HTTP's (RFC 9110 §9) or "other", so that a
// client cannot add label values (a series each) by making methods up.
func methodLabel(method string) string {
	switch method {
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS":
		return method
	}
	return "other"
}
