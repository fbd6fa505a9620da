package postgres_test

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/activityd/activityd/postgres/pgtest"
)

// TestMain runs no test when no PostgreSQL server is named, so that `go test ./...` says so on its
// line for this package ("[no tests to run]") rather than "ok" with every test skipped.
func TestMain(m *testing.M) {
	flag.Parse()
	if os.Getenv(pgtest.EnvURL) == "" {
		fmt.Fprintln(os.Stderr, pgtest.EnvURL+" is not set: the PostgreSQL tests do not run (.ci/run sets it)")
		flag.Set("test.run", "^$")
	}
	os.Exit(m.Run())
}
