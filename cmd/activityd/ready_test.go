package main

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
)

// TestRun_Ready checks /readyz on the real SQLite store: ready while its migrations are all applied,
// 503 with the reason when one is missing, ready again once it is back; /healthz answers throughout.
func TestRun_Ready(t *testing.T) {
	dir := t.TempDir()
	base := startServer(t, dir, nil)
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/readyz"); code != 200 || body != "ok\n" {
		t.Errorf("/readyz = %d %q, want 200 ok", code, body)
	}

	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "activityd.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var name, checksum string
	var applied int64
	if err := db.QueryRow(`SELECT name, checksum, applied FROM schema_migrations ORDER BY name DESC LIMIT 1`).Scan(&name, &checksum, &applied); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`DELETE FROM schema_migrations WHERE name = ?`, name); err != nil {
		t.Fatal(err)
	}
	if code, body := get("/readyz"); code != 503 || !strings.HasPrefix(body, "not ready: ") || !strings.Contains(body, "migrations") {
		t.Errorf("/readyz with a migration missing = %d %q, want 503 saying why", code, body)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("/healthz = %d while not ready, want 200: the process is alive", code)
	}
	if _, err := db.Exec(`INSERT INTO schema_migrations (name, checksum, applied) VALUES (?, ?, ?)`, name, checksum, applied); err != nil {
		t.Fatal(err)
	}
	if code, _ := get("/readyz"); code != 200 {
		t.Errorf("/readyz once the migration is back = %d, want 200", code)
	}
}

// notReady is a store whose Ready fails, as a store that no longer answers does.
type notReady struct{}

func (notReady) Ready(ctx context.Context) error {
	return errors.New("postgres: dial tcp 10.0.0.5:5432: connect: connection refused\nmore detail")
}

func TestReadyz_NotReady(t *testing.T) {
	h := handler(http.NotFoundHandler(), http.NotFoundHandler(), nil, nil, nil, notReady{}, slog.New(slog.DiscardHandler))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != 503 || rec.Body.String() != "not ready: postgres: dial tcp 10.0.0.5:5432: connect: connection refused\n" {
		t.Errorf("/readyz = %d %q", rec.Code, rec.Body.String())
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	if rec.Code != 200 {
		t.Errorf("/healthz = %d, want 200", rec.Code)
	}
}
