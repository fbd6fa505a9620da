package sqlite_test

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/activityd/activityd"
	"github.com/activityd/activityd/activitytest"
	"github.com/activityd/activityd/sqlite"
)

func TestStore(t *testing.T) {
	activitytest.TestStore(t, func(t *testing.T, now func() time.Time) activity.Store {
		s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "activityd.db"))
		if err != nil {
			t.Fatal(err)
		}
		s.Now = now
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestOpen_Migrations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "activityd.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	t.Run("ReopenAppliesNothingTwice", func(t *testing.T) {
		s, err := sqlite.Open(t.Context(), path)
		if err != nil {
			t.Fatalf("reopen: %v", err)
		}
		s.Close()
	})
	t.Run("ChangedFile", func(t *testing.T) {
		db, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(`UPDATE schema_migrations SET checksum = 'edited'`); err != nil {
			t.Fatal(err)
		}
		db.Close()
		_, err = sqlite.Open(t.Context(), path)
		if err == nil || !strings.Contains(err.Error(), "was changed after it was applied") {
			t.Fatalf("Open after a migration changed = %v, want a refusal", err)
		}
	})
}
