package postgres_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/activityd/activityd"
	"github.com/activityd/activityd/activitytest"
	"github.com/activityd/activityd/postgres"
	"github.com/activityd/activityd/postgres/pgtest"
	"github.com/jackc/pgx/v5"
)

// A database that activityd migrated up to 0011 kept each activity's recent time in activities;
// migration 0012 moves it to activity_recent: recent then lists the same activities in the same
// order, and history item writes and deletes move the moved times on.
func TestMigration_ActivityRecent(t *testing.T) {
	url := pgtest.URL(t)
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	files, err := filepath.Glob("migrations/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files)
	if _, err := conn.Exec(ctx, `CREATE TABLE schema_migrations (name text PRIMARY KEY, checksum text NOT NULL,
		applied timestamptz NOT NULL DEFAULT now())`); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if filepath.Base(f) >= "0012" {
			break
		}
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(body)
		if _, err := conn.Exec(ctx, string(body)); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if _, err := conn.Exec(ctx, `INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)`, filepath.Base(f), hex.EncodeToString(sum[:])); err != nil {
			t.Fatal(err)
		}
	}
	// Alice's notes: a1 and a2 with history items (a2 the more recent), a3 without; Bob's b1 with one.
	now := time.Now()
	at := func(d time.Duration) int64 { return now.Add(d).UnixMicro() }
	for _, a := range []struct {
		user, key string
		id        int64
		recent    *int64
	}{
		{"alice", "a1", 11, ptr(at(-3 * time.Hour))},
		{"alice", "a2", 12, ptr(at(-2 * time.Hour))},
		{"alice", "a3", 13, nil},
		{"bob", "b1", 21, ptr(at(-time.Hour))},
	} {
		p := activitytest.AliceNotes
		if _, err := conn.Exec(ctx, `INSERT INTO activities (tenant_id, user_id, app_id, id, app_activity_id,
				activity_source_host, activation_url, app_display_name, fallback_url, content_url, user_timezone, display_text,
				description, background_color, attribution, icon_url, alternate_text, alternative_text, created,
				last_modified, expires, status, recent)
			VALUES ($1, $2, $3, $4, $5, '', 'notes://x', 'Notes', '', '', '', 'Doc', '', '', false, '', '', '', $6, $6, $7, 'active', $8)`,
			p.TenantID, a.user, p.AppID, a.id, a.key, at(-4*time.Hour), at(24*time.Hour), a.recent); err != nil {
			t.Fatal(err)
		}
		if a.recent != nil {
			if _, err := conn.Exec(ctx, `INSERT INTO history_items (tenant_id, user_id, app_id, activity_id, id,
					started, user_timezone, created, last_modified, expires, status)
				VALUES ($1, $2, $3, $4, $5, $6, '', $6, $6, $7, 'active')`,
				p.TenantID, a.user, p.AppID, a.id, "00000000-0000-4000-8000-0000000000"+a.key[1:]+"0", *a.recent, at(24*time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
	}

	s, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	recent := func(user string) (keys []string) {
		t.Helper()
		p := activitytest.AliceNotes
		p.UserID = user
		page, err := s.RecentActivities(ctx, p, activity.ActivityQuery{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range page.Activities {
			keys = append(keys, a.AppActivityID)
		}
		return keys
	}
	if got := recent("alice"); !slices.Equal(got, []string{"a2", "a1"}) {
		t.Fatalf("alice's recent after the migration = %v, want [a2 a1]", got)
	}
	if got := recent("bob"); !slices.Equal(got, []string{"b1"}) {
		t.Fatalf("bob's recent after the migration = %v, want [b1]", got)
	}
	var column int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM information_schema.columns WHERE table_name = 'activities'
		AND column_name = 'recent' AND table_schema = current_schema()`).Scan(&column); err != nil || column != 0 {
		t.Errorf("activities still has a recent column (%d, %v)", column, err)
	}

	// A history item on a1 makes it the most recent; a3's first makes it the most recent of all;
	// deleting that one again leaves a3 out.
	svc := activity.NewService(s)
	alice := activitytest.AliceNotes
	alice.UserID = "alice"
	if _, err := svc.PutHistoryItem(ctx, alice, activity.Ref{ID: 11}, activitytest.NewHistoryItem("", now, time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got := recent("alice"); !slices.Equal(got, []string{"a1", "a2"}) {
		t.Fatalf("alice's recent after an item on a1 = %v, want [a1 a2]", got)
	}
	item := activitytest.NewHistoryItem("", now, time.Minute)
	if _, err := svc.PutHistoryItem(ctx, alice, activity.Ref{ID: 13}, item); err != nil {
		t.Fatal(err)
	}
	if got := recent("alice"); !slices.Equal(got, []string{"a3", "a1", "a2"}) {
		t.Fatalf("alice's recent after a3's first item = %v, want [a3 a1 a2]", got)
	}
	if err := svc.DeleteHistoryItem(ctx, alice, activity.Ref{ID: 13}, item.ID); err != nil {
		t.Fatal(err)
	}
	if got := recent("alice"); !slices.Equal(got, []string{"a1", "a2"}) {
		t.Fatalf("alice's recent after a3's only item was deleted = %v, want [a1 a2]", got)
	}
	var rows int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM activity_recent WHERE activity_id = 13`).Scan(&rows); err != nil || rows != 0 {
		t.Errorf("a3 keeps %d activity_recent rows (%v), want 0", rows, err)
	}
}

func ptr[T any](v T) *T { return &v }
