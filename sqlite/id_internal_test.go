package sqlite

import (
	"testing"
	"time"

	"github.com/activityd/activityd"
	"github.com/activityd/activityd/activitytest"
)

// TestNewID checks the layout that keeps a principal's activities together in creation order.
func TestNewID(t *testing.T) {
	now := micros(time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC))
	alice, bob := activitytest.AliceNotes, activity.Principal{TenantID: "t", UserID: "bob", AppID: "notes"}
	prev := int64(0)
	for i := range 1000 {
		id := newID(alice, now+int64(i)*1_000_000, 0) // one a second
		if id <= prev {
			t.Fatalf("id %d of a millisecond later is not above %d", id, prev)
		}
		if _, ok := activity.ParseID(activityIDString(id)); !ok {
			t.Fatalf("newID = %d, not a valid activity id", id)
		}
		if id>>47 != newID(alice, now, 0)>>47 {
			t.Fatalf("ids of one principal have different prefixes: %x, %x", id>>47, newID(alice, now, 0)>>47)
		}
		prev = id
	}
	if newID(alice, now, 0)>>47 == newID(bob, now, 0)>>47 {
		t.Errorf("alice and bob share the id prefix %x (possible, but not for these two)", newID(bob, now, 0)>>47)
	}
	if id := newID(alice, 0, 0); id <= 0 {
		t.Errorf("newID before the id epoch = %d, want positive", id)
	}
	// Many creates in one second draw distinct ids, and a run of taken ones ends in a random id.
	seen := map[int64]bool{}
	for range 1000 {
		seen[newID(alice, now, 0)] = true
	}
	if len(seen) < 990 {
		t.Errorf("1,000 ids drawn in one second: %d distinct", len(seen))
	}
	if id := newID(alice, now, 4); id>>47 == newID(alice, now, 0)>>47 && id>>17 == newID(alice, now, 0)>>17 {
		t.Errorf("newID after 4 taken draws = %x, still in the same second's range", id)
	}
}

func activityIDString(id int64) string {
	a := activity.Activity{ID: id}
	return a.IDString()
}
