package sqlite_test

import (
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/activityd/activityd"
	"github.com/activityd/activityd/activitytest"
	"github.com/activityd/activityd/sqlite"
)

func openBench(b *testing.B) *activity.Service {
	s, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return activity.NewService(s)
}

// BenchmarkUpsertActivity_Parallel is durable creates from many goroutines: group commit at work.
func BenchmarkUpsertActivity_Parallel(b *testing.B) {
	svc := openBench(b)
	var n atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			a := activitytest.NewActivity(fmt.Sprint("doc-", n.Add(1)))
			if _, err := svc.UpsertActivity(b.Context(), activitytest.AliceNotes, a); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkListActivities(b *testing.B) {
	svc := openBench(b)
	for i := range 200 {
		if _, err := svc.UpsertActivity(b.Context(), activitytest.AliceNotes, activitytest.NewActivity(fmt.Sprint("doc-", i))); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		page, err := svc.ListActivities(b.Context(), activitytest.AliceNotes, activity.ActivityQuery{Limit: 20})
		if err != nil || len(page.Activities) != 20 {
			b.Fatal(page, err)
		}
	}
}

func BenchmarkRecentActivities(b *testing.B) {
	svc := openBench(b)
	for i := range 200 {
		a := activitytest.NewActivity(fmt.Sprint("doc-", i))
		a.HistoryItems = []*activity.HistoryItem{activitytest.NewHistoryItem("", time.Now(), time.Minute)}
		if _, err := svc.UpsertActivity(b.Context(), activitytest.AliceNotes, a); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		page, err := svc.RecentActivities(b.Context(), activitytest.AliceNotes, activity.ActivityQuery{Limit: 20})
		if err != nil || len(page.Activities) != 20 {
			b.Fatal(page, err)
		}
	}
}
