package sqlite

import (
	"testing"
	"time"

	"github.com/activityd/activityd"
)

// TestNewID checks the layout that appends new activities at the end of the table: ids rise with
// the time of their creation, to the microsecond, whatever the principal.
func TestNewID(t *testing.T) {
	now := micros(time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC))
	prev := int64(0)
	for i := range 100_000 {
		id := newID(now+int64(i), 0) // one a microsecond
		if id <= prev {
			t.Fatalf("id %d of a microsecond later is not above %d", id, prev)
		}
		if _, ok := activity.ParseID(activityIDString(id)); !ok {
			t.Fatalf("newID = %d, not a valid activity id", id)
		}
		prev = id
	}
	if id := newID(now, 0); id>>10 != now-idEpoch {
		t.Errorf("newID(%d) = %x, want the microseconds since the id epoch (%x) above 10 random bits", now, id, now-idEpoch)
	}
	if id := newID(micros(time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)), 0); id <= prev {
		t.Errorf("newID in 2300 = %d, not above today's %d", id, prev)
	}
	if id := newID(0, 0); id <= 0 {
		t.Errorf("newID before the id epoch = %d, want positive", id)
	}
	// Creates in one microsecond draw distinct ids (most of the time: 10 bits), and a run of taken
	// ones ends in a random id.
	seen := map[int64]bool{}
	for range 20 {
		seen[newID(now, 0)] = true
	}
	if len(seen) < 15 {
		t.Errorf("20 ids drawn in one microsecond: %d distinct", len(seen))
	}
	if id := newID(now, 4); id>>10 == now-idEpoch {
		t.Errorf("newID after 4 taken draws = %x, still in the same microsecond's range", id)
	}
}

func activityIDString(id int64) string {
	a := activity.Activity{ID: id}
	return a.IDString()
}
