package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"slices"
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
	request(t.Context(), "GET", base+"/v1.0/me/activities", "", "")
	request(t.Context(), "GET", base+"/v1.0/me/activities/missing", tok, "")
	adminOnly := strings.TrimSpace(runCmd(t, "", "token", "--data", dir, "--user", "alice", "--app", "notes", "--scopes", "activityd.admin"))
	request(t.Context(), "GET", base+"/v1.0/me/activities", adminOnly, "")
	request(t.Context(), "BREW", base+"/v1.0/me/activities", "", "")
	request(t.Context(), "GET", base+"/admin/v1/users", "", "")
	b := []byte(scrapeMetrics(t, addr))
	if bytes.Contains(b, []byte(`method="BREW"`)) {
		t.Error("a made-up method is a label value of its own")
	}
	for _, want := range []string{
		`activityd_http_requests_total\{method="other",route="[a-z/{}$]+",status="\d+"\} 1`,
		`activityd_token_refusals_total\{reason="malformed"\} 1`,
		`activityd_token_refusals_total\{reason="missing"\} 3`,
		`activityd_token_refusals_total\{reason="missing_scope"\} 1`,
		`activityd_store_operation_duration_seconds_count\{op="upsert_activity"\} 1`,
		`activityd_store_operation_duration_seconds_count\{op="get_activity"\} 2`,
		`activityd_store_operation_errors_total\{class="not_found",op="get_activity"\} 1`,
		`activityd_sqlite_commit_writes_count [1-9]`,
		`activityd_sqlite_commit_duration_seconds_bucket\{le="\+Inf"\} [1-9]`,
		`activityd_http_requests_total\{method="PUT",route="[a-z/{}$]+",status="201"\} 1`,
		`activityd_http_requests_total\{method="GET",route="[a-z/{}$]+",status="200"\} 1`,
		`activityd_http_requests_total\{method="GET",route="[a-z/{}$]+",status="401"\} 2`,
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
	checkDashboard(t, string(b), "activityd_pg_", "activityd_webhook_")
}

// checkDashboard checks that every metric the Grafana dashboard in docs/ queries is one the server
// serves (in scrape), but those with a prefix in skip (served by another store, or only once a
// webhook was delivered).
func checkDashboard(t *testing.T, scrape string, skip ...string) {
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
				if slices.ContainsFunc(skip, func(p string) bool { return strings.HasPrefix(name, p) }) {
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
	tok := mintToken(t, dir, "alice", "notes")
	request(t.Context(), "PUT", base+"/v1.0/me/activities/k", tok, activityBody("k"))
	request(t.Context(), "GET", base+"/v1.0/me/activities/missing", tok, "")
	request(t.Context(), "GET", base+"/v1.0/me/activities", "bad", "")
	b := []byte(scrapeMetrics(t, addr))
	if !regexp.MustCompile(`(?m)^activityd_pg_pool_max_connections \d+`).Match(b) {
		t.Errorf("no pool metrics on PostgreSQL")
	}
	if regexp.MustCompile(`(?m)^activityd_sqlite_`).Match(b) {
		t.Error("SQLite's commit metrics on PostgreSQL")
	}
	checkDashboard(t, string(b), "activityd_sqlite_", "activityd_webhook_")
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

// scrapeMetrics returns what /metrics at addr serves.
func scrapeMetrics(t *testing.T, addr string) string {
	t.Helper()
	res, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return string(b)
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
