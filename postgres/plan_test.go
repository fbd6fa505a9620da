package postgres

import (
	"strings"
	"testing"

	"github.com/activityd/activityd/postgres/pgtest"
)

// TestChanges_StayOnIndex checks that the change log's readers use its index on a table that was
// never analyzed (autovacuum may be off, as on the machine where a bulk load without ANALYZE made
// other queries scan whole tables): a plan that depends on statistics fails here.
func TestChanges_StayOnIndex(t *testing.T) {
	s, err := Open(t.Context(), pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.pool.Exec(t.Context(), `INSERT INTO changes (tenant_id, user_id, app_id, activity_id, kind, at)
		SELECT 't', 'user-' || (i % 50), 'app-' || (i % 3), i, 'created', i FROM generate_series(1, 20000) i`); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, query string
		args        []any
	}{
		{"personChanges", personChanges, []any{"t", "user-7", 0, 0, 101}},
		{"appChanges", appChanges, []any{"t", "user-7", "app-1", 0, 0, 101}},
	} {
		var plan strings.Builder
		rows, err := s.pool.Query(t.Context(), "EXPLAIN "+c.query, c.args...)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			plan.WriteString(line + "\n")
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !strings.Contains(plan.String(), "changes_user") || strings.Contains(plan.String(), "Seq Scan") {
			t.Errorf("%s does not read the changes_user index:\n%s", c.name, plan.String())
		}
	}
	// And they answer: the person's view holds all of user-7's entries, the app's view its third.
	for _, c := range []struct {
		query string
		args  []any
		want  int
	}{
		{personChanges, []any{"t", "user-7", 0, 0, 1000}, 400},
		{appChanges, []any{"t", "user-7", "app-1", 0, 0, 1000}, 134},
	} {
		var n int
		if err := s.pool.QueryRow(t.Context(), "SELECT count(*) FROM ("+c.query+") q", c.args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != c.want {
			t.Errorf("%d entries, want %d", n, c.want)
		}
	}
}
