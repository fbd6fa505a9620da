package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// scenarioPaths describes each scenario: its method and how its path ends.
var scenarioPaths = map[string]string{
	"create":  "PUT …/activities/{new key}, a 1 KB activity",
	"post":    "POST …/activities, a 1 KB activity",
	"get":     "GET …/activities/{id}",
	"list":    "GET …/activities?$top=20",
	"recent":  "GET …/activities/recent?$top=20",
	"history": "PUT …/activities/{id}/historyItems/{new GUID}",
	"mix":     "each request one of the above, drawn with the weights of --mix",
}

// defaultMix is a feed's traffic: mostly reads, a write in three requests.
const defaultMix = "get=45,list=15,recent=5,create=15,post=5,history=15"

// weight is one scenario's share of a mix.
type weight struct {
	scenario string
	weight   int
}

// parseMix parses "get=45,list=15,…" into weights of known scenarios other than mix.
func parseMix(s string) ([]weight, error) {
	var mix []weight
	for part := range strings.SplitSeq(s, ",") {
		name, w, ok := strings.Cut(part, "=")
		n, err := strconv.Atoi(w)
		if _, known := scenarioPaths[name]; !ok || err != nil || n < 1 || !known || name == "mix" {
			return nil, fmt.Errorf("--mix: %q is not scenario=weight with a scenario other than mix and a positive weight", part)
		}
		mix = append(mix, weight{name, n})
	}
	return mix, nil
}

// pick returns the scenario that a request of scenario runs: itself, or for mix one drawn by weight.
func (c config) pick(scenario string, rnd *rand.Rand) string {
	if scenario != "mix" {
		return scenario
	}
	total := 0
	for _, w := range c.mix {
		total += w.weight
	}
	n := rnd.IntN(total)
	for _, w := range c.mix {
		if n -= w.weight; n < 0 {
			return w.scenario
		}
	}
	panic("unreachable")
}

// request builds the i-th request of a worker in a scenario.
func (t *target) request(scenario string, worker, i int, rnd *rand.Rand) (method, path, token, body string) {
	u := rnd.IntN(len(t.tokens))
	token = t.tokens[u]
	id := t.ids[u][rnd.IntN(len(t.ids[u]))]
	key := fmt.Sprintf("%s-w%d-%d", scenario, worker, i)
	switch scenario {
	case "create":
		return "PUT", "/v1.0/me/activities/" + key, token, activityJSON(key)
	case "post":
		return "POST", "/v1.0/me/activities", token, activityJSON(key)
	case "get":
		return "GET", "/v1.0/me/activities/" + id, token, ""
	case "list":
		return "GET", "/v1.0/me/activities?$top=20", token, ""
	case "recent":
		return "GET", "/v1.0/me/activities/recent?$top=20", token, ""
	default: // history
		return "PUT", "/v1.0/me/activities/" + id + "/historyItems/" + newGUID(), token, historyJSON
	}
}

// result is one scenario measured on one target.
type result struct {
	scenario, target string
	requests, errors int
	elapsed          time.Duration
	latencies        []time.Duration // sorted
	cpu              time.Duration   // the target process's CPU time (user and system) while measured
	written          ioCount         // what the target process wrote while measured
	known            bool            // cpu and written were read (Linux's /proc)
}

// writtenPerRequest says the target's write system calls and bytes written per request, such as
// "32.1 calls, 83.6 KB"; "—" where unknown.
func (r *result) writtenPerRequest() string {
	if r.requests == 0 || !r.known {
		return "—"
	}
	n := float64(r.requests)
	return fmt.Sprintf("%.1f calls, %.1f KB", float64(r.written.calls)/n, float64(r.written.bytes)/n/1000)
}

// cpuPerRequest says the target process's CPU time per request, such as "431 µs", which the
// machine's other tenants and its disk's latency change far less than the rate; "—" where unknown.
func (r *result) cpuPerRequest() string {
	if r.requests == 0 || !r.known {
		return "—"
	}
	return fmt.Sprintf("%.0f µs", float64(r.cpu)/float64(r.requests)/float64(time.Microsecond))
}

func (r *result) rate() float64 { return float64(r.requests) / r.elapsed.Seconds() }

func (r *result) percentile(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	return r.latencies[min(len(r.latencies)-1, int(p*float64(len(r.latencies))))]
}

// drive runs a scenario against a target for d: a closed loop of c.concurrency workers, or an open
// loop at c.rate requests per second whose latencies count from each request's scheduled time.
func (t *target) drive(ctx context.Context, c config, client *http.Client, scenario string, d time.Duration, round int) *result {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	res := &result{scenario: scenario, target: t.name}
	var mu sync.Mutex
	var errs atomic.Int64
	var seq atomic.Int64
	do := func(worker int, rnd *rand.Rand, scheduled time.Time, lat *[]time.Duration) {
		i := int(seq.Add(1))
		method, path, token, body := t.request(c.pick(scenario, rnd), worker, round*1_000_000_000+i, rnd)
		req, _ := http.NewRequestWithContext(context.WithoutCancel(ctx), method, t.base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := client.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		if err != nil || resp.StatusCode/100 != 2 {
			errs.Add(1)
			if errs.Load() == 1 && err == nil {
				fmt.Fprintf(os.Stderr, "activityload: %s %s on %s: status %d\n", method, path, t.name, resp.StatusCode)
			}
		}
		*lat = append(*lat, time.Since(scheduled))
	}
	start := time.Now()
	cpu, cpuOK := t.cpuTime()
	written, writtenOK := t.written()
	var wg sync.WaitGroup
	collect := func(lat []time.Duration) {
		mu.Lock()
		res.latencies = append(res.latencies, lat...)
		mu.Unlock()
	}
	if c.rate == 0 {
		for w := range c.concurrency {
			wg.Go(func() {
				rnd := rand.New(rand.NewPCG(uint64(w), uint64(round)))
				var lat []time.Duration
				for ctx.Err() == nil {
					do(w, rnd, time.Now(), &lat)
				}
				collect(lat)
			})
		}
	} else {
		jobs := make(chan time.Time, c.concurrency)
		for w := range c.concurrency {
			wg.Go(func() {
				rnd := rand.New(rand.NewPCG(uint64(w), uint64(round)))
				var lat []time.Duration
				for scheduled := range jobs {
					do(w, rnd, scheduled, &lat)
				}
				collect(lat)
			})
		}
		interval := time.Second / time.Duration(c.rate)
		for next := start; ctx.Err() == nil; next = next.Add(interval) {
			time.Sleep(time.Until(next))
			select {
			case jobs <- next:
			default:
				errs.Add(1) // every worker busy: the server fell behind the rate
			}
		}
		close(jobs)
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	cpuAfter, cpuAfterOK := t.cpuTime()
	writtenAfter, writtenAfterOK := t.written()
	res.cpu, res.written = cpuAfter-cpu, ioCount{writtenAfter.calls - written.calls, writtenAfter.bytes - written.bytes}
	res.known = cpuOK && cpuAfterOK && writtenOK && writtenAfterOK
	res.requests, res.errors = len(res.latencies), int(errs.Load())
	slices.Sort(res.latencies)
	return res
}

// measure starts the targets, preloads them and measures every scenario on each, ceiling first.
func measure(ctx context.Context, c config, stdout, stderr io.Writer) error {
	dir, keyFile, issuer, err := scratch("activityload-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: c.concurrency * 2, MaxConnsPerHost: c.concurrency * 2}}
	var targets []*target
	defer func() {
		for _, t := range targets {
			t.stop()
		}
	}()
	for _, name := range append([]string{"ceiling"}, c.stores...) {
		t, err := startTarget(ctx, c, name, keyFile, dir)
		if err != nil {
			return err
		}
		targets = append(targets, t)
		fmt.Fprintf(stderr, "%s: first answer %s after start\n", name, t.coldStart.Round(time.Millisecond))
		if err := t.mintTokens(c, issuer); err != nil {
			return err
		}
	}
	var results []*result
	for round, scenario := range c.scenarios {
		for _, t := range targets {
			t.drive(ctx, c, client, scenario, c.warmup, round*2)
			r := t.drive(ctx, c, client, scenario, c.duration, round*2+1)
			fmt.Fprintf(stderr, "%-8s %-9s %9.0f req/s  p99 %v  errors %d  CPU/request %s  written/request %s\n", scenario, t.name, r.rate(), r.percentile(0.99), r.errors, r.cpuPerRequest(), r.writtenPerRequest())
			results = append(results, r)
		}
	}
	report(stdout, c, targets, results)
	return nil
}

// report prints the results as Markdown, each rate also as a ratio to the ceiling's.
func report(w io.Writer, c config, targets []*target, results []*result) {
	loop := fmt.Sprintf("closed loop, %d connections", c.concurrency)
	if c.rate > 0 {
		loop = fmt.Sprintf("open loop at %d req/s, up to %d in flight", c.rate, c.concurrency)
	}
	fmt.Fprintf(w, "%s; %s measured per scenario and target after %s of warm-up; %d users, %d activities each preloaded; %d CPUs, %s\n\n",
		loop, c.duration, c.warmup, c.users, c.preload, runtime.NumCPU(), runtime.Version())
	fmt.Fprintln(w, "| scenario | target | req/s | of ceiling | p50 | p99 | p99.9 | errors | CPU per request | written per request |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	ceiling := map[string]float64{}
	for _, r := range results {
		if r.target == "ceiling" {
			ceiling[r.scenario] = r.rate()
		}
		ratio := "1.00"
		if r.target != "ceiling" {
			ratio = fmt.Sprintf("%.2f", r.rate()/ceiling[r.scenario])
		}
		fmt.Fprintf(w, "| %s | %s | %.0f | %s | %s | %s | %s | %d | %s | %s |\n", r.scenario, r.target, r.rate(), ratio,
			ms(r.percentile(0.5)), ms(r.percentile(0.99)), ms(r.percentile(0.999)), r.errors, r.cpuPerRequest(), r.writtenPerRequest())
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "CPU per request is the target process's user and system time while measured, over its requests; written per request, its write system calls")
	fmt.Fprintln(w, "(files and sockets) and the bytes they wrote (/proc/PID/io syscw and wchar). PostgreSQL's own processes are in neither.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| target | first answer after start | peak RSS |")
	fmt.Fprintln(w, "|---|---:|---:|")
	for _, t := range targets {
		fmt.Fprintf(w, "| %s | %s | %.0f MB |\n", t.name, ms(t.coldStart), float64(t.peakRSS())/(1<<20))
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }
