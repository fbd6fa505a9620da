package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/activityd/activityd"
	"github.com/activityd/activityd/admin"
	"github.com/activityd/activityd/auth"
	"github.com/activityd/activityd/postgres"
	"github.com/activityd/activityd/provider"
	"github.com/activityd/activityd/sqlite"
	"github.com/dustin/go-humanize"
	"golang.org/x/oauth2"
	"golang.org/x/term"
)

const userSynopsis = `Usage: activityd user add|list|passwd|disable|enable|promote|demote|rm [NAME] [flags]

Manages the accounts people sign in with (on the page, and to give their devices and apps tokens):
  add NAME       make an account; asks for its password (or reads it from stdin: --password-stdin);
                 --admin makes it an administrator
  list           list the accounts
  passwd NAME    set a new password
  disable NAME   refuse its sign-ins and sign out its devices and apps (enable NAME undoes it)
  promote NAME   make it an administrator: its tokens with the scope activityd.admin may use the
                 admin API (/admin/v1/); demote NAME takes the role back, at once
  rm NAME        delete the account, sign out its devices and apps, and delete its activities
                 (--keep-data keeps them); on SQLite, stop the server first
An account keeps the id a name always had here, so the activities of 'activityd token --user NAME'
are its own. Works while the server runs (except rm on SQLite). Flags:
`

const appSynopsis = `Usage: activityd app add|list|rm [ID] [flags]

Registers the apps (OAuth clients) that get tokens for people here:
  add ID --redirect-uri URI [--redirect-uri URI ...] [--name NAME]
         a public client (no secret: PKCE, S256). Redirect URIs are matched exactly, except that
         http://127.0.0.1/PATH (or [::1]) matches any port (RFC 8252 §7.3). An app's ID is the azp
         of its tokens: apps see only the activities they made.
  list   list the apps
  rm ID  unregister the app
Flags:
`

// recordStore opens the records of the store named by data and db, for user and app: PostgreSQL,
// or the SQLite file (beside a server that serves it when there is one: then only the records).
func recordStore(ctx context.Context, data, db string) (activity.RecordStore, activity.Store, func(), error) {
	if db != "" {
		st, err := postgres.Open(ctx, db)
		if err != nil {
			return nil, nil, nil, err
		}
		return st, st, func() { st.Close() }, nil
	}
	path := sqliteFile(data)
	if _, err := os.Stat(path); err != nil {
		// Before the first serve, as serve would: the directory too, its owner's only.
		if _, err := openDataDir(data); err != nil {
			return nil, nil, nil, err
		}
		if err := prepareSQLite(path); err != nil {
			return nil, nil, nil, err
		}
	}
	st, err := sqlite.Open(ctx, path)
	if err == nil {
		return st, st, func() { st.Close() }, nil
	}
	if !errors.Is(err, sqlite.ErrInUse) {
		return nil, nil, nil, err
	}
	rs, err := sqlite.OpenRecords(ctx, path)
	if err != nil {
		return nil, nil, nil, err
	}
	return rs, nil, func() { rs.Close() }, nil
}

// readPassword reads a password: a line of stdin with --password-stdin, else twice from the
// terminal without echo.
func readPassword(fromStdin bool, stdin io.Reader, stderr io.Writer) (string, error) {
	if fromStdin {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", err
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		return "", usagef("user", "stdin is not a terminal: give the password on stdin with --password-stdin")
	}
	fmt.Fprint(stderr, "Password: ")
	p1, err := term.ReadPassword(fd)
	fmt.Fprintln(stderr)
	if err != nil {
		return "", err
	}
	fmt.Fprint(stderr, "Again: ")
	p2, err := term.ReadPassword(fd)
	fmt.Fprintln(stderr)
	if err != nil {
		return "", err
	}
	if string(p1) != string(p2) {
		return "", errors.New("the two passwords differ")
	}
	return string(p1), nil
}

// user is the activityd user command.
func user(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	data, db, issuerName := "./activityd-data", "", auth.DefaultIssuer
	var passwordStdin, keepData, makeAdmin bool
	fs := flag.NewFlagSet("activityd user", flag.ContinueOnError)
	fs.StringVar(&data, "data", data, "the server's data `directory` (SQLite; as for serve)")
	fs.StringVar(&db, "db", db, "the PostgreSQL `URL` of the server (as for serve)")
	fs.StringVar(&issuerName, "issuer-name", issuerName, "iss of the local issuer (as for serve; rm uses it to find the account's activities)")
	fs.BoolVar(&passwordStdin, "password-stdin", false, "read the password from the first line of stdin")
	fs.BoolVar(&keepData, "keep-data", false, "rm: keep the account's activities")
	fs.BoolVar(&makeAdmin, "admin", false, "add: make the account an administrator (as promote)")
	rest, err := parseFlagsArgs(fs, args, getenv)
	if errors.Is(err, flag.ErrHelp) {
		printUsage(stdout, fs, userSynopsis)
		return nil
	} else if err != nil {
		return err
	}
	if len(rest) == 0 {
		return usagef("user", "want a subcommand: add, list, passwd, disable, enable, promote, demote or rm")
	}
	sub, names := rest[0], rest[1:]
	want := 1
	if sub == "list" {
		want = 0
	}
	switch sub {
	case "add", "list", "passwd", "disable", "enable", "promote", "demote", "rm":
	default:
		return usagef("user", "unknown subcommand %q: want add, list, passwd, disable, enable, promote, demote or rm", sub)
	}
	if len(names) != want {
		return usagef("user", "%s wants %d NAME", sub, want)
	}
	records, store, closeStore, err := recordStore(ctx, data, db)
	if err != nil {
		return err
	}
	defer closeStore()
	accounts := provider.NewAccounts(records, auth.Username, auth.UserID)
	prov := provider.NewGrants(records)
	switch sub {
	case "list":
		list, err := accounts.List(ctx)
		if err != nil {
			return err
		}
		if len(list) == 0 {
			fmt.Fprintln(stderr, "No accounts yet: make one with 'activityd user add NAME'.")
			return nil
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tID\tCREATED\tSTATE\tROLE")
		for _, a := range list {
			state, role := "enabled", "user"
			if a.Disabled {
				state = "disabled"
			}
			if a.Admin {
				role = "admin"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", a.Name, a.ID, a.Created.Local().Format("2006-01-02 15:04"), state, role)
		}
		return tw.Flush()
	case "add", "passwd":
		if sub == "passwd" {
			if _, err := accounts.Find(ctx, names[0]); err != nil {
				return err
			}
		} else if _, err := auth.Username(names[0]); err != nil {
			return usagef("user", "%v", err)
		}
		password, err := readPassword(passwordStdin, stdin, stderr)
		if err != nil {
			return err
		}
		if sub == "passwd" {
			if err := accounts.SetPassword(ctx, names[0], password); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "New password set for %s.\n", names[0])
			return nil
		}
		a, err := accounts.Add(ctx, names[0], password)
		if err != nil {
			return err
		}
		role := ""
		if makeAdmin {
			if a, err = accounts.SetAdmin(ctx, a.Name, true); err != nil {
				return err
			}
			role = " as an administrator"
		}
		fmt.Fprintf(stdout, "Added %s (id %s)%s. They sign in on the page, and at /device for their devices.\n", a.Name, a.ID, role)
		return nil
	case "promote", "demote":
		a, err := accounts.SetAdmin(ctx, names[0], sub == "promote")
		if err != nil {
			return err
		}
		if a.Admin {
			fmt.Fprintf(stdout, "%s is an administrator: a token of theirs with the scope %s may use the admin API (%s).\n", a.Name, auth.ScopeAdmin, admin.Prefix)
		} else {
			fmt.Fprintf(stdout, "%s is no longer an administrator: the admin API refuses their tokens from now on.\n", a.Name)
		}
		return nil
	case "disable", "enable":
		a, err := accounts.SetDisabled(ctx, names[0], sub == "disable")
		if err != nil {
			return err
		}
		if sub == "enable" {
			fmt.Fprintf(stdout, "%s can sign in again.\n", a.Name)
			return nil
		}
		n, err := prov.RevokeAll(ctx, a.ID)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Disabled %s; %d devices and apps signed out, and every token of theirs revoked (within 30 seconds on a running server).\n", a.Name, n)
		return nil
	}
	// rm
	a, err := accounts.Find(ctx, names[0])
	if err != nil {
		return err
	}
	if store == nil && !keepData {
		return errors.New("the server is serving this SQLite database: stop it to delete the account with its activities (or keep them: --keep-data)")
	}
	if err := accounts.RevokeTokens(ctx, a.ID); err != nil {
		return err
	}
	n, err := prov.RevokeAll(ctx, a.ID)
	if err != nil {
		return err
	}
	var gone activity.Forgotten
	if !keepData {
		p := activity.Principal{TenantID: auth.LocalTenant, UserID: a.ID, UserName: a.Name, Issuer: issuerName, AllApps: true}
		if gone, err = activity.NewService(store).Forget(ctx, p, activity.Forget{All: true}); err != nil {
			return err
		}
	}
	if _, err := accounts.Remove(ctx, a.Name); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Removed %s: %s activities deleted, %d devices and apps signed out.\n", a.Name, humanize.Comma(int64(gone.Activities)), n)
	return nil
}

// app is the activityd app command.
func app(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	data, db, name := "./activityd-data", "", ""
	var redirects []string
	fs := flag.NewFlagSet("activityd app", flag.ContinueOnError)
	fs.StringVar(&data, "data", data, "the server's data `directory` (SQLite; as for serve)")
	fs.StringVar(&db, "db", db, "the PostgreSQL `URL` of the server (as for serve)")
	fs.StringVar(&name, "name", name, "add: the app's `name` as the consent page shows it (default: its ID)")
	fs.Func("redirect-uri", "add: a redirect `URI` of the app (repeat the flag for more)", func(s string) error {
		if err := provider.CheckRedirectURI(s); err != nil {
			return err
		}
		redirects = append(redirects, s)
		return nil
	})
	rest, err := parseFlagsArgs(fs, args, getenv)
	if errors.Is(err, flag.ErrHelp) {
		printUsage(stdout, fs, appSynopsis)
		return nil
	} else if err != nil {
		return err
	}
	if len(rest) == 0 {
		return usagef("app", "want a subcommand: add, list or rm")
	}
	sub, ids := rest[0], rest[1:]
	switch {
	case sub == "list" && len(ids) == 0, (sub == "add" || sub == "rm") && len(ids) == 1:
	case sub == "list" || sub == "add" || sub == "rm":
		return usagef("app", "%s wants %s", sub, map[string]string{"list": "no ID", "add": "one ID", "rm": "one ID"}[sub])
	default:
		return usagef("app", "unknown subcommand %q: want add, list or rm", sub)
	}
	if sub == "add" && len(redirects) == 0 {
		return usagef("app", "add wants at least one --redirect-uri (an app that only uses the device grant can give http://127.0.0.1/)")
	}
	records, _, closeStore, err := recordStore(ctx, data, db)
	if err != nil {
		return err
	}
	defer closeStore()
	apps := provider.NewApps(records)
	switch sub {
	case "list":
		list, err := apps.List(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tREDIRECT URIS")
		for _, a := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", a.ID, a.DisplayName(), strings.Join(a.RedirectURIs, " "))
		}
		return tw.Flush()
	case "add":
		a, err := apps.Add(ctx, provider.App{ID: ids[0], Name: name, RedirectURIs: redirects})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Added the app %s. Its client_id is %q (a public client: PKCE with S256, no secret).\n", a.DisplayName(), a.ID)
		return nil
	}
	if err := apps.Remove(ctx, ids[0]); err != nil {
		return err
	}
	if err := provider.NewRevocations(records).RevokeApp(ctx, ids[0], time.Now()); err != nil {
		return err
	}
	n, err := provider.NewGrants(records).RevokeApp(ctx, ids[0])
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Removed the app %s; %d devices and apps signed out, and its tokens revoked (within 30 seconds on a running server).\n", ids[0], n)
	return nil
}

const loginSynopsis = `Usage: activityd login URL [--token-file FILE] [--scopes SCOPES]

Signs this machine in to the activityd at URL with the device authorization grant (RFC 8628): it
shows a code, you enter it at URL/device in any browser where you can sign in, and it writes the
sign-in to FILE (readable by you only) for the activities, export and import commands
(--token-file FILE): they call URL with its access token and renew it with its refresh token as it
expires, so this machine stays signed in until you sign it out on the page's devices list. Without
--token-file it prints an access token alone, which lasts an hour. Flags:
`

// login is the activityd login command.
func login(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var tokenFile string
	scopes := []string{provider.ScopeAll}
	fs := flag.NewFlagSet("activityd login", flag.ContinueOnError)
	fs.StringVar(&tokenFile, "token-file", "", "keep the sign-in in this `file` (renewed by the commands that read it) instead of\nprinting an access token")
	fs.Var(listFlag{&scopes}, "scopes", "the `scopes` to ask for, comma-separated")
	rest, err := parseFlagsArgs(fs, args, getenv)
	if errors.Is(err, flag.ErrHelp) {
		printUsage(stdout, fs, loginSynopsis)
		return nil
	} else if err != nil {
		return err
	}
	if len(rest) != 1 {
		return usagef("login", "want the server's URL, such as https://activityd.example.org")
	}
	base := strings.TrimRight(rest[0], "/")
	if u, err := url.Parse(base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usagef("login", "%q: want the server's http or https URL, such as https://activityd.example.org", rest[0])
	}
	if tokenFile != "" && !slices.Contains(scopes, "offline_access") {
		scopes = append(scopes, "offline_access") // a refresh token, to keep the sign-in
	}
	cfg := &oauth2.Config{ClientID: provider.CLIAppID, Scopes: scopes, Endpoint: oauth2.Endpoint{
		DeviceAuthURL: base + provider.DevicePath, TokenURL: base + provider.TokenPath, AuthStyle: oauth2.AuthStyleInParams}}
	// Where the sign-in goes is checked before the person approves it.
	var file *os.File
	if tokenFile != "" {
		if file, err = prepareLogin(tokenFile); err != nil {
			return err
		}
		defer file.Close()
		defer os.Remove(file.Name()) // once renamed, nothing
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Minute)
	defer cancel()
	da, err := cfg.DeviceAuth(ctx)
	if err != nil {
		return fmt.Errorf("ask %s for a device code: %w", base, err)
	}
	fmt.Fprintf(stderr, "Open %s and enter the code %s\n(or open %s). Waiting…\n", da.VerificationURI, da.UserCode, da.VerificationURIComplete)
	tok, err := cfg.DeviceAccessToken(ctx, da)
	if err != nil {
		return fmt.Errorf("sign-in: %w", err)
	}
	if tokenFile == "" {
		fmt.Fprintln(stdout, tok.AccessToken)
		return nil
	}
	if err := commitLogin(file, tokenFile, savedLogin{Server: base, TokenURL: cfg.Endpoint.TokenURL, ClientID: cfg.ClientID, Token: *tok}); err != nil {
		return err
	}
	if tok.RefreshToken == "" {
		fmt.Fprintf(stderr, "Signed in; the token is in %s until %s (the server gave no refresh token: sign in again then).\n", tokenFile, tok.Expiry.Local().Format("15:04"))
		return nil
	}
	fmt.Fprintf(stderr, "Signed in; the sign-in is in %s (renewed as it is used; sign it out on %s/devices).\n", tokenFile, base)
	return nil
}

const keysSynopsis = `Usage: activityd keys list|rotate [--drop-old] [flags]

The local issuer's signing keys, kept in the store (and shared by every process on it):
  list     the keys: the one that signs, and the retired ones that still verify
  rotate   make a new signing key; the others retire and verify the tokens they signed for 7 more
           days (--drop-old: not at all, when a key has leaked; its tokens then fail at once)
Servers sign with the new key within 30 seconds. Flags:
`

// keys is the activityd keys command.
func keys(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	data, db, key, name := "./activityd-data", "", "", auth.DefaultIssuer
	var dropOld bool
	fs := flag.NewFlagSet("activityd keys", flag.ContinueOnError)
	fs.StringVar(&data, "data", data, "the server's data `directory` (as for serve)")
	fs.StringVar(&db, "db", db, "the PostgreSQL `URL` of the server (as for serve)")
	fs.StringVar(&key, "issuer-key", key, "the local issuer's key `file` (as for serve; default issuer-key.pem in --data)")
	fs.StringVar(&name, "issuer-name", name, "iss of the local issuer (as for serve)")
	fs.BoolVar(&dropOld, "drop-old", false, "rotate: stop trusting the old keys at once")
	rest, err := parseFlagsArgs(fs, args, getenv)
	if errors.Is(err, flag.ErrHelp) {
		printUsage(stdout, fs, keysSynopsis)
		return nil
	} else if err != nil {
		return err
	}
	if len(rest) != 1 || (rest[0] != "list" && rest[0] != "rotate") {
		return usagef("keys", "want list or rotate")
	}
	records, _, closeStore, err := recordStore(ctx, data, db)
	if err != nil {
		return err
	}
	defer closeStore()
	issuer, err := auth.StoredIssuer(ctx, records, name)
	if errors.Is(err, activity.ErrRecordNotFound) {
		// No server shared its keys yet: the key file's key becomes the ring's first.
		if issuer, err = loadIssuer(data, key, name); err == nil {
			err = issuer.ShareKeys(ctx, records)
		}
	}
	if err != nil {
		return err
	}
	if rest[0] == "rotate" {
		kid, err := issuer.Rotate(ctx, dropOld)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "The new signing key is %s; servers sign with it within %s.\n", kid, auth.KeyReload)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KID\tCREATED\tSTATE")
	for _, k := range issuer.KeyList() {
		state := "signs"
		if !k.Signing {
			state = "retired, verifies until " + k.Expires.Local().Format("2006-01-02 15:04")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", k.ID, k.Created.Local().Format("2006-01-02 15:04"), state)
	}
	return tw.Flush()
}
