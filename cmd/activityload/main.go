// Command activityload measures activityd under load. In one invocation it starts a ceiling server
// (the same routes and JSON with no storage and no token check) and real activityd processes on the
// stores asked for, preloads them, drives each scenario against each target seconds apart, and prints
// throughput, latency percentiles, errors and every figure as a ratio to the ceiling. It sends traffic
// to 127.0.0.1 only, and stops by itself.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "activityload:", err)
		os.Exit(2)
	}
}

// config is what one run measures.
type config struct {
	activityd   string
	stores      []string
	db          string
	scenarios   []string
	mix         []weight // the scenarios of mix
	concurrency int
	duration    time.Duration
	warmup      time.Duration
	rate        int
	users       int
	preload     int
	serverArgs  []string
	sqliteData  string // a data directory for the sqlite store that outlives the run, or ""
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "ceiling" {
		return serveCeiling(ctx, args[1:])
	}
	if len(args) > 0 && args[0] == "peak" {
		return peak(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "import" {
		return importRate(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "soak" {
		return soak(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "streams" {
		return streams(ctx, args[1:], stdout, stderr)
	}
	c := config{}
	var stores, scenarios, mix, serverArgs string
	fs := flag.NewFlagSet("activityload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.activityd, "activityd", "./activityd", "the activityd binary to start")
	fs.StringVar(&stores, "stores", "sqlite", "stores to measure, comma-separated: sqlite, postgres")
	fs.StringVar(&c.db, "db", os.Getenv("ACTIVITYD_DB"), "PostgreSQL URL for the postgres store (a fresh schema is made in it)")
	fs.StringVar(&scenarios, "scenarios", "create,get,list,recent,history", "scenarios, comma-separated: create, post, get, list, recent, history, mix")
	fs.StringVar(&mix, "mix", defaultMix, "the mix scenario's weights, scenario=weight, comma-separated")
	fs.IntVar(&c.concurrency, "concurrency", 16, "connections (closed loop) or most requests in flight (open loop)")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "measured time per scenario and target")
	fs.DurationVar(&c.warmup, "warmup", 2*time.Second, "unmeasured time before each measurement")
	fs.IntVar(&c.rate, "rate", 0, "open loop at this many requests per second; 0 is a closed loop")
	fs.IntVar(&c.users, "users", 100, "users (each through one app)")
	fs.IntVar(&c.preload, "preload", 20, "activities (each with a history item) stored per user before measuring")
	fs.StringVar(&c.sqliteData, "sqlite-data", "", "keep the sqlite store's data in this directory, and reuse it when a run with the same --users and --preload made it")
	fs.StringVar(&serverArgs, "server-args", "", "more flags for activityd serve, space-separated (e.g. --debug-addr 127.0.0.1:6060)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c.serverArgs = strings.Fields(serverArgs)
	c.stores, c.scenarios = strings.Split(stores, ","), strings.Split(scenarios, ",")
	if c.concurrency < 1 || c.duration <= 0 || c.users < 1 || c.preload < 1 || c.rate < 0 {
		return errors.New("--concurrency, --duration, --users and --preload must be positive, --rate not negative")
	}
	var err error
	if c.mix, err = parseMix(mix); err != nil {
		return err
	}
	for _, s := range c.scenarios {
		if _, ok := scenarioPaths[s]; !ok {
			return fmt.Errorf("unknown scenario %q", s)
		}
	}
	return measure(ctx, c, stdout, stderr)
}

// serveCeiling is the ceiling server process: activityload re-executes itself with "ceiling".
func serveCeiling(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("activityload ceiling", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	srv := &http.Server{Addr: *addr, Handler: ceilingHandler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { <-ctx.Done(); srv.Close() }()
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
