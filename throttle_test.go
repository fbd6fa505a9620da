package activity_test

import (
	"testing"
	"time"

	"github.com/activityd/activityd"
)

func TestThrottle(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 1, 30, 0, time.UTC) // 3.5 minutes before the 5-minute window ends
	th := &activity.Throttle{
		Limits:  activity.Limits{Reads: []activity.Rate{{N: 3, Per: 5 * time.Minute}}, Writes: []activity.Rate{{N: 2, Per: 5 * time.Minute}, {N: 3, Per: time.Hour}}},
		Counter: activity.NewMemoryCounter(),
		Now:     func() time.Time { return now },
	}
	alice := activity.Principal{TenantID: "t", UserID: "alice", AppID: "notes"}
	check := func(p activity.Principal, write bool) time.Duration {
		t.Helper()
		wait, _, err := th.Check(t.Context(), p, write)
		if err != nil {
			t.Fatal(err)
		}
		return wait
	}
	for i := range 2 {
		if w := check(alice, true); w != 0 {
			t.Fatalf("write %d throttled", i+1)
		}
	}
	if w := check(alice, true); w != 3*time.Minute+30*time.Second {
		t.Errorf("third write: wait %v, want the rest of the 5-minute window (3m30s)", w)
	}
	// Reads, other apps and other users count apart.
	if check(alice, false) != 0 || check(activity.Principal{TenantID: "t", UserID: "alice", AppID: "music"}, true) != 0 ||
		check(activity.Principal{TenantID: "t", UserID: "bob", AppID: "notes"}, true) != 0 {
		t.Error("a limit leaked across kinds or principals")
	}
	now = now.Add(4 * time.Minute) // the next 5-minute window; the hourly one has 3 already
	if w := check(alice, true); w != 54*time.Minute+30*time.Second {
		t.Errorf("write in a new 5-minute window over the hourly limit: wait %v, want 54m30s", w)
	}
}
