package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/activityd/activityd/postgres/pgtest"
)

// TestMetrics: /metrics, on a listener of its own, counts the Graph API's requests by route, method
// and status, with their latency, and shows the Go runtime, the process and the live streams.
func TestMetrics(t *testing.T) {
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := free.Addr().String()
	free.Close()
	dir := t.TempDir()
	base := startServer(t, dir, nil, "--metrics-addr", addr)
	tok := mintToken(t, dir, "alice", "notes")
	request(t.Context(), "PUT", base+"/v1.0/me/activities/k", tok, activityBody("k"))
	request(t.Context(), "GET", base+"/v1.0/me/activities/k", tok, "")
	request(t.Context(), "GET", base+"/v1.0/me/activities", "bad", "")
	res, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{
		`activityd_http_requests_total\{method="PUT",route="[a-z/{}$]+",status="201"\} 1`,
		`activityd_http_requests_total\{method="GET",route="[a-z/{}$]+",status="200"\} 1`,
		`activityd_http_requests_total\{method="GET",route="[a-z/{}$]+",status="401"\} 1`,
		`activityd_http_request_duration_seconds_bucket\{method="PUT",route="[a-z/{}$]+",le="\+Inf"\} 1`,
		`activityd_live_streams 0`,
		`go_goroutines \d+`,
		`process_open_fds \d+`,
	} {
		if !regexp.MustCompile(`(?m)^` + want).Match(b) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if res, err := http.Get(base + "/metrics"); err == nil && res.StatusCode == 200 {
		t.Errorf("/metrics is served on the API's listener too")
	}
	checkDashboard(t, string(b), "activityd_pg_")
}

// checkDashboard checks that every metric the Grafana dashboard in docs/ queries is one the server
// serves (in scrape), but those with the prefix skip (served by another store).
func checkDashboard(t *testing.T, scrape, skip string) {
	t.Helper()
	dash, err := os.ReadFile("../../docs/grafana/activityd.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(dash, &d); err != nil {
		t.Fatalf("the dashboard is not JSON: %v", err)
	}
	names := regexp.MustCompile(`\b(?:activityd|process|go)_[a-z_]+`)
	n := 0
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			for _, name := range names.FindAllString(tg.Expr, -1) {
				n++
				if skip != "" && strings.HasPrefix(name, skip) {
					continue
				}
				if !regexp.MustCompile(`(?m)^` + name + `[{ ]`).MatchString(scrape) {
					t.Errorf("the dashboard queries %s, which /metrics does not serve", name)
				}
			}
		}
	}
	if n < 8 {
		t.Errorf("the dashboard names %d metrics", n)
	}
}

// TestMetrics_Postgres: on PostgreSQL the pool's metrics are served too (and the dashboard's).
func TestMetrics_Postgres(t *testing.T) {
	db := pgtest.URL(t)
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := free.Addr().String()
	free.Close()
	dir := t.TempDir()
	base := startServer(t, dir, nil, "--db", db, "--metrics-addr", addr)
	request(t.Context(), "PUT", base+"/v1.0/me/activities/k", mintToken(t, dir, "alice", "notes"), activityBody("k"))
	res, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !regexp.MustCompile(`(?m)^activityd_pg_pool_max_connections \d+`).Match(b) {
		t.Errorf("no pool metrics on PostgreSQL")
	}
	checkDashboard(t, string(b), "")
}

// TestServe_LogsIssuerReachability: start-up says whether a trusted issuer's key set can be fetched,
// rather than leaving it to the first token that fails.
func TestServe_LogsIssuerReachability(t *testing.T) {
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	jwks := "http://" + closed.Addr().String() + "/keys"
	closed.Close()
	logs := startServerLogs(t, t.TempDir(), "--trust-issuer", "https://login.example.org/tenant/v2.0", "--trust-jwks", jwks)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs(), "its key set cannot be fetched") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if out := logs(); !strings.Contains(out, "its key set cannot be fetched") || !strings.Contains(out, "connection refused") || !strings.Contains(out, "version=") {
		t.Errorf("start-up log:\n%s", out)
	}
}
