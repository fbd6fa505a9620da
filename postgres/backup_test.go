package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/activityd/activityd"
	"github.com/activityd/activityd/postgres"
	"github.com/activityd/activityd/postgres/pgtest"
	"github.com/jackc/pgx/v5"
)

// TestBackup_PgDumpRestore runs the README's PostgreSQL backup commands: pg_dump in its custom
// format, then pg_restore into a new database; activityd opens the copy and finds every activity,
// history item and the store's secrets (so public ids and skiptokens stay valid).
func TestBackup_PgDumpRestore(t *testing.T) {
	for _, tool := range []string{"pg_dump", "pg_restore"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed: %v", tool, err)
		}
	}
	src := pgtest.URL(t)
	s, err := postgres.Open(t.Context(), src)
	if err != nil {
		t.Fatal(err)
	}
	svc := activity.NewService(s)
	p := activity.Principal{TenantID: "t", UserID: "alice", AppID: "notes"}
	for _, key := range []string{"a", "b", "c"} {
		a := &activity.Activity{AppActivityID: key, ActivitySourceHost: "https://x.example", ActivationURL: "https://x.example/" + key,
			VisualElements: activity.VisualInfo{DisplayText: "doc " + key},
			HistoryItems:   []*activity.HistoryItem{{StartedDateTime: time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)}}}
		if _, err := svc.UpsertActivity(t.Context(), p, a); err != nil {
			t.Fatal(err)
		}
	}
	secret, err := s.Secret(t.Context(), "graph", 32)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	// The commands, as the README gives them: the schema is the test's own, so it is named.
	u, _ := url.Parse(src)
	schema := u.Query().Get("search_path")
	q := u.Query()
	q.Del("search_path")
	u.RawQuery = q.Encode()
	dump := filepath.Join(t.TempDir(), "activityd.dump")
	if out, err := exec.Command("pg_dump", "--format=custom", "--schema="+schema, "--file="+dump, u.String()).CombinedOutput(); err != nil {
		t.Fatalf("pg_dump: %v: %s", err, out)
	}
	b := make([]byte, 6)
	rand.Read(b)
	name := "restore_" + hex.EncodeToString(b)
	admin, err := pgx.Connect(t.Context(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	if _, err := admin.Exec(t.Context(), "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Exec(context.Background(), "DROP DATABASE "+name+" WITH (FORCE)") })
	dst := *u
	dst.Path = "/" + name
	if out, err := exec.Command("pg_restore", "--no-owner", "--dbname="+dst.String(), dump).CombinedOutput(); err != nil {
		t.Fatalf("pg_restore: %v: %s", err, out)
	}
	dq := dst.Query()
	dq.Set("search_path", schema)
	dst.RawQuery = dq.Encode()
	r, err := postgres.Open(t.Context(), dst.String())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	page, err := r.ListActivities(t.Context(), p, activity.ActivityQuery{Limit: 10})
	if err != nil || len(page.Activities) != 3 {
		t.Fatalf("after restore: %v %v", page, err)
	}
	n, err := r.CountHistoryItems(t.Context(), p, page.Activities[0].ID, activity.TimeRange{})
	if err != nil || n != 1 {
		t.Errorf("history items after restore: %d %v", n, err)
	}
	if got, err := r.Secret(t.Context(), "graph", 32); err != nil || string(got) != string(secret) {
		t.Errorf("the store's secret after restore differs (%v): public ids would change", err)
	}
	_ = os.Remove(dump)
}
