package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/activityd/activityd/postgres/pgtest"
)

// TestSameKey_TwoProcesses deep-inserts one appActivityId 1,000 times at once through two processes
// on one PostgreSQL (two devices recording the same document): never a 5xx, never two activities,
// and every session is kept.
func TestSameKey_TwoProcesses(t *testing.T) {
	db := pgtest.URL(t)
	key := filepath.Join(t.TempDir(), "issuer-key.pem")
	a := startProcess(t, "--db", db, "--data", t.TempDir(), "--issuer-key", key, "--throttle=false")
	b := startProcess(t, "--db", db, "--data", t.TempDir(), "--issuer-key", key, "--throttle=false")
	tok := mintTokenWithKey(t, key, "alice", "notes")
	body := `{"appActivityId":"shared","activitySourceHost":"https://x.example","activationUrl":"https://x.example/shared",` +
		`"visualElements":{"displayText":"Shared"},"historyItems":[{"startedDateTime":"2026-11-30T09:00:00Z","lastActiveDateTime":"2026-11-30T09:01:00Z"}]}`
	var next atomic.Int64
	var mu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	for w := range 16 {
		base := a.base
		if w%2 == 1 {
			base = b.base
		}
		wg.Go(func() {
			for next.Add(1) <= 1000 {
				status, _, err := request(t.Context(), "PUT", base+"/v1.0/me/activities/shared", tok, body)
				mu.Lock()
				if err != nil {
					statuses[-1]++
				} else {
					statuses[status]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if statuses[201] != 1 || statuses[200] != 999 {
		t.Errorf("1,000 PUTs of one key through two processes: %v; want one 201 and 999 200s", statuses)
	}
	status, page, err := request(t.Context(), "GET", a.base+"/v1.0/me/activities?$expand=historyItems", tok, "")
	var list struct {
		Value []struct {
			AppActivityID string
			HistoryItems  []json.RawMessage
		}
		Next string `json:"historyItems@odata.nextLink"`
	}
	if err != nil || status != 200 || json.Unmarshal(page, &list) != nil || len(list.Value) != 1 {
		t.Fatalf("after: %d %s %v", status, page, err)
	}
	var n int
	countStatus, countBody, _ := request(t.Context(), "GET", a.base+"/v1.0/me/activities/shared/historyItems/$count", tok, "")
	fmt.Sscan(string(countBody), &n)
	if countStatus != 200 || n != 1000 {
		t.Errorf("history items after 1,000 deep inserts: %d (%d %s)", n, countStatus, countBody)
	}
}

// mintTokenWithKey mints a token with activityd token --issuer-key.
func mintTokenWithKey(t *testing.T, key, user, app string) string {
	t.Helper()
	var out strings.Builder
	if err := run(t.Context(), []string{"token", "--issuer-key", key, "--user", user, "--app", app}, os.Getenv, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out.String())
}
