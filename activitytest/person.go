package activitytest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/activityd/activityd"
)

// personActivity returns an activity about a web page (activationUrl https://host/path).
func personActivity(key, text, description, host string) *activity.Activity {
	a := NewActivity(key)
	a.ActivationURL = "https://" + host + "/" + key
	a.ContentURL, a.FallbackURL = "", ""
	a.VisualElements.DisplayText, a.VisualElements.Description = text, description
	return a
}

// testPerson: a person's view lists their activities through every app, newest first, by app and
// by site, with their history items; never another user's.
func testPerson(t *testing.T, open Opener) {
	f := newFixture(t, open)
	ctx := t.Context()
	f.mustUpsert(t, AliceNotes, personActivity("n1", "Shopping list", "", "notes.example.com"))
	f.clock.Add(time.Minute)
	m := personActivity("m1", "Reef knot tutorial", "", "video.example.org")
	m.HistoryItems = []*activity.HistoryItem{NewHistoryItem("", f.clock.Now().Add(-time.Hour), time.Minute)}
	f.mustUpsert(t, AliceMusic, m)
	f.clock.Add(time.Minute)
	f.mustUpsert(t, AliceNotes, personActivity("n2", "Letter", "", "www.notes.example.com"))
	f.mustUpsert(t, BobNotes, personActivity("b1", "Bob's", "", "notes.example.com"))

	all := activity.ActivityQuery{Limit: 10, AllApps: true, HistoryItems: 5}
	page, err := f.ListActivities(ctx, AliceNotes, all)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ids(page.Activities), []string{"n2", "m1", "n1"}; !slices.Equal(got, want) {
		t.Fatalf("a person's view = %v, want %v", got, want)
	}
	if page.Activities[1].AppID != "music" || page.Activities[0].AppID != "notes" {
		t.Errorf("apps = %q, %q; want music, notes", page.Activities[1].AppID, page.Activities[0].AppID)
	}
	if n := len(page.Activities[1].HistoryItems); n != 1 {
		t.Errorf("the music activity comes with %d history items, want 1", n)
	}
	app := all
	app.App = "music"
	if page, _ := f.ListActivities(ctx, AliceNotes, app); !slices.Equal(ids(page.Activities), []string{"m1"}) {
		t.Errorf("App music = %v, want [m1]", ids(page.Activities))
	}
	site := all
	site.Site = "notes.example.com"
	if page, _ := f.ListActivities(ctx, AliceMusic, site); !slices.Equal(ids(page.Activities), []string{"n2", "n1"}) {
		t.Errorf("Site notes.example.com = %v, want [n2 n1] (a subdomain is the site's)", ids(page.Activities))
	}
	site.Site = "example.org"
	if page, _ := f.ListActivities(ctx, AliceMusic, site); !slices.Equal(ids(page.Activities), []string{"m1"}) {
		t.Errorf("Site example.org = %v, want [m1]", ids(page.Activities))
	}
	site.Site = "ample.com"
	if page, _ := f.ListActivities(ctx, AliceMusic, site); len(page.Activities) != 0 {
		t.Errorf("Site ample.com = %v, want none (not a subdomain)", ids(page.Activities))
	}
	// Paging through a person's view.
	two := all
	two.Limit = 2
	first, _ := f.ListActivities(ctx, AliceNotes, two)
	two.After = first.Next
	second, _ := f.ListActivities(ctx, AliceNotes, two)
	if first.Next == nil || !slices.Equal(ids(second.Activities), []string{"n1"}) || second.Next != nil {
		t.Errorf("second page = %v (next %v), want [n1] and no next", ids(second.Activities), second.Next)
	}
	// The app's own view is unchanged.
	if page, _ := f.ListActivities(ctx, AliceNotes, activity.ActivityQuery{Limit: 10}); !slices.Equal(ids(page.Activities), []string{"n2", "n1"}) {
		t.Errorf("the app's view = %v, want [n2 n1]", ids(page.Activities))
	}
}

// testPersonApps: a person's view merges the newest activities of many apps, with ties in
// lastModifiedDateTime across apps, page after page: each live activity of the person once, newest
// first (then by id), none of another user's, none expired.
func testPersonApps(t *testing.T, open Opener) {
	f := newFixture(t, open)
	ctx := t.Context()
	apps := map[string]string{} // appActivityId → app
	for i := range 40 {
		p := AliceNotes
		p.AppID = fmt.Sprintf("app%02d", i*7%11)
		a := personActivity(fmt.Sprintf("a%02d", i), "Alice's", "", "example.com")
		if i == 5 {
			a.ExpirationDateTime = f.clock.Now().Add(time.Minute)
		} else {
			apps[a.AppActivityID] = p.AppID
		}
		f.mustUpsert(t, p, a)
		b := BobNotes
		b.AppID = p.AppID
		f.mustUpsert(t, b, personActivity(fmt.Sprintf("b%02d", i), "Bob's", "", "example.com"))
		if i%3 == 2 { // three activities of three apps at each instant
			f.clock.Add(time.Second)
		}
	}
	f.clock.Add(time.Hour) // a05 expires
	var prev *activity.Activity
	seen := map[string]bool{}
	q := activity.ActivityQuery{Limit: 4, AllApps: true}
	for pages := 0; pages < 20; pages++ {
		page, err := f.ListActivities(ctx, AliceNotes, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range page.Activities {
			switch app, ok := apps[a.AppActivityID]; {
			case !ok:
				t.Errorf("page %d holds %s, which is not Alice's or has expired", pages, a.AppActivityID)
			case seen[a.AppActivityID]:
				t.Errorf("page %d holds %s again", pages, a.AppActivityID)
			case a.AppID != app:
				t.Errorf("%s comes with app %q, want %q", a.AppActivityID, a.AppID, app)
			}
			if prev != nil && (a.LastModifiedDateTime.After(prev.LastModifiedDateTime) ||
				a.LastModifiedDateTime.Equal(prev.LastModifiedDateTime) && a.ID >= prev.ID) {
				t.Errorf("%s (%v, id %d) comes after %s (%v, id %d): not newest first", a.AppActivityID,
					a.LastModifiedDateTime, a.ID, prev.AppActivityID, prev.LastModifiedDateTime, prev.ID)
			}
			seen[a.AppActivityID], prev = true, a
		}
		if page.Next == nil {
			break
		}
		q.After = page.Next
	}
	if len(seen) != len(apps) {
		t.Errorf("the pages hold %d of Alice's %d live activities", len(seen), len(apps))
	}
}

// testPersonConcurrent: sixteen person timelines with history items at once all answer, as sixteen
// timeline pages do. (SQLite's first app-by-app timeline held its read connection while it asked the
// pool for another, for the history items: eight at once waited for each other for good.)
func testPersonConcurrent(t *testing.T, open Opener) {
	f := newFixture(t, open)
	for i := range 30 {
		p := AliceNotes
		p.AppID = fmt.Sprintf("app%d", i%5)
		a := personActivity(fmt.Sprintf("a%02d", i), "Alice's", "", "example.com")
		a.HistoryItems = []*activity.HistoryItem{NewHistoryItem("", f.clock.Now().Add(-time.Hour), time.Minute)}
		f.mustUpsert(t, p, a)
		f.clock.Add(time.Second)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute) // a deadlock fails here, not at the test's timeout
	defer cancel()
	errs := make(chan error, 16)
	for range 16 {
		go func() {
			var err error
			for range 10 {
				var page *activity.ActivityPage
				if page, err = f.ListActivities(ctx, AliceNotes, activity.ActivityQuery{Limit: 20, AllApps: true, HistoryItems: 5}); err != nil {
					break
				} else if len(page.Activities) != 20 || len(page.Activities[0].HistoryItems) != 1 {
					err = fmt.Errorf("a page of %d activities, the first with %d history items; want 20, 1", len(page.Activities), len(page.Activities[0].HistoryItems))
					break
				}
			}
			errs <- err
		}()
	}
	for range 16 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// testSearch: search finds every word in display text, description, app name, card text and the
// activation URL, as whole words, ranked; hostile input finds nothing and fails nothing.
func testSearch(t *testing.T, open Opener) {
	f := newFixture(t, open)
	ctx := t.Context()
	f.mustUpsert(t, AliceNotes, personActivity("title", "How to tie a reef knot", "sailing", "knots.example.com"))
	f.clock.Add(time.Hour)
	f.mustUpsert(t, AliceNotes, personActivity("desc", "Sailing basics", "the reef knot, also square knot", "sail.example.com"))
	f.clock.Add(time.Hour)
	card := personActivity("card", "Weekly plan", "", "plan.example.com")
	card.VisualElements.Content = json.RawMessage(`{"type":"AdaptiveCard","body":[{"type":"TextBlock","text":"Übung mit Zebrafischen"},
		{"type":"FactSet","facts":[{"title":"Room","value":"Aquarium 7"}]}]}`)
	f.mustUpsert(t, AliceMusic, card)
	f.mustUpsert(t, AliceMusic, personActivity("path", "Playlist", "", "music.example.net/artist/okonkwo"))
	f.mustUpsert(t, BobNotes, personActivity("bob", "Bob's reef knot", "reef knot", "knots.example.com"))

	search := func(p activity.Principal, q activity.ActivityQuery) []string {
		t.Helper()
		q.Limit = 10
		page, err := f.ListActivities(ctx, p, q)
		if err != nil {
			t.Fatalf("search %q: %v", q.Search, err)
		}
		return ids(page.Activities)
	}
	for _, c := range []struct {
		search string
		want   []string
	}{
		{"reef knot", []string{"title", "desc"}}, // the display text ranks first
		{`"Reef KNOT"`, []string{"title", "desc"}},
		{"square", []string{"desc"}}, // only in a description
		{"zebrafischen", []string{"card"}},
		{"übung", []string{"card"}},
		{"aquarium 7", []string{"card"}},
		{"okonkwo", []string{"path"}}, // the activation URL's path
		{"music example net", []string{"path"}},
		{"knots.example.com", []string{"title"}},
		{"zebra", nil}, // words match whole
		{"reef zebra", nil},
		{`") OR 1=1 --`, nil},
		{`NEAR(reef knot) * "`, nil},
		{"'; DROP TABLE activities; --", nil},
		{"&|!:*", nil},
	} {
		if got := search(AliceNotes, activity.ActivityQuery{Search: c.search, AllApps: true}); !slices.Equal(got, c.want) {
			t.Errorf("search %q = %v, want %v", c.search, got, c.want)
		}
	}
	if got := search(AliceNotes, activity.ActivityQuery{Search: "reef"}); !slices.Equal(got, []string{"title", "desc"}) {
		t.Errorf("the app's search = %v, want [title desc]", got)
	}
	if got := search(AliceMusic, activity.ActivityQuery{Search: "reef"}); len(got) != 0 {
		t.Errorf("another app's search = %v, want nothing", got)
	}
	if got := search(AliceNotes, activity.ActivityQuery{Search: "reef", AllApps: true, Site: "sail.example.com"}); !slices.Equal(got, []string{"desc"}) {
		t.Errorf("search by site = %v, want [desc]", got)
	}
	// Recency breaks ties: the same words, an older and a newer activity.
	f.clock.Add(24 * time.Hour)
	f.mustUpsert(t, AliceNotes, personActivity("old", "Bowline", "", "a.example.com"))
	f.clock.Add(20 * 24 * time.Hour) // within the 30 days they live
	f.mustUpsert(t, AliceNotes, personActivity("new", "Bowline", "", "a.example.com"))
	if got := search(AliceNotes, activity.ActivityQuery{Search: "bowline"}); !slices.Equal(got, []string{"new", "old"}) {
		t.Errorf("equal matches = %v, want the newer first", got)
	}
	// Paging.
	page, err := f.ListActivities(ctx, AliceNotes, activity.ActivityQuery{Search: "bowline", Limit: 1})
	if err != nil || page.Next == nil {
		t.Fatalf("first page of one: %v, next %v", err, page.Next)
	}
	next, err := f.ListActivities(ctx, AliceNotes, activity.ActivityQuery{Search: "bowline", Limit: 1, After: page.Next})
	if err != nil || !slices.Equal(ids(next.Activities), []string{"old"}) || next.Next != nil {
		t.Errorf("second page = %v, %v (next %v); want [old]", ids(next.Activities), err, next.Next)
	}
	// A changed activity is found by its new words only; a deleted one not at all.
	changed := personActivity("title", "Clove hitch", "", "knots.example.com")
	f.mustUpsert(t, AliceNotes, changed)
	if got := search(AliceNotes, activity.ActivityQuery{Search: "clove"}); !slices.Equal(got, []string{"title"}) {
		t.Errorf("search for the new words = %v", got)
	}
	if got := search(AliceNotes, activity.ActivityQuery{Search: "tie"}); len(got) != 0 {
		t.Errorf("search for the replaced words = %v, want nothing", got)
	}
	if err := f.DeleteActivity(ctx, AliceNotes, activity.Ref{ID: changed.ID}); err != nil {
		t.Fatal(err)
	}
	if got := search(AliceNotes, activity.ActivityQuery{Search: "clove"}); len(got) != 0 {
		t.Errorf("search finds a deleted activity: %v", got)
	}

	// Only the newest activity.SearchCandidates matches are ranked; an app's own search, and a
	// search of a date range, still reach an older match behind more than that many newer ones.
	old := f.clock.Now()
	f.mustUpsert(t, AliceNotes, personActivity("lighthouse", "Lighthouse keeper", "", "a.example.com"))
	f.clock.Add(time.Hour)
	newer := f.clock.Now()
	err = f.Store.Update(ctx, AliceMusic, func(tx activity.Tx) error {
		for i := range activity.SearchCandidates + 5 {
			a := personActivity(fmt.Sprintf("song-%d", i), "Lighthouse song", "", "music.example.com")
			a.CreatedDateTime, a.LastModifiedDateTime, a.ExpirationDateTime = newer, newer, newer.Add(24*time.Hour)
			if _, err := tx.PutActivity(ctx, a); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Another person's newer matches take nothing from Alice's.
	err = f.Store.Update(ctx, BobNotes, func(tx activity.Tx) error {
		for i := range activity.SearchCandidates + 5 {
			a := personActivity(fmt.Sprintf("bob-%d", i), "Bob's lighthouse", "", "bob.example.com")
			later := newer.Add(time.Minute)
			a.CreatedDateTime, a.LastModifiedDateTime, a.ExpirationDateTime = later, later, later.Add(24*time.Hour)
			if _, err := tx.PutActivity(ctx, a); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := search(AliceNotes, activity.ActivityQuery{Search: "lighthouse"}); !slices.Equal(got, []string{"lighthouse"}) {
		t.Errorf("the app's search behind %d newer matches of another app = %v", activity.SearchCandidates+5, got)
	}
	if got := search(AliceNotes, activity.ActivityQuery{Search: "lighthouse", AllApps: true, Modified: activity.TimeRange{To: old}}); !slices.Equal(got, []string{"lighthouse"}) {
		t.Errorf("a search of the time before %d newer matches = %v", activity.SearchCandidates+5, got)
	}
	if got := search(AliceNotes, activity.ActivityQuery{Search: "lighthouse", AllApps: true}); len(got) != 10 || got[0] == "lighthouse" {
		t.Errorf("a search of everything = %v, want the newest matches first", got)
	}
}

// testForget: each selector deletes exactly what it names, across apps, logs the deletions, and
// leaves other users alone.
func testForget(t *testing.T, open Opener) {
	f := newFixture(t, open)
	ctx := t.Context()
	start := f.clock.Now()
	before, err := f.Store.ChangeLog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	old := personActivity("old", "Old", "", "a.example.com")
	old.HistoryItems = []*activity.HistoryItem{
		NewHistoryItem("", start.Add(-3*time.Hour), time.Minute),
		NewHistoryItem("", start.Add(90*time.Minute), time.Minute), // active in the hour forgotten below
	}
	f.mustUpsert(t, AliceNotes, old)
	f.clock.Add(2 * time.Hour)
	f.mustUpsert(t, AliceNotes, personActivity("hour1", "In the hour", "", "b.example.com"))
	f.mustUpsert(t, AliceMusic, personActivity("hour2", "In the hour too", "", "c.example.com"))
	f.mustUpsert(t, BobNotes, personActivity("bob", "Bob's", "", "b.example.com"))
	f.clock.Add(2 * time.Hour)
	f.mustUpsert(t, AliceNotes, personActivity("later", "Later", "", "sub.b.example.com"))
	f.mustUpsert(t, AliceMusic, personActivity("song", "Song", "", "d.example.com"))

	// The forget's changes are read from the end of these five: PostgreSQL shows a committed change
	// only once every older transaction of the cluster has ended (postgres/horizon.go), so the log's
	// latest position may not yet be past them.
	_, shown := changesOnceShown(t, f, AliceNotes, before.Latest, true, 5)
	n, err := f.Forget(ctx, AliceNotes, activity.Forget{Range: activity.TimeRange{From: start.Add(time.Hour), To: start.Add(3 * time.Hour)}})
	if err != nil || n.Activities != 2 || n.HistoryItems != 1 {
		t.Fatalf("Forget(range) = %+v, %v; want 2 activities and 1 history item", n, err)
	}
	left := func() []string {
		t.Helper()
		page, err := f.ListActivities(ctx, AliceNotes, activity.ActivityQuery{Limit: 10, AllApps: true, HistoryItems: 10})
		if err != nil {
			t.Fatal(err)
		}
		got := ids(page.Activities)
		slices.Sort(got)
		return got
	}
	if got := left(); !slices.Equal(got, []string{"later", "old", "song"}) {
		t.Fatalf("after forgetting the range: %v", got)
	}
	page, _ := f.ListActivities(ctx, AliceNotes, activity.ActivityQuery{Limit: 10, AllApps: true, HistoryItems: 10, Search: "old"})
	if len(page.Activities) != 1 || len(page.Activities[0].HistoryItems) != 1 {
		t.Errorf("the old activity keeps %v sessions, want the one outside the range", page.Activities)
	}
	changes, _ := changesOnceShown(t, f, AliceNotes, shown, true, 3)
	kinds := map[string]activity.ChangeKind{}
	for _, c := range changes {
		kinds[c.AppID+"/"+string(c.Kind)] = c.Kind
	}
	if len(changes) != 3 || kinds["notes/deleted"] == "" || kinds["music/deleted"] == "" || kinds["notes/updated"] == "" {
		t.Errorf("changes logged by the forget: %+v, want two deletions (notes, music) and an update", changes)
	}

	if n, err := f.Forget(ctx, AliceNotes, activity.Forget{Site: "b.example.com"}); err != nil || n.Activities != 1 {
		t.Errorf("Forget(site) = %+v, %v; want the subdomain's activity", n, err)
	}
	if n, err := f.Forget(ctx, AliceNotes, activity.Forget{AppID: "music"}); err != nil || n.Activities != 1 {
		t.Errorf("Forget(app) = %+v, %v; want 1", n, err)
	}
	if got := left(); !slices.Equal(got, []string{"old"}) {
		t.Fatalf("after forgetting a site and an app: %v", got)
	}
	if n, err := f.Forget(ctx, AliceMusic, activity.Forget{ActivityID: old.ID}); err != nil || n.Activities != 1 {
		t.Errorf("Forget(activity) through another app = %+v, %v; want 1", n, err)
	}
	f.mustUpsert(t, AliceMusic, personActivity("again", "Again", "", "e.example.com"))
	if n, err := f.Forget(ctx, AliceNotes, activity.Forget{All: true}); err != nil || n.Activities != 1 {
		t.Errorf("Forget(all) = %+v, %v; want 1", n, err)
	}
	if page, _ := f.ListActivities(ctx, BobNotes, activity.ActivityQuery{Limit: 10}); !slices.Equal(ids(page.Activities), []string{"bob"}) {
		t.Errorf("Bob's activities after Alice forgot everything: %v", ids(page.Activities))
	}
	for _, bad := range []activity.Forget{{}, {All: true, AppID: "x"}, {Site: "not a host"}, {Range: activity.TimeRange{From: start, To: start.Add(-time.Second)}}} {
		if _, err := f.Forget(ctx, AliceNotes, bad); activity.ErrorCode(err) != activity.Invalid {
			t.Errorf("Forget(%+v) = %v, want Invalid", bad, err)
		}
	}
}

// testPrivacy: block-lists and a pause refuse writes, store nothing, and forget the past.
func testPrivacy(t *testing.T, open Opener) {
	f := newFixture(t, open)
	ctx := t.Context()
	pv, err := f.Privacy(ctx, AliceNotes)
	if err != nil || len(pv.BlockedApps) != 0 || !pv.PausedUntil.IsZero() {
		t.Fatalf("Privacy before any = %+v, %v", pv, err)
	}
	f.mustUpsert(t, AliceMusic, personActivity("song", "Song", "", "music.example.com"))
	f.mustUpsert(t, AliceNotes, personActivity("page", "Page", "", "www.tracker.example"))
	f.mustUpsert(t, AliceNotes, personActivity("kept", "Kept", "", "ok.example"))
	f.mustUpsert(t, BobNotes, personActivity("bob", "Bob", "", "www.tracker.example"))

	n, err := f.SetPrivacy(ctx, AliceNotes, &activity.Privacy{BlockedApps: []string{"music", "music"}, BlockedSites: []string{"https://Tracker.Example/x"}})
	if err != nil || n.Activities != 2 {
		t.Fatalf("SetPrivacy = %+v, %v; want the 2 blocked activities forgotten", n, err)
	}
	pv, _ = f.Privacy(ctx, AliceMusic)
	if !slices.Equal(pv.BlockedApps, []string{"music"}) || !slices.Equal(pv.BlockedSites, []string{"tracker.example"}) {
		t.Errorf("stored settings = %+v", pv)
	}
	_, err = f.UpsertActivity(ctx, AliceMusic, personActivity("song2", "Song", "", "music.example.com"))
	wantCode(t, "a write of a blocked app", err, activity.Forbidden)
	_, err = f.UpsertActivity(ctx, AliceNotes, personActivity("page2", "Page", "", "a.tracker.example"))
	wantCode(t, "a write about a blocked site", err, activity.Forbidden)
	if _, err := f.UpsertActivity(ctx, BobNotes, personActivity("bob2", "Bob", "", "tracker.example")); err != nil {
		t.Errorf("Bob's write about the site Alice blocked: %v", err)
	}
	page, _ := f.ListActivities(ctx, AliceNotes, activity.ActivityQuery{Limit: 10, AllApps: true})
	if !slices.Equal(ids(page.Activities), []string{"kept"}) {
		t.Errorf("Alice keeps %v, want [kept]", ids(page.Activities))
	}
	// Settings that refuse other apps and sites leave this one's writes alone.
	if created, err := f.PutHistoryItem(ctx, AliceNotes, activity.Ref{ID: page.Activities[0].ID}, NewHistoryItem("", f.clock.Now(), time.Minute)); err != nil || !created {
		t.Errorf("a history item of an app and site not blocked = %v, %v", created, err)
	}

	// A pause refuses every write of the user until it ends, history items too.
	kept := page.Activities[0]
	if _, err := f.SetPrivacy(ctx, AliceNotes, &activity.Privacy{PausedUntil: f.clock.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	_, err = f.UpsertActivity(ctx, AliceNotes, personActivity("paused", "Paused", "", "ok.example"))
	wantCode(t, "a write while paused", err, activity.Forbidden)
	_, err = f.PutHistoryItem(ctx, AliceNotes, activity.Ref{ID: kept.ID}, NewHistoryItem("", f.clock.Now(), time.Minute))
	wantCode(t, "a history item while paused", err, activity.Forbidden)
	_, err = f.PutHistoryItem(ctx, AliceNotes, activity.Ref{AppActivityID: kept.AppActivityID}, NewHistoryItem("", f.clock.Now(), time.Minute))
	wantCode(t, "a history item by appActivityId while paused", err, activity.Forbidden)
	_, err = f.UpdateActivity(ctx, AliceNotes, activity.Ref{ID: kept.ID}, func(a *activity.Activity) { a.VisualElements.DisplayText = "Paused" })
	wantCode(t, "a PATCH while paused", err, activity.Forbidden)
	if got, _ := f.Activity(ctx, AliceNotes, activity.Ref{ID: kept.ID}); got == nil || got.VisualElements.DisplayText != kept.VisualElements.DisplayText {
		t.Errorf("a refused PATCH changed the activity: %+v", got)
	}
	f.clock.Add(time.Hour)
	if _, err := f.UpsertActivity(ctx, AliceMusic, personActivity("after", "After", "", "ok.example")); err != nil {
		t.Errorf("a write after the pause ended (music is no longer blocked): %v", err)
	}
	for _, bad := range []*activity.Privacy{{BlockedSites: []string{"a b"}}, {BlockedApps: []string{""}}, {BlockedSites: make([]string, activity.MaxBlocked+1)}} {
		if _, err := f.SetPrivacy(ctx, AliceNotes, bad); activity.ErrorCode(err) != activity.Invalid {
			t.Errorf("SetPrivacy(%+v) = %v, want Invalid", bad, err)
		}
	}
}

// testPrivacyRace: writes of an app racing the block of that app: once SetPrivacy (and the forget
// it runs) has returned, nothing of the app is stored, whichever came first.
func testPrivacyRace(t *testing.T, open Opener) {
	f := newFixture(t, open)
	ctx := t.Context()
	for round := range 150 {
		if _, err := f.SetPrivacy(ctx, AliceNotes, &activity.Privacy{}); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for w := range 6 {
			wg.Go(func() {
				for i := range 3 {
					a := personActivity(fmt.Sprintf("r%d-%d-%d", round, w, i), "Racing", "", "race.example.com")
					if _, err := f.UpsertActivity(ctx, AliceMusic, a); err != nil && activity.ErrorCode(err) != activity.Forbidden {
						t.Errorf("write: %v", err)
					}
				}
			})
		}
		if _, err := f.SetPrivacy(ctx, AliceNotes, &activity.Privacy{BlockedApps: []string{"music"}}); err != nil {
			t.Fatal(err)
		}
		// Writes still running now are refused; those that were not are forgotten.
		wg.Wait()
		page, err := f.ListActivities(ctx, AliceMusic, activity.ActivityQuery{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Activities) != 0 {
			t.Fatalf("round %d: %d activities of the blocked app are stored: %v", round, len(page.Activities), ids(page.Activities))
		}
	}
}
