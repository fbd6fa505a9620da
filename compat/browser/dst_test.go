package browser

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/activityd/activityd"
	"github.com/activityd/activityd/auth"
	"github.com/activityd/activityd/sqlite"
)

// TestTimeline_DaylightSaving groups activities recorded around Berlin's two changes of 2026 by the
// day they happened there: the autumn night when 02:30 comes twice (CEST, then CET) and the spring
// night when 02:00 to 03:00 never comes. The activities are written into the data directory before
// the server starts, through the store and the domain's Service with its clock set back (the API
// stamps every write with the present).
func TestTimeline_DaylightSaving(t *testing.T) {
	requireChromium(t)
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	seeded := []struct {
		key     string
		when    time.Time
		wantDay string
	}{
		{"spring-before", at("2026-03-29T00:59:00Z"), "2026-03-29"}, // 01:59 CET
		{"spring-after", at("2026-03-29T01:00:00Z"), "2026-03-29"},  // 03:00 CEST
		{"eve", at("2026-10-24T21:59:00Z"), "2026-10-24"},           // 23:59 CEST
		{"midnight", at("2026-10-24T22:30:00Z"), "2026-10-25"},      // 00:30 CEST
		{"first-230", at("2026-10-25T00:30:00Z"), "2026-10-25"},     // 02:30 CEST
		{"second-230", at("2026-10-25T01:30:00Z"), "2026-10-25"},    // 02:30 CET, the hour again
		{"last", at("2026-10-25T22:59:00Z"), "2026-10-25"},          // 23:59 CET
		{"next", at("2026-10-25T23:00:00Z"), "2026-10-26"},          // 00:00 CET
	}
	seed := func(data string) {
		ctx := context.Background()
		store, err := sqlite.Open(ctx, filepath.Join(data, "activityd.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		svc := activity.NewService(store)
		// Alive whatever today is: an expiration within a retention long enough to reach it.
		svc.Retention = 200 * 365 * 24 * time.Hour
		p := activity.Principal{TenantID: auth.LocalTenant, UserID: auth.UserID("alice"), AppID: "notes"}
		for _, s := range seeded {
			svc.Now = func() time.Time { return s.when }
			a := &activity.Activity{AppActivityID: s.key, ActivitySourceHost: "https://notes.example.com",
				ActivationURL: "https://notes.example.com/" + s.key, AppDisplayName: "Notes",
				VisualElements:     activity.VisualInfo{DisplayText: s.key},
				ExpirationDateTime: time.Now().AddDate(100, 0, 0),
				HistoryItems:       []*activity.HistoryItem{{StartedDateTime: s.when.Add(-10 * time.Minute), LastActiveDateTime: s.when}}}
			if _, err := svc.UpsertActivity(ctx, p, a); err != nil {
				t.Fatalf("seed %s: %v", s.key, err)
			}
		}
	}
	a := startActivitydSeeded(t, seed, "--throttle=false")
	e := &timelineEnv{a: a, base: "https://127.0.0.1:" + port(a.addr)}
	e.browser, _ = newBrowser(t, a.leafSPKI(t, "127.0.0.1"))

	tb := e.newTab(t, "alice", "Europe/Berlin")
	tb.signIn(a.personToken(t, "alice"), "Europe/Berlin")
	p := tb.timeline()
	checkDays(t, p, "Europe/Berlin")
	byTitle := map[string]string{}
	clocks := map[string]string{}
	for _, d := range p.Days {
		for _, c := range d.Cards {
			byTitle[c.Title], clocks[c.Title] = d.Day, spaces(c.Clock)
		}
	}
	for _, s := range seeded {
		if got := byTitle[s.key]; got != s.wantDay {
			t.Errorf("%s (%s) is under the day %q, want %s", s.key, s.when.Format(time.RFC3339), got, s.wantDay)
		}
	}
	// The hour that came twice: two cards at 2:30 AM on the same day, the CEST one listed after the
	// CET one (newest first).
	if clocks["first-230"] != "2:30 AM" || clocks["second-230"] != "2:30 AM" {
		t.Errorf("the repeated hour shows %q and %q, want 2:30 AM twice", clocks["first-230"], clocks["second-230"])
	}
	var order []string
	for _, d := range p.Days {
		if d.Day == "2026-10-25" {
			for _, c := range d.Cards {
				order = append(order, c.Title)
			}
		}
	}
	if want := []string{"last", "second-230", "first-230", "midnight"}; !slices.Equal(order, want) {
		t.Errorf("25 October lists %v, want %v", order, want)
	}
	if clocks["spring-after"] != "3:00 AM" || clocks["spring-before"] != "1:59 AM" {
		t.Errorf("the spring change shows %q and %q, want 1:59 AM and 3:00 AM", clocks["spring-before"], clocks["spring-after"])
	}
	// A day filter across the change: 25 October in Berlin is 25 hours long.
	tb.open("/?from=2026-10-25&to=2026-10-25", "Europe/Berlin")
	p = tb.timeline()
	checkDays(t, p, "Europe/Berlin")
	if n := len(p.cards()); n != 4 {
		t.Errorf("the 25 October filter shows %d cards %v, want 4", n, p.cardIDs())
	}
}
