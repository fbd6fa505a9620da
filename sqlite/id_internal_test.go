package sqlite

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/activityd/activityd"
	"github.com/activityd/activityd/activitytest"
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

// TestActivityIDs: creates that share a microsecond (a batch's writes, an import's thousands in one
// write) and a clock that steps back still get rising ids near the clock's, never random ones.
func TestActivityIDs(t *testing.T) {
	now := micros(time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC))
	var g activityIDs
	prev := int64(0)
	for i := range 5000 {
		at := now
		if i >= 2500 {
			at = now - 1_000_000 // the clock stepped back a second
		}
		id := g.next(at, 0)
		if id <= prev {
			t.Fatalf("id %d (%d drawn) is not above %d", id, i, prev)
		}
		if d := id>>10 - (now - idEpoch); d < 0 || d > 10 {
			t.Fatalf("id %x (%d drawn) is %d µs from the clock's: not of the clock", id, i, d)
		}
		prev = id
	}
	if id := g.next(now, 4); id>>10 == now-idEpoch || g.last != prev {
		t.Errorf("after 4 taken draws: %x, and the last id moved to %x", id, g.last)
	}
}

// TestPutActivity_ImportIDs: an import's creates in one write share tx.now; each still gets an id of
// the clock (1,500 of them drew 499 random ids, after four failed inserts each, when ids came from
// the clock alone).
func TestPutActivity_ImportIDs(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "activityd.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	s.Now = func() time.Time { return now }
	var ids []int64
	err = s.Update(t.Context(), activitytest.AliceNotes, func(tx activity.Tx) error {
		for i := range 1500 {
			a := activitytest.NewActivity(fmt.Sprint("import-", i))
			if _, err := tx.(*Tx).PutActivity(t.Context(), a); err != nil {
				return err
			}
			ids = append(ids, a.ID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		if d := id>>10 - (micros(now) - idEpoch); d < 0 || d > 2 {
			t.Fatalf("activity %d of the import has id %x, %d µs from the clock's", i, id, d)
		}
	}
}
