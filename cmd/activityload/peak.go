package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/activityd/activityd/client"
)

// peak measures the memory of the heaviest requests the limits allow (BENCHMARKS.md): it starts
// activityd on a fresh store, stores --activities activities of one user through the API, each with
// --items history items and a contentInfo and visualElements.content of --content-bytes each, resets
// the process's peak RSS, and sends --rounds times the request of issue 11: one $batch of 20
// GET /me/activities?$top=1000&$expand=historyItems with Prefer: odata.maxpagesize=1000. It prints
// the RSS at idle, the peak, and what the batches answered.
func peak(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("activityload peak", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bin := fs.String("activityd", "./activityd", "the activityd binary to start")
	db := fs.String("db", "", "PostgreSQL URL; without it, SQLite in a temporary directory")
	activities := fs.Int("activities", 1000, "activities stored")
	items := fs.Int("items", 100, "history items per activity")
	contentBytes := fs.Int("content-bytes", 200, "bytes of contentInfo and of visualElements.content, each")
	rounds := fs.Int("rounds", 3, "batches sent")
	serverArgs := fs.String("server-args", "", "more flags for activityd serve, space-separated")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dir, keyFile, issuer, err := scratch("activityload-peak-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	token, err := issuer.Mint("peak", "loadapp", time.Hour)
	if err != nil {
		return err
	}
	url := ""
	if *db != "" {
		var drop func()
		if url, drop, err = freshSchema(ctx, *db); err != nil {
			return err
		}
		defer drop()
	}
	srv, err := startServe(*bin, filepath.Join(dir, "data"), keyFile, url, strings.Fields(*serverArgs), stderr)
	if err != nil {
		return err
	}
	defer srv.stop()
	base := srv.base
	p := &peakClient{base: base, token: token, client: &http.Client{Timeout: 10 * time.Minute}}
	start := time.Now()
	if err := p.load(ctx, *activities, *items, *contentBytes); err != nil {
		return fmt.Errorf("load: %w", err)
	}
	fmt.Fprintf(stderr, "stored %d activities × %d history items (%d B content each) in %s\n", *activities, *items, *contentBytes, time.Since(start).Round(time.Second))
	pid := srv.cmd.Process.Pid
	idle := procStatus(pid, "VmRSS:")
	// Writing 5 to clear_refs resets VmHWM to the current RSS (Linux 4.0+), so the peak below is
	// the batches', not the load's.
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0); err != nil {
		fmt.Fprintf(stderr, "cannot reset the peak RSS (%v): the peak below includes the load\n", err)
	}
	var steps []string
	for i := range 20 {
		steps = append(steps, fmt.Sprintf(`{"id":"%d","method":"GET","url":"/me/activities?$top=1000&$expand=historyItems","headers":{"Prefer":"odata.maxpagesize=1000"}}`, i))
	}
	batch := `{"requests":[` + strings.Join(steps, ",") + `]}`
	for r := range *rounds {
		t0 := time.Now()
		size, statuses, err := p.batch(ctx, batch)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "batch %d: %d bytes in %s, step statuses %v\n", r+1, size, time.Since(t0).Round(time.Millisecond), statuses)
	}
	high := procStatus(pid, "VmHWM:")
	fmt.Fprintf(stdout, "RSS idle after the load: %d MB; peak during the batches: %d MB; peak above idle: %d MB\n",
		idle>>20, high>>20, (high-idle)>>20)
	return nil
}

type peakClient struct {
	base, token string
	client      *http.Client
}

func (p *peakClient) do(ctx context.Context, method, path, body string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, p.base+path, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+p.token)
	req.Header.Set("Content-Type", "application/json")
	return p.client.Do(req)
}

// load stores n activities with items history items each, 100 per request (the deep-insert limit),
// through the client package.
func (p *peakClient) load(ctx context.Context, n, items, contentBytes int) error {
	filler, _ := json.Marshal(map[string]string{"text": strings.Repeat("x", max(contentBytes-20, 1))})
	card, _ := json.Marshal(map[string]string{"type": "AdaptiveCard", "text": strings.Repeat("x", max(contentBytes-20, 1))})
	c := client.New(p.base, p.token)
	c.HTTP = p.client
	started, ended := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC), time.Date(2026, 11, 27, 10, 5, 0, 0, time.UTC)
	for i := range n {
		key := fmt.Sprintf("peak-%05d", i)
		var a client.Activity
		if err := json.Unmarshal([]byte(activityJSON(key)), &a); err != nil {
			return err
		}
		a.ContentInfo, a.VisualElements.Content = filler, card
		for done := 0; done < items || done == 0; done += 100 {
			a.HistoryItems = nil
			for j := done; j < min(done+100, items); j++ {
				a.HistoryItems = append(a.HistoryItems, client.HistoryItem{StartedDateTime: started, LastActiveDateTime: &ended})
			}
			if _, _, err := c.Put(ctx, &a); err != nil {
				return fmt.Errorf("PUT %s: %w", key, err)
			}
			if items == 0 {
				break
			}
		}
	}
	return nil
}

// batch sends one $batch and returns the size of its answer and the status of each step.
func (p *peakClient) batch(ctx context.Context, body string) (int, map[int]int, error) {
	resp, err := p.do(ctx, "POST", "/v1.0/$batch", body)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, nil, fmt.Errorf("$batch: %s: %s", resp.Status, b[:min(len(b), 300)])
	}
	var out struct{ Responses []struct{ Status int } }
	if err := json.NewDecoder(bytes.NewReader(b)).Decode(&out); err != nil {
		return 0, nil, err
	}
	statuses := map[int]int{}
	for _, r := range out.Responses {
		statuses[r.Status]++
	}
	return len(b), statuses, nil
}

// procStatus reads a "kB" line of /proc/pid/status, in bytes; 0 where unknown.
func procStatus(pid int, field string) int64 {
	v, _ := procFields(pid, "status", field)
	return v[0] << 10
}

// procFields reads the number that follows each field name (such as "VmRSS:" or "syscw:") on its
// line of /proc/pid/file; 0 for a field not found. ok is false when the file cannot be read.
func procFields(pid int, file string, fields ...string) (values []int64, ok bool) {
	values = make([]int64, len(fields))
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", pid, file))
	if err != nil {
		return values, false
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		for i, field := range fields {
			if rest, ok := strings.CutPrefix(line, field); ok {
				fmt.Sscan(rest, &values[i])
			}
		}
	}
	return values, true
}
