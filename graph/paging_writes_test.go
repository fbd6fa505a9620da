package graph_test

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/activityd/activityd"
)

// TestPaging_UnderWrites pages through 10,000 activities, 200 a page, while four clients create,
// replace and delete others: no activity is listed twice, and every activity that existed unchanged
// throughout is listed. (A replaced one moves to the front of the list, past a reader already under
// way, as in any keyset paging; the delta query is what catches changes.)
func TestPaging_UnderWrites(t *testing.T) {
	e := newEnv(t)
	p := activity.Principal{TenantID: testIssuer, UserID: "alice", AppID: "notes"}
	base := time.Now().Add(-24 * time.Hour).Truncate(time.Second)
	var as []*activity.Activity
	for i := range 10000 {
		a := &activity.Activity{AppActivityID: fmt.Sprintf("k%05d", i), ActivitySourceHost: "https://x.example",
			ActivationURL: fmt.Sprintf("https://x.example/%d", i), VisualElements: activity.VisualInfo{DisplayText: "doc"}}
		a.CreatedDateTime, a.LastModifiedDateTime = base.Add(time.Duration(i)*time.Second), base.Add(time.Duration(i)*time.Second)
		as = append(as, a)
	}
	for start := 0; start < len(as); start += 1000 {
		if _, _, err := e.service.Import(t.Context(), p, as[start:start+1000]); err != nil {
			t.Fatal(err)
		}
	}
	alice := e.as("alice", "notes")
	var touched sync.Map // appActivityId → true: replaced or deleted during the run
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var writes atomic.Int64
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				victim := fmt.Sprintf("k%05d", (w*2503+i*7919)%10000)
				touched.Store(victim, true)
				var r *response
				switch i % 3 {
				case 0:
					r = alice.do("PUT", "/v1.0/me/activities/new-"+fmt.Sprint(w, "-", i), activityJSON(fmt.Sprint("new-", w, "-", i)))
				case 1:
					r = alice.do("PUT", "/v1.0/me/activities/"+victim, activityJSON(victim))
				case 2:
					got := alice.do("GET", "/v1.0/me/activities/"+victim, nil)
					if got.status == http.StatusOK {
						r = alice.do("DELETE", "/v1.0/me/activities/"+got.json()["id"].(string), nil)
					}
				}
				if r != nil && r.status >= 500 {
					t.Errorf("a write under paging: %d %s", r.status, r.body)
				}
				writes.Add(1)
			}
		})
	}
	seen := map[string]int{}
	next := "/v1.0/me/activities"
	pages := 0
	for next != "" {
		r := alice.do("GET", next, nil, "Prefer", "odata.maxpagesize=200")
		if r.status != 200 {
			t.Fatalf("page %d: %d %s", pages, r.status, r.body)
		}
		for _, v := range r.json()["value"].([]any) {
			seen[v.(map[string]any)["appActivityId"].(string)]++
		}
		next, _ = r.json()["@odata.nextLink"].(string)
		pages++
	}
	close(stop)
	wg.Wait()
	for key, n := range seen {
		if n > 1 {
			t.Errorf("%s listed %d times", key, n)
		}
	}
	missing := 0
	for _, a := range as {
		if _, changed := touched.Load(a.AppActivityID); !changed && seen[a.AppActivityID] == 0 {
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("%d activities that existed unchanged throughout were not listed", missing)
	}
	t.Logf("%d pages, %d activities listed, %d writes meanwhile", pages, len(seen), writes.Load())
}
