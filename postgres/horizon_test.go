package postgres_test

import (
	"slices"
	"testing"
	"time"

	"github.com/activityd/activityd"
	"github.com/activityd/activityd/activitytest"
	"github.com/activityd/activityd/postgres"
	"github.com/activityd/activityd/postgres/pgtest"
)

// TestChanges_HeldBack: a commit behind a transaction still running (here, one that holds a
// transaction id on another connection, as a long import or any program on the cluster does) is held
// back from the log's readers; when that transaction ends, with no commit after it, the store wakes
// the user's readers (OnCommit), and the change is there. Without that wake-up a live stream waited
// for the next commit (TestProcesses_StreamAcrossProcesses failed so under the loaded CI).
func TestChanges_HeldBack(t *testing.T) {
	url := pgtest.URL(t)
	s, err := postgres.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	woken := make(chan []string, 100)
	s.OnCommit = func(users []string) { woken <- users }
	svc := activity.NewService(s)
	p := activitytest.AliceNotes
	log, err := s.ChangeLog(t.Context())
	if err != nil {
		t.Fatal(err)
	}

	holder := pgtest.Hold(t, url, "SELECT pg_current_xact_id()")
	if _, err := svc.UpsertActivity(t.Context(), p, activitytest.NewActivity("late")); err != nil {
		t.Fatal(err)
	}
	if users := <-woken; !slices.Equal(users, []string{activity.UserKey(p.TenantID, p.UserID)}) {
		t.Fatalf("the commit woke %q", users)
	}
	page, err := s.Changes(t.Context(), p, activity.ChangeQuery{After: log.Latest, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Changes) != 0 {
		t.Fatalf("%d changes behind a running transaction, want them held back", len(page.Changes))
	}

	if err := holder.Rollback(t.Context()); err != nil {
		t.Fatal(err)
	}
	// Other tests' transactions on the cluster may hold the horizon a while longer: the wake-up
	// comes when the last of them ends.
	select {
	case users := <-woken:
		if !slices.Contains(users, activity.UserKey(p.TenantID, p.UserID)) {
			t.Fatalf("the horizon's passing woke %q", users)
		}
	case <-time.After(time.Minute):
		t.Fatal("no wake-up a minute after the transaction that held the change back ended")
	}
	page, err = s.Changes(t.Context(), p, activity.ChangeQuery{After: log.Latest, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Changes) != 1 || page.Changes[0].Kind != activity.ChangeCreated {
		t.Fatalf("after the wake-up: %+v, want the creation", page.Changes)
	}
}
