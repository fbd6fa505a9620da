// Command activityd serves the Microsoft Graph user-activities API. It is the only place that knows
// every concrete type: it reads the configuration and plugs the adapters together.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/activityd/activityd"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // the timeline page shows times in any zone, on machines without a zone database
)

func main() {
	// SIGHUP too: a terminal that closes, or a service manager's reload, stops the server gracefully
	// rather than killing it.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	os.Exit(exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr), os.Stderr))
}

// exit prints err, if any, as one line on stderr and returns the exit status: 0 for success, 2 for a
// mistake in the command line or the environment (with a hint at the usage), 1 for anything else.
func exit(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	if e, ok := err.(*activity.Error); ok {
		fmt.Fprintln(stderr, "activityd:", e.Message) // a rule's message, for a person (not its code)
	} else {
		fmt.Fprintln(stderr, "activityd:", err)
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.status
	}
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "run 'activityd %s' for usage\n", strings.TrimSpace(ue.cmd+" -h"))
		return 2
	}
	return 1
}

// usageError is a mistake in the command line or the environment of command cmd ("" for activityd
// itself): the usage says how to do it right.
type usageError struct {
	cmd string
	err error
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usagef(cmd, format string, args ...any) error {
	return &usageError{cmd: cmd, err: fmt.Errorf(format, args...)}
}

const usage = `activityd serves the Microsoft Graph user-activities API.

Usage:
  activityd serve [flags]   run the server (default: SQLite and a local token issuer in ./activityd-data)
  activityd token [flags]   print a bearer token from the local issuer of a server's data directory
  activityd cert [flags]    print the path of the local CA behind --tls self-signed (creating it)
  activityd activities ...  list, get, put, rm, recent or watch an app's activities on a server
  activityd export [FILE]   write the person's activities, across apps, as JSON Lines
  activityd import FILE...  bring activities in: an export, Graph JSON, Windows Timeline, ActivityWatch
  activityd user ...        add, list, passwd, disable, enable, promote, demote or rm the accounts
                            people sign in with
  activityd app ...         add, list or rm the apps (OAuth clients) that get tokens for them
  activityd keys ...        list the local issuer's signing keys, or rotate them
  activityd login URL       sign this machine in to a server (device code) and keep its token
  activityd backup FILE     back up the SQLite store while it serves
  activityd restore FILE    restore a backup into a new data directory
  activityd health          exit 0 when the server is ready (a container's health check)
  activityd version         print the version, the commit and the Go version it was built with
  activityd help            print this help

Run 'activityd serve -h' (or token, cert, activities, export, import, user, app, keys, login,
backup, restore, health) for the flags of each. Every flag can also be set with an ACTIVITYD_* environment
variable: --addr is ACTIVITYD_ADDR, --log-format is ACTIVITYD_LOG_FORMAT; a flag on the command line
wins over the environment.
`

// run is main without the process: tests call it with their own arguments, environment and output.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usagef("", "no command given")
	}
	switch args[0] {
	case "serve":
		cfg, err := parseServe(args[1:], getenv, stdout)
		if err != nil || cfg == nil {
			return err
		}
		return serve(ctx, *cfg, stderr)
	case "token":
		return token(args[1:], getenv, stdout)
	case "cert":
		return cert(args[1:], getenv, stdout, stderr)
	case "activities":
		return activities(ctx, args[1:], getenv, stdout, stderr)
	case "export":
		return export(ctx, args[1:], getenv, stdout, stderr)
	case "import":
		return importCmd(ctx, args[1:], getenv, stdout, stderr)
	case "user":
		return user(ctx, args[1:], getenv, os.Stdin, stdout, stderr)
	case "app":
		return app(ctx, args[1:], getenv, stdout, stderr)
	case "keys":
		return keys(ctx, args[1:], getenv, stdout, stderr)
	case "login":
		return login(ctx, args[1:], getenv, stdout, stderr)
	case "backup":
		return backup(ctx, args[1:], getenv, stdout, stderr)
	case "restore":
		return restore(ctx, args[1:], getenv, stdout, stderr)
	case "health":
		return health(ctx, args[1:], getenv, stdout)
	case "version", "--version":
		fmt.Fprintln(stdout, versionLine())
		return nil
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return usagef("", "unknown command %q", args[0])
}

// envFlag names the environment variable of a flag: --log-format is ACTIVITYD_LOG_FORMAT.
func envFlag(name string) string {
	return "ACTIVITYD_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// wanter is a flag value that says what it wants, for error messages.
type wanter interface{ wanted() string }

// wanted says what a flag's value must look like: "an integer", "true or false", …
func wanted(v flag.Value) string {
	if c, ok := v.(checkedValue); ok {
		v = c.Value
	}
	if w, ok := v.(wanter); ok {
		return w.wanted()
	}
	if g, ok := v.(flag.Getter); ok {
		switch g.Get().(type) {
		case bool:
			return "true or false"
		case int, int64:
			return "an integer"
		case time.Duration:
			return "a duration such as 30s, 10m or 1h"
		}
	}
	return "a valid value"
}

// checkedValue reports which flag got which bad value, so that the error can say what is wanted (the
// flag package says only "parse error").
type checkedValue struct {
	flag.Value
	name string
	bad  *error
}

func (v checkedValue) Set(s string) error {
	if err := v.Value.Set(s); err != nil {
		*v.bad = fmt.Errorf("--%s %q: want %s", v.name, s, wanted(v.Value))
		return *v.bad
	}
	return nil
}

func (v checkedValue) IsBoolFlag() bool {
	b, ok := v.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// parseFlags parses args into fs after setting every flag that has an environment variable, so that
// flags win over the environment. It prints nothing: -h is reported as flag.ErrHelp, anything else
// as one usageError naming the flag or variable, the value and what is wanted.
func parseFlags(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	rest, err := parseFlagsArgs(fs, args, getenv)
	if err == nil && len(rest) > 0 {
		return usagef(strings.TrimPrefix(fs.Name(), "activityd "), "unexpected argument %q", rest[0])
	}
	return err
}

// parseFlagsArgs is parseFlags for a command that takes arguments too: flags may come before, between
// or after them (a "--" ends the flags), and it returns the arguments.
func parseFlagsArgs(fs *flag.FlagSet, args []string, getenv func(string) string) ([]string, error) {
	cmd := strings.TrimPrefix(fs.Name(), "activityd ")
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if v := getenv(envFlag(f.Name)); v != "" && err == nil {
			if f.Value.Set(v) != nil {
				err = usagef(cmd, "%s=%q: want %s", envFlag(f.Name), v, wanted(f.Value))
			}
		}
	})
	if err != nil {
		return nil, err
	}
	var bad error
	fs.VisitAll(func(f *flag.Flag) { f.Value = checkedValue{Value: f.Value, name: f.Name, bad: &bad} })
	var positional, after []string
	if i := slices.Index(args, "--"); i >= 0 {
		args, after = args[:i], args[i+1:]
	}
	for {
		if err = fs.Parse(args); err != nil || fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return append(positional, after...), err
	case bad != nil:
		return nil, &usageError{cmd: cmd, err: bad}
	}
	// The flag package's own words, with flags spelled as in the usage.
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		msg = "unknown flag --" + strings.TrimPrefix(name, "-")
	} else if name, ok := strings.CutPrefix(msg, "flag needs an argument: -"); ok {
		msg = "--" + strings.TrimPrefix(name, "-") + " needs a value"
	}
	return nil, usagef(cmd, "%s", msg)
}

// printUsage prints a command's usage: its synopsis, then each flag with its environment variable,
// what it does and its default.
func printUsage(w io.Writer, fs *flag.FlagSet, synopsis string) {
	fmt.Fprint(w, synopsis)
	fmt.Fprintf(w, "\nFlags (each also read from the environment variable in brackets; a flag wins over the environment):\n")
	fs.VisitAll(func(f *flag.Flag) {
		typ, text := flag.UnquoteUsage(f)
		if v, ok := f.Value.(checkedValue); ok {
			typ, text = flag.UnquoteUsage(&flag.Flag{Name: f.Name, Usage: f.Usage, Value: v.Value})
		}
		if typ != "" {
			typ = " " + typ
		}
		fmt.Fprintf(w, "  --%s%s  [%s]\n", f.Name, typ, envFlag(f.Name))
		if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "false" {
			text += " (default " + f.DefValue + ")"
		}
		fmt.Fprintf(w, "        %s\n", strings.ReplaceAll(text, "\n", "\n        "))
	})
}
