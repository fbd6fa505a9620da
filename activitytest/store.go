package activitytest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/activityd/activityd"
	"github.com/google/go-cmp/cmp"
)

func testUpsert(t *testing.T, open Opener) {
	f := newFixture(t, open)
	ctx := t.Context()
	a := NewActivity("/article?12345")
	a.HistoryItems = []*activity.HistoryItem{NewHistoryItem("", f.clock.Now().Add(-time.Hour), 20*time.Second)}
	created, err := f.UpsertActivity(ctx, AliceNotes, a)
	if err != nil || !created {
		t.Fatalf("UpsertActivity = %v, %v; want created", created, err)
	}
	if a.ID <= 0 || a.Status != activity.StatusActive || !a.CreatedDateTime.Equal(f.clock.Now()) {
		t.Fatalf("server properties after create: id=%d status=%s created=%v", a.ID, a.Status, a.CreatedDateTime)
	}
	if want := f.clock.Now().Add(activity.DefaultTTL); !a.ExpirationDateTime.Equal(want) {
		t.Errorf("expiration = %v, want %v", a.ExpirationDateTime, want)
	}
	h := a.HistoryItems[0]
	if _, ok := activity.ParseGUID(h.ID); !ok || h.ActiveDurationSeconds == nil || *h.ActiveDurationSeconds != 20 {
		t.Errorf("deep-inserted item: id %q duration %v, want a GUID and 20", h.ID, h.ActiveDurationSeconds)
	}
	got, err := f.Activity(ctx, AliceNotes, activity.ParseRef(a.IDString()))
	if err != nil {
		t.Fatal(err)
	}
	stored := *a
	stored.HistoryItems = nil
	if diff := cmp.Diff(&stored, got); diff != "" {
		t.Errorf("stored activity differs (-put +found):\n%s", diff)
	}

	t.Run("Replace", func(t *testing.T) {
		f.clock.Add(time.Minute)
		b := NewActivity("/article?12345")
		b.AppDisplayName, b.VisualElements.Attribution, b.ContentInfo = "", nil, nil
		created, err := f.UpsertActivity(ctx, AliceNotes, b)
		if err != nil || created {
			t.Fatalf("UpsertActivity again = %v, %v; want replaced", created, err)
		}
		if b.ID != a.ID || !b.CreatedDateTime.Equal(a.CreatedDateTime) || b.Status != activity.StatusUpdated {
			t.Errorf("replace changed id/created or status: %d %v %s", b.ID, b.CreatedDateTime, b.Status)
		}
		got, _ := f.Activity(ctx, AliceNotes, activity.ParseRef(a.IDString()))
		if got.AppDisplayName != "" || got.VisualElements.Attribution != nil || got.ContentInfo != nil {
			t.Errorf("replace kept omitted properties: %+v", got)
		}
		page, _ := f.Store.ListHistoryItems(ctx, AliceNotes, a.ID, activity.HistoryQuery{Limit: 10})
		if len(page.Items) != 1 {
			t.Errorf("replace without history items left %d items, want the 1 stored before", len(page.Items))
		}
	})
	t.Run("SameInstant", func(t *testing.T) {
		// A create and a replace of one key at one instant: the replace must still say so (a store
		// that told them apart by a time-based id would say "created" now and then).
		for i := range 300 {
			key := fmt.Sprintf("instant-%d", i)
			if created, err := f.UpsertActivity(ctx, AliceNotes, NewActivity(key)); err != nil || !created {
				t.Fatalf("UpsertActivity(%s) = %v, %v; want created", key, created, err)
			}
			if created, err := f.UpsertActivity(ctx, AliceNotes, NewActivity(key)); err != nil || created {
				t.Fatalf("UpsertActivity(%s) again at the same instant = %v, %v; want replaced", key, created, err)
			}
		}
	})
	t.Run("Invalid", func(t *testing.T) {
		b := NewActivity("x")
		b.ActivationURL = ""
		_, err := f.UpsertActivity(ctx, AliceNotes, b)
		wantCode(t, "missing activationUrl", err, activity.Invalid)
		if _, err := f.Activity(ctx, AliceNotes, activity.ParseRef("x")); activity.ErrorCode(err) != activity.NotFound {
			t.Errorf("an invalid activity was stored: %v", err)
		}
	})
	t.Run("ClientExpiration", func(t *testing.T) {
		b := NewActivity("exp")
		b.ExpirationDateTime = f.clock.Now().Add(48 * time.Hour)
		f.mustUpsert(t, AliceNotes, b)
		if want := f.clock.Now().Add(48 * time.Hour); !b.ExpirationDateTime.Equal(want) {
			t.Errorf("expiration = %v, want the client's %v", b.ExpirationDateTime, want)
		}
		c := NewActivity("past")
		c.ExpirationDateTime = f.clock.Now().Add(-48 * time.Hour)
		f.mustUpsert(t, AliceNotes, c)
		if want := f.clock.Now().Add(activity.DefaultTTL); !c.ExpirationDateTime.Equal(want) {
			t.Errorf("past expiration became %v, want default %v", c.ExpirationDateTime, want)
		}
	})
}

func testFind(t *testing.T, open Opener) {
	f := newFixture(t, open)
	ctx := t.Context()
	a := f.mustUpsert(t, AliceNotes, NewActivity("doc"))
	numeric := f.mustUpsert(t, AliceNotes, NewActivity("12345"))
	for _, tc := range []struct{ ref, want string }{
		{a.IDString(), "doc"},
		{"doc", "doc"},
		{"12345", "12345"}, // no activity has id 12345: falls back to the appActivityId
		{numeric.IDString(), "12345"},
	} {
		got, err := f.Activity(ctx, AliceNotes, activity.ParseRef(tc.ref))
		if err != nil || got.AppActivityID != tc.want {
			t.Errorf("Activity(%q) = %v, %v; want %q", tc.ref, got, err, tc.want)
		}
	}
	_, err := f.Activity(ctx, AliceNotes, activity.ParseRef("nope"))
	wantCode(t, "Activity(nope)", err, activity.NotFound)
}

func testUpdate(t *testing.T, open Opener) {
	f := newFixture(t, open)
	ctx := t.Context()
	a := f.mustUpsert(t, AliceNotes, NewActivity("doc"))
	f.clock.Add(time.Minute)
	got, err := f.UpdateActivity(ctx, AliceNotes, activity.ParseRef(a.IDString()), func(a *activity.Activity) {
		a.VisualElements.DisplayText = "Renamed"
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.VisualElements.DisplayText != "Renamed" || got.AppDisplayName != "Notes" || got.Status != activity.StatusUpdated ||
		!got.LastModifiedDateTime.Equal(f.clock.Now()) {
		t.Errorf("after update: %+v", got)
	}
	_, err = f.UpdateActivity(ctx, AliceNotes, activity.ParseRef("doc"), func(a *activity.Activity) { a.AppActivityID = "other" })
	wantCode(t, "changing appActivityId", err, activity.Invalid)
	_, err = f.UpdateActivity(ctx, AliceNotes, activity.ParseRef("doc"), func(a *activity.Activity) { a.ActivitySourceHost = "" })
	wantCode(t, "clearing a required property", err, activity.Invalid)
	_, err = f.UpdateActivity(ctx, AliceNotes, activity.ParseRef("missing"), func(*activity.Activity) {})
	wantCode(t, "updating a missing activity", err, activity.NotFound)
	after, _ := f.Activity(ctx, AliceNotes, activity.ParseRef("doc"))
	if after.ActivitySourceHost == "" {
		t.Error("a rejected update was stored")
	}
}

func testDelete(t *testing.T, open Opener) {
	f := newFixture(t, open)
	ctx := t.Context()
	a := NewActivity("doc")
	a.HistoryItems = []*activity.HistoryItem{NewHistoryItem(activity.NewGUID(), f.clock.Now(), time.Minute)}
	f.mustUpsert(t, AliceNotes, a)
	if err := f.DeleteActivity(ctx, AliceNotes, activity.ParseRef(a.IDString())); err != nil {
		t.Fatal(err)
	}
	_, err := f.Activity(ctx, AliceNotes, activity.ParseRef(a.IDString()))
	wantCode(t, "Activity after delete", err, activity.NotFound)
	wantCode(t, "second delete", f.DeleteActivity(ctx, AliceNotes, activity.ParseRef(a.IDString())), activity.NotFound)
	// A new activity with the same appActivityId starts afresh, without the old history.
	b := f.mustUpsert(t, AliceNotes, NewActivity("doc"))
	if b.ID == a.ID {
		t.Error("a deleted activity's id was reused")
	}
	page, err := f.Store.ListHistoryItems(ctx, AliceNotes, b.ID, activity.HistoryQuery{Limit: 10})
	if err != nil || len(page.Items) != 0 {
		t.Errorf("history after re-create = %v, %v; want none", page, err)
	}
}

func testIsolation(t *testing.T, open Opener) {
	f := newFixture(t, open)
	ctx := t.Context()
	a := NewActivity("shared-key")
	a.HistoryItems = []*activity.HistoryItem{NewHistoryItem(activity.NewGUID(), f.clock.Now(), time.Minute)}
	f.mustUpsert(t, AliceNotes, a)
	// The same appActivityId under another app and another user is another activity.
	b := f.mustUpsert(t, AliceMusic, NewActivity("shared-key"))
	c := f.mustUpsert(t, BobNotes, NewActivity("shared-key"))
	if a.ID == b.ID || a.ID == c.ID {
		t.Fatalf("principals share an id: %d %d %d", a.ID, b.ID, c.ID)
	}
	for _, p := range []activity.Principal{AliceMusic, BobNotes} {
		_, err := f.Activity(ctx, p, activity.ParseRef(a.IDString()))
		wantCode(t, "another principal's Activity", err, activity.NotFound)
		wantCode(t, "another principal's DeleteActivity", f.DeleteActivity(ctx, p, activity.ParseRef(a.IDString())), activity.NotFound)
		_, err = f.UpdateActivity(ctx, p, activity.ParseRef(a.IDString()), func(*activity.Activity) {})
		wantCode(t, "another principal's UpdateActivity", err, activity.NotFound)
		_, err = f.HistoryItem(ctx, p, activity.ParseRef(a.IDString()), a.HistoryItems[0].ID)
		wantCode(t, "another principal's HistoryItem", err, activity.NotFound)
		page, err := f.Store.ListActivities(ctx, p, activity.ActivityQuery{Limit: 10})
		if err != nil || len(page.Activities) != 1 || page.Activities[0].ID == a.ID {
			t.Errorf("ListActivities(%v) = %v, %v; want only its own", p, ids(page.Activities), err)
		}
		recent, err := f.Store.RecentActivities(ctx, p, activity.ActivityQuery{Limit: 10})
		if err != nil || len(recent.Activities) != 0 {
			t.Errorf("RecentActivities(%v) = %v, %v; want none", p, ids(recent.Activities), err)
		}
	}
	if n, _ := f.Store.CountActivities(ctx, AliceNotes, activity.TimeRange{}); n != 1 {
		t.Errorf("CountActivities = %d, want 1", n)
	}
}

func testList(t *testing.T, open Opener) {
	f := newFixture(t, open)
	ctx := t.Context()
	const n = 25
	for i := range n {
		f.mustUpsert(t, AliceNotes, NewActivity(name(i)))
		if i%5 != 4 { // groups of equal lastModifiedDateTime exercise the id tiebreak
			f.clock.Add(time.Second)
		}
	}
	var all []*activity.Activity
	q := activity.ActivityQuery{Limit: 4}
	for pages := 0; ; pages++ {
		if pages > n {
			t.Fatal("paging does not end")
		}
		page, err := f.Store.ListActivities(ctx, AliceNotes, q)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page.Activities...)
		if page.Next == nil {
			break
		}
		if len(page.Activities) != q.Limit {
			t.Fatalf("a page with a next cursor holds %d, want %d", len(page.Activities), q.Limit)
		}
		q.After = page.Next
	}
	if len(all) != n {
		t.Fatalf("paged through %d activities, want %d: %v", len(all), n, ids(all))
	}
	for i := 1; i < len(all); i++ {
		p, c := all[i-1], all[i]
		if c.LastModifiedDateTime.After(p.LastModifiedDateTime) ||
			(c.LastModifiedDateTime.Equal(p.LastModifiedDateTime) && c.ID >= p.ID) {
			t.Fatalf("list order broken at %d: %v/%d then %v/%d", i, p.LastModifiedDateTime, p.ID, c.LastModifiedDateTime, c.ID)
		}
	}
	start := NewClock().Now()
	r := activity.TimeRange{From: start.Add(5 * time.Second), To: start.Add(8 * time.Second)}
	page, err := f.Store.ListActivities(ctx, AliceNotes, activity.ActivityQuery{Modified: r, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range page.Activities {
		if a.LastModifiedDateTime.Before(r.From) || a.LastModifiedDateTime.After(r.To) {
			t.Errorf("%s at %v is outside %v..%v", a.AppActivityID, a.LastModifiedDateTime, r.From, r.To)
		}
	}
	if count, _ := f.Store.CountActivities(ctx, AliceNotes, r); count != len(page.Activities) || count == 0 {
		t.Errorf("CountActivities(range) = %d, list gave %d", count, len(page.Activities))
	}
	empty := activity.TimeRange{From: start.Add(time.Hour), To: start}
	if page, _ := f.Store.ListActivities(ctx, AliceNotes, activity.ActivityQuery{Modified: empty, Limit: 10}); len(page.Activities) != 0 {
		t.Errorf("empty range listed %v", ids(page.Activities))
	}
}

func testRecent(t *testing.T, open Opener) {
	f := newFixture(t, open)
	ctx := t.Context()
	for _, k := range []string{"a", "b", "c", "none"} {
		f.mustUpsert(t, AliceNotes, NewActivity(k))
	}
	for _, k := range []string{"b", "a", "c", "b"} { // b used first and last
		f.clock.Add(time.Minute)
		if _, err := f.PutHistoryItem(ctx, AliceNotes, activity.ParseRef(k), NewHistoryItem(activity.NewGUID(), f.clock.Now(), time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	q := activity.ActivityQuery{Limit: 2}
	for {
		page, err := f.Store.RecentActivities(ctx, AliceNotes, q)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ids(page.Activities)...)
		if page.Next == nil {
			break
		}
		q.After = page.Next
	}
	if diff := cmp.Diff([]string{"b", "c", "a"}, got); diff != "" {
		t.Errorf("recent order (-want +got):\n%s", diff)
	}

	// Deleting b's newest item moves b back to the time of its older one, behind c and a.
	page, err := f.Store.ListHistoryItems(ctx, AliceNotes, mustFind(t, f, "b").ID, activity.HistoryQuery{Limit: 1})
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("b's newest item: %v, %v", page, err)
	}
	if err := f.DeleteHistoryItem(ctx, AliceNotes, activity.ParseRef("b"), page.Items[0].ID); err != nil {
		t.Fatal(err)
	}
	recent, err := f.Store.RecentActivities(ctx, AliceNotes, activity.ActivityQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"c", "a", "b"}, ids(recent.Activities)); diff != "" {
		t.Errorf("recent after deleting b's newest item (-want +got):\n%s", diff)
	}
	// An activity whose only item is deleted leaves recent.
	page, _ = f.Store.ListHistoryItems(ctx, AliceNotes, mustFind(t, f, "a").ID, activity.HistoryQuery{Limit: 1})
	if err := f.DeleteHistoryItem(ctx, AliceNotes, activity.ParseRef("a"), page.Items[0].ID); err != nil {
		t.Fatal(err)
	}
	recent, _ = f.Store.RecentActivities(ctx, AliceNotes, activity.ActivityQuery{Limit: 10})
	if diff := cmp.Diff([]string{"c", "b"}, ids(recent.Activities)); diff != "" {
		t.Errorf("recent after deleting a's only item (-want +got):\n%s", diff)
	}
}

func mustFind(t *testing.T, f fixture, ref string) *activity.Activity {
	t.Helper()
	a, err := f.Activity(t.Context(), AliceNotes, activity.ParseRef(ref))
	if err != nil {
		t.Fatalf("Activity(%q): %v", ref, err)
	}
	return a
}

func testHistoryItems(t *testing.T, open Opener) {
	f := newFixture(t, open)
	ctx := t.Context()
	a := f.mustUpsert(t, AliceNotes, NewActivity("doc"))
	id := activity.NewGUID()
	start := f.clock.Now().Add(-time.Hour)
	h := NewHistoryItem(id, start, 90*time.Second)
	created, err := f.PutHistoryItem(ctx, AliceNotes, activity.ParseRef(a.IDString()), h)
	if err != nil || !created || *h.ActiveDurationSeconds != 90 {
		t.Fatalf("PutHistoryItem = %v, %v, duration %v", created, err, h.ActiveDurationSeconds)
	}
	f.clock.Add(time.Minute)
	h2 := NewHistoryItem(id, start, 30*time.Second)
	if created, err := f.PutHistoryItem(ctx, AliceNotes, activity.ParseRef("doc"), h2); err != nil || created {
		t.Fatalf("PutHistoryItem again = %v, %v; want replaced", created, err)
	}
	if !h2.CreatedDateTime.Equal(h.CreatedDateTime) || h2.Status != activity.StatusUpdated || *h2.ActiveDurationSeconds != 30 {
		t.Errorf("replaced item: created %v status %s duration %d", h2.CreatedDateTime, h2.Status, *h2.ActiveDurationSeconds)
	}
	got, err := f.HistoryItem(ctx, AliceNotes, activity.ParseRef(a.IDString()), id)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(h2, got); diff != "" {
		t.Errorf("stored item differs (-put +found):\n%s", diff)
	}
	ongoing := &activity.HistoryItem{StartedDateTime: start}
	if _, err := f.PutHistoryItem(ctx, AliceNotes, activity.ParseRef("doc"), ongoing); err != nil {
		t.Fatal(err)
	}
	if ongoing.ID == "" || ongoing.ActiveDurationSeconds != nil {
		t.Errorf("ongoing item: id %q duration %v; want a new id and no duration", ongoing.ID, ongoing.ActiveDurationSeconds)
	}
	updated, err := f.UpdateHistoryItem(ctx, AliceNotes, activity.ParseRef("doc"), ongoing.ID, func(h *activity.HistoryItem) {
		h.LastActiveDateTime = start.Add(5 * time.Second)
	})
	if err != nil || updated.ActiveDurationSeconds == nil || *updated.ActiveDurationSeconds != 5 {
		t.Errorf("UpdateHistoryItem = %+v, %v; want duration 5", updated, err)
	}
	_, err = f.PutHistoryItem(ctx, AliceNotes, activity.ParseRef("doc"), &activity.HistoryItem{})
	wantCode(t, "item without startedDateTime", err, activity.Invalid)
	_, err = f.PutHistoryItem(ctx, AliceNotes, activity.ParseRef("missing"), NewHistoryItem("", start, 0))
	wantCode(t, "item of a missing activity", err, activity.NotFound)

	page, err := f.Store.ListHistoryItems(ctx, AliceNotes, a.ID, activity.HistoryQuery{Limit: 1})
	if err != nil || len(page.Items) != 1 || page.Next == nil {
		t.Fatalf("first page = %+v, %v", page, err)
	}
	page2, err := f.Store.ListHistoryItems(ctx, AliceNotes, a.ID, activity.HistoryQuery{Limit: 1, After: page.Next})
	if err != nil || len(page2.Items) != 1 || page2.Next != nil || page2.Items[0].ID == page.Items[0].ID {
		t.Fatalf("second page = %+v, %v", page2, err)
	}
	if n, _ := f.Store.CountHistoryItems(ctx, AliceNotes, a.ID, activity.TimeRange{}); n != 2 {
		t.Errorf("CountHistoryItems = %d, want 2", n)
	}
	expanded, err := f.Store.ExpandHistoryItems(ctx, AliceNotes, []int64{a.ID}, activity.TimeRange{}, 10)
	if err != nil || len(expanded[a.ID]) != 2 {
		t.Errorf("ExpandHistoryItems = %v, %v; want 2 items", expanded, err)
	}
	if err := f.DeleteHistoryItem(ctx, AliceNotes, activity.ParseRef("doc"), id); err != nil {
		t.Fatal(err)
	}

	// A deep insert gives all its items one lastModifiedDateTime: paging must break the tie by id.
	deep := NewActivity("deep")
	for range 5 {
		deep.HistoryItems = append(deep.HistoryItems, NewHistoryItem(activity.NewGUID(), start, time.Second))
	}
	f.mustUpsert(t, AliceNotes, deep)
	seen := map[string]bool{}
	q := activity.HistoryQuery{Limit: 2}
	for pages := 0; pages < 10; pages++ {
		page, err := f.Store.ListHistoryItems(ctx, AliceNotes, deep.ID, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range page.Items {
			seen[h.ID] = true
		}
		if page.Next == nil {
			break
		}
		q.After = page.Next
	}
	if len(seen) != 5 {
		t.Errorf("paging through 5 items of equal lastModifiedDateTime saw %d", len(seen))
	}
	wantCode(t, "second item delete", f.DeleteHistoryItem(ctx, AliceNotes, activity.ParseRef("doc"), id), activity.NotFound)
}

func testExpiry(t *testing.T, open Opener) {
	f := newFixture(t, open)
	ctx := t.Context()
	a := NewActivity("short")
	a.ExpirationDateTime = f.clock.Now().Add(time.Hour)
	a.HistoryItems = []*activity.HistoryItem{NewHistoryItem(activity.NewGUID(), f.clock.Now(), time.Minute)}
	f.mustUpsert(t, AliceNotes, a)
	long := f.mustUpsert(t, AliceNotes, NewActivity("long"))
	item := NewHistoryItem(activity.NewGUID(), f.clock.Now(), time.Minute)
	item.ExpirationDateTime = f.clock.Now().Add(time.Hour)
	if _, err := f.PutHistoryItem(ctx, AliceNotes, activity.ParseRef("long"), item); err != nil {
		t.Fatal(err)
	}
	f.clock.Add(time.Hour) // expiry is exclusive: at its expiration instant an object is gone
	_, err := f.Activity(ctx, AliceNotes, activity.ParseRef("short"))
	wantCode(t, "expired Activity", err, activity.NotFound)
	_, err = f.HistoryItem(ctx, AliceNotes, activity.ParseRef("long"), item.ID)
	wantCode(t, "expired HistoryItem", err, activity.NotFound)
	page, _ := f.Store.ListActivities(ctx, AliceNotes, activity.ActivityQuery{Limit: 10})
	if diff := cmp.Diff([]string{"long"}, ids(page.Activities)); diff != "" {
		t.Errorf("list after expiry (-want +got):\n%s", diff)
	}
	if recent, _ := f.Store.RecentActivities(ctx, AliceNotes, activity.ActivityQuery{Limit: 10}); len(recent.Activities) != 0 {
		t.Errorf("recent after expiry = %v, want none", ids(recent.Activities))
	}
	// The key of an expired activity is free again: a PUT creates a new activity.
	b := NewActivity("short")
	if created, err := f.UpsertActivity(ctx, AliceNotes, b); err != nil || !created {
		t.Errorf("upsert onto an expired key = %v, %v; want created", created, err)
	}
	if b.ID == a.ID || b.Status != activity.StatusActive || !b.CreatedDateTime.Equal(f.clock.Now()) {
		t.Errorf("activity put onto an expired key: id %d (expired one %d), status %s, created %v; want a new one",
			b.ID, a.ID, b.Status, b.CreatedDateTime)
	}
	if n, _ := f.Store.CountHistoryItems(ctx, AliceNotes, b.ID, activity.TimeRange{}); n != 0 {
		t.Errorf("activity put onto an expired key has %d history items, want none of the expired one's", n)
	}
	n, err := f.Store.PurgeExpired(ctx, f.clock.Now(), 100)
	if err != nil || n != 1 {
		t.Errorf("PurgeExpired = %d, %v; want 1 (the expired history item of %d)", n, err, long.ID)
	}
	if recent, _ := f.Store.RecentActivities(ctx, AliceNotes, activity.ActivityQuery{Limit: 10}); len(recent.Activities) != 0 {
		t.Errorf("recent after the purge = %v, want none", ids(recent.Activities))
	}
	if n, _ := f.Store.PurgeExpired(ctx, f.clock.Now(), 100); n != 0 {
		t.Errorf("second PurgeExpired = %d, want 0", n)
	}
	// The same with a deep insert, which writes in a transaction of its own.
	c := NewActivity("again")
	c.ExpirationDateTime = f.clock.Now().Add(time.Hour)
	f.mustUpsert(t, AliceNotes, c)
	f.clock.Add(time.Hour)
	d := NewActivity("again")
	d.HistoryItems = []*activity.HistoryItem{NewHistoryItem(activity.NewGUID(), f.clock.Now(), time.Minute)}
	if created, err := f.UpsertActivity(ctx, AliceNotes, d); err != nil || !created || d.ID == c.ID {
		t.Errorf("deep insert onto an expired key = %v, %v, id %d (expired one %d); want a new one", created, err, d.ID, c.ID)
	}
	if n, _ := f.Store.CountHistoryItems(ctx, AliceNotes, d.ID, activity.TimeRange{}); n != 1 {
		t.Errorf("deep insert onto an expired key: %d history items, want its own 1", n)
	}
}

func testRollback(t *testing.T, open Opener) {
	f := newFixture(t, open)
	ctx := t.Context()
	boom := errors.New("boom")
	err := f.Store.Update(ctx, AliceNotes, func(tx activity.Tx) error {
		if _, err := tx.PutActivity(ctx, NewActivity("ghost")); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v, want the function's error", err)
	}
	_, err = f.Activity(ctx, AliceNotes, activity.ParseRef("ghost"))
	wantCode(t, "activity of a failed transaction", err, activity.NotFound)
}

func testConcurrent(t *testing.T, open Opener) {
	f := newFixture(t, open)
	ctx := t.Context()
	const writers = 8
	var wg sync.WaitGroup
	errs := make(chan error, writers*4)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 4 {
				// Everyone writes "same"; each also writes its own key.
				for _, k := range []string{"same", name(w*10 + i)} {
					if _, err := f.UpsertActivity(ctx, AliceNotes, NewActivity(k)); err != nil {
						errs <- err
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent upsert: %v", err)
	}
	if n, _ := f.Store.CountActivities(ctx, AliceNotes, activity.TimeRange{}); n != 1+writers*4 {
		t.Errorf("CountActivities = %d, want %d", n, 1+writers*4)
	}
}

// testConcurrentFailures runs writes at once of which every other one fails after writing: the
// failures leave nothing behind and the others are all stored (a store that shares one transaction
// between concurrent writes must isolate them).
func testConcurrentFailures(t *testing.T, open Opener) {
	f := newFixture(t, open)
	ctx := t.Context()
	boom := errors.New("boom")
	const writes = 64
	var wg sync.WaitGroup
	errs := make([]error, writes)
	for i := range writes {
		wg.Go(func() {
			errs[i] = f.Store.Update(ctx, AliceNotes, func(tx activity.Tx) error {
				a := NewActivity(name(i))
				a.CreatedDateTime, a.LastModifiedDateTime, a.Status = f.clock.Now(), f.clock.Now(), activity.StatusActive
				a.ExpirationDateTime = f.clock.Now().Add(time.Hour)
				if _, err := tx.PutActivity(ctx, a); err != nil {
					return err
				}
				if i%2 == 1 {
					return boom
				}
				return nil
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if want := map[bool]error{true: boom, false: nil}[i%2 == 1]; !errors.Is(err, want) && err != want {
			t.Errorf("write %d: %v, want %v", i, err, want)
		}
		_, err := f.Activity(ctx, AliceNotes, activity.ParseRef(name(i)))
		if stored := err == nil; stored != (i%2 == 0) {
			t.Errorf("write %d (failing: %v): stored %v", i, i%2 == 1, stored)
		}
	}
}

// testCancellation cancels thousands of writes of one user at random moments while another user
// writes, and checks that every answer tells the truth: a write answered done is stored, a write
// answered failed is not, and the other user's writes all succeed. (On SQLite, writes of different
// users share a transaction; a statement interrupted by its own request's cancellation once rolled
// back the whole transaction, failing writes that were in fact stored and others that were not.)
func testCancellation(t *testing.T, open Opener) {
	f := newFixture(t, open)
	ctx := t.Context()
	writes := 1500
	if testing.Short() {
		writes = 300
	}
	type outcome struct {
		key string
		err error
	}
	var wg sync.WaitGroup
	cancelled := make([]outcome, writes)
	wg.Go(func() {
		var inner sync.WaitGroup
		sem := make(chan struct{}, 16)
		for i := range writes {
			sem <- struct{}{}
			inner.Go(func() {
				defer func() { <-sem }()
				wctx, cancel := context.WithCancel(ctx)
				go func() {
					// Early cancellations for a fast store, later ones for a slower one.
					time.Sleep(time.Duration(rand.IntN([]int{4000, 40000}[i%2])) * time.Microsecond)
					cancel()
				}()
				a := NewActivity(fmt.Sprintf("cancel-%04d", i))
				for j := range 1 + i%20 {
					a.HistoryItems = append(a.HistoryItems, NewHistoryItem(activity.NewGUID(), f.clock.Now().Add(-time.Duration(j)*time.Minute), time.Minute))
				}
				_, err := f.UpsertActivity(wctx, AliceNotes, a)
				cancelled[i] = outcome{a.AppActivityID, err}
				cancel()
			})
		}
		inner.Wait()
	})
	var bobErrs []error
	var bobDone int
	wg.Go(func() {
		for i := 0; i < writes/3; i++ {
			if _, err := f.UpsertActivity(ctx, BobNotes, NewActivity(fmt.Sprintf("bob-%04d", i))); err != nil {
				bobErrs = append(bobErrs, err)
			}
			bobDone++
		}
	})
	wg.Wait()
	for _, err := range bobErrs {
		t.Errorf("another user's write failed: %v", err)
	}
	if n, err := f.Store.CountActivities(ctx, BobNotes, activity.TimeRange{}); err != nil || n != bobDone {
		t.Errorf("the other user has %d activities (%v), want %d", n, err, bobDone)
	}
	var stored, failed int
	for _, o := range cancelled {
		a, err := f.Store.FindActivity(ctx, AliceNotes, activity.ParseRef(o.key))
		switch {
		case err != nil && activity.ErrorCode(err) != activity.NotFound:
			t.Fatalf("FindActivity(%s): %v", o.key, err)
		case o.err == nil && err != nil:
			t.Errorf("write %s was answered done but is not stored", o.key)
		case o.err != nil && err == nil:
			t.Errorf("write %s was answered failed (%v) but is stored", o.key, o.err)
		case o.err == nil:
			stored++
			if n, _ := f.Store.CountHistoryItems(ctx, AliceNotes, a.ID, activity.TimeRange{}); n == 0 {
				t.Errorf("write %s is stored without its history items", o.key)
			}
		default:
			failed++
		}
	}
	t.Logf("%d cancelled writes: %d stored, %d failed; the other user wrote %d", writes, stored, failed, bobDone)
}

// testSecret: a secret is made once and then the same for every caller; names are apart.
func testSecret(t *testing.T, open Opener) {
	f := newFixture(t, open)
	ctx := t.Context()
	// Many callers at once, released together, for several new names: each name gets one secret.
	for round := range 5 {
		var wg sync.WaitGroup
		start := make(chan struct{})
		got := make([][]byte, 8)
		for i := range got {
			wg.Go(func() {
				<-start
				var err error
				if got[i], err = f.Store.Secret(ctx, fmt.Sprintf("race-%d", round), 32); err != nil {
					t.Errorf("Secret: %v", err)
				}
			})
		}
		close(start)
		wg.Wait()
		for i, s := range got {
			if len(s) != 32 || string(s) != string(got[0]) {
				t.Fatalf("round %d: Secret call %d = %x, want the first call's %x", round, i, s, got[0])
			}
		}
	}
	var wg sync.WaitGroup
	got := make([][]byte, 8)
	for i := range got {
		wg.Go(func() {
			var err error
			if got[i], err = f.Store.Secret(ctx, "test", 32); err != nil {
				t.Errorf("Secret: %v", err)
			}
		})
	}
	wg.Wait()
	for i, s := range got {
		if len(s) != 32 || string(s) != string(got[0]) {
			t.Fatalf("Secret call %d = %x, want the first call's %x", i, s, got[0])
		}
	}
	other, err := f.Store.Secret(ctx, "other", 32)
	if err != nil || string(other) == string(got[0]) {
		t.Errorf("Secret(other) = %x, %v: want a secret of its own", other, err)
	}
	if err := f.Store.Ready(ctx); err != nil {
		t.Errorf("Ready: %v", err)
	}
}

// testBounds: what one request reads and what one activity holds are bounded.
func testBounds(t *testing.T, open Opener) {
	f := newFixture(t, open)
	ctx := t.Context()
	// A page ends early, with a cursor, after the activity that passes its byte budget.
	big := strings.Repeat("x", 10000)
	for i := range 5 {
		a := NewActivity(name(i))
		a.ContentInfo = json.RawMessage(`"` + big + `"`)
		f.mustUpsert(t, AliceNotes, a)
		f.clock.Add(time.Second)
	}
	var got []string
	q := activity.ActivityQuery{Limit: 100, MaxBytes: 25000}
	for pages := 0; ; pages++ {
		page, err := f.Store.ListActivities(ctx, AliceNotes, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Activities) > 3 {
			t.Errorf("a page of %d activities of 10 KB each past a budget of 25,000 bytes", len(page.Activities))
		}
		got = append(got, ids(page.Activities)...)
		if page.Next == nil {
			break
		}
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		q.After = page.Next
	}
	if want := []string{name(4), name(3), name(2), name(1), name(0)}; !cmp.Equal(got, want) {
		t.Errorf("pages by bytes gave %v, want %v", got, want)
	}
	// Expanding takes the newest items of each activity, at most limit of each.
	a := f.mustUpsert(t, AliceNotes, NewActivity("many"))
	for i := range 7 {
		f.clock.Add(time.Second)
		if _, err := f.PutHistoryItem(ctx, AliceNotes, activity.ParseRef("many"), NewHistoryItem(fmt.Sprintf("00000000-0000-4000-8000-%012d", i), f.clock.Now(), time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	expanded, err := f.Store.ExpandHistoryItems(ctx, AliceNotes, []int64{a.ID, mustFind(t, f, name(0)).ID}, activity.TimeRange{}, 3)
	if err != nil || len(expanded[a.ID]) != 3 || expanded[a.ID][0].ID != "00000000-0000-4000-8000-000000000006" {
		t.Errorf("ExpandHistoryItems(limit 3) = %v, %v; want the 3 newest", expanded[a.ID], err)
	}
	// An activity holds at most MaxHistoryItems; past it a write is refused and nothing changes.
	f.MaxHistoryItems = 8
	if _, err := f.PutHistoryItem(ctx, AliceNotes, activity.ParseRef("many"), NewHistoryItem("", f.clock.Now(), time.Minute)); err != nil {
		t.Fatalf("the 8th item: %v", err)
	}
	_, err = f.PutHistoryItem(ctx, AliceNotes, activity.ParseRef("many"), NewHistoryItem("", f.clock.Now(), time.Minute))
	wantCode(t, "the 9th item", err, activity.Invalid)
	deep := NewActivity("many")
	deep.HistoryItems = []*activity.HistoryItem{NewHistoryItem("", f.clock.Now(), time.Minute)}
	_, err = f.UpsertActivity(ctx, AliceNotes, deep)
	wantCode(t, "a deep insert past the bound", err, activity.Invalid)
	// Replacing an item it holds is no new item.
	if _, err := f.PutHistoryItem(ctx, AliceNotes, activity.ParseRef("many"), NewHistoryItem("00000000-0000-4000-8000-000000000001", f.clock.Now(), time.Minute)); err != nil {
		t.Errorf("replacing an item at the bound: %v", err)
	}
	if n, _ := f.Store.CountHistoryItems(ctx, AliceNotes, a.ID, activity.TimeRange{}); n != 8 {
		t.Errorf("the activity holds %d items, want 8", n)
	}
}

// testBlank: which optional strings are "" rather than null survives the store.
func testBlank(t *testing.T, open Opener) {
	f := newFixture(t, open)
	ctx := t.Context()
	a := NewActivity("blank")
	a.AppDisplayName, a.UserTimezone, a.VisualElements.Description = "", "", ""
	a.VisualElements.Attribution.AlternateText = ""
	a.Blank = activity.FieldAppDisplayName | activity.FieldUserTimezone
	a.VisualElements.Blank = activity.FieldDescription
	a.VisualElements.Attribution.Blank = activity.FieldAlternateText
	item := NewHistoryItem("", f.clock.Now(), time.Minute)
	item.UserTimezone, item.Blank = "", activity.FieldUserTimezone
	a.HistoryItems = []*activity.HistoryItem{item}
	f.mustUpsert(t, AliceNotes, a)
	got := mustFind(t, f, "blank")
	if got.AllBlank() != a.AllBlank() || got.Blank != a.Blank || got.VisualElements.Blank != a.VisualElements.Blank ||
		got.VisualElements.Attribution.Blank != a.VisualElements.Attribution.Blank {
		t.Errorf("blank fields %b, want %b", got.AllBlank(), a.AllBlank())
	}
	h, err := f.Store.FindHistoryItem(ctx, AliceNotes, got.ID, item.ID)
	if err != nil || h.Blank != activity.FieldUserTimezone {
		t.Errorf("history item blank fields = %v, %v", h, err)
	}
}

// changesOnceShown is allChanges once at least n changes after after are shown, for at most 30 s. A
// store may hold a committed change back while an older transaction runs (PostgreSQL: any
// transaction of the cluster, such as another package's tests beside this one), and shows it when
// that one ends.
func changesOnceShown(t *testing.T, f fixture, p activity.Principal, after activity.Position, allApps bool, n int) ([]activity.Change, activity.Position) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, end := allChanges(t, f, p, after, allApps)
		if len(got) >= n || time.Now().After(deadline) {
			return got, end
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// allChanges reads the whole log of p after a position, a page of limit at a time.
func allChanges(t *testing.T, f fixture, p activity.Principal, after activity.Position, allApps bool) ([]activity.Change, activity.Position) {
	t.Helper()
	var out []activity.Change
	for range 100 {
		page, err := f.Store.Changes(t.Context(), p, activity.ChangeQuery{After: after, Limit: 2, AllApps: allApps})
		if err != nil {
			t.Fatalf("Changes: %v", err)
		}
		for _, c := range page.Changes {
			if !after.Before(c.Position) {
				t.Fatalf("change at %v does not come after %v", c.Position, after)
			}
			after = c.Position
		}
		out = append(out, page.Changes...)
		if after.Before(page.Next) {
			after = page.Next
		}
		if !page.More {
			return out, after
		}
	}
	t.Fatal("the change log does not end")
	return nil, after
}

func kinds(cs []activity.Change) []string {
	var out []string
	for _, c := range cs {
		out = append(out, fmt.Sprintf("%s %d %s", c.AppID, c.ActivityID, c.Kind))
	}
	return out
}

// testChanges: every write appends its change, in its transaction, in log order; the app's view and
// the person's view; trimming moves the horizon.
func testChanges(t *testing.T, open Opener) {
	f := newFixture(t, open)
	ctx := t.Context()
	log, err := f.Store.ChangeLog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	start := log.Latest
	a := f.mustUpsert(t, AliceNotes, NewActivity("a"))                                                                                          // created
	f.mustUpsert(t, AliceNotes, NewActivity("a"))                                                                                               // updated
	if _, err := f.UpdateActivity(ctx, AliceNotes, activity.ParseRef("a"), func(x *activity.Activity) { x.AppDisplayName = "x" }); err != nil { // updated
		t.Fatal(err)
	}
	item := NewHistoryItem(activity.NewGUID(), f.clock.Now(), time.Minute)
	if _, err := f.PutHistoryItem(ctx, AliceNotes, activity.ParseRef("a"), item); err != nil { // updated
		t.Fatal(err)
	}
	if err := f.DeleteHistoryItem(ctx, AliceNotes, activity.ParseRef("a"), item.ID); err != nil { // updated
		t.Fatal(err)
	}
	deep := NewActivity("b")
	for range 3 {
		deep.HistoryItems = append(deep.HistoryItems, NewHistoryItem("", f.clock.Now(), time.Minute))
	}
	b := f.mustUpsert(t, AliceNotes, deep)                                            // created, once for its items too
	music := f.mustUpsert(t, AliceMusic, NewActivity("m"))                            // another app of Alice
	f.mustUpsert(t, BobNotes, NewActivity("bob"))                                     // another user
	if err := f.DeleteActivity(ctx, AliceNotes, activity.ParseRef("a")); err != nil { // deleted
		t.Fatal(err)
	}
	got, end := changesOnceShown(t, f, AliceNotes, start, false, 7)
	want := []string{
		fmt.Sprintf("notes %d created", a.ID), fmt.Sprintf("notes %d updated", a.ID), fmt.Sprintf("notes %d updated", a.ID),
		fmt.Sprintf("notes %d updated", a.ID), fmt.Sprintf("notes %d updated", a.ID), fmt.Sprintf("notes %d created", b.ID),
		fmt.Sprintf("notes %d deleted", a.ID),
	}
	if diff := cmp.Diff(want, kinds(got)); diff != "" {
		t.Errorf("the app's changes (-want +got):\n%s", diff)
	}
	person, _ := changesOnceShown(t, f, AliceNotes, start, true, 8)
	if len(person) != len(want)+1 || !slices.ContainsFunc(person, func(c activity.Change) bool { return c.AppID == "music" && c.ActivityID == music.ID }) {
		t.Errorf("the person's changes across apps: %v", kinds(person))
	}
	// Nothing more after the end; a new write comes after it.
	if more, _ := allChanges(t, f, AliceNotes, end, false); len(more) != 0 {
		t.Errorf("changes after the end: %v", kinds(more))
	}
	f.mustUpsert(t, AliceNotes, NewActivity("c"))
	if more, _ := changesOnceShown(t, f, AliceNotes, end, false, 1); len(more) != 1 || more[0].Kind != activity.ChangeCreated {
		t.Errorf("a write after the end: %v", kinds(more))
	}
	// The purge of an expired activity is a deletion.
	f.clock.Add(activity.DefaultTTL + time.Second)
	if _, err := f.Store.PurgeExpired(ctx, f.clock.Now(), 1000); err != nil {
		t.Fatal(err)
	}
	purged, _ := changesOnceShown(t, f, AliceNotes, end, false, 2) // "c" created, b deleted
	if !slices.ContainsFunc(purged, func(c activity.Change) bool { return c.ActivityID == b.ID && c.Kind == activity.ChangeDeleted }) {
		t.Errorf("the purge of an expired activity is not in the log: %v", kinds(purged))
	}
	// Trimming everything moves the horizon past every position handed out so far.
	n, err := f.Store.TrimChanges(ctx, f.clock.Now().Add(time.Hour), 1000)
	if err != nil || n < len(person) {
		t.Fatalf("TrimChanges = %d, %v", n, err)
	}
	log, err = f.Store.ChangeLog(ctx)
	if err != nil || !start.Before(log.Horizon) || !end.Before(log.Horizon) {
		t.Errorf("after trimming, the horizon %v is not past %v and %v (%v)", log.Horizon, start, end, err)
	}
	// A change after a trim comes after every position handed out before: none is handed out twice.
	f.mustUpsert(t, AliceNotes, NewActivity("after-trim"))
	if more, _ := changesOnceShown(t, f, AliceNotes, log.Latest, false, 1); len(more) != 1 || !log.Latest.Before(more[0].Position) {
		t.Errorf("a change after trimming: %v after %v", more, log.Latest)
	}
}

// testSubscriptions: subscriptions are the principal's own; a claim leases one due subscription at a
// time; release records delivery state; expired ones go.
func testSubscriptions(t *testing.T, open Opener) {
	f := newFixture(t, open)
	ctx := t.Context()
	subs, ok := f.Store.(activity.SubscriptionStore)
	if !ok {
		t.Fatal("the store keeps no subscriptions")
	}
	now := f.clock.Now()
	newSub := func(p activity.Principal) *activity.Subscription {
		return &activity.Subscription{ID: activity.NewGUID(), Principal: p, Resource: "me/activities",
			ChangeTypes: []activity.ChangeKind{activity.ChangeCreated, activity.ChangeDeleted}, NotificationURL: "https://hooks.example/x",
			ClientState: "secret", ExpirationDateTime: now.Add(time.Hour), CreatedDateTime: now}
	}
	a := newSub(AliceNotes)
	f.mustUpsert(t, AliceNotes, NewActivity("before")) // before the subscription: not to be delivered
	before, _ := f.Store.ChangeLog(ctx)
	if err := subs.CreateSubscription(ctx, a); err != nil {
		t.Fatal(err)
	}
	after, _ := f.Store.ChangeLog(ctx)
	if a.Position.Before(before.Latest) || after.Latest.Before(a.Position) {
		t.Errorf("a new subscription starts at %v, want the log's latest (%v to %v)", a.Position, before.Latest, after.Latest)
	}
	got, err := subs.FindSubscription(ctx, AliceNotes, a.ID)
	if err != nil || got.NotificationURL != a.NotificationURL || !cmp.Equal(got.ChangeTypes, a.ChangeTypes) || got.ClientState != "secret" {
		t.Fatalf("FindSubscription = %+v, %v", got, err)
	}
	for _, other := range []activity.Principal{AliceMusic, BobNotes} {
		_, err := subs.FindSubscription(ctx, other, a.ID)
		wantCode(t, "another principal's subscription", err, activity.NotFound)
		wantCode(t, "deleting another's", subs.DeleteSubscription(ctx, other, a.ID), activity.NotFound)
		if list, _ := subs.ListSubscriptions(ctx, other); len(list) != 0 {
			t.Errorf("another principal lists %d subscriptions", len(list))
		}
	}
	if err := subs.RenewSubscription(ctx, AliceNotes, a.ID, now.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	// A claim leases it; a second claim finds nothing while the lease lasts.
	claimed, err := subs.ClaimSubscription(ctx, now, time.Minute)
	if err != nil || claimed == nil || claimed.ID != a.ID || !claimed.ExpirationDateTime.Equal(now.Add(2*time.Hour)) {
		t.Fatalf("ClaimSubscription = %+v, %v", claimed, err)
	}
	if again, err := subs.ClaimSubscription(ctx, now, time.Minute); err != nil || again != nil {
		t.Fatalf("a second claim during the lease = %+v, %v", again, err)
	}
	claimed.Position = activity.Position{Tx: claimed.Position.Tx, Seq: claimed.Position.Seq + 1}
	claimed.FailingFrom, claimed.NextAttempt = now, now.Add(10*time.Second)
	if err := subs.ReleaseSubscription(ctx, claimed); err != nil {
		t.Fatal(err)
	}
	if early, _ := subs.ClaimSubscription(ctx, now.Add(5*time.Second), time.Minute); early != nil {
		t.Errorf("claimed before its next attempt")
	}
	later, err := subs.ClaimSubscription(ctx, now.Add(11*time.Second), time.Minute)
	if err != nil || later == nil || later.Position != claimed.Position || !later.FailingFrom.Equal(now) {
		t.Fatalf("the delivery state did not survive: %+v, %v", later, err)
	}
	// A lease that runs out lets another claim it (a notifier killed mid-delivery loses nothing).
	if again, _ := subs.ClaimSubscription(ctx, now.Add(2*time.Minute), time.Minute); again == nil {
		t.Errorf("a subscription whose lease ran out cannot be claimed")
	}
	// At most MaxSubscriptionsPerPrincipal each.
	for i := 1; i < activity.MaxSubscriptionsPerPrincipal; i++ {
		if err := subs.CreateSubscription(ctx, newSub(AliceNotes)); err != nil {
			t.Fatal(err)
		}
	}
	wantCode(t, "one subscription too many", subs.CreateSubscription(ctx, newSub(AliceNotes)), activity.Conflict)
	if err := subs.CreateSubscription(ctx, newSub(BobNotes)); err != nil {
		t.Errorf("another principal's first subscription: %v", err)
	}
	if list, _ := subs.ListSubscriptions(ctx, AliceNotes); len(list) != activity.MaxSubscriptionsPerPrincipal {
		t.Errorf("ListSubscriptions: %d", len(list))
	}
	if err := subs.DeleteSubscription(ctx, AliceNotes, a.ID); err != nil {
		t.Fatal(err)
	}
	_, err = subs.FindSubscription(ctx, AliceNotes, a.ID)
	wantCode(t, "a deleted subscription", err, activity.NotFound)
	n, err := subs.DeleteExpiredSubscriptions(ctx, now.Add(3*time.Hour))
	if err != nil || n != activity.MaxSubscriptionsPerPrincipal {
		t.Errorf("DeleteExpiredSubscriptions = %d, %v; want %d", n, err, activity.MaxSubscriptionsPerPrincipal)
	}
}

// testHistoryItemOverExpired: a PUT of a history item whose id an expired item of the activity
// still holds (not yet purged) creates the item anew: created now, active, counted as added; a PUT
// over a live item keeps its createdDateTime and is not counted.
func testHistoryItemOverExpired(t *testing.T, open Opener) {
	f := newFixture(t, open)
	ctx := t.Context()
	f.Service.MaxHistoryItems = 2
	f.mustUpsert(t, AliceNotes, NewActivity("doc"))
	old := NewHistoryItem(activity.NewGUID(), f.clock.Now(), time.Minute)
	old.ExpirationDateTime = f.clock.Now().Add(time.Hour)
	if _, err := f.PutHistoryItem(ctx, AliceNotes, activity.ParseRef("doc"), old); err != nil {
		t.Fatal(err)
	}
	other := NewHistoryItem(activity.NewGUID(), f.clock.Now(), time.Minute)
	if _, err := f.PutHistoryItem(ctx, AliceNotes, activity.ParseRef("doc"), other); err != nil {
		t.Fatal(err)
	}
	f.clock.Add(time.Hour)
	again := NewHistoryItem(old.ID, f.clock.Now(), 2*time.Minute)
	created, err := f.PutHistoryItem(ctx, AliceNotes, activity.ParseRef("doc"), again)
	if err != nil || !created || again.Status != activity.StatusActive || !again.CreatedDateTime.Equal(f.clock.Now()) {
		t.Fatalf("PUT over an expired item = %v, %v, status %s, created %v; want created now (%v), active",
			created, err, again.Status, again.CreatedDateTime, f.clock.Now())
	}
	got, err := f.HistoryItem(ctx, AliceNotes, activity.ParseRef("doc"), old.ID)
	if err != nil || !got.CreatedDateTime.Equal(f.clock.Now()) || *got.ActiveDurationSeconds != 120 {
		t.Errorf("the item put over the expired one: %+v, %v", got, err)
	}
	// Two live items now, the most allowed: replacing one is not adding one, a third is refused.
	f.clock.Add(time.Minute)
	replaced := NewHistoryItem(other.ID, f.clock.Now(), time.Minute)
	if created, err := f.PutHistoryItem(ctx, AliceNotes, activity.ParseRef("doc"), replaced); err != nil || created ||
		!replaced.CreatedDateTime.Equal(other.CreatedDateTime) || replaced.Status != activity.StatusUpdated {
		t.Errorf("PUT over a live item at the limit = %v, %v, created %v (want %v), status %s", created, err,
			replaced.CreatedDateTime, other.CreatedDateTime, replaced.Status)
	}
	_, err = f.PutHistoryItem(ctx, AliceNotes, activity.ParseRef("doc"), NewHistoryItem(activity.NewGUID(), f.clock.Now(), time.Minute))
	wantCode(t, "a third item past the limit of 2", err, activity.Invalid)
	a := mustFind(t, f, "doc")
	if n, _ := f.Store.CountHistoryItems(ctx, AliceNotes, a.ID, activity.TimeRange{}); n != 2 {
		t.Errorf("items after the refused one: %d, want 2", n)
	}
}

// testHistoryItemLimitRace: PUTs of new history items racing on one activity fill it to the limit
// and no further, however they interleave: each counts the items that the others committed before
// it (PostgreSQL: its count is read after the activity's lock is held, not in an older snapshot).
func testHistoryItemLimitRace(t *testing.T, open Opener) {
	f := newFixture(t, open)
	ctx := t.Context()
	const limit, writers, each = 10, 16, 3
	f.Service.MaxHistoryItems = limit
	for round := range 3 {
		key := fmt.Sprintf("race-%d", round)
		f.mustUpsert(t, AliceNotes, NewActivity(key))
		var added, refused atomic.Int64
		var wg sync.WaitGroup
		for range writers {
			wg.Go(func() {
				for range each {
					_, err := f.PutHistoryItem(ctx, AliceNotes, activity.ParseRef(key), NewHistoryItem("", f.clock.Now(), time.Minute))
					switch activity.ErrorCode(err) {
					case "":
						added.Add(1)
					case activity.Invalid:
						refused.Add(1)
					default:
						t.Errorf("PUT: %v", err)
					}
				}
			})
		}
		wg.Wait()
		a := mustFind(t, f, key)
		n, err := f.Store.CountHistoryItems(ctx, AliceNotes, a.ID, activity.TimeRange{})
		if err != nil || n != limit || added.Load() != limit || refused.Load() != writers*each-limit {
			t.Fatalf("round %d: %d PUTs added (%d refused), the activity holds %d (%v); want %d added, %d refused, %d held",
				round, added.Load(), refused.Load(), n, err, limit, writers*each-limit, limit)
		}
	}
}
