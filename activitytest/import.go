package activitytest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/activityd/activityd"
)

// testImport: an import keeps the times it carries, even for many activities of one instant (as
// Windows Timeline's whole seconds give them), and is idempotent; a refused activity is skipped and
// the others of the batch go in; an old import never overwrites a newer activity.
func testImport(t *testing.T, open Opener) {
	f := newFixture(t, open)
	ctx := t.Context()
	then := f.clock.Now().Add(-400 * 24 * time.Hour).Truncate(time.Second)
	batch := func() []*activity.Activity {
		var as []*activity.Activity
		for i := range 1500 {
			a := personActivity(fmt.Sprintf("k%d", i), fmt.Sprintf("Imported note %d", i), "timeline", "notes.example")
			a.CreatedDateTime, a.LastModifiedDateTime = then, then
			a.HistoryItems = []*activity.HistoryItem{{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i),
				StartedDateTime: then.Add(-time.Hour), LastActiveDateTime: then, CreatedDateTime: then, LastModifiedDateTime: then}}
			as = append(as, a)
		}
		return as
	}
	count := func(results []activity.ImportResult) map[activity.ImportResult]int {
		m := map[activity.ImportResult]int{}
		for _, r := range results {
			m[r]++
		}
		return m
	}
	results, errs, err := f.Import(ctx, AliceNotes, batch())
	if err != nil || count(results)[activity.ImportCreated] != 1500 {
		t.Fatalf("Import of 1,500 activities of one instant = %v, %v (first error %v)", count(results), err, firstError(errs))
	}
	page, err := f.ListActivities(ctx, AliceNotes, activity.ActivityQuery{Limit: 5, Search: "imported"})
	if err != nil || len(page.Activities) != 5 || !page.Activities[0].LastModifiedDateTime.Equal(then) {
		t.Fatalf("search after the import = %v, %v", page, err)
	}
	items, err := f.ListHistoryItems(ctx, AliceNotes, activity.Ref{AppActivityID: "k7"}, activity.HistoryQuery{Limit: 10})
	if err != nil || len(items.Items) != 1 || items.Items[0].ID != "00000000-0000-4000-8000-000000000007" || !items.Items[0].CreatedDateTime.Equal(then) {
		t.Fatalf("the imported history item = %+v, %v", items, err)
	}
	results, _, err = f.Import(ctx, AliceNotes, batch())
	if err != nil || count(results)[activity.ImportUnchanged] != 1500 {
		t.Fatalf("the same import again = %v, %v; want every activity unchanged", count(results), err)
	}

	// A newer activity is kept; a refused one is skipped and the rest goes in.
	f.clock.Add(time.Minute)
	f.mustUpsert(t, AliceNotes, personActivity("k1", "Edited since", "", "notes.example"))
	if _, err := f.SetPrivacy(ctx, AliceNotes, &activity.Privacy{BlockedSites: []string{"blocked.example"}}); err != nil {
		t.Fatal(err)
	}
	old := batch()[1]
	blocked := personActivity("b", "Blocked", "", "blocked.example")
	fresh := personActivity("fresh", "Fresh", "", "notes.example")
	results, errs, err = f.Import(ctx, AliceNotes, []*activity.Activity{old, blocked, fresh})
	if err != nil || results[0] != activity.ImportNewer || results[1] != activity.ImportSkipped || activity.ErrorCode(errs[1]) != activity.Forbidden || results[2] != activity.ImportCreated {
		t.Fatalf("newer, blocked, fresh = %v, %v, %v", results, errs, err)
	}
	if a, err := f.Activity(ctx, AliceNotes, activity.Ref{AppActivityID: "k1"}); err != nil || a.VisualElements.DisplayText != "Edited since" {
		t.Errorf("the newer activity after an old import = %+v, %v", a, err)
	}
	// An old source still brings the sessions the newer activity lacks; a repeated id is refused.
	withSession := batch()[1]
	withSession.HistoryItems = append(withSession.HistoryItems, &activity.HistoryItem{ID: "00000000-0000-4000-8000-999999999999",
		StartedDateTime: then.Add(-2 * time.Hour), CreatedDateTime: then, LastModifiedDateTime: then})
	twice := personActivity("twice", "Twice", "", "notes.example")
	twice.HistoryItems = []*activity.HistoryItem{{ID: "00000000-0000-4000-8000-000000000001", StartedDateTime: then},
		{ID: "00000000-0000-4000-8000-000000000001", StartedDateTime: then.Add(time.Hour)}}
	results, errs, err = f.Import(ctx, AliceNotes, []*activity.Activity{withSession, twice})
	if err != nil || results[0] != activity.ImportUpdated || results[1] != activity.ImportSkipped || activity.ErrorCode(errs[1]) != activity.Invalid {
		t.Fatalf("a session for a newer activity, a repeated id = %v, %v, %v", results, errs, err)
	}
	items, err = f.ListHistoryItems(ctx, AliceNotes, activity.Ref{AppActivityID: "k1"}, activity.HistoryQuery{Limit: 10})
	if a, _ := f.Activity(ctx, AliceNotes, activity.Ref{AppActivityID: "k1"}); err != nil || len(items.Items) != 2 || a.VisualElements.DisplayText != "Edited since" {
		t.Errorf("k1 after an old source with a new session: %d items, %v", len(items.Items), err)
	}
	// An item imported again with another createdDateTime takes it: an import stores the times it
	// carries (unlike Graph's PUT, which keeps a live item's).
	earlier := then.Add(-time.Hour)
	recreated := batch()[7]
	recreated.HistoryItems[0].CreatedDateTime = earlier
	results, errs, err = f.Import(ctx, AliceNotes, []*activity.Activity{recreated})
	if err != nil || results[0] != activity.ImportUpdated {
		t.Fatalf("an item with another createdDateTime = %v, %v, %v; want updated", results, errs, err)
	}
	items, err = f.ListHistoryItems(ctx, AliceNotes, activity.Ref{AppActivityID: "k7"}, activity.HistoryQuery{Limit: 10})
	if err != nil || len(items.Items) != 1 || !items.Items[0].CreatedDateTime.Equal(earlier) {
		t.Errorf("k7's item after an import with another createdDateTime: %+v, %v; want created %v", items, err, earlier)
	}
}

func firstError(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// testImportRace: two imports of the same keys at once, one older and one newer, end with the newer
// of each, whichever commits first.
func testImportRace(t *testing.T, open Opener) {
	f := newFixture(t, open)
	ctx := t.Context()
	at := func(age time.Duration, text string) []*activity.Activity {
		var as []*activity.Activity
		for i := range 200 {
			a := personActivity(fmt.Sprintf("r%d", i), text, "", "notes.example")
			a.CreatedDateTime = f.clock.Now().Add(-48 * time.Hour)
			a.LastModifiedDateTime = f.clock.Now().Add(-age)
			as = append(as, a)
		}
		return as
	}
	for round := range 5 {
		var wg sync.WaitGroup
		errs := make(chan error, 2)
		for _, batch := range [][]*activity.Activity{at(time.Hour+time.Duration(round)*time.Minute, "older"), at(time.Minute, "newer")} {
			wg.Go(func() {
				_, _, err := f.Import(ctx, AliceNotes, batch)
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		for i := range 200 {
			a, err := f.Activity(ctx, AliceNotes, activity.Ref{AppActivityID: fmt.Sprintf("r%d", i)})
			if err != nil || a.VisualElements.DisplayText != "newer" {
				t.Fatalf("round %d, r%d after two imports at once: %+v, %v; want the newer", round, i, a, err)
			}
		}
	}
}
