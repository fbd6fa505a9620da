// Command activityd serves the Microsoft Graph user-activities API. It is the only place that knows
// every concrete type: it reads the configuration and plugs the adapters together.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "activityd:", err)
		}
		os.Exit(2)
	}
}

const usage = `activityd serves the Microsoft Graph user-activities API.

Usage:
  activityd serve [flags]   run the server (default: SQLite and a local token issuer in ./activityd-data)
  activityd token [flags]   print a bearer token from the local issuer
  activityd cert [flags]    print the path of the local CA behind --tls self-signed (creating it)

Run "activityd serve -h" or "activityd token -h" for the flags. Every flag can also be set with an
ACTIVITYD_* environment variable: --addr is ACTIVITYD_ADDR, --log-format is ACTIVITYD_LOG_FORMAT.
`

// run is main without the process: tests call it with their own arguments, environment and output.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "serve":
		cfg, err := parseServe(args[1:], getenv, stderr)
		if err != nil {
			return err
		}
		return serve(ctx, cfg, stderr)
	case "token":
		return token(args[1:], getenv, stdout, stderr)
	case "cert":
		return cert(args[1:], getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

// envFlag names the environment variable of a flag: --log-format is ACTIVITYD_LOG_FORMAT.
func envFlag(name string) string {
	return "ACTIVITYD_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// parseFlags parses args into fs after setting every flag that has an environment variable, so that
// flags win over the environment.
func parseFlags(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if v := getenv(envFlag(f.Name)); v != "" && err == nil {
			if e := f.Value.Set(v); e != nil {
				err = fmt.Errorf("%s=%q: %w", envFlag(f.Name), v, e)
			}
		}
	})
	if err != nil {
		return err
	}
	return fs.Parse(args)
}
