package postgres

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/activityd/activityd"
	"github.com/activityd/activityd/activitytest"
	"github.com/activityd/activityd/postgres/pgtest"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// plans collects the plans auto_explain sends the client (client_min_messages=log) while on.
type plans struct {
	mu   sync.Mutex
	on   bool
	text []string
}

func (pl *plans) notice(_ *pgconn.PgConn, n *pgconn.Notice) {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	if pl.on && strings.HasPrefix(n.Message, "duration:") {
		pl.text = append(pl.text, n.Message)
	}
}

func (pl *plans) record(on bool) {
	pl.mu.Lock()
	pl.on = on
	pl.mu.Unlock()
}

// hotPath runs the store's everyday operations for p: what the Graph routes, the timeline page and a
// live stream do.
func hotPath(t *testing.T, svc *activity.Service, s *Store, p activity.Principal, round int) {
	t.Helper()
	ctx := t.Context()
	key := fmt.Sprintf("hot-%d", round%3)
	a := activitytest.NewActivity(key)
	start := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	a.HistoryItems = []*activity.HistoryItem{activitytest.NewHistoryItem(fmt.Sprintf("00000000-0000-4000-8000-%012d", round%3), start, time.Minute)}
	if _, err := svc.UpsertActivity(ctx, p, a); err != nil {
		t.Fatal(err)
	}
	got, err := svc.Activity(ctx, p, activity.Ref{AppActivityID: key})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Activity(ctx, p, activity.Ref{ID: got.ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.PutHistoryItem(ctx, p, activity.Ref{ID: got.ID}, activitytest.NewHistoryItem(fmt.Sprintf("10000000-0000-4000-8000-%012d", round), start, time.Minute)); err != nil {
		t.Fatal(err)
	}
	page, err := svc.ListActivities(ctx, p, activity.ActivityQuery{Limit: 20})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ExpandHistoryItems(ctx, p, page.Activities, activity.TimeRange{}, 10); err != nil {
		t.Fatal(err)
	}
	if page.Next != nil {
		if _, err := svc.ListActivities(ctx, p, activity.ActivityQuery{Limit: 20, After: page.Next}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.ListActivities(ctx, p, activity.ActivityQuery{Limit: 20, AllApps: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.RecentActivities(ctx, p, activity.ActivityQuery{Limit: 20}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ListHistoryItems(ctx, p, activity.Ref{ID: got.ID}, activity.HistoryQuery{Limit: 20}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.HistoryItem(ctx, p, activity.Ref{ID: got.ID}, fmt.Sprintf("10000000-0000-4000-8000-%012d", round)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Changes(ctx, p, activity.ChangeQuery{Limit: 100}); err != nil {
		t.Fatal(err)
	}
	if round%3 == 2 {
		if err := svc.DeleteActivity(ctx, p, activity.Ref{AppActivityID: key}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestQueries_StayOnIndex runs the everyday operations on empty tables (so that each connection
// keeps plans made for them, as PostgreSQL does after five executions of a prepared statement), loads
// 50,000 activities with 100,000 history items and their changes, as an import or months of use with
// autovacuum off would, lets AnalyzeDue (what KeepStatistics runs) see to the statistics, and runs
// the operations again under auto_explain: no plan may read a large table whole, or read many rows
// only to filter them out.
func TestQueries_StayOnIndex(t *testing.T) {
	pl := &plans{}
	url := pgtest.URL(t) + "&pool_max_conns=1&session_preload_libraries=auto_explain&auto_explain.log_min_duration=0" +
		"&auto_explain.log_analyze=on&auto_explain.log_nested_statements=on&client_min_messages=log"
	s, err := open(t.Context(), url, func(c *pgxpool.Config) { c.ConnConfig.OnNotice = pl.notice })
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	svc := activity.NewService(s)
	p := activitytest.AliceNotes
	for round := range 8 {
		hotPath(t, svc, s, p, round)
	}
	analyzeDue := func(want ...string) {
		t.Helper()
		// The load's counts reach pg_stat_user_tables when its backend flushes them.
		if _, err := s.pool.Exec(t.Context(), "SELECT pg_stat_force_next_flush()"); err != nil {
			t.Fatal(err)
		}
		got, err := s.AnalyzeDue(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("AnalyzeDue analyzed %v, want %v", got, want)
		}
	}
	analyzeDue() // the hot path's few rows are not enough
	if _, err := s.pool.Exec(t.Context(), `INSERT INTO activities (tenant_id, user_id, app_id, id, app_activity_id,
			activity_source_host, activation_url, app_display_name, fallback_url, content_url, user_timezone, display_text,
			description, background_color, attribution, icon_url, alternate_text, alternative_text, created,
			last_modified, expires, status, recent)
		SELECT 't1', CASE WHEN i % 5 = 0 THEN 'bob' ELSE 'alice' END, CASE WHEN i % 2 = 0 THEN 'notes' ELSE 'music' END,
			i::bigint * 7919, 'bulk-' || i, '', 'notes://' || i, 'Notes', '', '', '', 'Document ' || i, '', '', false,
			'', '', '', 1764000000000000::bigint + i * 1000000::bigint, 1764000000000000::bigint + i * 1000000::bigint,
			9000000000000000::bigint, 'active', CASE WHEN i % 2 = 0 THEN 1764000000000000::bigint + i * 1000000::bigint END
		FROM generate_series(1, 50000) i`); err != nil {
		t.Fatal(err)
	}
	analyzeDue("activities")
	analyzeDue() // and once analyzed, not again until it changes
	if _, err := s.pool.Exec(t.Context(), `INSERT INTO history_items (tenant_id, user_id, app_id, activity_id, id,
			started, user_timezone, created, last_modified, expires, status)
		SELECT a.tenant_id, a.user_id, a.app_id, a.id, 'item-' || k, a.created, '', a.created, a.created + k, a.expires,
			'active'
		FROM activities a, generate_series(1, 2) k WHERE a.app_activity_id LIKE 'bulk-%'`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(t.Context(), `INSERT INTO changes (tenant_id, user_id, app_id, activity_id, kind, at)
		SELECT tenant_id, user_id, app_id, id, 'created', created FROM activities WHERE app_activity_id LIKE 'bulk-%'`); err != nil {
		t.Fatal(err)
	}
	analyzeDue("changes", "history_items")
	pl.record(true)
	for round := 8; round < 14; round++ {
		hotPath(t, svc, s, p, round)
	}
	pl.record(false)
	removed := regexp.MustCompile(`Rows Removed by Filter: (\d+)`)
	scanned := regexp.MustCompile(`Scan[^\n]* on (activities|history_items|changes)\b[^\n]*actual time=[0-9.]+\.\.[0-9.]+ rows=(\d+) loops=(\d+)`)
	for _, plan := range pl.text {
		bad := strings.Contains(plan, "Seq Scan on activities") || strings.Contains(plan, "Seq Scan on history_items") ||
			strings.Contains(plan, "Seq Scan on changes")
		for _, m := range removed.FindAllStringSubmatch(plan, -1) {
			if n, _ := strconv.Atoi(m[1]); n > 200 {
				bad = true
			}
		}
		for _, m := range scanned.FindAllStringSubmatch(plan, -1) {
			rows, _ := strconv.Atoi(m[2])
			loops, _ := strconv.Atoi(m[3])
			if rows*loops > 200 {
				bad = true
			}
		}
		if bad {
			t.Errorf("a plan reads far more than it returns:\n%s", plan)
		}
	}
	if len(pl.text) < 10 {
		t.Fatalf("auto_explain sent %d plans", len(pl.text))
	}
}

// TestAnalyzeDue_NotOwner: a role that does not own the tables cannot analyze them (before PostgreSQL
// 17 its ANALYZE only warns), so AnalyzeDue leaves them alone instead of saying it analyzed them.
func TestAnalyzeDue_NotOwner(t *testing.T) {
	url := pgtest.URL(t)
	owner, err := Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	role := fmt.Sprintf("activityd_test_%d", time.Now().UnixNano())
	var schema string
	if err := owner.pool.QueryRow(t.Context(), "SELECT current_schema()").Scan(&schema); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"CREATE ROLE " + role + " LOGIN",
		"GRANT USAGE, CREATE ON SCHEMA " + schema + " TO " + role,
		"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA " + schema + " TO " + role,
	} {
		if _, err := owner.pool.Exec(t.Context(), q); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		owner.pool.Exec(context.Background(), "DROP OWNED BY "+role)
		owner.pool.Exec(context.Background(), "DROP ROLE "+role)
	})
	if _, err := owner.pool.Exec(t.Context(), `INSERT INTO changes (tenant_id, user_id, app_id, activity_id, kind, at)
		SELECT 't', 'u', 'a', i, 'created', i FROM generate_series(1, 1000) i`); err != nil {
		t.Fatal(err)
	}
	if _, err := owner.pool.Exec(t.Context(), "SELECT pg_stat_force_next_flush()"); err != nil {
		t.Fatal(err)
	}
	other, err := Open(t.Context(), strings.Replace(url, "postgres@", role+"@", 1))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if got, err := other.AnalyzeDue(t.Context()); err != nil || len(got) != 0 {
		t.Errorf("AnalyzeDue as a role that owns nothing: %v, %v; want nothing analyzed", got, err)
	}
	if got, err := owner.AnalyzeDue(t.Context()); err != nil || !slices.Equal(got, []string{"changes"}) {
		t.Errorf("AnalyzeDue as the owner: %v, %v; want [changes]", got, err)
	}
}
