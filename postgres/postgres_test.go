package postgres_test

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/activityd/activityd"
	"github.com/activityd/activityd/activitytest"
	"github.com/activityd/activityd/postgres"
	"github.com/activityd/activityd/postgres/pgtest"
	"github.com/jackc/pgx/v5"
)

func TestStore(t *testing.T) {
	activitytest.TestStore(t, func(t *testing.T, now func() time.Time) activity.Store {
		s, err := postgres.Open(t.Context(), pgtest.URL(t))
		if err != nil {
			t.Fatal(err)
		}
		s.Now = now
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestOpen_Migrations(t *testing.T) {
	url := pgtest.URL(t)
	// Processes starting at once apply each migration once.
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for range 3 {
		wg.Go(func() {
			s, err := postgres.Open(t.Context(), url)
			if err == nil {
				s.Close()
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent Open: %v", err)
		}
	}
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	files, _ := os.ReadDir("migrations")
	var n int
	conn.QueryRow(t.Context(), "SELECT COUNT(*) FROM schema_migrations").Scan(&n)
	if n != len(files) || n == 0 {
		t.Errorf("schema_migrations holds %d rows, want one per migration file (%d)", n, len(files))
	}
	if _, err := conn.Exec(t.Context(), "UPDATE schema_migrations SET checksum = 'edited'"); err != nil {
		t.Fatal(err)
	}
	if _, err := postgres.Open(t.Context(), url); err == nil || !strings.Contains(err.Error(), "was changed after it was applied") {
		t.Errorf("Open after a migration changed = %v, want a refusal", err)
	}
	// A database a newer activityd migrated is refused, naming the migration this one lacks.
	if _, err := conn.Exec(t.Context(), "INSERT INTO schema_migrations (name, checksum) VALUES ('9999_future.sql', 'x')"); err != nil {
		t.Fatal(err)
	}
	if _, err := postgres.Open(t.Context(), url); err == nil || !strings.Contains(err.Error(), "migrated by a newer activityd (its migration 9999_future.sql") {
		t.Errorf("Open of a database a newer version migrated = %v, want a refusal", err)
	}
}
