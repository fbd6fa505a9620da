package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestShutdown_InFlight sends SIGTERM while 200 clients write: every request the server began is
// answered (2xx, or 503 once it is stopping), the process exits 0, and every write it acknowledged
// is there after a restart. Clients open a connection per request. A connection still waiting in the
// kernel's accept queue when the listener closes ends without an answer (the client reads EOF): the
// server never saw it, so its activity must not exist after the restart.
func TestShutdown_InFlight(t *testing.T) {
	dir := t.TempDir()
	p := startProcess(t, "--data", dir, "--throttle=false", "--shutdown-timeout", "10s")
	tok := mintToken(t, dir, "alice", "notes")
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	var mu sync.Mutex
	var acked, cut []string
	outcomes := map[string]int{}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 200 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				key := fmt.Sprintf("w%d-%d", w, i)
				req, _ := http.NewRequest("PUT", p.base+"/v1.0/me/activities/"+key, strings.NewReader(activityBody(key)))
				req.Header.Set("Authorization", "Bearer "+tok)
				res, err := client.Do(req)
				mu.Lock()
				switch {
				case err != nil && errors.Is(err, syscall.ECONNREFUSED):
					outcomes["refused (after the listener closed)"]++
					mu.Unlock()
					return
				case err != nil && (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)):
					// EPIPE: the kernel reset a connection still in the listener's queue while the
					// client was sending its body. Each of these is checked below: not stored.
					outcomes["no answer (never accepted)"]++
					cut = append(cut, key)
				case err != nil:
					outcomes["cut off: "+err.Error()]++
				default:
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
					outcomes[res.Status]++
					if res.StatusCode/100 == 2 {
						acked = append(acked, key)
					}
				}
				mu.Unlock()
			}
		})
	}
	// SIGTERM once 200 writes are acknowledged, so that the shutdown meets a server that has been
	// writing, however fast this machine is today (a fixed half second gave 166 on a busy one).
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 200 {
			break
		}
		if time.Now().After(deadline) {
			close(stop)
			wg.Wait()
			t.Fatalf("only %d writes acknowledged in a minute: %v", n, outcomes)
		}
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	err := p.cmd.Wait()
	close(stop)
	wg.Wait()
	if err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
	for outcome, n := range outcomes {
		if strings.HasPrefix(outcome, "cut off") || !(strings.HasPrefix(outcome, "2") || strings.HasPrefix(outcome, "503") ||
			strings.HasPrefix(outcome, "refused") || strings.HasPrefix(outcome, "no answer")) {
			t.Errorf("%d requests: %s", n, outcome)
		}
	}
	if len(acked) < 200 {
		t.Fatalf("only %d writes acknowledged: %v", len(acked), outcomes)
	}
	base := startServer(t, dir, nil, "--throttle=false")
	for _, key := range acked {
		if status, body, err := request(t.Context(), "GET", base+"/v1.0/me/activities/"+key, tok, ""); err != nil || status != 200 {
			t.Fatalf("%s, acknowledged before the shutdown, after a restart: %d %s %v", key, status, body, err)
		}
	}
	for _, key := range cut {
		if status, _, err := request(t.Context(), "GET", base+"/v1.0/me/activities/"+key, tok, ""); err != nil || status != 404 {
			t.Errorf("%s got no answer, yet the server stored it (%d %v): a request it handled was cut off", key, status, err)
		}
	}
	t.Logf("outcomes: %v", outcomes)
}
