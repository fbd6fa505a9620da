package main

import (
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/activityd/activityd/auth"
)

// token prints one bearer token of the local issuer, alone, on stdout.
func token(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	data, name, key := "./activityd-data", auth.DefaultIssuer, ""
	var user, app string
	ttl := 24 * time.Hour
	fs := flag.NewFlagSet("activityd token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&data, "data", data, "data directory holding the local issuer's key (as for serve)")
	fs.StringVar(&user, "user", "", "the user the token speaks for (required)")
	fs.StringVar(&app, "app", "", "the client application (required); each app sees only its own activities")
	fs.DurationVar(&ttl, "ttl", ttl, "how long the token is valid")
	fs.StringVar(&name, "issuer-name", name, "iss of the local issuer (as for serve)")
	fs.StringVar(&key, "issuer-key", key, "the local issuer's key file (as for serve; default issuer-key.pem in --data)")
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	if user == "" || app == "" {
		return fmt.Errorf("--user and --app are required")
	}
	if ttl <= 0 {
		return fmt.Errorf("--ttl %s: want a positive duration", ttl)
	}
	issuer, err := auth.OpenLocalIssuer(issuerKeyFile(data, key), name)
	if err != nil {
		return err
	}
	tok, err := issuer.Mint(user, app, ttl)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, tok)
	return err
}
