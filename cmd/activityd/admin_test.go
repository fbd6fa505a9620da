package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/activityd/activityd/provider"
	"golang.org/x/oauth2"
)

// adminCall sends method path (under /admin/v1/) with token and body (JSON when it is not ""), and
// returns the status, the headers and the decoded body.
func adminCall(t *testing.T, base, token, method, path, body string) (int, http.Header, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, base+"/admin/v1/"+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var out map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: %d with a body that is not JSON: %q", method, path, res.StatusCode, raw)
		}
	}
	return res.StatusCode, res.Header, out
}

// errorCode returns the Graph error envelope's code and message, failing the test if the body is
// not that envelope.
func errorCode(t *testing.T, what string, body map[string]any) (string, string) {
	t.Helper()
	e, ok := body["error"].(map[string]any)
	if !ok {
		t.Fatalf("%s: %v, want Graph's error envelope", what, body)
	}
	code, _ := e["code"].(string)
	msg, _ := e["message"].(string)
	if code == "" || msg == "" {
		t.Errorf("%s: error %v without a code or a message", what, e)
	}
	return code, msg
}

// names returns the users of a list by name, each with whether it is an administrator.
func names(body map[string]any) map[string]bool {
	out := map[string]bool{}
	list, _ := body["value"].([]any)
	for _, v := range list {
		u := v.(map[string]any)
		name, _ := u["name"].(string)
		out[name] = u["admin"] == true
	}
	return out
}

// appIDs returns the ids of a list of apps.
func appIDs(body map[string]any) map[string]bool {
	out := map[string]bool{}
	list, _ := body["value"].([]any)
	for _, v := range list {
		id, _ := v.(map[string]any)["id"].(string)
		out[id] = true
	}
	return out
}

// TestAdmin_API drives the admin API against a running server with real tokens: one an
// administrator got by the device grant (consenting to activityd.admin on the page), others minted
// by activityd token. It manages users, their devices and apps, and is refused to everyone else.
func TestAdmin_API(t *testing.T) {
	dir := t.TempDir()
	base := startServer(t, dir, nil)
	if out := runCmd(t, "root password 1\n", "user", "add", "root", "--admin", "--data", dir, "--password-stdin"); !strings.Contains(out, "as an administrator") {
		t.Errorf("user add --admin printed %q", out)
	}
	runCmd(t, "bob password 1\n", "user", "add", "bob", "--data", dir, "--password-stdin")
	if out := runCmd(t, "", "user", "list", "--data", dir); !regexpMatch(`root\s+\S+\s+.*enabled\s+admin`, out) || !regexpMatch(`bob\s+\S+\s+.*enabled\s+user`, out) {
		t.Errorf("user list does not show the roles:\n%s", out)
	}

	// The administrator signs a device in with the admin scope: the consent page says what it gives.
	cfg := &oauth2.Config{ClientID: provider.CLIAppID, Scopes: []string{"offline_access", provider.ScopeAdmin},
		Endpoint: oauth2.Endpoint{DeviceAuthURL: base + provider.DevicePath, TokenURL: base + provider.TokenPath, AuthStyle: oauth2.AuthStyleInParams}}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	deviceToken := func(name, password string, wantApproved bool) *oauth2.Token {
		t.Helper()
		da, err := cfg.DeviceAuth(ctx)
		if err != nil {
			t.Fatal(err)
		}
		b := newBrowser(t, base)
		res := b.signIn("/device?user_code="+da.UserCode, name, password)
		if _, page := b.get(res.Header.Get("Location")); !strings.Contains(page, "manage this server") {
			t.Errorf("the consent page does not say the app asks to manage the server:\n%.3000s", page)
		}
		res = b.answer(res.Header.Get("Location"), "approve")
		if !wantApproved {
			if res.StatusCode != http.StatusForbidden {
				t.Errorf("%s, not an administrator, approved the admin scope: %d", name, res.StatusCode)
			}
			return nil
		}
		if res.StatusCode != 200 {
			t.Fatalf("approve: %d", res.StatusCode)
		}
		tok, err := cfg.DeviceAccessToken(ctx, da)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	root := deviceToken("root", "root password 1", true).AccessToken
	deviceToken("bob", "bob password 1", false)

	st, _, body := adminCall(t, base, root, "GET", "users", "")
	if got := names(body); st != 200 || len(got) != 2 || !got["root"] || got["bob"] {
		t.Fatalf("GET users: %d %v, want root (admin) and bob", st, body)
	}
	// The admin scope is the admin API's only: the Graph routes refuse it.
	if st, _ := listActivities(t, base, root); st != http.StatusForbidden {
		t.Errorf("the Graph API with an admin-only token: %d, want 403", st)
	}

	// Refused to anyone else: no token, another account, a token without the scope.
	bobAdmin := strings.TrimSpace(runCmd(t, "", "token", "--data", dir, "--user", "bob", "--app", "x", "--scopes", "activityd.admin"))
	rootPlain := mintToken(t, dir, "root", "x")
	nobody := strings.TrimSpace(runCmd(t, "", "token", "--data", dir, "--user", "nobody", "--app", "x", "--scopes", "activityd.admin"))
	for _, c := range []struct {
		what, token string
		status      int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"a token that is not a JWT", "not-a-token", http.StatusUnauthorized},
		{"bob, not an administrator", bobAdmin, http.StatusForbidden},
		{"root's token without the admin scope", rootPlain, http.StatusForbidden},
		{"a name without an account", nobody, http.StatusForbidden},
	} {
		st, h, body := adminCall(t, base, c.token, "GET", "users", "")
		if st != c.status {
			t.Errorf("%s: %d, want %d", c.what, st, c.status)
		}
		errorCode(t, c.what, body)
		if c.status == http.StatusUnauthorized && h.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: 401 without WWW-Authenticate", c.what)
		}
	}

	// Users: add, read, patch.
	st, h, body := adminCall(t, base, root, "POST", "users", `{"name":"carol","password":"carol password"}`)
	if st != http.StatusCreated || body["name"] != "carol" || body["admin"] != false || h.Get("Location") != "/admin/v1/users/carol" {
		t.Fatalf("POST users: %d %v %q", st, body, h.Get("Location"))
	}
	if _, ok := body["password"]; ok {
		t.Error("a user on the wire shows its password hash")
	}
	if st, _, body := adminCall(t, base, root, "GET", "users/CAROL", ""); st != 200 || body["name"] != "carol" {
		t.Errorf("GET users/CAROL: %d %v", st, body)
	}
	// carol's new account signs in on the page.
	b := newBrowser(t, base)
	if res := b.signIn("/signin", "carol", "carol password"); res.StatusCode != http.StatusSeeOther {
		t.Errorf("carol signs in: %d", res.StatusCode)
	}
	if st, _, body := adminCall(t, base, root, "PATCH", "users/bob", `{"admin":true}`); st != 200 || body["admin"] != true {
		t.Fatalf("PATCH bob admin: %d %v", st, body)
	}
	if st, _, _ := adminCall(t, base, bobAdmin, "GET", "apps", ""); st != 200 {
		t.Errorf("bob's token once promoted: %d", st)
	}
	adminCall(t, base, root, "PATCH", "users/bob", `{"admin":false}`)
	if st, _, _ := adminCall(t, base, bobAdmin, "GET", "apps", ""); st != http.StatusForbidden {
		t.Errorf("bob's token once demoted: %d, want 403 at once", st)
	}
	// Self-harm is refused: an administrator cannot lock themselves out.
	for _, c := range []struct{ method, path, body string }{
		{"PATCH", "users/root", `{"disabled":true}`},
		{"PATCH", "users/root", `{"admin":false}`},
		{"DELETE", "users/root", ""},
	} {
		st, _, body := adminCall(t, base, root, c.method, c.path, c.body)
		if st != http.StatusForbidden {
			t.Errorf("%s %s %s: %d, want 403", c.method, c.path, c.body, st)
		}
		errorCode(t, c.method+" "+c.path, body)
	}

	// Devices: bob signs a device in; the administrator sees it and signs it out.
	bobCfg := &oauth2.Config{ClientID: provider.CLIAppID, Scopes: []string{"offline_access", provider.ScopeAll}, Endpoint: cfg.Endpoint}
	bobTok := deviceSignIn(t, ctx, base, bobCfg, "bob", "bob password 1")
	for _, k := range []string{"a", "b", "c"} {
		if st := putActivity(t, base, bobTok.AccessToken, k); st/100 != 2 {
			t.Fatalf("bob's PUT: %d", st)
		}
	}
	st, _, body = adminCall(t, base, root, "GET", "users/bob/devices", "")
	list, _ := body["value"].([]any)
	if st != 200 || len(list) != 1 || list[0].(map[string]any)["appId"] != provider.CLIAppID {
		t.Fatalf("GET users/bob/devices: %d %v, want the one device", st, body)
	}
	id := list[0].(map[string]any)["id"].(string)
	if st, _, body := adminCall(t, base, root, "DELETE", "users/carol/devices/"+id, ""); st != http.StatusNotFound {
		t.Errorf("bob's device under carol: %d %v, want 404", st, body)
	}
	if st, _, _ := adminCall(t, base, root, "DELETE", "users/bob/devices/"+id, ""); st != http.StatusNoContent {
		t.Fatalf("DELETE bob's device: %d", st)
	}
	if _, err := bobCfg.TokenSource(ctx, &oauth2.Token{RefreshToken: bobTok.RefreshToken}).Token(); err == nil {
		t.Error("a device signed out by the administrator still refreshes")
	}

	// Apps: add, list, remove; activityd login's app stays.
	st, h, body = adminCall(t, base, root, "POST", "apps", `{"id":"notes","name":"Notes","redirectUris":["http://127.0.0.1/callback"]}`)
	if st != http.StatusCreated || body["id"] != "notes" || h.Get("Location") != "/admin/v1/apps/notes" {
		t.Fatalf("POST apps: %d %v", st, body)
	}
	if out := runCmd(t, "", "app", "list", "--data", dir); !strings.Contains(out, "http://127.0.0.1/callback") {
		t.Errorf("activityd app list does not show the app added over the API:\n%s", out)
	}
	if st, _, body := adminCall(t, base, root, "GET", "apps", ""); st != 200 || !appIDs(body)["notes"] {
		t.Errorf("GET apps: %d %v", st, body)
	}
	// carol signs a device in with the app; removing the app signs it out, and registering its id
	// again (by anyone) revives nothing.
	notesCfg := &oauth2.Config{ClientID: "notes", Scopes: []string{"offline_access", provider.ScopeApp}, Endpoint: cfg.Endpoint}
	notesTok := deviceSignIn(t, ctx, base, notesCfg, "carol", "carol password")
	if st, _, body := adminCall(t, base, root, "DELETE", "apps/notes", ""); st != http.StatusOK || body["devicesSignedOut"] != float64(1) {
		t.Errorf("DELETE apps/notes: %d %v, want its one device signed out", st, body)
	}
	adminCall(t, base, root, "POST", "apps", `{"id":"notes","name":"Someone else's","redirectUris":["http://127.0.0.1/other"]}`)
	if _, err := notesCfg.TokenSource(ctx, &oauth2.Token{RefreshToken: notesTok.RefreshToken}).Token(); err == nil {
		t.Error("a grant of a removed app refreshes once its id is registered again")
	}
	if st, _, _ := adminCall(t, base, root, "DELETE", "apps/notes", ""); st != http.StatusOK {
		t.Errorf("DELETE apps/notes (the second one): %d", st)
	}
	if st, _, _ := adminCall(t, base, root, "DELETE", "apps/notes", ""); st != http.StatusNotFound {
		t.Errorf("DELETE apps/notes again: %d, want 404", st)
	}
	if st, _, _ := adminCall(t, base, root, "DELETE", "apps/"+provider.CLIAppID, ""); st != http.StatusForbidden {
		t.Errorf("DELETE the CLI's app: %d, want 403", st)
	}

	// The role is looked at on every token: an administrator demoted since refreshes to a token
	// without the admin scope.
	if st, _, body := adminCall(t, base, root, "POST", "users", `{"name":"dave","password":"dave password","admin":true}`); st != 201 || body["admin"] != true {
		t.Fatalf("POST users dave (admin): %d %v", st, body)
	}
	dave := deviceToken("dave", "dave password", true)
	if st, _, _ := adminCall(t, base, dave.AccessToken, "GET", "users", ""); st != 200 {
		t.Errorf("dave's admin token: %d", st)
	}
	adminCall(t, base, root, "PATCH", "users/dave", `{"admin":false}`)
	refreshed, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: dave.RefreshToken}).Token()
	if err != nil {
		t.Fatalf("dave's refresh: %v", err)
	}
	if scp := claimsOf(t, refreshed.AccessToken)["scp"]; strings.Contains(fmt.Sprint(scp), provider.ScopeAdmin) {
		t.Errorf("a demoted administrator's refreshed token has scp %q", scp)
	}
	if st, _, _ := adminCall(t, base, refreshed.AccessToken, "GET", "users", ""); st != http.StatusForbidden {
		t.Errorf("a demoted administrator's refreshed token: %d", st)
	}

	// Disabling signs out; deleting deletes the activities and says how many.
	carolMinted := mintToken(t, dir, "carol", "notes") // on the server's machine, before the disable
	if st, _ := listActivities(t, base, carolMinted); st != 200 {
		t.Fatalf("carol's token: %d", st)
	}
	if st, _, body := adminCall(t, base, root, "PATCH", "users/carol", `{"disabled":true}`); st != 200 || body["disabled"] != true {
		t.Errorf("PATCH carol disabled: %d %v", st, body)
	}
	if st, _ := listActivities(t, base, carolMinted); st != http.StatusUnauthorized {
		t.Errorf("a disabled account's token (cached by the server): %d, want 401 at once", st)
	}
	if res, _ := b.get("/devices"); res.StatusCode != http.StatusSeeOther {
		t.Errorf("a disabled account's page session: %d, want it signed out", res.StatusCode)
	}
	if st, _, body := adminCall(t, base, root, "DELETE", "users/bob?keepData=maybe", ""); st != http.StatusBadRequest {
		t.Errorf("keepData=maybe: %d %v", st, body)
	}
	bobStill := mintToken(t, dir, "bob", "notes") // a token of bob's made before the delete
	if st := putActivity(t, base, bobStill, "d"); st != http.StatusCreated {
		t.Fatalf("bob's token before the delete: %d", st)
	}
	st, _, body = adminCall(t, base, root, "DELETE", "users/bob", "")
	if st != 200 || body["activitiesDeleted"] != float64(4) {
		t.Errorf("DELETE users/bob: %d %v, want 4 activities deleted", st, body)
	}
	// His tokens end with him: nothing written after the delete waits for a new bob (same oid).
	if st := putActivity(t, base, bobStill, "e"); st != http.StatusUnauthorized {
		t.Errorf("a deleted account's token writes: %d, want 401", st)
	}
	if st, _, _ := adminCall(t, base, root, "GET", "users/bob", ""); st != http.StatusNotFound {
		t.Errorf("GET a deleted user: %d", st)
	}
	nextSecond() // a token of the second of the delete is refused too
	adminCall(t, base, root, "POST", "users", `{"name":"bob","password":"new bob password"}`)
	if st, ids := listActivities(t, base, mintToken(t, dir, "bob", "notes")); st != 200 || len(ids) != 0 {
		t.Errorf("a new bob's activities: %d %v, want none of the old bob's", st, ids)
	}
}

// nextSecond waits for the next whole second: a revocation refuses the tokens issued until the end
// of its second (iat has whole seconds).
func nextSecond() {
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second + 10*time.Millisecond)))
}

// deviceSignIn signs name in with the device grant of cfg, approving on the page, and returns the
// device's tokens.
func deviceSignIn(t *testing.T, ctx context.Context, base string, cfg *oauth2.Config, name, password string) *oauth2.Token {
	t.Helper()
	da, err := cfg.DeviceAuth(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, base)
	b.signIn("/device?user_code="+da.UserCode, name, password)
	b.answer("/device?user_code="+da.UserCode, "approve")
	tok, err := cfg.DeviceAccessToken(ctx, da)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// claimsOf returns the claims of a JWT, unverified (the server verified it).
func claimsOf(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", jwt)
	}
	raw, err := base64URL(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func regexpMatch(pattern, s string) bool { return regexp.MustCompile(pattern).MatchString(s) }

// TestAdmin_BadInput: every malformed request gets a 4xx in Graph's error envelope that names the
// problem, and changes nothing.
func TestAdmin_BadInput(t *testing.T) {
	dir := t.TempDir()
	base := startServer(t, dir, nil)
	runCmd(t, "root password 1\n", "user", "add", "root", "--data", dir, "--password-stdin")
	if out := runCmd(t, "", "user", "promote", "root", "--data", dir); !strings.Contains(out, "is an administrator") {
		t.Errorf("promote printed %q", out)
	}
	root := strings.TrimSpace(runCmd(t, "", "token", "--data", dir, "--user", "root", "--app", "ops", "--scopes", "activityd.admin"))
	big := `{"name":"x","password":"` + strings.Repeat("p", 70<<10) + `"}`
	for _, c := range []struct {
		what, method, path, contentType, body string
		status                                int
		say                                   string
	}{
		{"an unknown member", "POST", "users", "", `{"name":"eve","password":"eve password","role":"admin"}`, 400, "role"},
		{"a wrong type", "POST", "users", "", `{"name":"eve","password":12345678}`, 400, "password"},
		{"no body", "POST", "users", "", ``, 400, "JSON object"},
		{"two values", "POST", "users", "", `{"name":"eve","password":"eve password"} {}`, 400, "one JSON value"},
		{"a stray brace after", "POST", "users", "", `{"name":"eve","password":"eve password"}}`, 400, "one JSON value"},
		{"a member in another case", "POST", "users", "", `{"NAME":"eve","password":"eve password"}`, 400, "NAME"},
		{"a member twice", "POST", "users", "", `{"name":"eve","name":"eva","password":"eve password"}`, 400, "twice"},
		{"an array", "POST", "users", "", `[]`, 400, "object"},
		{"whitespace past the limit", "POST", "users", "", `{"name":"eve","password":"eve password"}` + strings.Repeat(" ", 70<<10), 413, "larger"},
		{"JSON's look-alike media type", "POST", "users", "application/jsonp", `{"name":"eve","password":"eve password"}`, 415, "JSON"},
		{"JSON with a charset", "POST", "users", "Application/JSON; charset=utf-8", `{"name":"eve","password":"x"}`, 400, "8"},
		{"a path with //", "GET", "/users", "", ``, 404, "not a route"},
		{"a path with ..", "DELETE", "users/x/../root", "", ``, 404, "not a route"},
		{"no password", "POST", "users", "", `{"name":"eve"}`, 400, "password"},
		{"a short password", "POST", "users", "", `{"name":"eve","password":"short"}`, 400, "8"},
		{"a name that is not one", "POST", "users", "", `{"name":"a b/c","password":"eve password"}`, 400, "name"},
		{"an existing name", "POST", "users", "", `{"name":"ROOT","password":"eve password"}`, 409, "exists"},
		{"a body too large", "POST", "users", "", big, 413, "larger"},
		{"a form body", "POST", "users", "application/x-www-form-urlencoded", `name=eve`, 415, "JSON"},
		{"a wrong method", "PUT", "users", "", `{}`, 405, "GET, POST"},
		{"an unknown route", "GET", "groups", "", ``, 404, "not a route"},
		{"an unknown user", "GET", "users/nobody", "", ``, 404, "nobody"},
		{"an unknown user's patch", "PATCH", "users/nobody", "", `{"disabled":true}`, 404, "nobody"},
		{"an app without redirect URIs", "POST", "apps", "", `{"id":"notes"}`, 400, "redirect URI"},
		{"an app with a bad redirect URI", "POST", "apps", "", `{"id":"notes","redirectUris":["javascript:alert(1)"]}`, 400, "redirect"},
		{"an app with a wrong type", "POST", "apps", "", `{"id":"notes","redirectUris":"http://127.0.0.1/"}`, 400, "redirectUris"},
		{"a list of lists", "POST", "apps", "", `{"id":"notes","redirectUris":[["http://127.0.0.1/"]]}`, 400, "a list of strings"},
		{"a patch that changes nothing", "PATCH", "users/root", "", `{}`, 400, "changes nothing"},
		{"an app id with a slash", "POST", "apps", "", `{"id":"a/b","redirectUris":["http://127.0.0.1/"]}`, 400, "app id"},
		{"an app id of dots", "POST", "apps", "", `{"id":"..","redirectUris":["http://127.0.0.1/"]}`, 400, "app id"},
		{"a name of dots", "POST", "users", "", `{"name":"..","password":"eve password"}`, 400, "dots"},
		{"a name with a slash", "POST", "users", "", `{"name":"a/b","password":"eve password"}`, 400, "slash"},
		{"an app name with a NUL", "POST", "apps", "", `{"id":"ab","name":"a\u0000b","redirectUris":["http://127.0.0.1/"]}`, 400, "control"},
		{"an unknown app", "DELETE", "apps/nothing", "", ``, 404, "nothing"},
	} {
		req, _ := http.NewRequest(c.method, base+"/admin/v1/"+c.path, strings.NewReader(c.body))
		req.Header.Set("Authorization", "Bearer "+root)
		ct := c.contentType
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		json.NewDecoder(res.Body).Decode(&body)
		res.Body.Close()
		if res.StatusCode != c.status {
			t.Errorf("%s: %d %v, want %d", c.what, res.StatusCode, body, c.status)
			continue
		}
		_, msg := errorCode(t, c.what, body)
		if !strings.Contains(msg, c.say) {
			t.Errorf("%s: %q does not say %q", c.what, msg, c.say)
		}
		if c.status == 405 && res.Header.Get("Allow") != "GET, POST" {
			t.Errorf("%s: Allow %q", c.what, res.Header.Get("Allow"))
		}
	}
	// Nothing of that was stored.
	_, _, body := adminCall(t, base, root, "GET", "users", "")
	if got := names(body); len(got) != 1 || !got["root"] {
		t.Errorf("after the bad requests: %v, want root alone", body)
	}
	_, _, body = adminCall(t, base, root, "GET", "apps", "")
	if got := appIDs(body); got["notes"] || !got[provider.CLIAppID] {
		t.Errorf("after the bad requests the apps are %v", got)
	}
}

// TestAdmin_Concurrent: changes to one account at once all hold, and a delete racing a change
// leaves no account behind (the change does not write the removed account back).
func TestAdmin_Concurrent(t *testing.T) {
	dir := t.TempDir()
	base := startServer(t, dir, nil)
	runCmd(t, "root password 1\n", "user", "add", "root", "--admin", "--data", dir, "--password-stdin")
	root := strings.TrimSpace(runCmd(t, "", "token", "--data", dir, "--user", "root", "--app", "ops", "--scopes", "activityd.admin"))
	for i := range 5 {
		name := fmt.Sprintf("eve%d", i)
		if st, _, body := adminCall(t, base, root, "POST", "users", `{"name":"`+name+`","password":"eve password","admin":true}`); st != 201 {
			t.Fatalf("POST %s: %d %v", name, st, body)
		}
		done := make(chan int, 2)
		go func() {
			st, _, _ := adminCall(t, base, root, "PATCH", "users/"+name, `{"password":"a new password"}`)
			done <- st
		}()
		go func() { st, _, _ := adminCall(t, base, root, "DELETE", "users/"+name, ""); done <- st }()
		<-done
		<-done
		if _, _, body := adminCall(t, base, root, "GET", "users", ""); hasName(body, name) {
			t.Errorf("round %d: the deleted %s is still listed: %v", i, name, body)
		}
		nextSecond()
		tok := strings.TrimSpace(runCmd(t, "", "token", "--data", dir, "--user", name, "--app", "ops", "--scopes", "activityd.admin"))
		if st, _, _ := adminCall(t, base, tok, "GET", "users", ""); st != http.StatusForbidden {
			t.Errorf("round %d: a token of the deleted administrator %s: %d, want 403", i, name, st)
		}
	}
	for i := range 5 {
		name := fmt.Sprintf("gina%d", i)
		adminCall(t, base, root, "POST", "users", `{"name":"`+name+`","password":"gina password"}`)
		done := make(chan int, 2)
		go func() {
			st, _, _ := adminCall(t, base, root, "PATCH", "users/"+name, `{"password":"another password"}`)
			done <- st
		}()
		time.Sleep(5 * time.Millisecond)
		go func() { st, _, _ := adminCall(t, base, root, "PATCH", "users/"+name, `{"disabled":true}`); done <- st }()
		if a, b := <-done, <-done; a != 200 || b != 200 {
			t.Fatalf("round %d: PATCHes %d %d", i, a, b)
		}
		if _, _, body := adminCall(t, base, root, "GET", "users/"+name, ""); body["disabled"] != true {
			t.Errorf("round %d: a disable that answered 200 was lost: %v", i, body)
		}
	}
}

func hasName(body map[string]any, name string) bool { _, ok := names(body)[name]; return ok }
