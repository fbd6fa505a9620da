package web_test

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/activityd/activityd"
	"github.com/activityd/activityd/auth"
	"github.com/jackc/pgx/v5"
)

// benchSize is how many activities the benchmarks seed for one person: ACTIVITYD_BENCH_ACTIVITIES,
// default 100,000 (BENCHMARKS.md §7 gives the commands, 1,000,000 included).
func benchSize(b *testing.B) int {
	n := 100_000
	if v := os.Getenv("ACTIVITYD_BENCH_ACTIVITIES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatal(err)
		}
	}
	return n
}

// benchApps is how many apps the seeded activities go through: ACTIVITYD_BENCH_APPS, default 5.
func benchApps(b *testing.B) int {
	n := 5
	if v := os.Getenv("ACTIVITYD_BENCH_APPS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("ACTIVITYD_BENCH_APPS=%q: want a number of apps, 1 or more", v)
		}
	}
	return n
}

// benchRun is how many activities in a row the seed writes through one app before the next:
// ACTIVITYD_BENCH_RUN, default 1,000 (fewer when there are more than ACTIVITIES/1,000 apps).
func benchRun(b *testing.B, n, apps int) int {
	if v := os.Getenv("ACTIVITYD_BENCH_RUN"); v != "" {
		run, err := strconv.Atoi(v)
		if err != nil || run < 1 {
			b.Fatalf("ACTIVITYD_BENCH_RUN=%q: want a number of activities, 1 or more", v)
		}
		return run
	}
	return max(1, min(1000, n/apps))
}

// vocabulary is 20,000 made-up words of 4 to 9 letters.
var vocabulary = func() []string {
	r := rand.New(rand.NewPCG(5, 6))
	v := make([]string, 20000)
	for i := range v {
		b := make([]byte, 4+r.IntN(6))
		for j := range b {
			b[j] = byte('a' + r.IntN(26))
		}
		v[i] = string(b)
	}
	return v
}()

// word returns a word of the vocabulary, Zipf-like: a few common, most rare.
func word(r *rand.Rand) string {
	return vocabulary[int(float64(len(vocabulary))*r.Float64()*r.Float64()*r.Float64())]
}

func words(r *rand.Rand, n int) string {
	w := make([]string, n)
	for i := range w {
		w[i] = word(r)
	}
	return strings.Join(w, " ")
}

// seed stores n activities of alice through benchApps apps (five unless set), in runs of benchRun
// activities of one app (1,000 unless set, fewer when there are more than n/1,000 apps: every app has
// some), one transaction a run, with display texts and descriptions drawn from the vocabulary, last
// modified a minute apart.
func seed(b *testing.B, e *env, n int) (texts []string) {
	r := rand.New(rand.NewPCG(1, 2))
	start, now := time.Now(), activity.Truncate(time.Now())
	apps := benchApps(b)
	run := benchRun(b, n, apps)
	for done := 0; done < n; {
		app := "app" + strconv.Itoa(done/run%apps)
		p := activity.Principal{TenantID: auth.LocalTenant, UserID: auth.UserID("alice"), AppID: app}
		batch := min(run, n-done)
		err := e.service.Store.Update(context.Background(), p, func(tx activity.Tx) error {
			for i := range batch {
				key := "doc-" + strconv.Itoa(done+i)
				text := words(r, 4)
				if (done+i)%100 == 0 {
					texts = append(texts, text)
				}
				a := &activity.Activity{AppActivityID: key, ActivitySourceHost: "https://" + app + ".example.com",
					ActivationURL: "https://" + app + ".example.com/" + key, AppDisplayName: app,
					VisualElements:  activity.VisualInfo{DisplayText: text, Description: words(r, 8)},
					CreatedDateTime: now, LastModifiedDateTime: now.Add(-time.Duration(n-done-i) * time.Minute),
					ExpirationDateTime: now.Add(300 * 24 * time.Hour)}
				if _, err := tx.PutActivity(context.Background(), a); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		done += batch
	}
	b.Logf("seeded %d activities through %d apps in %v", n, apps, time.Since(start).Round(time.Second))
	return texts
}

// BenchmarkPage_FirstScreen: the first screen of the timeline (50 activities of every app with
// their sessions, grouped by day) drawn by the real handler for a signed-in person with benchSize
// activities; p99-ms is the 99th percentile of the server time of one screen.
func BenchmarkPage_FirstScreen(b *testing.B) {
	e := newEnv(b)
	seed(b, e, benchSize(b))
	alice := e.signIn("alice")
	b.Run("Page", func(b *testing.B) {
		var times []time.Duration
		for b.Loop() {
			start := time.Now()
			res, body := alice.get("/")
			times = append(times, time.Since(start))
			if res.StatusCode != 200 || strings.Count(body, `class="card"`) != 50 {
				b.Fatalf("first screen: %d, %d cards", res.StatusCode, strings.Count(body, `class="card"`))
			}
		}
		b.ReportMetric(p99(times), "p99-ms")
	})
	// The baseline, in the same run: the Graph API's list of an app's 50 newest activities, JSON.
	b.Run("GraphList50", func(b *testing.B) {
		tok := e.token("alice", "app0")
		var times []time.Duration
		for b.Loop() {
			req, _ := http.NewRequest("GET", e.srv.URL+"/v1.0/me/activities?$top=50", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			start := time.Now()
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			times = append(times, time.Since(start))
			if res.StatusCode != 200 {
				b.Fatalf("Graph list: %d", res.StatusCode)
			}
		}
		b.ReportMetric(p99(times), "p99-ms")
	})
}

// BenchmarkStore_Search: searches across a person's benchSize activities through the store (the
// page and $search both call it), first page of 50; p99-ms is the 99th percentile of one search.
//   - Remembered: two words of one stored display text, what a person recalls of it (a few matches);
//   - Frequent: the vocabulary's most frequent word and another (about 1 % of activities each);
//   - Everywhere: "example", a word of every activity's URL (every activity matches).
func BenchmarkStore_Search(b *testing.B) {
	e := newEnv(b)
	texts := seed(b, e, benchSize(b))
	if e.pgURL != "" {
		// What autovacuum does after a bulk load: the planner needs the statistics.
		conn, err := pgx.Connect(context.Background(), e.pgURL)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := conn.Exec(context.Background(), "ANALYZE activities"); err != nil {
			b.Fatal(err)
		}
		conn.Close(context.Background())
	}
	p := activity.Principal{TenantID: auth.LocalTenant, UserID: auth.UserID("alice"), AppID: "timeline"}
	for _, bc := range []struct {
		name   string
		search func(r *rand.Rand) string
	}{
		{"Remembered", func(r *rand.Rand) string {
			text := strings.Fields(texts[r.IntN(len(texts))])
			return text[0] + " " + text[2]
		}},
		{"Frequent", func(r *rand.Rand) string { return vocabulary[0] + " " + vocabulary[1+r.IntN(50)] }},
		{"Everywhere", func(r *rand.Rand) string { return "example" }},
		{"NoSearch", func(r *rand.Rand) string { return "" }}, // the baseline: the person's 50 newest
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := rand.New(rand.NewPCG(3, 4))
			var times []time.Duration
			found := 0
			for b.Loop() {
				q := activity.ActivityQuery{Limit: 50, AllApps: true, Search: bc.search(r)}
				start := time.Now()
				page, err := e.service.ListActivities(context.Background(), p, q)
				times = append(times, time.Since(start))
				if err != nil {
					b.Fatal(err)
				}
				found += len(page.Activities)
			}
			b.ReportMetric(p99(times), "p99-ms")
			b.ReportMetric(float64(found)/float64(len(times)), "results/op")
		})
	}
}

// p99 returns the 99th percentile of the durations, in milliseconds.
func p99(d []time.Duration) float64 {
	slices.Sort(d)
	return float64(d[len(d)*99/100]) / float64(time.Millisecond)
}
