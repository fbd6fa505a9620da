// Package pgtest gives tests a fresh PostgreSQL schema of their own on the server named by
// ACTIVITYD_TEST_POSTGRES_URL, and skips them with a clear message when it is not set.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// EnvURL names the environment variable with the test server's URL; .ci/run sets it.
const EnvURL = "ACTIVITYD_TEST_POSTGRES_URL"

// URL returns the URL of a new, empty schema, dropped when the test ends. Several stores or processes
// opened on it share that schema.
func URL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvURL)
	if base == "" {
		t.Skip(EnvURL + " is not set: skipping the PostgreSQL tests (.ci/run sets it)")
	}
	b := make([]byte, 8)
	rand.Read(b)
	schema := "test_" + hex.EncodeToString(b)
	exec(t, base, "CREATE SCHEMA "+schema)
	t.Cleanup(func() { exec(t, base, "DROP SCHEMA "+schema+" CASCADE") })
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "search_path=" + schema
}

func exec(t testing.TB, url, sql string) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect to %s: %v", EnvURL, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// Hold opens a connection of its own to url, begins a transaction and runs sql in it (a LOCK TABLE, or
// a statement that takes a transaction id), and returns that transaction, still open. The test ends it
// with Rollback or Commit when it wants the hold released; the connection closes when the test ends.
func Hold(t testing.TB, url, sql string) pgx.Tx {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatalf("connect to %s: %v", EnvURL, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	tx, err := conn.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(t.Context(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return tx
}
