package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/activityd/activityd/auth"
	"github.com/activityd/activityd/postgres/pgtest"
	"github.com/activityd/activityd/provider"
	"golang.org/x/oauth2"
)

// browser is a person's browser: it keeps cookies and does not follow redirects, so that each step
// of a sign-in can be looked at.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newBrowser(t *testing.T, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: base, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

func (b *browser) abs(u string) string {
	if strings.HasPrefix(u, "/") {
		return b.base + u
	}
	return u
}

func (b *browser) get(u string) (*http.Response, string) {
	b.t.Helper()
	res, err := b.c.Get(b.abs(u))
	if err != nil {
		b.t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res, string(body)
}

func (b *browser) post(u string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	res, err := b.c.PostForm(b.abs(u), form)
	if err != nil {
		b.t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res, string(body)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(t *testing.T, page string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF field in the page:\n%.2000s", page)
	}
	return m[1]
}

// signIn signs the browser in as name through the sign-in page, from the page at start (which
// sends it there), and returns where the sign-in sent it.
func (b *browser) signIn(start, name, password string) *http.Response {
	b.t.Helper()
	loc := start
	if !strings.HasPrefix(start, "/signin") {
		res, _ := b.get(start)
		loc = res.Header.Get("Location")
		if res.StatusCode/100 != 3 || !strings.HasPrefix(loc, "/signin") {
			b.t.Fatalf("GET %s: %d to %q, want a redirect to /signin", start, res.StatusCode, loc)
		}
	}
	res, page := b.get(loc)
	if res.StatusCode != 200 {
		b.t.Fatalf("GET %s: %d", loc, res.StatusCode)
	}
	u, _ := url.Parse(loc)
	form := url.Values{"csrf": {csrfOf(b.t, page)}, "name": {name}, "password": {password}}
	for k, v := range u.Query() {
		form[k] = v
	}
	res, _ = b.post("/signin", form)
	return res
}

// consent approves (or denies) the request on the consent page at u and returns the response.
func (b *browser) answer(u, answer string) *http.Response {
	b.t.Helper()
	res, page := b.get(u)
	if res.StatusCode != 200 {
		b.t.Fatalf("GET %s: %d\n%.1000s", u, res.StatusCode, page)
	}
	id := regexp.MustCompile(`name="request" value="([^"]+)"`).FindStringSubmatch(page)
	if id == nil {
		b.t.Fatalf("no request on the consent page:\n%.2000s", page)
	}
	action := "/consent"
	if strings.HasPrefix(u, "/device") {
		action = "/device"
	}
	res, _ = b.post(action, url.Values{"csrf": {csrfOf(b.t, page)}, "request": {id[1]}, "answer": {answer}})
	return res
}

func runCmd(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	ctx := t.Context()
	var err error
	switch args[0] {
	case "user":
		err = user(ctx, args[1:], os.Getenv, strings.NewReader(stdin), &out, &errOut)
	default:
		err = run(ctx, args, os.Getenv, &out, &errOut)
	}
	if err != nil {
		t.Fatalf("activityd %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String()
}

// putActivity creates an activity with token and returns the status.
func putActivity(t *testing.T, base, token, appActivityID string) int {
	t.Helper()
	req, _ := http.NewRequest("PUT", base+"/v1.0/me/activities/"+appActivityID, strings.NewReader(
		`{"appActivityId":"`+appActivityID+`","activitySourceHost":"https://notes.example","activationUrl":"https://notes.example/a","visualElements":{"displayText":"A note"}}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func listActivities(t *testing.T, base, token string) (int, []string) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/v1.0/me/activities", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var page struct {
		Value []struct {
			AppActivityID string `json:"appActivityId"`
		} `json:"value"`
	}
	json.NewDecoder(res.Body).Decode(&page)
	var ids []string
	for _, a := range page.Value {
		ids = append(ids, a.AppActivityID)
	}
	return res.StatusCode, ids
}

// TestSignIn_AuthorizationCode drives the authorization code grant with PKCE as golang.org/x/oauth2
// does it, through the real sign-in and consent pages, against a running server; then uses, rotates
// and revokes what it got.
func TestSignIn_AuthorizationCode(t *testing.T) {
	dir := t.TempDir()
	base := startServer(t, dir, nil)
	// While the server runs: the commands write beside it.
	if out := runCmd(t, "correct horse battery\n", "user", "add", "Alice", "--data", dir, "--password-stdin"); !strings.Contains(out, "Added alice") {
		t.Errorf("user add printed %q", out)
	}
	runCmd(t, "", "app", "add", "notes", "--name", "Notes", "--redirect-uri", "http://127.0.0.1/callback", "--data", dir)
	if out := runCmd(t, "", "user", "list", "--data", dir); !strings.Contains(out, "alice") {
		t.Errorf("user list printed %q", out)
	}

	cfg := &oauth2.Config{ClientID: "notes", RedirectURL: "http://127.0.0.1:53682/callback",
		Scopes:   []string{"openid", "offline_access", "https://graph.microsoft.com/UserActivity.ReadWrite.CreatedByApp"},
		Endpoint: oauth2.Endpoint{AuthURL: base + provider.AuthorizePath, TokenURL: base + provider.TokenPath, AuthStyle: oauth2.AuthStyleInParams}}
	verifier := oauth2.GenerateVerifier()
	b := newBrowser(t, base)
	res := b.signIn(cfg.AuthCodeURL("st4te", oauth2.S256ChallengeOption(verifier)), "alice", "correct horse battery")
	if loc := res.Header.Get("Location"); res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/consent?request=") {
		t.Fatalf("sign-in: %d to %q, want the consent page", res.StatusCode, loc)
	}
	for _, c := range res.Cookies() {
		if !c.HttpOnly || c.SameSite == http.SameSiteNoneMode || c.SameSite == http.SameSiteDefaultMode {
			t.Errorf("cookie %s: HttpOnly %v SameSite %v", c.Name, c.HttpOnly, c.SameSite)
		}
	}
	_, page := b.get(res.Header.Get("Location"))
	if !strings.Contains(page, "Notes") || !strings.Contains(page, "UserActivity.ReadWrite.CreatedByApp") {
		t.Errorf("the consent page does not name the app and the scope:\n%.3000s", page)
	}
	res = b.answer(res.Header.Get("Location"), "approve")
	res, _ = b.get(res.Header.Get("Location")) // the provider's callback
	back, err := url.Parse(res.Header.Get("Location"))
	if err != nil || back.Host != "127.0.0.1:53682" || back.Query().Get("state") != "st4te" || back.Query().Get("code") == "" {
		t.Fatalf("callback: %d to %q, want the app's redirect URI (on its own port) with a code and the state", res.StatusCode, res.Header.Get("Location"))
	}
	code := back.Query().Get("code")

	ctx := context.Background()
	tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if tok.RefreshToken == "" || time.Until(tok.Expiry) > time.Hour+time.Minute {
		t.Errorf("token: refresh %q, expiry %s: want a refresh token and an hour", tok.RefreshToken, tok.Expiry)
	}
	if _, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier)); err == nil {
		t.Error("a code worked twice")
	}
	// The ID token (openid) names the person to the app; it is no access token for the API.
	if idt, _ := tok.Extra("id_token").(string); idt == "" {
		t.Error("no ID token for the scope openid")
	} else if st := putActivity(t, base, idt, "with-id-token"); st != http.StatusUnauthorized && st != http.StatusForbidden {
		t.Errorf("PUT with the ID token: %d, want 401 or 403", st)
	}

	// The access token is the API's: the same person and app as 'activityd token --user alice --app notes'.
	if st := putActivity(t, base, tok.AccessToken, "from-oauth"); st != 201 && st != 200 {
		t.Fatalf("PUT with the OAuth token: %d", st)
	}
	// The code was presented twice: its grant is revoked, so this refresh token is dead already.
	if _, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err == nil {
		t.Error("the grant of a code used twice still refreshes")
	}
	st, ids := listActivities(t, base, mintToken(t, dir, "alice", "notes"))
	if st != 200 || len(ids) != 1 || ids[0] != "from-oauth" {
		t.Errorf("activityd token's view of alice/notes: %d %v, want the OAuth token's activity", st, ids)
	}
	if _, ids := listActivities(t, base, mintToken(t, dir, "alice", "other")); len(ids) != 0 {
		t.Errorf("another app sees %v", ids)
	}

	// A fresh grant: refresh rotates, a rotated token replayed revokes the grant.
	verifier = oauth2.GenerateVerifier()
	res, _ = b.get(cfg.AuthCodeURL("s2", oauth2.S256ChallengeOption(verifier)))
	if loc := res.Header.Get("Location"); !strings.HasPrefix(loc, "/signin?request=") {
		t.Fatalf("authorize while signed in: %q", loc)
	}
	res, _ = b.get(res.Header.Get("Location")) // signed in already: on to consent
	res = b.answer(res.Header.Get("Location"), "approve")
	res, _ = b.get(res.Header.Get("Location"))
	back, _ = url.Parse(res.Header.Get("Location"))
	tok, err = cfg.Exchange(ctx, back.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil || rotated.RefreshToken == "" || rotated.RefreshToken == tok.RefreshToken {
		t.Fatalf("refresh: %v, new refresh token %q", err, rotated.RefreshToken)
	}
	if st, _ := listActivities(t, base, rotated.AccessToken); st != 200 {
		t.Errorf("refreshed access token: %d", st)
	}
	// The devices page lists it.
	_, page = b.get("/devices")
	if !strings.Contains(page, "Notes") || !strings.Contains(page, "Go-http-client") {
		t.Errorf("devices page does not list the app:\n%.3000s", page)
	}
	if _, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err == nil {
		t.Error("a rotated refresh token worked again")
	}
	if _, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: rotated.RefreshToken}).Token(); err == nil {
		t.Error("after a replayed refresh token, the grant still refreshes")
	}

	// A code presented with a wrong verifier is spent: the right one fails after it.
	verifier = oauth2.GenerateVerifier()
	res, _ = b.get(cfg.AuthCodeURL("s5", oauth2.S256ChallengeOption(verifier)))
	res, _ = b.get(res.Header.Get("Location"))
	res = b.answer(res.Header.Get("Location"), "approve")
	res, _ = b.get(res.Header.Get("Location"))
	back, _ = url.Parse(res.Header.Get("Location"))
	if _, err := cfg.Exchange(ctx, back.Query().Get("code"), oauth2.VerifierOption(oauth2.GenerateVerifier())); err == nil {
		t.Error("a code exchanged with another PKCE verifier gave a token")
	}
	if _, err := cfg.Exchange(ctx, back.Query().Get("code"), oauth2.VerifierOption(verifier)); err == nil {
		t.Error("a code worked after a failed exchange")
	}

	// A third grant, revoked on the devices page.
	verifier = oauth2.GenerateVerifier()
	res, _ = b.get(cfg.AuthCodeURL("s3", oauth2.S256ChallengeOption(verifier)))
	res, _ = b.get(res.Header.Get("Location"))
	res = b.answer(res.Header.Get("Location"), "approve")
	res, _ = b.get(res.Header.Get("Location"))
	back, _ = url.Parse(res.Header.Get("Location"))
	tok, err = cfg.Exchange(ctx, back.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	_, page = b.get("/devices")
	m := regexp.MustCompile(`name="id" value="([^"]+)"`).FindAllStringSubmatch(page, -1)
	if len(m) != 1 {
		t.Fatalf("devices page lists %d grants, want 1 (the others were revoked):\n%.3000s", len(m), page)
	}
	if res, _ := b.post("/devices/revoke", url.Values{"id": {m[0][1]}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("revoke without the CSRF token: %d, want 403", res.StatusCode)
	}
	if res, _ := b.post("/devices/revoke", url.Values{"id": {m[0][1]}, "csrf": {csrfOf(t, page)}}); res.StatusCode != http.StatusSeeOther {
		t.Errorf("revoke: %d", res.StatusCode)
	}
	if _, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err == nil {
		t.Error("a revoked grant still refreshes")
	}

	// Denied: the app learns access_denied, with its state.
	res, _ = b.get(cfg.AuthCodeURL("s4", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	res, _ = b.get(res.Header.Get("Location"))
	res = b.answer(res.Header.Get("Location"), "deny")
	back, _ = url.Parse(res.Header.Get("Location"))
	if back.Host != "127.0.0.1:53682" || back.Query().Get("error") != "access_denied" || back.Query().Get("state") != "s4" {
		t.Errorf("deny: to %q, want the app with error=access_denied", res.Header.Get("Location"))
	}
}

// TestSignIn_Attacks is the list of attacks, each against the running server.
func TestSignIn_Attacks(t *testing.T) {
	dir := t.TempDir()
	base := startServer(t, dir, nil)
	runCmd(t, "correct horse battery\n", "user", "add", "bob", "--data", dir, "--password-stdin")
	runCmd(t, "correct horse battery\n", "user", "add", "carol", "--data", dir, "--password-stdin")
	runCmd(t, "", "app", "add", "notes", "--redirect-uri", "https://notes.example/cb", "--data", dir)
	authorize := func(q url.Values) *http.Response {
		res, err := newBrowser(t, base).c.Get(base + provider.AuthorizePath + "?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	good := func() url.Values {
		return url.Values{"client_id": {"notes"}, "response_type": {"code"}, "redirect_uri": {"https://notes.example/cb"},
			"scope": {provider.ScopeApp}, "state": {"s"}, "code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())},
			"code_challenge_method": {"S256"}}
	}
	if res := authorize(good()); !strings.HasPrefix(res.Header.Get("Location"), "/signin?request=") {
		t.Fatalf("a good request: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	t.Run("PKCEPlainOrMissing", func(t *testing.T) {
		for name, change := range map[string]func(url.Values){
			"plain":    func(q url.Values) { q.Set("code_challenge_method", "plain") },
			"missing":  func(q url.Values) { q.Del("code_challenge"); q.Del("code_challenge_method") },
			"nomethod": func(q url.Values) { q.Del("code_challenge_method") },
		} {
			q := good()
			change(q)
			res := authorize(q)
			loc, _ := url.Parse(res.Header.Get("Location"))
			if loc == nil || loc.Query().Get("error") != "invalid_request" || strings.HasPrefix(loc.Path, "/signin") {
				t.Errorf("%s: %d to %q, want the app told invalid_request", name, res.StatusCode, res.Header.Get("Location"))
			}
		}
	})
	t.Run("ConsentLinkElsewhere", func(t *testing.T) {
		// An attacker starts a request and sends the consent link to bob: bob's browser did not
		// start it, so it cannot answer it, and nobody but the starting browser collects a code.
		attacker := newBrowser(t, base)
		res, _ := attacker.get(provider.AuthorizePath + "?" + good().Encode())
		id, _ := url.QueryUnescape(strings.TrimPrefix(res.Header.Get("Location"), "/signin?request="))
		victim := newBrowser(t, base)
		victim.signIn("/devices", "bob", "correct horse battery")
		if res, page := victim.get("/consent?request=" + url.QueryEscape(id)); res.StatusCode != http.StatusBadRequest {
			t.Errorf("consent page of a request another browser started: %d\n%.500s", res.StatusCode, page)
		}
		_, page := victim.get("/devices")
		if res, _ := victim.post("/consent", url.Values{"csrf": {csrfOf(t, page)}, "request": {id}, "answer": {"approve"}}); res.StatusCode != http.StatusBadRequest {
			t.Errorf("approving a request another browser started: %d", res.StatusCode)
		}
		if res, _ := newBrowser(t, base).get(provider.AuthorizePath + "/callback?id=" + url.QueryEscape(id)); res.StatusCode != http.StatusBadRequest || res.Header.Get("Location") != "" {
			t.Errorf("the callback from another browser: %d to %q", res.StatusCode, res.Header.Get("Location"))
		}
	})
	t.Run("UserCodeGuessing", func(t *testing.T) {
		b := newBrowser(t, base)
		b.signIn("/devices", "bob", "correct horse battery")
		for i := range 10 {
			if _, page := b.get(fmt.Sprintf("/device?user_code=BCDF-%04d", i)); !strings.Contains(page, "no device is waiting") {
				t.Fatalf("guess %d: not told there is no such device", i)
			}
		}
		if _, page := b.get("/device?user_code=BCDF-GHJK"); !strings.Contains(page, "Too many codes") {
			t.Errorf("the 11th wrong code in a minute is not limited:\n%.1500s", page)
		}
	})
	t.Run("TokenEndpointCORS", func(t *testing.T) {
		// A browser app (the README's JavaScript example) calls the token endpoint cross-origin.
		req, _ := http.NewRequest("OPTIONS", base+provider.TokenPath, nil)
		req.Header.Set("Origin", "https://notes.example")
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "content-type")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode/100 != 2 || res.Header.Get("Access-Control-Allow-Origin") != "https://notes.example" {
			t.Errorf("preflight of the token endpoint: %d, Access-Control-Allow-Origin %q", res.StatusCode, res.Header.Get("Access-Control-Allow-Origin"))
		}
	})
	t.Run("UnknownClient", func(t *testing.T) {
		for _, form := range []url.Values{
			{"client_id": {"nosuch"}, "scope": {"openid"}},
			{"client_id": {"nosuch"}, "grant_type": {"refresh_token"}, "refresh_token": {"x"}},
		} {
			path := provider.TokenPath
			if form.Get("grant_type") == "" {
				path = provider.DevicePath
			}
			res, err := http.PostForm(base+path, form)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode/100 != 4 || !strings.Contains(string(body), "invalid_client") {
				t.Errorf("%s with an unknown client: %d %s, want 4xx invalid_client", path, res.StatusCode, body)
			}
		}
	})
	t.Run("LoopbackRedirectStrict", func(t *testing.T) {
		runCmd(t, "", "app", "add", "native", "--redirect-uri", "http://127.0.0.1/callback", "--data", dir)
		for uri, ok := range map[string]bool{
			"http://127.0.0.1:5555/callback": true, "http://127.0.0.1/callback": true,
			"http://localhost/callback": false, "https://127.0.0.1/callback": false, "http://127.0.0.1:99999/callback": false,
			"http://127.0.0.1:5555/callback#f": false, "http://[::1]:5555/callback": false, "http://127.0.0.1:5555/callback/": false,
		} {
			q := good()
			q.Set("client_id", "native")
			q.Set("redirect_uri", uri)
			res := authorize(q)
			if got := strings.HasPrefix(res.Header.Get("Location"), "/signin?request="); got != ok {
				t.Errorf("redirect_uri %s: %d to %q, want accepted %v", uri, res.StatusCode, res.Header.Get("Location"), ok)
			}
		}
	})
	t.Run("RedirectURINotRegistered", func(t *testing.T) {
		for _, uri := range []string{"https://notes.example/cb/", "https://notes.example/cb?x=1", "https://evil.example/cb",
			"https://notes.example.evil.example/cb", "http://notes.example/cb", "https://NOTES.example/cb#frag"} {
			q := good()
			q.Set("redirect_uri", uri)
			res := authorize(q)
			if res.StatusCode != http.StatusBadRequest || res.Header.Get("Location") != "" {
				t.Errorf("redirect_uri %s: %d to %q, want 400 without a redirect", uri, res.StatusCode, res.Header.Get("Location"))
			}
		}
		q := good()
		q.Set("client_id", "nobody")
		if res := authorize(q); res.StatusCode != http.StatusBadRequest || res.Header.Get("Location") != "" {
			t.Errorf("unknown app: %d to %q", res.StatusCode, res.Header.Get("Location"))
		}
	})
	t.Run("NoOpenRedirect", func(t *testing.T) {
		b := newBrowser(t, base)
		_, page := b.get("/signin")
		for _, q := range []url.Values{
			{"request": {"https://evil.example/"}}, {"user_code": {"//evil.example"}}, {"next": {"https://evil.example"}},
			{"return_to": {"https://evil.example"}}, {"redirect": {"//evil.example"}},
		} {
			form := url.Values{"csrf": {csrfOf(t, page)}, "name": {"bob"}, "password": {"correct horse battery"}}
			for k, v := range q {
				form[k] = v
			}
			res, _ := b.post("/signin", form)
			if loc := res.Header.Get("Location"); !strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//") {
				t.Errorf("sign-in with %v: to %q, want a path on this server", q, loc)
			}
		}
	})
	t.Run("CSRF", func(t *testing.T) {
		b := newBrowser(t, base)
		b.get("/signin")
		if res, _ := b.post("/signin", url.Values{"name": {"bob"}, "password": {"correct horse battery"}}); res.StatusCode != http.StatusForbidden {
			t.Errorf("sign-in without its CSRF token: %d, want 403", res.StatusCode)
		}
		if res, _ := b.post("/signin", url.Values{"name": {"bob"}, "password": {"correct horse battery"}, "csrf": {"forged"}}); res.StatusCode != http.StatusForbidden {
			t.Errorf("sign-in with a forged CSRF token: %d, want 403", res.StatusCode)
		}
		res := b.signIn(good().Encode()[:0]+provider.AuthorizePath+"?"+good().Encode(), "bob", "correct horse battery")
		consent := res.Header.Get("Location")
		id := strings.TrimPrefix(consent, "/consent?request=")
		id, _ = url.QueryUnescape(id)
		if res, _ := b.post("/consent", url.Values{"request": {id}, "answer": {"approve"}}); res.StatusCode != http.StatusForbidden {
			t.Errorf("consent without its CSRF token: %d, want 403", res.StatusCode)
		}
		// Another person's CSRF token does not answer bob's request either.
		other := newBrowser(t, base)
		other.signIn("/devices", "carol", "correct horse battery")
		_, page := other.get("/devices")
		if res, _ := b.post("/consent", url.Values{"request": {id}, "answer": {"approve"}, "csrf": {csrfOf(t, page)}}); res.StatusCode != http.StatusForbidden {
			t.Errorf("consent with another session's CSRF token: %d, want 403", res.StatusCode)
		}
	})
	t.Run("WrongPasswordsLimited", func(t *testing.T) {
		b := newBrowser(t, base)
		_, page := b.get("/signin")
		csrf := csrfOf(t, page)
		try := func(name, password string) (int, string) {
			res, body := b.post("/signin", url.Values{"csrf": {csrf}, "name": {name}, "password": {password}})
			msg := regexp.MustCompile(`role="alert">([^<]*)<`).FindStringSubmatch(body)
			if msg == nil {
				return res.StatusCode, ""
			}
			return res.StatusCode, msg[1]
		}
		st1, msg1 := try("carol", "wrong password!")
		st2, msg2 := try("nobody-here", "wrong password!")
		if st1 != http.StatusUnauthorized || st1 != st2 || msg1 != msg2 || msg1 == "" {
			t.Errorf("wrong password: %d %q; unknown name: %d %q; want the same 401", st1, msg1, st2, msg2)
		}
		for range 4 {
			try("carol", "wrong password!")
		}
		if st, msg := try("carol", "correct horse battery"); st != http.StatusTooManyRequests {
			t.Errorf("the right password after 5 wrong ones: %d %q, want 429 (limited per account)", st, msg)
		}
		// The limit is carol's: bob, from the same address, still signs in.
		if st, _ := try("bob", "correct horse battery"); st != http.StatusSeeOther {
			t.Errorf("another account from the same address: %d, want 303", st)
		}
	})
	t.Run("Oversized", func(t *testing.T) {
		q := good()
		q.Set("state", strings.Repeat("s", 4000))
		res := authorize(q)
		loc, _ := url.Parse(res.Header.Get("Location"))
		if loc == nil || loc.Query().Get("error") != "invalid_request" {
			t.Errorf("a 4,000-byte state: %d to %q, want the app told invalid_request", res.StatusCode, res.Header.Get("Location"))
		}
	})
}

// TestSignIn_DeviceGrant drives the device authorization grant (RFC 8628) as golang.org/x/oauth2
// does, with the person answering on the /device page, and activityd login.
func TestSignIn_DeviceGrant(t *testing.T) {
	dir := t.TempDir()
	base := startServer(t, dir, nil)
	runCmd(t, "correct horse battery\n", "user", "add", "dana", "--data", dir, "--password-stdin")
	cfg := &oauth2.Config{ClientID: provider.CLIAppID, Scopes: []string{"offline_access", provider.ScopeAll},
		Endpoint: oauth2.Endpoint{DeviceAuthURL: base + provider.DevicePath, TokenURL: base + provider.TokenPath, AuthStyle: oauth2.AuthStyleInParams}}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	da, err := cfg.DeviceAuth(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if da.VerificationURI != base+"/device" || !strings.HasPrefix(da.VerificationURIComplete, base+"/device?user_code=") {
		t.Errorf("verification URIs %q, %q: want this server's /device", da.VerificationURI, da.VerificationURIComplete)
	}
	b := newBrowser(t, base)
	// Typed in lower case, without its dash: still the code.
	typed := strings.ToLower(strings.ReplaceAll(da.UserCode, "-", ""))
	res := b.signIn("/device?user_code="+typed, "dana", "correct horse battery")
	if loc := res.Header.Get("Location"); !strings.HasPrefix(loc, "/device?user_code=") {
		t.Fatalf("sign-in from /device: to %q", loc)
	}
	_, page := b.get(res.Header.Get("Location"))
	if !strings.Contains(page, "all your activities") {
		t.Errorf("the device consent does not say it asks for every app's activities:\n%.3000s", page)
	}
	res = b.answer(res.Header.Get("Location"), "approve")
	if res.StatusCode != 200 {
		t.Fatalf("approve: %d", res.StatusCode)
	}
	tok, err := cfg.DeviceAccessToken(ctx, da)
	if err != nil {
		t.Fatalf("device token: %v", err)
	}
	// The token opens the person's view: the privacy API's export.
	req, _ := http.NewRequest("GET", base+"/privacy/export", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 200 {
		t.Errorf("export with the device's token: %v %v", err, res.Status)
	}
	if _, err := cfg.DeviceAccessToken(ctx, da); err == nil {
		t.Error("a device code gave tokens twice")
	}
	// An answered code is no longer on offer.
	if _, page := b.get("/device?user_code=" + typed); !strings.Contains(page, "no device is waiting") {
		t.Errorf("an answered code is still offered:\n%.2000s", page)
	}

	// activityd login, answered by the person in their browser while it waits.
	var out, errOut bytes.Buffer
	code, done := startLogin(t, ctx, []string{base}, &out, &errOut)
	b.answer("/device?user_code="+code, "approve")
	if err := <-done; err != nil {
		t.Fatalf("login: %v: %s", err, errOut.String())
	}
	req, _ = http.NewRequest("GET", base+"/privacy/export", nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(out.String()))
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 200 {
		t.Errorf("export with activityd login's token: %v %v", err, res.Status)
	}
}

// TestKeys_Rotate rotates the local issuer's signing key while the server runs: tokens of the old
// key keep working, the new key signs at once (activityd token reads the ring), the JWKS serves
// both; --drop-old ends the old keys' tokens.
func TestKeys_Rotate(t *testing.T) {
	dir := t.TempDir()
	base := startServer(t, dir, nil)
	old := mintToken(t, dir, "erin", "notes")
	if st, _ := listActivities(t, base, old); st != 200 {
		t.Fatalf("a token before the rotation: %d", st)
	}
	out := runCmd(t, "", "keys", "rotate", "--data", dir)
	if !strings.Contains(out, "The new signing key is") || !strings.Contains(out, "retired, verifies until") {
		t.Errorf("keys rotate printed %q", out)
	}
	fresh := mintToken(t, dir, "erin", "notes")
	kid := func(tok string) string {
		var h struct {
			Kid string `json:"kid"`
		}
		b, _ := base64URL(strings.Split(tok, ".")[0])
		json.Unmarshal(b, &h)
		return h.Kid
	}
	if kid(fresh) == kid(old) {
		t.Fatalf("after the rotation, activityd token still signs with %s", kid(old))
	}
	for name, tok := range map[string]string{"old": old, "new": fresh} {
		if st, _ := listActivities(t, base, tok); st != 200 {
			t.Errorf("the %s key's token after the rotation: %d", name, st)
		}
	}
	res, err := http.Get(base + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	json.NewDecoder(res.Body).Decode(&set)
	res.Body.Close()
	if len(set.Keys) != 2 || set.Keys[0].Kid != kid(fresh) {
		t.Errorf("JWKS %+v, want the new key first, then the old", set.Keys)
	}
	runCmd(t, "", "keys", "rotate", "--drop-old", "--data", dir)
	// Unknown key ids make the server read its keys at most once a second (forged ids cost little).
	time.Sleep(time.Second)
	newest := mintToken(t, dir, "erin", "notes")
	if st, _ := listActivities(t, base, newest); st != 200 {
		t.Errorf("the newest key's token: %d", st)
	}
	for name, tok := range map[string]string{"first": old, "second": fresh} {
		if st, _ := listActivities(t, base, tok); st != http.StatusUnauthorized {
			t.Errorf("the dropped %s key's token: %d, want 401", name, st)
		}
	}
}

func base64URL(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestSignIn_ExternalProvider signs a person in to one activityd's page through another activityd
// as its OpenID Connect provider (--oidc-issuer): discovery, the code flow with PKCE and a nonce,
// the ID token checked by go-oidc, and an account made and linked on first sign-in.
func TestSignIn_ExternalProvider(t *testing.T) {
	idpAddr, rpAddr := freePort(t), freePort(t)
	idpDir, rpDir := t.TempDir(), t.TempDir()
	idp := startServer(t, idpDir, nil, "--addr", idpAddr, "--issuer-name", "http://"+idpAddr)
	runCmd(t, "correct horse battery\n", "user", "add", "frank", "--data", idpDir, "--password-stdin")
	runCmd(t, "", "app", "add", "timeline-rp", "--name", "Frank's other timeline", "--redirect-uri",
		"http://"+rpAddr+"/signin/external/callback", "--data", idpDir)
	rp := startServer(t, rpDir, nil, "--addr", rpAddr, "--oidc-issuer", idp, "--oidc-client-id", "timeline-rp", "--oidc-name", "Server A")

	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	get := func(u string) (*http.Response, string) {
		res, err := c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		return res, string(b)
	}
	_, page := get(rp + "/signin")
	if !strings.Contains(page, "Sign in with Server A") {
		t.Fatalf("the sign-in page offers no external provider:\n%.2000s", page)
	}
	// Off to the provider: its sign-in page, for its request.
	res, page := get(rp + "/signin/external")
	if res.Request.URL.Host != idpAddr || res.Request.URL.Path != "/signin" {
		t.Fatalf("external sign-in went to %s: %d\n%.1500s", res.Request.URL, res.StatusCode, page)
	}
	form := url.Values{"csrf": {csrfOf(t, page)}, "name": {"frank"}, "password": {"correct horse battery"},
		"request": {res.Request.URL.Query().Get("request")}}
	res, err := c.PostForm(idp+"/signin", form)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.Request.URL.Path != "/consent" || !strings.Contains(string(body), "know who you are") {
		t.Fatalf("after the provider's sign-in: %s\n%.2000s", res.Request.URL, body)
	}
	id := regexp.MustCompile(`name="request" value="([^"]+)"`).FindStringSubmatch(string(body))
	res, err = c.PostForm(idp+"/consent", url.Values{"csrf": {csrfOf(t, string(body))}, "request": {id[1]}, "answer": {"approve"}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(res.Body)
	res.Body.Close()
	// Back on the relying party, signed in: its timeline, as frank.
	if res.Request.URL.Host != rpAddr || res.Request.URL.Path != "/" || res.StatusCode != 200 || !strings.Contains(string(body), "frank") {
		t.Fatalf("after consent: %d at %s\n%.2000s", res.StatusCode, res.Request.URL, body)
	}
	if out := runCmd(t, "", "user", "list", "--data", rpDir); !strings.Contains(out, "frank") {
		t.Errorf("the relying party's accounts: %q, want frank made on first sign-in", out)
	}
	// A callback that did not start here is refused.
	fresh := &http.Client{}
	if res, _ := fresh.Get(rp + "/signin/external/callback?state=x&code=y"); res.StatusCode != http.StatusBadRequest {
		t.Errorf("a callback without its flow cookie: %d, want 400", res.StatusCode)
	}
}

// TestSignIn_TwoProcessesPostgres: two servers on one PostgreSQL share accounts, apps, requests,
// codes, refresh tokens and signing keys: a sign-in started on one finishes on the other, its code
// is redeemed on the first, refreshed on the second; a key rotated by the CLI reaches both.
func TestSignIn_TwoProcessesPostgres(t *testing.T) {
	db := pgtest.URL(t)
	a := startServer(t, t.TempDir(), nil, "--db", db)
	b := startServer(t, t.TempDir(), nil, "--db", db) // its own key file: the store's keys win
	runCmd(t, "correct horse battery\n", "user", "add", "gina", "--db", db, "--password-stdin")
	runCmd(t, "", "app", "add", "notes", "--redirect-uri", "http://127.0.0.1/cb", "--db", db)
	cfg := &oauth2.Config{ClientID: "notes", RedirectURL: "http://127.0.0.1:40000/cb", Scopes: []string{"offline_access", provider.ScopeApp},
		Endpoint: oauth2.Endpoint{AuthURL: a + provider.AuthorizePath, TokenURL: a + provider.TokenPath, AuthStyle: oauth2.AuthStyleInParams}}
	verifier := oauth2.GenerateVerifier()
	onA := newBrowser(t, a)
	res, _ := onA.get(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)))
	// The same browser goes on at b (a load balancer in front of both).
	onB := &browser{t: t, base: b, c: onA.c}
	res = onB.signIn(res.Header.Get("Location"), "gina", "correct horse battery")
	res = onB.answer(res.Header.Get("Location"), "approve")
	res, _ = onB.get(res.Header.Get("Location"))
	back, _ := url.Parse(res.Header.Get("Location"))
	tok, err := cfg.Exchange(context.Background(), back.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("redeem at a a code made at b: %v", err)
	}
	cfgB := *cfg
	cfgB.Endpoint.TokenURL = b + provider.TokenPath
	fresh, err := cfgB.TokenSource(context.Background(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		t.Fatalf("refresh at b: %v", err)
	}
	for _, base := range []string{a, b} {
		for _, at := range []string{tok.AccessToken, fresh.AccessToken} {
			if st, _ := listActivities(t, base, at); st != 200 {
				t.Errorf("%s with a token of the other: %d", base, st)
			}
		}
	}
	if _, err := cfg.TokenSource(context.Background(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err == nil {
		t.Error("the refresh token rotated at b still works at a")
	}
	runCmd(t, "", "keys", "rotate", "--db", db)
	minted := mintTokenDB(t, db, "gina", "notes")
	for _, base := range []string{a, b} {
		if st, _ := listActivities(t, base, minted); st != 200 {
			t.Errorf("%s with a token of the rotated key: %d", base, st)
		}
	}
}

// mintTokenDB mints a token with activityd token for the local issuer whose keys are in db.
func mintTokenDB(t *testing.T, db, user, app string) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := auth.OpenLocalIssuer(filepath.Join(dir, "issuer-key.pem"), ""); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(runCmd(t, "", "token", "--data", dir, "--db", db, "--user", user, "--app", app))
}

// runCmdErr runs a command that should fail and returns its error.
func runCmdErr(t *testing.T, stdin string, args ...string) error {
	t.Helper()
	var out, errOut bytes.Buffer
	if args[0] == "user" {
		return user(t.Context(), args[1:], os.Getenv, strings.NewReader(stdin), &out, &errOut)
	}
	return run(t.Context(), args, os.Getenv, &out, &errOut)
}

// TestUser_Lifecycle: passwd, disable (signs out every grant), enable, and rm, which deletes the
// account's activities and says how many.
func TestUser_Lifecycle(t *testing.T) {
	dir := t.TempDir()
	base, stop := startStoppable(t, dir, nil)
	runCmd(t, "first password\n", "user", "add", "hana", "--data", dir, "--password-stdin")
	if err := runCmdErr(t, "other password\n", "user", "add", "HANA", "--data", dir, "--password-stdin"); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("a second account of the same name (another case): %v", err)
	}
	if err := runCmdErr(t, "short\n", "user", "add", "ivan", "--data", dir, "--password-stdin"); err == nil || !strings.Contains(err.Error(), "at least 8") {
		t.Errorf("a short password: %v", err)
	}
	tok := mintToken(t, dir, "hana", "notes")
	for _, k := range []string{"a", "b"} {
		if st := putActivity(t, base, tok, k); st/100 != 2 {
			t.Fatalf("PUT: %d", st)
		}
	}
	signIn := func(password string) int {
		b := newBrowser(t, base)
		_, page := b.get("/signin")
		res, _ := b.post("/signin", url.Values{"csrf": {csrfOf(t, page)}, "name": {"hana"}, "password": {password}})
		return res.StatusCode
	}
	runCmd(t, "second password\n", "user", "passwd", "hana", "--data", dir, "--password-stdin")
	if st := signIn("first password"); st != http.StatusUnauthorized {
		t.Errorf("the old password after passwd: %d", st)
	}
	if st := signIn("second password"); st != http.StatusSeeOther {
		t.Errorf("the new password: %d", st)
	}
	// A device grant, to be signed out by disable.
	cfg := &oauth2.Config{ClientID: provider.CLIAppID, Scopes: []string{"offline_access", provider.ScopeAll},
		Endpoint: oauth2.Endpoint{DeviceAuthURL: base + provider.DevicePath, TokenURL: base + provider.TokenPath, AuthStyle: oauth2.AuthStyleInParams}}
	da, err := cfg.DeviceAuth(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, base)
	b.signIn("/device?user_code="+da.UserCode, "hana", "second password")
	b.answer("/device?user_code="+da.UserCode, "approve")
	dt, err := cfg.DeviceAccessToken(t.Context(), da)
	if err != nil {
		t.Fatal(err)
	}
	if res, _ := b.get("/devices"); res.StatusCode != 200 {
		t.Fatalf("the devices page, signed in: %d", res.StatusCode)
	}
	if out := runCmd(t, "", "user", "disable", "hana", "--data", dir); !strings.Contains(out, "1 devices and apps signed out") {
		t.Errorf("disable printed %q", out)
	}
	if res, _ := b.get("/devices"); res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/signin") {
		t.Errorf("a disabled account's page session: %d to %q, want it signed out", res.StatusCode, res.Header.Get("Location"))
	}
	if _, err := cfg.TokenSource(t.Context(), &oauth2.Token{RefreshToken: dt.RefreshToken}).Token(); err == nil {
		t.Error("a disabled account's device still refreshes")
	}
	if st := signIn("second password"); st != http.StatusUnauthorized {
		t.Errorf("a disabled account signs in: %d", st)
	}
	runCmd(t, "", "user", "enable", "hana", "--data", dir)
	if st := signIn("second password"); st != http.StatusSeeOther {
		t.Errorf("an enabled account: %d", st)
	}
	if err := runCmdErr(t, "", "user", "rm", "hana", "--data", dir); err == nil || !strings.Contains(err.Error(), "stop it") {
		t.Errorf("rm while the SQLite server runs: %v, want to be told to stop it", err)
	}
	stop()
	if out := runCmd(t, "", "user", "rm", "hana", "--data", dir); !strings.Contains(out, "Removed hana: 2 activities deleted") {
		t.Errorf("rm printed %q", out)
	}
	base = startServer(t, dir, nil)
	// The tokens hana had are revoked with her account, even on a server started after.
	if st, _ := listActivities(t, base, tok); st != http.StatusUnauthorized {
		t.Errorf("a token of the removed hana: %d, want 401", st)
	}
	nextSecond() // a token of the second of the rm is refused too
	if st, ids := listActivities(t, base, mintToken(t, dir, "hana", "notes")); st != 200 || len(ids) != 0 {
		t.Errorf("after rm: %d %v, want no activities", st, ids)
	}
	if st := signIn("second password"); st != http.StatusUnauthorized {
		t.Errorf("a removed account signs in: %d", st)
	}
}

// TestUser_AddBeforeServe: the first command on a new machine may be user add (the README's
// order): it makes the data directory, its owner's only, as serve would, and serve then takes it.
func TestUser_AddBeforeServe(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "activityd-data")
	runCmd(t, "a long password\n", "user", "add", "alice", "--admin", "--data", dir, "--password-stdin")
	info, err := os.Stat(dir)
	if err != nil || info.Mode().Perm() != 0o700 {
		t.Fatalf("the data directory after user add: %v %v, want mode 0700", info, err)
	}
	base := startServer(t, dir, nil)
	b := newBrowser(t, base)
	if res := b.signIn("/signin", "alice", "a long password"); res.StatusCode != http.StatusSeeOther {
		t.Errorf("alice signs in on the server started after: %d", res.StatusCode)
	}
}

// TestSignIn_AddressLimited: one client address that fails 20 sign-ins (each with another name, so
// that no account's own limit applies) is refused even the right password of an account, 429; the
// same account signs in from another address (127.0.0.2, a loopback address of its own).
func TestSignIn_AddressLimited(t *testing.T) {
	dir := t.TempDir()
	base := startServer(t, dir, nil)
	runCmd(t, "correct horse battery\n", "user", "add", "fay", "--data", dir, "--password-stdin")
	from := func(ip string) *browser {
		b := newBrowser(t, base)
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
		b.c.Transport = &http.Transport{DialContext: d.DialContext}
		return b
	}
	try := func(b *browser, name, password string) int {
		_, page := b.get("/signin")
		res, _ := b.post("/signin", url.Values{"csrf": {csrfOf(t, page)}, "name": {name}, "password": {password}})
		return res.StatusCode
	}
	a := from("127.0.0.1")
	for i := range 20 {
		if st := try(a, fmt.Sprintf("guess-%d", i), "wrong password!"); st != http.StatusUnauthorized {
			t.Fatalf("wrong sign-in %d: %d, want 401", i+1, st)
		}
	}
	// The address's allowance grows back one sign-in every 6 s: on a busy machine 20 wrong sign-ins
	// (each hashes a password) can take longer, so the address fails on until it is refused.
	refused := false
	for i := 20; i < 30 && !refused; i++ {
		switch st := try(a, fmt.Sprintf("guess-%d", i), "wrong password!"); st {
		case http.StatusTooManyRequests:
			refused = true
		case http.StatusUnauthorized:
		default:
			t.Fatalf("wrong sign-in %d: %d, want 401 or 429", i+1, st)
		}
	}
	if !refused {
		t.Fatal("an address that failed 30 sign-ins is still not refused")
	}
	if st := try(a, "fay", "correct horse battery"); st != http.StatusTooManyRequests {
		t.Errorf("the right password from an address just refused: %d, want 429", st)
	}
	if st := try(from("127.0.0.2"), "fay", "correct horse battery"); st != http.StatusSeeOther {
		t.Errorf("the same account from another address: %d, want 303", st)
	}
}

// TestLogin_TokenFile: activityd login --token-file keeps the sign-in; the commands that read the
// file call its server, renew the access token when it expires (writing the rotated refresh token
// back, once for two commands at once), and say to sign in again once the device is signed out.
func TestLogin_TokenFile(t *testing.T) {
	dir := t.TempDir()
	base := startServer(t, dir, nil)
	runCmd(t, "correct horse battery\n", "user", "add", "gus", "--data", dir, "--password-stdin")
	file := filepath.Join(t.TempDir(), "token")
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	b := newBrowser(t, base)
	var errOut bytes.Buffer
	code, done := startLogin(t, ctx, []string{base, "--token-file", file}, io.Discard, &errOut)
	b.signIn("/device?user_code="+code, "gus", "correct horse battery")
	b.answer("/device?user_code="+code, "approve")
	if err := <-done; err != nil {
		t.Fatalf("login: %v: %s", err, errOut.String())
	}
	if !strings.Contains(errOut.String(), "renewed as it is used") {
		t.Errorf("login said %q", errOut.String())
	}
	// A token file that cannot be written is refused before the person is asked to approve.
	var early bytes.Buffer
	if err := login(ctx, []string{base, "--token-file", filepath.Join(t.TempDir(), "missing", "token")}, os.Getenv, io.Discard, &early); err == nil ||
		!strings.Contains(err.Error(), "cannot be written") || strings.Contains(early.String(), "enter the code") {
		t.Errorf("login into a missing directory: %v, printed %q", err, early.String())
	}
	if info, err := os.Stat(file); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("the token file: %v %v, want mode 0600", info, err)
	}
	read := func() savedLogin {
		l, _, ok, err := readLogin(file)
		if err != nil || !ok || l.Server != base || l.RefreshToken == "" {
			t.Fatalf("the token file: %+v %v %v, want the server and a refresh token", l, ok, err)
		}
		return l
	}
	first := read()
	// No --url: the file names the server.
	list := func() (int, string) {
		code, out, errOut := cli(t, ctx, "activities", "list", "--token-file", file)
		return code, out + errOut
	}
	if code, out := list(); code != 0 {
		t.Fatalf("activities list with the token file: exit %d: %s", code, out)
	}
	if read().AccessToken != first.AccessToken {
		t.Error("a fresh token was renewed")
	}
	// Expired: two commands at once renew it once, and both succeed.
	expired := first
	expired.Expiry = time.Now().Add(-time.Minute)
	if err := writeLogin(file, expired); err != nil {
		t.Fatal(err)
	}
	codes := make(chan string, 2)
	for range 2 {
		go func() {
			code, out := list()
			codes <- fmt.Sprint(code, " ", out)
		}()
	}
	for range 2 {
		if got := <-codes; !strings.HasPrefix(got, "0 ") {
			t.Errorf("activities list with an expired token: exit %s", got)
		}
	}
	second := read()
	if second.AccessToken == first.AccessToken || second.RefreshToken == first.RefreshToken || !second.Expiry.After(time.Now()) {
		t.Errorf("after the renewal the file holds the same tokens, or an expired one (expiry %v)", second.Expiry)
	}
	cfg := &oauth2.Config{ClientID: provider.CLIAppID, Endpoint: oauth2.Endpoint{TokenURL: base + provider.TokenPath, AuthStyle: oauth2.AuthStyleInParams}}
	// The renewal kept the grant alive (no refresh token was used twice, which would end it).
	_, page := b.get("/devices")
	m := regexp.MustCompile(`name="id" value="([^"]+)"`).FindAllStringSubmatch(page, -1)
	if len(m) != 1 {
		t.Fatalf("devices page lists %d grants, want the login's:\n%.3000s", len(m), page)
	}
	// A file that is neither a token nor a login is refused, not sent as a bearer token.
	junk := filepath.Join(t.TempDir(), "junk")
	os.WriteFile(junk, []byte("[]\n"), 0o600)
	if st, _, stderr := cli(t, ctx, "activities", "list", "--token-file", junk); st == 0 || !strings.Contains(stderr, "neither a token") {
		t.Errorf("a token file holding []: exit %d %s", st, stderr)
	}
	// A token file reached through a symbolic link: the link stays, its target is renewed.
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(file, link); err != nil {
		t.Fatal(err)
	}
	renewed := second
	renewed.Expiry = time.Now().Add(-time.Minute)
	writeLogin(link, renewed)
	if code, out, errOut := cli(t, ctx, "activities", "list", "--token-file", link); code != 0 {
		t.Fatalf("through a link: exit %d %s%s", code, out, errOut)
	}
	if info, err := os.Lstat(link); err != nil || info.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link was replaced by a file: %v %v", info, err)
	}
	second = read()
	// A renewal waits for another command's at most --timeout, then says why.
	unlock, err := lockDir(ctx, filepath.Dir(file))
	if err != nil {
		t.Fatal(err)
	}
	stale := second
	stale.Expiry = time.Now().Add(-time.Minute)
	writeLogin(file, stale)
	began := time.Now()
	st, out, stderr := cli(t, ctx, "activities", "list", "--token-file", file, "--timeout", "1s")
	if st == 0 || !strings.Contains(stderr, "renewing the token") || time.Since(began) > 20*time.Second {
		t.Errorf("a renewal behind a held lock: exit %d after %s: %s%s", st, time.Since(began), out, stderr)
	}
	unlock()
	if read().RefreshToken != second.RefreshToken {
		t.Error("a renewal that timed out spent the refresh token")
	}
	// Signed out on the page: the next renewal says to sign in again.
	b.post("/devices/revoke", url.Values{"id": {m[0][1]}, "csrf": {csrfOf(t, page)}})
	if _, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: second.RefreshToken}).Token(); err == nil {
		t.Fatal("a signed-out login still refreshes")
	}
	second.Expiry = time.Now().Add(-time.Minute)
	writeLogin(file, second)
	if code, out := list(); code == 0 || !strings.Contains(out, "sign in again") {
		t.Errorf("a signed-out login: exit %d: %s, want to be told to sign in again", code, out)
	}
}

// startLogin runs activityd login with args until it ends (its error then comes on done), and
// returns the user code it shows, for the person to enter.
func startLogin(t *testing.T, ctx context.Context, args []string, stdout io.Writer, stderr *bytes.Buffer) (string, <-chan error) {
	t.Helper()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- login(ctx, args, os.Getenv, stdout, io.MultiWriter(stderr, pw))
		pw.Close()
	}()
	line := make([]byte, 4096)
	n, _ := pr.Read(line)
	code := regexp.MustCompile(`enter the code (\S+)`).FindSubmatch(line[:n])
	go io.Copy(io.Discard, pr)
	if code == nil {
		t.Fatalf("login printed %q", line[:n])
	}
	return string(code[1]), done
}
