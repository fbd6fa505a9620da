package sqlite_test

import (
	"cmp"
	"database/sql"
	"encoding/binary"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/activityd/activityd"
	"github.com/activityd/activityd/activitytest"
	"github.com/activityd/activityd/sqlite"
)

// BenchmarkCreate_Pages counts the pages creates write, by the B-tree each page belongs to, from
// the WAL itself: every page a commit changed is one frame of the WAL (SQLite's file format, "WAL
// file format": a 32-byte header, then frames of a 24-byte header, whose first field is the page
// number and second the database size after a commit frame, and the page). A read transaction
// opened on the empty WAL before the writes keeps every checkpoint from copying (and so from
// restarting) the WAL; the pages are then named by the dbstat virtual table.
//
// 100 principals (GUID tenant, user and app ids, as Entra ID tokens carry) with 20 activities each,
// each with a history item, then b.N creates from 16 goroutines, each for a principal drawn at
// random, as the load tool's create scenario sends them. It reports frames/op (pages written to the
// WAL per create; each is written again by a checkpoint) and writes/commit; with -v, the frames by
// B-tree. Deterministic in what it counts, not in the grouping (group commit takes what arrives),
// so compare runs with benchstat over -count.
//
//	go test ./sqlite -run '^$' -bench _Pages -benchtime 5000x -count 6
func BenchmarkCreate_Pages(b *testing.B) {
	pagesWritten(b, func(svc *activity.Service, p activity.Principal, _ []int64, i int) error {
		_, err := svc.UpsertActivity(b.Context(), p, activitytest.NewActivity(fmt.Sprint("create-", i)))
		return err
	})
}

// BenchmarkHistoryPut_Pages is BenchmarkCreate_Pages for Graph's PUT of a new history item to one of
// the principal's activities drawn at random (the load tool's history scenario).
func BenchmarkHistoryPut_Pages(b *testing.B) {
	pagesWritten(b, func(svc *activity.Service, p activity.Principal, ids []int64, _ int) error {
		_, err := svc.PutHistoryItem(b.Context(), p, activity.Ref{ID: ids[rand.IntN(len(ids))]},
			activitytest.NewHistoryItem(uuid.NewString(), time.Now().Add(-time.Hour), 5*time.Minute))
		return err
	})
}

// pagesWritten runs b.N writes by op, each for a principal drawn at random with the ids of its
// activities, and reports the WAL frames they wrote.
func pagesWritten(b *testing.B, op func(svc *activity.Service, p activity.Principal, ids []int64, i int) error) {
	dir := b.TempDir()
	path := filepath.Join(dir, "pages.db")
	s, err := sqlite.Open(b.Context(), path)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	svc := activity.NewService(s)
	principals := make([]activity.Principal, 100)
	ids := make([][]int64, len(principals))
	for i := range principals {
		principals[i] = activity.Principal{TenantID: uuid.NewString(), UserID: uuid.NewString(), AppID: uuid.NewString()}
		for j := range 20 {
			a := activitytest.NewActivity(fmt.Sprintf("preload-%d", j))
			a.HistoryItems = []*activity.HistoryItem{activitytest.NewHistoryItem("", time.Now().Add(-time.Hour), 5*time.Minute)}
			if _, err := svc.UpsertActivity(b.Context(), principals[i], a); err != nil {
				b.Fatal(err)
			}
			ids[i] = append(ids[i], a.ID)
		}
	}
	var mu sync.Mutex
	var commits, writes int
	s.ObserveBatch(func(n int, _ time.Duration) {
		mu.Lock()
		commits, writes = commits+1, writes+n
		mu.Unlock()
	})

	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	for busy, log := 1, 1; busy != 0 || log != 0; { // busy while the store's checkpointer runs
		var copied int
		if err := db.QueryRowContext(b.Context(), "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &log, &copied); err != nil {
			b.Fatal(err)
		}
	}
	snapshot, err := db.BeginTx(b.Context(), &sql.TxOptions{ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	var n int
	if err := snapshot.QueryRowContext(b.Context(), "SELECT count(*) FROM activities").Scan(&n); err != nil {
		b.Fatal(err)
	}
	mu.Lock()
	commits, writes = 0, 0
	mu.Unlock()

	b.ResetTimer()
	var next sync.Mutex
	left := b.N
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for {
				next.Lock()
				if left == 0 {
					next.Unlock()
					return
				}
				left--
				i := left
				next.Unlock()
				p := rand.IntN(len(principals))
				if err := op(svc, principals[p], ids[p], i); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()

	wal, err := os.ReadFile(path + "-wal")
	if err != nil {
		b.Fatal(err)
	}
	snapshot.Rollback()
	pageSize := int(binary.BigEndian.Uint32(wal[8:12]))
	frames := map[uint32]int{} // page number → frames
	var commitFrames, total int
	for off := 32; off+24+pageSize <= len(wal); off += 24 + pageSize {
		frames[binary.BigEndian.Uint32(wal[off:])]++
		if binary.BigEndian.Uint32(wal[off+4:]) != 0 {
			commitFrames++
		}
		total++
	}
	mu.Lock()
	defer mu.Unlock()
	if commitFrames != commits {
		b.Fatalf("the WAL holds %d commits, the writer made %d: it was checkpointed and restarted", commitFrames, commits)
	}
	names := map[uint32]string{}
	rows, err := db.QueryContext(b.Context(), "SELECT name, pageno FROM dbstat")
	if err != nil {
		b.Fatal(err)
	}
	for rows.Next() {
		var name string
		var page uint32
		if err := rows.Scan(&name, &page); err != nil {
			b.Fatal(err)
		}
		names[page] = name
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	byTree := map[string]int{}
	for page, n := range frames {
		name := names[page]
		if name == "" {
			name = "(free or new)"
		} else if strings.HasPrefix(name, "activities_search_") {
			name = "activities_search (FTS5 shadow tables)"
		}
		byTree[name] += n
	}
	b.ReportMetric(float64(total)/float64(b.N), "frames/op")
	b.ReportMetric(float64(writes)/float64(commits), "writes/commit")
	var out strings.Builder
	for _, name := range slices.SortedFunc(maps.Keys(byTree), func(x, y string) int { return cmp.Compare(byTree[y], byTree[x]) }) {
		fmt.Fprintf(&out, "  %-45s %6.2f frames a write\n", name, float64(byTree[name])/float64(b.N))
	}
	b.Logf("%d writes in %d commits (%.1f a commit), %d frames (%.2f a write):\n%s",
		b.N, commits, float64(writes)/float64(commits), total, float64(total)/float64(b.N), out.String())
}
