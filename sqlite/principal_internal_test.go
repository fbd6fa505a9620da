package sqlite

import (
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/activityd/activityd"
	"github.com/activityd/activityd/activitytest"
)

// TestMigration_Principals opens a database that an activityd of migration 0013 wrote (three
// principals, two of them one user's) and checks that migration 0014 indexes every activity by
// its principal: each app's list, the person's timeline through both apps, a look-up and an upsert
// by appActivityId (which must replace the migrated row, not add one), and a forget of one app.
func TestMigration_Principals(t *testing.T) {
	path := filepath.Join(t.TempDir(), "activityd.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, checksum TEXT NOT NULL, applied INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		if base >= "0014" {
			break
		}
		body, _ := migrationFS.ReadFile(name)
		sum := sha256.Sum256(body)
		if _, err := db.Exec(string(body)); err != nil {
			t.Fatalf("%s: %v", base, err)
		}
		if _, err := db.Exec(`INSERT INTO schema_migrations VALUES (?, ?, 0)`, base, hex.EncodeToString(sum[:])); err != nil {
			t.Fatal(err)
		}
	}
	// As 0013's activityd wrote them: no principal column yet.
	base := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	owners := []activity.Principal{activitytest.AliceNotes, activitytest.AliceMusic, activitytest.BobNotes}
	n := 0
	for i, p := range owners {
		for j := range 4 {
			n++
			at := micros(base.Add(time.Duration(n) * time.Minute))
			if _, err := db.Exec(`INSERT INTO activities (id, tenant_id, user_id, app_id, app_activity_id,
				activity_source_host, activation_url, app_display_name, fallback_url, content_url, user_timezone,
				display_text, description, background_color, attribution, icon_url, alternate_text, alternative_text,
				created, last_modified, expires, status)
				VALUES (?, ?, ?, ?, ?, '', 'notes://x', 'App', '', '', '', ?, '', '', 0, '', '', '', ?, ?, ?, 'active')`,
				n, p.TenantID, p.UserID, p.AppID, fmt.Sprintf("doc-%d", j), fmt.Sprintf("%s %d", p.AppID, i), at, at,
				micros(base.AddDate(1, 0, 0))); err != nil {
				t.Fatal(err)
			}
		}
	}
	db.Close()

	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Now = func() time.Time { return base.Add(time.Hour) }
	var principals int
	if err := s.read.QueryRow(`SELECT count(*) FROM principals`).Scan(&principals); err != nil || principals != 3 {
		t.Fatalf("principals after the migration: %d, %v; want 3", principals, err)
	}
	keys := func(page *activity.ActivityPage) string {
		var k []string
		for _, a := range page.Activities {
			k = append(k, a.AppID+"/"+a.AppActivityID)
		}
		return strings.Join(k, " ")
	}
	for _, p := range owners {
		page, err := s.ListActivities(t.Context(), p, activity.ActivityQuery{Limit: 10, AllApps: true, App: p.AppID})
		if err != nil {
			t.Fatal(err)
		}
		want := p.AppID + "/doc-3 " + p.AppID + "/doc-2 " + p.AppID + "/doc-1 " + p.AppID + "/doc-0"
		if got := keys(page); got != want {
			t.Errorf("%s's %s list: %s, want %s", p.UserID, p.AppID, got, want)
		}
	}
	page, err := s.ListActivities(t.Context(), activitytest.AliceNotes, activity.ActivityQuery{Limit: 5, AllApps: true})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := keys(page), "music/doc-3 music/doc-2 music/doc-1 music/doc-0 notes/doc-3"; got != want {
		t.Errorf("alice's timeline: %s, want %s", got, want)
	}

	svc := activity.NewService(s)
	if a, err := s.FindActivity(t.Context(), activitytest.BobNotes, activity.Ref{AppActivityID: "doc-2"}); err != nil || a.VisualElements.DisplayText != "notes 2" {
		t.Fatalf("bob's doc-2 by appActivityId: %+v, %v", a, err)
	}
	if created, err := svc.UpsertActivity(t.Context(), activitytest.BobNotes, activitytest.NewActivity("doc-2")); err != nil || created {
		t.Fatalf("PUT of a migrated activity's appActivityId: created %v, %v; want it replaced", created, err)
	}
	if n, err := s.CountActivities(t.Context(), activitytest.BobNotes, activity.TimeRange{}); err != nil || n != 4 {
		t.Errorf("bob's activities after the PUT: %d, %v; want 4", n, err)
	}
	if _, err := s.Forget(t.Context(), activitytest.AliceNotes, activity.Forget{AppID: "music"}); err != nil {
		t.Fatal(err)
	}
	page, err = s.ListActivities(t.Context(), activitytest.AliceNotes, activity.ActivityQuery{Limit: 10, AllApps: true})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := keys(page), "notes/doc-3 notes/doc-2 notes/doc-1 notes/doc-0"; got != want {
		t.Errorf("alice's timeline after forgetting music: %s, want %s", got, want)
	}
	if db, err = sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)"); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(t.Context(), `INSERT INTO activities (id, tenant_id, user_id, app_id, app_activity_id,
		activity_source_host, activation_url, app_display_name, fallback_url, content_url, user_timezone, display_text,
		description, background_color, attribution, icon_url, alternate_text, alternative_text, created, last_modified,
		expires, status) SELECT id + 100, tenant_id, user_id, app_id, 'no-principal', activity_source_host,
		activation_url, app_display_name, fallback_url, content_url, user_timezone, display_text, description,
		background_color, attribution, icon_url, alternate_text, alternative_text, created, last_modified, expires,
		status FROM activities LIMIT 1`); err == nil || !strings.Contains(err.Error(), "principal is required") {
		t.Errorf("an insert without its principal: %v, want it refused", err)
	}
}

// openStore opens a store in a directory of the test's, closed when it ends.
func openStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "activityd.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestPrincipal_RolledBackNotCached: a write that inserted its principal's row and then failed is
// rolled back, row and all; the id it saw must not be cached, or the next principal given that id
// would share the unique key of the first, and one's PUT would overwrite the other's activity.
func TestPrincipal_RolledBackNotCached(t *testing.T) {
	s := openStore(t)
	x, y := activitytest.AliceNotes, activitytest.BobNotes
	err := s.Update(t.Context(), x, func(tx activity.Tx) error {
		if _, err := tx.(*Tx).PutActivity(t.Context(), activitytest.NewActivity("doc")); err != nil {
			return err
		}
		return errors.New("failed after its activity was written")
	})
	if err == nil {
		t.Fatal("the failing write succeeded")
	}
	svc := activity.NewService(s)
	for _, p := range []activity.Principal{y, x} { // y is given the id x's rolled-back row had
		a := activitytest.NewActivity("doc")
		a.VisualElements.DisplayText = p.UserID + "'s"
		if created, err := svc.UpsertActivity(t.Context(), p, a); err != nil || !created {
			t.Fatalf("%s's PUT: created %v, %v; want created", p.UserID, created, err)
		}
	}
	for _, p := range []activity.Principal{x, y} {
		a, err := s.FindActivity(t.Context(), p, activity.Ref{AppActivityID: "doc"})
		if err != nil || a.VisualElements.DisplayText != p.UserID+"'s" {
			t.Errorf("%s's doc: %+v, %v", p.UserID, a, err)
		}
	}
}

// TestPrincipal_WrongIDWritesNothing: were a principal id ever wrong (here the cache is made to give
// alice bob's), the text ids that statements check as well keep a PUT from replacing another
// principal's activity and a list from showing one.
func TestPrincipal_WrongIDWritesNothing(t *testing.T) {
	s := openStore(t)
	svc := activity.NewService(s)
	alice, bob := activitytest.AliceNotes, activitytest.BobNotes
	if _, err := svc.UpsertActivity(t.Context(), bob, activitytest.NewActivity("doc")); err != nil {
		t.Fatal(err)
	}
	bobs, err := s.principal(t.Context(), bob, bob.AppID)
	if err != nil || bobs == 0 {
		t.Fatal(bobs, err)
	}
	s.principals.settle(nil, []principalRow{{principalKey{alice.TenantID, alice.UserID, alice.AppID}, bobs}})
	a := activitytest.NewActivity("doc")
	a.VisualElements.DisplayText = "alice's"
	if _, err := svc.UpsertActivity(t.Context(), alice, a); err == nil {
		t.Error("alice's PUT under bob's principal id succeeded")
	}
	if page, err := s.ListActivities(t.Context(), alice, activity.ActivityQuery{Limit: 10}); err != nil || len(page.Activities) != 0 {
		t.Errorf("alice's list under bob's principal id: %d activities, %v", len(page.Activities), err)
	}
	if got, err := s.FindActivity(t.Context(), bob, activity.Ref{AppActivityID: "doc"}); err != nil {
		t.Error(err)
	} else if got.VisualElements.DisplayText == "alice's" {
		t.Error("alice's PUT replaced bob's activity")
	}
}

// TestForget_DropsPrincipals: forgetting an app, or everything, deletes the principals rows that no
// activity holds any more (a person who deletes everything leaves no list of the apps they used),
// and writing again afterwards, in the same write or the same batch, is found everywhere: each
// app's list, the person's timeline (whose apps come from principals) and a later forget.
func TestForget_DropsPrincipals(t *testing.T) {
	s := openStore(t)
	svc := activity.NewService(s)
	alice, music, bob := activitytest.AliceNotes, activitytest.AliceMusic, activitytest.BobNotes
	put := func(p activity.Principal, key string) {
		t.Helper()
		if _, err := svc.UpsertActivity(t.Context(), p, activitytest.NewActivity(key)); err != nil {
			t.Fatal(err)
		}
	}
	rowsOf := func(user string) []string {
		t.Helper()
		rows, err := s.read.Query(`SELECT app_id FROM principals WHERE user_id = ? ORDER BY app_id`, user)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var apps []string
		for rows.Next() {
			var a string
			rows.Scan(&a)
			apps = append(apps, a)
		}
		return apps
	}
	timeline := func(p activity.Principal) string {
		t.Helper()
		page, err := s.ListActivities(t.Context(), p, activity.ActivityQuery{Limit: 50, AllApps: true})
		if err != nil {
			t.Fatal(err)
		}
		var k []string
		for _, a := range page.Activities {
			k = append(k, a.AppID+"/"+a.AppActivityID)
		}
		slices.Sort(k)
		return strings.Join(k, " ")
	}
	put(alice, "n1")
	put(music, "m1")
	put(bob, "b1")
	if _, err := s.Forget(t.Context(), alice, activity.Forget{AppID: "music"}); err != nil {
		t.Fatal(err)
	}
	if got := rowsOf("alice"); !slices.Equal(got, []string{"notes"}) {
		t.Errorf("alice's principals after forgetting music: %v, want [notes]", got)
	}
	put(music, "m2")
	if got, want := timeline(alice), "music/m2 notes/n1"; got != want {
		t.Errorf("alice's timeline after writing to music again: %s, want %s", got, want)
	}

	// tx.PutActivity stores an activity as given: the service's times, as it would set them.
	fresh := func(key string) *activity.Activity {
		a := activitytest.NewActivity(key)
		now := time.Now().UTC()
		a.CreatedDateTime, a.LastModifiedDateTime, a.ExpirationDateTime = now, now, now.AddDate(0, 1, 0)
		return a
	}

	// One write forgets everything and writes again.
	err := s.Update(t.Context(), alice, func(tx activity.Tx) error {
		if _, err := tx.(*Tx).forget(t.Context(), activity.Forget{All: true}); err != nil {
			return err
		}
		_, err := tx.(*Tx).PutActivity(t.Context(), fresh("n2"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := timeline(alice), "notes/n2"; got != want {
		t.Errorf("alice's timeline after forgetting everything and writing in one write: %s, want %s", got, want)
	}

	// One batch: a write makes music's principal anew, the next forgets everything. Neither write's
	// view of the row may outlive the batch in the cache.
	req := func(p activity.Principal, fn func(*Tx) error) *writeRequest {
		return &writeRequest{ctx: t.Context(), p: p, fn: fn, err: make(chan error, 1)}
	}
	batch := []*writeRequest{
		req(music, func(tx *Tx) error { _, err := tx.PutActivity(t.Context(), fresh("m3")); return err }),
		req(alice, func(tx *Tx) error { _, err := tx.forget(t.Context(), activity.Forget{All: true}); return err }),
	}
	s.commit(batch) // directly, as the writer would: it is idle between writes
	for _, r := range batch {
		if err := <-r.err; err != nil {
			t.Fatal(err)
		}
	}
	if got := rowsOf("alice"); len(got) != 0 {
		t.Errorf("alice's principals after forgetting everything: %v, want none", got)
	}
	put(music, "m4")
	if got, want := timeline(alice), "music/m4"; got != want {
		t.Errorf("alice's timeline after the batch and a new write: %s, want %s", got, want)
	}
	if n, err := s.Forget(t.Context(), alice, activity.Forget{All: true}); err != nil || n.Activities != 1 {
		t.Errorf("forgetting everything again: %+v, %v; want the one activity", n, err)
	}
	if got := rowsOf("bob"); !slices.Equal(got, []string{"notes"}) {
		t.Errorf("bob's principals: %v, want [notes]", got)
	}
}

// TestPrincipalIDs_ReadAfterRemoval: a read that looked a row up before the writer removed an id
// (its snapshot may still hold the row just deleted) does not cache what it found; one after does.
func TestPrincipalIDs_ReadAfterRemoval(t *testing.T) {
	var c principalIDs
	k := principalKey{"t", "u", "a"}
	_, _, gen := c.lookup(k)
	c.settle([]principalKey{k}, nil)
	c.addRead(k, 7, gen)
	if id, ok, _ := c.lookup(k); ok {
		t.Errorf("a read from before the removal cached %d", id)
	}
	_, _, gen = c.lookup(k)
	c.addRead(k, 8, gen)
	if id, ok, _ := c.lookup(k); !ok || id != 8 {
		t.Errorf("a read from after the removal: cached %d, %v; want 8", id, ok)
	}
}
