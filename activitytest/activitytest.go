// Package activitytest is the conformance suite every activity.Store must pass, with fixture builders.
// It imports only the root package and the standard library, plus go-cmp.
package activitytest

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/activityd/activityd"
)

// Opener returns a new, empty store whose notion of the current time is now.
type Opener func(t *testing.T, now func() time.Time) activity.Store

// Clock is a settable clock for tests; it starts at a fixed instant.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock set to 2026-11-27T10:00:00Z.
func NewClock() *Clock { return &Clock{t: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// Add moves the clock forward by d.
func (c *Clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// Alice, Bob and the apps are principals for tests: Alice through two apps, Bob through one.
var (
	AliceNotes = activity.Principal{TenantID: "t1", UserID: "alice", AppID: "notes", UserName: "alice@example.com"}
	AliceMusic = activity.Principal{TenantID: "t1", UserID: "alice", AppID: "music", UserName: "alice@example.com"}
	BobNotes   = activity.Principal{TenantID: "t1", UserID: "bob", AppID: "notes", UserName: "bob@example.com"}
)

// NewActivity returns a valid activity with the given appActivityId and every property set.
func NewActivity(appActivityID string) *activity.Activity {
	yes := true
	return &activity.Activity{
		AppActivityID:      appActivityID,
		ActivitySourceHost: "https://notes.example.com",
		ActivationURL:      "notes://open?doc=" + appActivityID,
		AppDisplayName:     "Notes",
		FallbackURL:        "https://notes.example.com/doc/" + appActivityID,
		ContentURL:         "https://notes.example.com/raw/" + appActivityID,
		ContentInfo:        json.RawMessage(`{"@context": "https://schema.org", "@type": "Article", "author": "Jennifer Booth"}`),
		UserTimezone:       "Europe/Berlin",
		VisualElements: activity.VisualInfo{
			DisplayText:     "Document " + appActivityID,
			Description:     "A document",
			BackgroundColor: "#ff0000",
			Content:         json.RawMessage(`{"$schema":"https://adaptivecards.io/schemas/adaptive-card.json","type":"AdaptiveCard","body":[{"type":"TextBlock","text":"Hi"}]}`),
			Attribution: &activity.ImageInfo{
				IconURL: "https://notes.example.com/icon.png", AlternateText: "Notes", AlternativeText: "Notes (old)", AddImageQuery: &yes,
			},
		},
	}
}

// NewHistoryItem returns a history item that started at start and was last active d later.
func NewHistoryItem(id string, start time.Time, d time.Duration) *activity.HistoryItem {
	return &activity.HistoryItem{ID: id, StartedDateTime: start, LastActiveDateTime: start.Add(d), UserTimezone: "Europe/Berlin"}
}

// TestStore runs the conformance suite against stores made by open.
func TestStore(t *testing.T, open Opener) {
	t.Run("Upsert", func(t *testing.T) { testUpsert(t, open) })
	t.Run("Find", func(t *testing.T) { testFind(t, open) })
	t.Run("Update", func(t *testing.T) { testUpdate(t, open) })
	t.Run("Delete", func(t *testing.T) { testDelete(t, open) })
	t.Run("Isolation", func(t *testing.T) { testIsolation(t, open) })
	t.Run("List", func(t *testing.T) { testList(t, open) })
	t.Run("Recent", func(t *testing.T) { testRecent(t, open) })
	t.Run("HistoryItems", func(t *testing.T) { testHistoryItems(t, open) })
	t.Run("HistoryItemOverExpired", func(t *testing.T) { testHistoryItemOverExpired(t, open) })
	t.Run("HistoryItemLimitRace", func(t *testing.T) { testHistoryItemLimitRace(t, open) })
	t.Run("Expiry", func(t *testing.T) { testExpiry(t, open) })
	t.Run("Rollback", func(t *testing.T) { testRollback(t, open) })
	t.Run("Concurrent", func(t *testing.T) { testConcurrent(t, open) })
	t.Run("ConcurrentFailures", func(t *testing.T) { testConcurrentFailures(t, open) })
	t.Run("Cancellation", func(t *testing.T) { testCancellation(t, open) })
	t.Run("Secret", func(t *testing.T) { testSecret(t, open) })
	t.Run("Bounds", func(t *testing.T) { testBounds(t, open) })
	t.Run("Blank", func(t *testing.T) { testBlank(t, open) })
	t.Run("Changes", func(t *testing.T) { testChanges(t, open) })
	t.Run("Subscriptions", func(t *testing.T) { testSubscriptions(t, open) })
	t.Run("Person", func(t *testing.T) { testPerson(t, open) })
	t.Run("PersonApps", func(t *testing.T) { testPersonApps(t, open) })
	t.Run("PersonConcurrent", func(t *testing.T) { testPersonConcurrent(t, open) })
	t.Run("Search", func(t *testing.T) { testSearch(t, open) })
	t.Run("Forget", func(t *testing.T) { testForget(t, open) })
	t.Run("Privacy", func(t *testing.T) { testPrivacy(t, open) })
	t.Run("PrivacyRace", func(t *testing.T) { testPrivacyRace(t, open) })
	t.Run("Import", func(t *testing.T) { testImport(t, open) })
	t.Run("ImportRace", func(t *testing.T) { testImportRace(t, open) })
	t.Run("Records", func(t *testing.T) { testRecords(t, open) })
}

// fixture is a service over a fresh store with a test clock.
type fixture struct {
	*activity.Service
	clock *Clock
}

func newFixture(t *testing.T, open Opener) fixture {
	t.Helper()
	c := NewClock()
	svc := activity.NewService(open(t, c.Now))
	svc.Now = c.Now
	return fixture{Service: svc, clock: c}
}

// mustUpsert stores a under p and fails the test on error.
func (f fixture) mustUpsert(t *testing.T, p activity.Principal, a *activity.Activity) *activity.Activity {
	t.Helper()
	if _, err := f.UpsertActivity(t.Context(), p, a); err != nil {
		t.Fatalf("UpsertActivity(%q): %v", a.AppActivityID, err)
	}
	return a
}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := activity.ErrorCode(err); got != code {
		t.Fatalf("%s: error code %q (%v), want %q", what, got, err, code)
	}
}

func ids(as []*activity.Activity) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.AppActivityID
	}
	return out
}

func name(i int) string { return fmt.Sprintf("doc-%03d", i) }
