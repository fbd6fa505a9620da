package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// streams measures the live stream (BENCHMARKS.md): it starts activityd (one process on SQLite, or
// --processes on one PostgreSQL), opens --streams event streams, one user each, on the last process,
// then writes --writes activities through the first at --rate per second, each for a random user, and
// reports the time from a write's 2xx to its event on the user's stream (p50, p99, max) and the RSS of
// the streaming process. With --writes 0 it only holds the streams open: the memory of idle streams.
func streams(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("activityload streams", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bin := fs.String("activityd", "./activityd", "the activityd binary to start")
	db := fs.String("db", "", "PostgreSQL URL; without it, SQLite in a temporary directory")
	procs := fs.Int("processes", 1, "activityd processes (more than one needs --db): writes go to the first, streams to the last")
	n := fs.Int("streams", 1000, "open streams, one user each")
	writes := fs.Int("writes", 2000, "activities written while the streams are open")
	rate := fs.Int("rate", 100, "writes per second")
	hold := fs.Duration("hold", 5*time.Second, "with --writes 0, how long the idle streams are held open before the RSS is read")
	serverArgs := fs.String("server-args", "", "more flags for activityd serve, space-separated (e.g. --debug-addr 127.0.0.1:6060)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *procs > 1 && *db == "" {
		return errors.New("--processes above 1 needs --db")
	}
	dir, keyFile, issuer, err := scratch("activityload-streams-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	url := ""
	if *db != "" {
		var drop func()
		if url, drop, err = freshSchema(ctx, *db); err != nil {
			return err
		}
		defer drop()
	}
	var bases []string
	var procsUp []*served
	defer func() {
		for _, p := range procsUp {
			p.stop()
		}
	}()
	for i := range *procs {
		extra := []string{"--max-streams-per-user", "10", "--max-conns-per-addr", "0"} // every stream comes from 127.0.0.1
		if i == *procs-1 {
			extra = append(extra, strings.Fields(*serverArgs)...)
		}
		srv, err := startServe(*bin, filepath.Join(dir, fmt.Sprint("data", i)), keyFile, url, extra, stderr)
		if err != nil {
			return err
		}
		procsUp, bases = append(procsUp, srv), append(bases, srv.base)
	}
	tokens := make([]string, *n)
	for u := range tokens {
		if tokens[u], err = issuer.Mint(fmt.Sprintf("streamer%05d", u), "loadapp", 24*time.Hour); err != nil {
			return err
		}
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 0}}
	var mu sync.Mutex
	arrived := map[string]time.Time{}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var open sync.WaitGroup
	var failed error
	for u := range *n {
		open.Add(1)
		go func() {
			req, _ := http.NewRequestWithContext(ctx, "GET", bases[len(bases)-1]+"/v1.0/me/activities/delta", nil)
			req.Header.Set("Authorization", "Bearer "+tokens[u])
			req.Header.Set("Accept", "text/event-stream")
			resp, err := client.Do(req)
			if err == nil && resp.StatusCode != 200 {
				err = fmt.Errorf("stream: %s", resp.Status)
			}
			open.Done()
			if err != nil {
				mu.Lock()
				failed = err
				mu.Unlock()
				return
			}
			defer resp.Body.Close()
			sc := bufio.NewScanner(resp.Body)
			sc.Buffer(make([]byte, 64<<10), 1<<20)
			for sc.Scan() {
				line := sc.Text()
				if i := strings.Index(line, `"appActivityId":"`); i >= 0 && strings.HasPrefix(line, "data: ") {
					key, _, _ := strings.Cut(line[i+len(`"appActivityId":"`):], `"`)
					now := time.Now()
					mu.Lock()
					arrived[key] = now
					mu.Unlock()
				}
			}
		}()
	}
	open.Wait()
	if failed != nil {
		return failed
	}
	fmt.Fprintf(stderr, "%d streams open\n", *n)
	streamer := procsUp[len(procsUp)-1].cmd.Process.Pid
	if *writes == 0 {
		time.Sleep(*hold)
		fmt.Fprintf(stdout, "%d idle streams: RSS of the streaming process %d MB (peak %d MB)\n", *n,
			procStatus(streamer, "VmRSS:")>>20, procStatus(streamer, "VmHWM:")>>20)
		return nil
	}
	done := map[string]time.Time{}
	tick := time.NewTicker(time.Second / time.Duration(*rate))
	defer tick.Stop()
	var wg sync.WaitGroup
	for i := range *writes {
		<-tick.C
		u := rand.IntN(*n)
		key := fmt.Sprintf("lat-%06d", i)
		wg.Go(func() {
			req, _ := http.NewRequestWithContext(ctx, "PUT", bases[0]+"/v1.0/me/activities/"+key, strings.NewReader(activityJSON(key)))
			req.Header.Set("Authorization", "Bearer "+tokens[u])
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			now := time.Now()
			if resp.StatusCode == 201 {
				mu.Lock()
				done[key] = now
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		mu.Lock()
		all := len(arrived) >= len(done)
		mu.Unlock()
		if all {
			break
		}
	}
	mu.Lock()
	defer mu.Unlock()
	var lat []time.Duration
	missing := 0
	for key, t := range done {
		a, ok := arrived[key]
		if !ok {
			missing++
			continue
		}
		lat = append(lat, max(a.Sub(t), 0))
	}
	slices.Sort(lat)
	if len(lat) == 0 {
		return errors.New("no event arrived")
	}
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	fmt.Fprintf(stdout, "%d streams, %d writes at %d/s through %d process(es): 2xx to event p50 %s, p99 %s, max %s; %d events missing; RSS of the streaming process %d MB\n",
		*n, len(done), *rate, len(bases), ms(pct(0.5)), ms(pct(0.99)), ms(lat[len(lat)-1]), missing, procStatus(streamer, "VmRSS:")>>20)
	return nil
}
