package sqlite_test

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
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
	t.Run("NewerDatabase", func(t *testing.T) {
		db, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(`INSERT INTO schema_migrations (name, checksum, applied) VALUES ('9999_future.sql', 'x', 0)`); err != nil {
			t.Fatal(err)
		}
		db.Close()
		_, err = sqlite.Open(t.Context(), path)
		if err == nil || !strings.Contains(err.Error(), "migrated by a newer activityd (its migration 9999_future.sql") {
			t.Fatalf("Open of a database a newer version migrated = %v, want a refusal", err)
		}
	})
}

// TestStore_WALStaysBounded writes without pause from many goroutines and checks that checkpoints
// keep the WAL short: a checkpoint that cannot catch up with the writer lets it grow without bound.
func TestStore_WALStaysBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 6,000 activities")
	}
	path := filepath.Join(t.TempDir(), "activityd.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	svc := activity.NewService(s)
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := range 375 {
				if _, err := svc.UpsertActivity(t.Context(), activitytest.AliceNotes, activitytest.NewActivity(fmt.Sprintf("w%d-%d", w, i))); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	db, _ := os.Stat(path)
	wal, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	// The automatic checkpoint runs at 1,000 pages (4 MB); allow some slack for frames appended
	// while one runs.
	if wal.Size() > 16<<20 {
		t.Errorf("after 6,000 writes the WAL holds %d MB (the database %d MB); checkpoints do not keep up", wal.Size()>>20, db.Size()>>20)
	}
}

// TestOpen_IndexesOldRows: rows written before migrations 0008 and 0009 (no search text, no search
// key, changes without a user key) are filled in when the store opens: search finds them and the
// change log serves them.
func TestOpen_IndexesOldRows(t *testing.T) {
	path := filepath.Join(t.TempDir(), "activityd.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	svc := activity.NewService(s)
	a := activitytest.NewActivity("old")
	a.VisualElements.DisplayText = "Lighthouse"
	if _, err := svc.UpsertActivity(t.Context(), activitytest.AliceNotes, a); err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	// As a store before the migrations left them (the triggers take the row out of the index).
	for _, q := range []string{`UPDATE activities SET search_text = NULL, search_key = NULL, site = ''`, `UPDATE changes SET user_key = NULL`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	s, err = sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	page, err := s.ListActivities(t.Context(), activitytest.AliceNotes, activity.ActivityQuery{Limit: 10, Search: "lighthouse"})
	if err != nil || len(page.Activities) != 1 {
		t.Errorf("search after reopening: %v, %v; want the old activity", page, err)
	}
	changes, err := s.Changes(t.Context(), activitytest.AliceNotes, activity.ChangeQuery{Limit: 10})
	if err != nil || len(changes.Changes) != 1 {
		t.Errorf("the change log after reopening: %+v, %v; want the old change", changes, err)
	}
}

// TestSearch_IndexedAtCommit: the writer adds the activities a batch wrote to the full-text index
// just before it commits (migration 0011). An activity written twice, or written and deleted, in one
// write leaves only its last text in the index, and the index holds one row for each activity.
func TestSearch_IndexedAtCommit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "activityd.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	text := func(key, words string) *activity.Activity {
		a := activitytest.NewActivity(key)
		a.VisualElements.DisplayText = words
		a.CreatedDateTime, a.LastModifiedDateTime, a.ExpirationDateTime = time.Now(), time.Now(), time.Now().Add(time.Hour)
		return a
	}
	err = s.Update(t.Context(), activitytest.AliceNotes, func(tx activity.Tx) error {
		for _, a := range []*activity.Activity{text("kept", "Alpha"), text("kept", "Beta"), text("gone", "Gamma"), text("other", "Delta")} {
			if _, err := tx.PutActivity(t.Context(), a); err != nil {
				return err
			}
		}
		gone, err := tx.FindActivity(t.Context(), activity.Ref{AppActivityID: "gone"})
		if err != nil {
			return err
		}
		if err := tx.DeleteActivity(t.Context(), gone.ID); err != nil {
			return err
		}
		other, err := tx.FindActivity(t.Context(), activity.Ref{AppActivityID: "other"})
		if err != nil {
			return err
		}
		other.VisualElements.DisplayText, other.LastModifiedDateTime = "Epsilon", other.LastModifiedDateTime.Add(time.Second)
		return tx.UpdateActivity(t.Context(), other)
	})
	if err != nil {
		t.Fatal(err)
	}
	// A failed write leaves nothing in the index either.
	failed := fmt.Errorf("on purpose")
	err = s.Update(t.Context(), activitytest.AliceNotes, func(tx activity.Tx) error {
		if _, err := tx.PutActivity(t.Context(), text("failed", "Zeta")); err != nil {
			return err
		}
		return failed
	})
	if err != failed {
		t.Fatalf("the failed write: %v", err)
	}
	wantSearch(t, s, "", map[string]string{"alpha": "", "beta": "kept", "gamma": "", "delta": "", "epsilon": "other", "zeta": ""})
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var rows, orphans int
	if err := db.QueryRow(`SELECT count(*), count(*) FILTER (WHERE rowid NOT IN (SELECT search_key FROM activities))
		FROM activities_search`).Scan(&rows, &orphans); err != nil {
		t.Fatal(err)
	}
	if rows != 2 || orphans != 0 {
		t.Errorf("the full-text index holds %d rows, %d of no activity; want 2 and 0", rows, orphans)
	}
}

// TestSearch_OlderWriter: an activityd from before migration 0011 writes without index_at_commit (0012),
// and its inserts and rewrites are still indexed, by the triggers (a downgrade, or a backup served
// by an older binary, must not leave activities out of search).
func TestSearch_OlderWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "activityd.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	a := activitytest.NewActivity("new")
	a.VisualElements.DisplayText = "Written by this version"
	if _, err := activity.NewService(s).UpsertActivity(t.Context(), activitytest.AliceNotes, a); err != nil {
		t.Fatal(err)
	}
	s.Close()

	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	// The columns an older activityd writes: all but index_at_commit.
	rows, err := db.Query(`SELECT name FROM pragma_table_info('activities') WHERE name NOT IN ('index_at_commit', 'id', 'app_activity_id', 'display_text', 'search_key')`)
	if err != nil {
		t.Fatal(err)
	}
	var cols []string
	for rows.Next() {
		var c string
		rows.Scan(&c)
		cols = append(cols, c)
	}
	rows.Close()
	list := strings.Join(cols, ", ")
	for _, q := range []string{
		`INSERT INTO activities (id, app_activity_id, display_text, search_key, ` + list + `)
			SELECT id + 1, 'old', 'Inserted by an older version', search_key + 1, ` + list + ` FROM activities WHERE app_activity_id = 'new'`,
		`UPDATE activities SET display_text = 'Rewritten by an older version', search_key = search_key + 2 WHERE app_activity_id = 'new'`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()

	s, err = sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	wantSearch(t, s, " after an older version wrote", map[string]string{"inserted": "old", "rewritten": "new", "written": ""})
}

// wantSearch checks that searching for each word finds alice's activities of the appActivityIds
// given, comma-separated, in that order.
func wantSearch(t *testing.T, s *sqlite.Store, when string, want map[string]string) {
	t.Helper()
	for word, keys := range want {
		page, err := s.ListActivities(t.Context(), activitytest.AliceNotes, activity.ActivityQuery{Limit: 10, Search: word})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, a := range page.Activities {
			got = append(got, a.AppActivityID)
		}
		if strings.Join(got, ",") != keys {
			t.Errorf("search %q%s: %v, want [%s]", word, when, got, keys)
		}
	}
}
