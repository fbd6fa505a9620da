package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// soak runs the mix scenario against one activityd for a long time at an open-loop rate (by
// default half of the capacity a short closed-loop probe measures first), and reports, window by
// window, the latency and the process's resident memory, Go heap, goroutines and open files: what
// drifts over half an hour that a ten-second measurement cannot show.
func soak(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := config{}
	var store, mix string
	var probe, window time.Duration
	var share float64
	fs := flag.NewFlagSet("activityload soak", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.activityd, "activityd", "./activityd", "the activityd binary to start")
	fs.StringVar(&store, "store", "sqlite", "the store: sqlite or postgres")
	fs.StringVar(&c.db, "db", os.Getenv("ACTIVITYD_DB"), "PostgreSQL URL for the postgres store (a fresh schema is made in it)")
	fs.StringVar(&mix, "mix", defaultMix, "the mix's weights, scenario=weight, comma-separated")
	fs.DurationVar(&c.duration, "duration", 30*time.Minute, "how long to soak")
	fs.DurationVar(&window, "window", time.Minute, "one line of the report per window")
	fs.DurationVar(&probe, "probe", 10*time.Second, "the closed-loop capacity probe before the soak")
	fs.Float64Var(&share, "share", 0.5, "the soak's rate as a share of the probed capacity")
	fs.IntVar(&c.rate, "rate", 0, "the soak's rate in requests per second instead of a share of the probe")
	fs.IntVar(&c.concurrency, "concurrency", 16, "connections of the probe (its closed loop)")
	fs.IntVar(&c.users, "users", 100, "users (each through one app)")
	fs.IntVar(&c.preload, "preload", 20, "activities stored per user before the soak")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if c.duration <= 0 || window <= 0 || window > c.duration || share <= 0 || c.rate < 0 {
		return errors.New("--duration and --window must be positive, --window at most --duration, --share positive, --rate not negative")
	}
	var err error
	if c.mix, err = parseMix(mix); err != nil {
		return err
	}
	maddr, err := freeAddr()
	if err != nil {
		return err
	}
	c.serverArgs = []string{"--metrics-addr", maddr}
	dir, keyFile, issuer, err := scratch("activityload-soak-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	t, err := startTarget(ctx, c, store, keyFile, dir)
	if err != nil {
		return err
	}
	defer t.stop()
	if err := t.mintTokens(c, issuer); err != nil {
		return err
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}}
	if c.rate == 0 {
		p := t.drive(ctx, c, client, "mix", probe, 0)
		c.rate = max(1, int(p.rate()*share))
		fmt.Fprintf(stderr, "soak: the probe served %.0f req/s (closed loop, %d connections); soaking at %d req/s\n", p.rate(), c.concurrency, c.rate)
	}
	// Open loop: enough requests in flight that a slow moment queues rather than drops them.
	c.concurrency = max(64, c.rate/20)
	type sample struct {
		at                    time.Duration
		res                   *result
		rss, heap, goroutines int64
		files                 int
	}
	var rows []sample
	start := time.Now()
	for round := 1; time.Since(start) < c.duration && ctx.Err() == nil; round++ {
		r := t.drive(ctx, c, client, "mix", min(window, c.duration-time.Since(start)), round)
		m := scrape("http://" + maddr + "/metrics")
		s := sample{at: time.Since(start), res: r, rss: procStatus(t.cmd.Process.Pid, "VmRSS:"),
			heap: m["go_memstats_heap_inuse_bytes"], goroutines: m["go_goroutines"], files: openFiles(t.cmd.Process.Pid)}
		rows = append(rows, s)
		fmt.Fprintf(stderr, "soak %6s  %6.0f req/s  p50 %s  p99 %s  errors %d  RSS %.0f MB  heap %.0f MB  goroutines %d  files %d\n",
			s.at.Round(time.Second), r.rate(), ms(r.percentile(0.5)), ms(r.percentile(0.99)), r.errors,
			mb(s.rss), mb(s.heap), s.goroutines, s.files)
	}
	if len(rows) == 0 {
		return ctx.Err()
	}
	fmt.Fprintf(stdout, "soak of the mix (%s) on %s: open loop at %d req/s for %s, %d users × %d activities preloaded; %d CPUs, %s\n\n",
		mix, store, c.rate, time.Since(start).Round(time.Second), c.users, c.preload, runtime.NumCPU(), runtime.Version())
	fmt.Fprintln(stdout, "| after | req/s | p50 | p99 | p99.9 | errors | RSS | Go heap in use | goroutines | open files |")
	fmt.Fprintln(stdout, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, s := range rows {
		fmt.Fprintf(stdout, "| %s | %.0f | %s | %s | %s | %d | %.0f MB | %.0f MB | %d | %d |\n", s.at.Round(time.Second), s.res.rate(),
			ms(s.res.percentile(0.5)), ms(s.res.percentile(0.99)), ms(s.res.percentile(0.999)), s.res.errors,
			mb(s.rss), mb(s.heap), s.goroutines, s.files)
	}
	first, last := rows[0], rows[len(rows)-1]
	fmt.Fprintf(stdout, "\nlast window ÷ first: p99 %.2f, RSS %.2f, Go heap %.2f, goroutines %+d, open files %+d\n",
		float64(last.res.percentile(0.99))/float64(first.res.percentile(0.99)), float64(last.rss)/float64(first.rss),
		float64(last.heap)/float64(first.heap), last.goroutines-first.goroutines, last.files-first.files)
	return nil
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

// scrape reads the unlabelled samples of a Prometheus text page.
func scrape(url string) map[string]int64 {
	out := map[string]int64{}
	resp, err := http.Get(url)
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") || strings.Contains(name, "{") {
			continue
		}
		if f, err := strconv.ParseFloat(value, 64); err == nil {
			out[name] = int64(f)
		}
	}
	return out
}

// openFiles is how many files the process pid has open.
func openFiles(pid int) int {
	entries, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	return len(entries)
}
