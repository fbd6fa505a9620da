package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/activityd/activityd"
	"github.com/activityd/activityd/auth"
	"github.com/activityd/activityd/provider"
)

const tokenSynopsis = `Usage: activityd token --user NAME --app NAME [flags]

Prints one bearer token of the local issuer on stdout, signed with the key that 'activityd serve'
keeps in its data directory (or --issuer-key). It never creates a key: run it with the server's
--data (or ACTIVITYD_DATA), or its --issuer-key. User names follow RFC 8265 (PRECIS
UsernameCaseMapped): "Alice" and "alice" are one user; names with spaces or control characters are
refused.
`

// token prints one bearer token of the local issuer, alone, on stdout.
func token(args []string, getenv func(string) string, stdout io.Writer) error {
	data, name, key := "./activityd-data", auth.DefaultIssuer, ""
	var user, app, db string
	scopes := []string{auth.Scope}
	ttl := 24 * time.Hour
	fs := flag.NewFlagSet("activityd token", flag.ContinueOnError)
	fs.StringVar(&user, "user", "", "the user the token speaks for (required)")
	fs.StringVar(&app, "app", "", "the client application (required); each app sees only its own activities")
	fs.DurationVar(&ttl, "ttl", ttl, "how long the token is valid")
	fs.Var(listFlag{&scopes}, "scopes", "the token's `scopes`, comma-separated; "+auth.ScopeAll+" adds the privacy API (forget, block, export), "+auth.ScopeAdmin+" is the admin API's (for an administrator's account)")
	fs.StringVar(&data, "data", data, "the server's data `directory`, holding the local issuer's key (as for serve)")
	fs.StringVar(&key, "issuer-key", key, "the local issuer's key `file` (as for serve; default issuer-key.pem in --data)")
	fs.StringVar(&name, "issuer-name", name, "iss of the local issuer (as for serve)")
	fs.StringVar(&db, "db", "", "the PostgreSQL `URL` of the server (as for serve), whose store holds the signing keys")
	if err := parseFlags(fs, args, getenv); errors.Is(err, flag.ErrHelp) {
		printUsage(stdout, fs, tokenSynopsis)
		return nil
	} else if err != nil {
		return err
	}
	switch {
	case user == "" || app == "":
		return usagef("token", "--user and --app are required")
	case ttl <= 0:
		return usagef("token", "--ttl %s: want a positive duration, such as 24h", ttl)
	}
	if _, err := auth.Username(user); err != nil {
		return usagef("token", "--user: %v", err)
	}
	issuer, err := openIssuer(context.Background(), data, key, name, db)
	if err != nil {
		return err
	}
	for _, sc := range scopes {
		if sc != auth.Scope && sc != auth.ScopeAll && sc != auth.ScopeAdmin {
			return usagef("token", "--scopes: %q is not a scope of activityd (%s, %s, %s)", sc, auth.Scope, auth.ScopeAll, auth.ScopeAdmin)
		}
	}
	if err := pastRevocation(context.Background(), data, db, user, app); err != nil {
		return err
	}
	tok, err := issuer.Mint(user, app, ttl, scopes...)
	if err != nil {
		return usagef("token", "%v", err)
	}
	_, err = fmt.Fprintln(stdout, tok)
	return err
}

// pastRevocation waits, when user's tokens were revoked in this very second (their account deleted
// or disabled a moment ago: a revocation refuses the tokens of its whole second, iat having whole
// seconds), for the next second, so that the token minted next is not born revoked.
func pastRevocation(ctx context.Context, data, db, user, app string) error {
	if db == "" && !fileExists(sqliteFile(data)) {
		return nil
	}
	records, _, closeStore, err := recordStore(ctx, data, db)
	if err != nil {
		return err
	}
	defer closeStore()
	rv := provider.NewRevocations(records)
	if err := rv.Load(ctx); err != nil {
		return err
	}
	if now := time.Now(); rv.Revoked(auth.UserID(user), app, now.Truncate(time.Second)) {
		time.Sleep(time.Until(now.Truncate(time.Second).Add(time.Second)))
	}
	return nil
}

// loadIssuer loads the local issuer's existing key from --issuer-key, or else from --data. A missing
// key is an error naming the path tried (absolute: a relative --data is relative to the working
// directory, which may not be the server's).
// openIssuer returns the local issuer as a server of data (or db) signs: with the newest key of the
// ring its store keeps, or with the key file when the store keeps none (no server started yet).
func openIssuer(ctx context.Context, data, key, name, db string) (*auth.LocalIssuer, error) {
	if db == "" && !fileExists(sqliteFile(data)) {
		return loadIssuer(data, key, name)
	}
	records, _, closeStore, err := recordStore(ctx, data, db)
	if err != nil {
		return nil, err
	}
	defer closeStore()
	issuer, err := auth.StoredIssuer(ctx, records, name)
	if errors.Is(err, activity.ErrRecordNotFound) {
		return loadIssuer(data, key, name)
	}
	return issuer, err
}

func loadIssuer(data, key, name string) (*auth.LocalIssuer, error) {
	path, from := issuerKeyFile(data, key), "--data "+data
	if key != "" {
		from = "--issuer-key"
	}
	issuer, err := auth.LoadLocalIssuer(path, name)
	if errors.Is(err, fs.ErrNotExist) {
		abs, _ := filepath.Abs(path)
		return nil, fmt.Errorf("no local issuer key at %s (from %s): give the server's --data or --issuer-key "+
			"(or ACTIVITYD_DATA, ACTIVITYD_ISSUER_KEY); 'activityd serve' creates the key when it first starts", abs, from)
	}
	return issuer, err
}
