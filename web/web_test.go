package web_test

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/activityd/activityd"
	"github.com/activityd/activityd/auth"
	"github.com/activityd/activityd/graph"
	"github.com/activityd/activityd/postgres"
	"github.com/activityd/activityd/postgres/pgtest"
	"github.com/activityd/activityd/sqlite"
	"github.com/activityd/activityd/web"
)

// env is the page and the Graph API over a real store, verifying real tokens of a local issuer.
type env struct {
	t       testing.TB
	srv     *httptest.Server
	issuer  *auth.LocalIssuer
	service *activity.Service
	pgURL   string // the PostgreSQL schema, when the store is PostgreSQL
}

func newEnv(t testing.TB) *env {
	t.Helper()
	var store activity.Store
	var err error
	var pgURL string
	if os.Getenv("ACTIVITYD_TEST_STORE") == "postgres" {
		pgURL = pgtest.URL(t)
		store, err = postgres.Open(t.Context(), pgURL)
	} else {
		store, err = sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "activityd.db"))
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	issuer, err := auth.OpenLocalIssuer(filepath.Join(t.TempDir(), "issuer.key"), "https://activityd.test")
	if err != nil {
		t.Fatal(err)
	}
	verifier := &auth.Verifier{Issuers: []auth.Issuer{issuer.Issuer()}, Audiences: auth.GraphAudiences}
	service := activity.NewService(store)
	logger := slog.New(slog.DiscardHandler)
	api := graph.NewServer(service, verifier, logger)
	secret := make([]byte, graph.SecretSize)
	api.SetSecret(secret)
	page := web.New(service, verifier, graph.PublicIDs(secret), api, make([]byte, web.SecretSize), logger)
	page.Heartbeat = 100 * time.Millisecond
	changes := &activity.Wakeups{}
	page.Changes, api.Changes = changes, changes
	switch st := store.(type) {
	case *sqlite.Store:
		st.OnCommit = changes.Notify
	case *postgres.Store:
		st.OnCommit = changes.Notify
	}
	mux := http.NewServeMux()
	mux.Handle("/v1.0/", api)
	mux.Handle("/", page)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &env{t: t, srv: srv, issuer: issuer, service: service, pgURL: pgURL}
}

// personToken mints the token a person signs in to the page with (the person's view across apps).
func (e *env) personToken(user string) string {
	e.t.Helper()
	tok, err := e.issuer.Mint(user, "timeline", time.Hour, auth.ScopeAll)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

func (e *env) token(user, app string) string {
	e.t.Helper()
	tok, err := e.issuer.Mint(user, app, time.Hour)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// put stores an activity through the Graph API as user's app.
func (e *env) put(user, app, key, text, description string) {
	e.t.Helper()
	body := fmt.Sprintf(`{"appActivityId":%q,"activitySourceHost":"https://%s.example.com","activationUrl":"https://%s.example.com/%s",
		"appDisplayName":%q,"visualElements":{"displayText":%q,"description":%q}}`, key, app, app, key, app, text, description)
	req, _ := http.NewRequest("PUT", e.srv.URL+"/v1.0/me/activities/"+key, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+e.token(user, app))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode/100 != 2 {
		e.t.Fatalf("PUT %s: %d %s", key, res.StatusCode, b)
	}
}

// browser is a person's browser: a cookie jar, signed in through the form.
type browser struct {
	e      *env
	client *http.Client
}

func (e *env) signIn(user string) *browser {
	e.t.Helper()
	jar, _ := cookiejar.New(nil)
	b := &browser{e: e, client: &http.Client{Jar: jar}}
	res, body := b.post("/signin", url.Values{"token": {e.personToken(user)}})
	if res.StatusCode != 200 || !strings.Contains(body, `id="days"`) {
		e.t.Fatalf("sign in as %s: %d %s", user, res.StatusCode, body)
	}
	return b
}

func (b *browser) get(path string) (*http.Response, string) {
	b.e.t.Helper()
	res, err := b.client.Get(b.e.srv.URL + path)
	if err != nil {
		b.e.t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res, string(body)
}

func (b *browser) post(path string, form url.Values, headers ...string) (*http.Response, string) {
	b.e.t.Helper()
	req, _ := http.NewRequest("POST", b.e.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := b.client.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res, string(body)
}

// csrf reads the CSRF token from the timeline page.
func (b *browser) csrf() string {
	b.e.t.Helper()
	_, body := b.get("/")
	_, rest, ok := strings.Cut(body, `data-csrf="`)
	if !ok {
		b.e.t.Fatalf("no CSRF token on the page: %s", body)
	}
	tok, _, _ := strings.Cut(rest, `"`)
	return tok
}

func TestPage_SignIn(t *testing.T) {
	e := newEnv(t)
	res, err := http.Get(e.srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.Request.URL.Path != "/signin" {
		t.Errorf("a visitor without a session lands on %s, want /signin", res.Request.URL.Path)
	}
	form := url.Values{"token": {e.personToken("alice")}}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, _ = noRedirect.PostForm(e.srv.URL+"/signin", form)
	c := res.Cookies()
	if res.StatusCode != http.StatusSeeOther || len(c) != 1 || !c[0].HttpOnly || c[0].SameSite != http.SameSiteLaxMode {
		t.Errorf("sign-in: %d, cookies %+v; want 303 and one HttpOnly SameSite=Lax cookie", res.StatusCode, c)
	}
	for _, h := range []string{"Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy"} {
		if res.Header.Get(h) == "" {
			t.Errorf("no %s header", h)
		}
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self';") || !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP %q allows inline script or framing", csp)
	}
	// Through a proxy, or with a bad token, no session.
	req, _ := http.NewRequest("POST", e.srv.URL+"/signin", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	res, _ = noRedirect.Do(req)
	if res.StatusCode != http.StatusForbidden || len(res.Cookies()) != 0 {
		t.Errorf("sign-in through a proxy: %d with %d cookies, want 403 and none", res.StatusCode, len(res.Cookies()))
	}
	res, _ = noRedirect.PostForm(e.srv.URL+"/signin", url.Values{"token": {"not.a.token"}})
	if res.StatusCode != http.StatusUnauthorized || len(res.Cookies()) != 0 {
		t.Errorf("sign-in with a bad token: %d with %d cookies, want 401 and none", res.StatusCode, len(res.Cookies()))
	}
	// An app's token speaks for one app: it cannot open the person's view.
	res, _ = noRedirect.PostForm(e.srv.URL+"/signin", url.Values{"token": {e.token("alice", "notes")}})
	if res.StatusCode != http.StatusUnauthorized || len(res.Cookies()) != 0 {
		t.Errorf("sign-in with an app's token: %d with %d cookies, want 401 and none", res.StatusCode, len(res.Cookies()))
	}
	// Through a front end that names itself only in Via, still no session.
	req, _ = http.NewRequest("POST", e.srv.URL+"/signin", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Via", "1.1 tunnel")
	if res, _ = noRedirect.Do(req); res.StatusCode != http.StatusForbidden {
		t.Errorf("sign-in through a Via front end: %d, want 403", res.StatusCode)
	}
	// The session lasts no longer than its token.
	short, _ := e.issuer.Mint("alice", "timeline", 10*time.Minute, auth.ScopeAll)
	res, _ = noRedirect.PostForm(e.srv.URL+"/signin", url.Values{"token": {short}})
	if c := res.Cookies(); len(c) != 1 || c[0].MaxAge > 600 || c[0].MaxAge < 590 {
		t.Errorf("a session of a 10-minute token: %+v, want Max-Age of about 600", c)
	}
	// A forged cookie is no session.
	req, _ = http.NewRequest("GET", e.srv.URL+"/privacy", nil)
	req.AddCookie(&http.Cookie{Name: "activityd-session", Value: "eyJ1IjoiYWxpY2UifQ.AAAA"})
	res, _ = noRedirect.Do(req)
	if res.StatusCode != http.StatusSeeOther {
		t.Errorf("a forged cookie: %d, want a redirect to sign in", res.StatusCode)
	}
}

// TestPage_Timeline: a person sees their activities of every app, escaped; never another's.
func TestPage_Timeline(t *testing.T) {
	e := newEnv(t)
	e.put("alice", "notes", "n1", "Shopping <script>alert(1)</script>", "milk and bread")
	e.put("alice", "music", "m1", "Reef knot tutorial", "a square knot")
	e.put("bob", "notes", "b1", "Bob's secret", "square")
	alice := e.signIn("alice")
	_, body := alice.get("/")
	for _, want := range []string{"Reef knot tutorial", "Shopping &lt;script&gt;alert(1)&lt;/script&gt;", `href="https://music.example.com/m1"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the timeline lacks %q", want)
		}
	}
	if strings.Contains(body, "<script>alert") || strings.Contains(body, "Bob") {
		t.Errorf("the timeline holds a script or Bob's activity:\n%s", body)
	}
	_, body = alice.get("/?q=square")
	if !strings.Contains(body, "Reef knot tutorial") || strings.Contains(body, "Shopping") || strings.Contains(body, "Bob") {
		t.Errorf("search for a word of a description:\n%s", body)
	}
	_, body = alice.get("/?q=" + url.QueryEscape(`") OR 1=1 --`))
	if !strings.Contains(body, "Nothing matches") {
		t.Errorf("a hostile search is not a friendly empty result:\n%s", body)
	}
	_, body = alice.get("/?app=music")
	if !strings.Contains(body, "Reef knot") || strings.Contains(body, "Shopping") {
		t.Errorf("the app filter:\n%s", body)
	}
	res, body := alice.get("/?from=yesterday")
	if res.StatusCode != 200 || !strings.Contains(body, "is not a date") {
		t.Errorf("a bad date: %d, want the page saying so", res.StatusCode)
	}
	res, body = alice.get("/privacy/export")
	if res.StatusCode != 200 || strings.Count(body, "\n") != 2 || !strings.Contains(body, `"@activityd.appId":"music"`) || strings.Contains(body, "Bob") {
		t.Errorf("export: %d\n%s", res.StatusCode, body)
	}
}

// TestPage_Forget: forms need the session's CSRF token and a same-origin request, ask to confirm,
// then forget, and the live stream of another session says so.
func TestPage_Forget(t *testing.T) {
	e := newEnv(t)
	e.put("alice", "notes", "n1", "Note", "")
	e.put("alice", "music", "m1", "Song", "")
	e.put("bob", "notes", "b1", "Bob's", "")
	alice := e.signIn("alice")
	form := url.Values{"what": {"last"}, "minutes": {"60"}}
	if res, _ := alice.post("/privacy/forget", form); res.StatusCode != http.StatusForbidden {
		t.Errorf("a form without the CSRF token: %d, want 403", res.StatusCode)
	}
	form.Set("csrf", alice.csrf())
	if res, _ := alice.post("/privacy/forget", form, "Sec-Fetch-Site", "cross-site"); res.StatusCode != http.StatusForbidden {
		t.Errorf("a cross-site form: %d, want 403", res.StatusCode)
	}
	bob := e.signIn("bob")
	form2 := url.Values{"what": {"last"}, "minutes": {"60"}, "csrf": {bob.csrf()}, "confirmed": {"yes"}}
	if res, _ := alice.post("/privacy/forget", form2); res.StatusCode != http.StatusForbidden {
		t.Errorf("Alice posting Bob's CSRF token: %d, want 403", res.StatusCode)
	}

	// Another session of Alice's follows her timeline live.
	_, page := alice.get("/")
	_, rest, _ := strings.Cut(page, `data-position="`)
	pos, _, _ := strings.Cut(rest, `"`)
	stream, err := alice.client.Get(e.srv.URL + "/timeline/events?after=" + url.QueryEscape(pos))
	if err != nil || stream.StatusCode != 200 {
		t.Fatalf("live stream: %v %v", err, stream)
	}
	defer stream.Body.Close()

	res, body := alice.post("/privacy/forget", form)
	if res.StatusCode != 200 || !strings.Contains(body, "Forget everything of the last 1 h?") {
		t.Fatalf("the first post asks to confirm: %d\n%s", res.StatusCode, body)
	}
	form.Set("confirmed", "yes")
	res, body = alice.post("/privacy/forget", form)
	if res.StatusCode != 200 || !strings.Contains(body, "Forgot 2 activities.") {
		t.Fatalf("confirmed: %d\n%s", res.StatusCode, body)
	}
	_, body = alice.get("/")
	if strings.Contains(body, "Note") || strings.Contains(body, "Song") {
		t.Errorf("forgotten activities still shown")
	}
	_, body = bob.get("/")
	if !strings.Contains(body, "Bob&#39;s") {
		t.Errorf("Bob lost his activity to Alice's forget")
	}
	deleted := 0
	sc := bufio.NewScanner(stream.Body)
	done := time.AfterFunc(5*time.Second, func() { stream.Body.Close() })
	defer done.Stop()
	for deleted < 2 && sc.Scan() {
		if strings.HasPrefix(sc.Text(), "data: ") && strings.Contains(sc.Text(), `"kind":"deleted"`) {
			deleted++
		}
	}
	if deleted != 2 {
		t.Errorf("the live stream told of %d deletions, want 2", deleted)
	}
}

// TestPage_Block: blocking an app forgets its past and refuses its writes through Graph (403).
func TestPage_Block(t *testing.T) {
	e := newEnv(t)
	e.put("alice", "music", "m1", "Song", "")
	e.put("alice", "notes", "n1", "Note", "")
	alice := e.signIn("alice")
	res, body := alice.post("/privacy/settings", url.Values{"action": {"block-app"}, "app": {"music"}, "csrf": {alice.csrf()}, "confirmed": {"yes"}})
	if res.StatusCode != 200 || !strings.Contains(body, "Forgot 1 activity.") {
		t.Fatalf("block: %d\n%s", res.StatusCode, body)
	}
	req, _ := http.NewRequest("PUT", e.srv.URL+"/v1.0/me/activities/m2", strings.NewReader(`{"appActivityId":"m2","activitySourceHost":"https://music.example.com","activationUrl":"https://music.example.com/m2","visualElements":{"displayText":"x"}}`))
	req.Header.Set("Authorization", "Bearer "+e.token("alice", "music"))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden || !strings.Contains(string(b), "accessDenied") || !strings.Contains(string(b), "blocked") {
		t.Errorf("a blocked app's write: %d %s, want 403 accessDenied", res.StatusCode, b)
	}
	_, body = alice.get("/")
	if strings.Contains(body, "Song") || !strings.Contains(body, "Note") {
		t.Errorf("after blocking music:\n%s", body)
	}
}

// TestPage_Live: a write through the API reaches the page's live stream as the card the page would
// draw, sessions included; another person's write does not.
func TestPage_Live(t *testing.T) {
	e := newEnv(t)
	alice := e.signIn("alice")
	_, page := alice.get("/")
	_, rest, _ := strings.Cut(page, `data-position="`)
	pos, _, _ := strings.Cut(rest, `"`)
	stream, err := alice.client.Get(e.srv.URL + "/timeline/events?after=" + url.QueryEscape(pos) + "&tz=Asia/Tokyo")
	if err != nil || stream.StatusCode != 200 {
		t.Fatalf("live stream: %v %v", err, stream)
	}
	defer stream.Body.Close()
	e.put("bob", "notes", "b1", "Bob's", "")
	req, _ := http.NewRequest("PUT", e.srv.URL+"/v1.0/me/activities/s1", strings.NewReader(`{"appActivityId":"s1",
		"activitySourceHost":"https://notes.example.com","activationUrl":"https://notes.example.com/s1",
		"visualElements":{"displayText":"With a session"},
		"historyItems":[{"startedDateTime":"2026-11-30T23:30:00Z","lastActiveDateTime":"2026-11-30T23:50:00Z"}]}`))
	req.Header.Set("Authorization", "Bearer "+e.token("alice", "notes"))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != http.StatusCreated {
		t.Fatalf("PUT: %v %v", err, res)
	}
	res.Body.Close()
	sc := bufio.NewScanner(stream.Body)
	sc.Buffer(nil, 1<<20)
	timer := time.AfterFunc(5*time.Second, func() { stream.Body.Close() })
	defer timer.Stop()
	for sc.Scan() {
		line := sc.Text()
		if strings.Contains(line, "Bob") {
			t.Fatalf("Alice's stream told of Bob's activity: %s", line)
		}
		if strings.HasPrefix(line, "data: ") && strings.Contains(line, "With a session") {
			if !strings.Contains(line, "1 session, active 20 min") || !strings.Contains(line, "01 Dec 08:30") && !strings.Contains(line, "1 Dec 08:30") {
				t.Errorf("the live card lacks its session in Tokyo time: %s", line)
			}
			return
		}
	}
	t.Fatal("no event for the new activity within 5 s")
}

// TestPrivacyAPI: the privacy calls with a bearer token that grants UserActivity.ReadWrite.All;
// an app's ordinary token cannot make them.
func TestPrivacyAPI(t *testing.T) {
	e := newEnv(t)
	e.put("alice", "notes", "n1", "Note", "")
	e.put("alice", "music", "m1", "Song", "")
	e.put("bob", "notes", "b1", "Bob's", "")
	all, err := e.issuer.Mint("alice", "privacy-script", time.Hour, auth.ScopeAll)
	if err != nil {
		t.Fatal(err)
	}
	call := func(method, path, token string, form url.Values) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, e.srv.URL+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		return res.StatusCode, string(b)
	}
	if status, body := call("POST", "/privacy/forget", e.token("alice", "notes"), url.Values{"what": {"all"}, "typed": {"delete everything"}, "confirmed": {"yes"}}); status != http.StatusForbidden || !strings.Contains(body, "UserActivity.ReadWrite.All") {
		t.Errorf("an app's token: %d %s, want 403 naming the scope", status, body)
	}
	if status, body := call("POST", "/privacy/forget", "garbage", url.Values{"what": {"last"}, "minutes": {"60"}}); status != http.StatusUnauthorized {
		t.Errorf("a bad token: %d %s, want 401", status, body)
	}
	if status, body := call("POST", "/privacy/forget", all, url.Values{"what": {"app"}, "app": {"music"}}); status != http.StatusBadRequest || !strings.Contains(body, "confirmed=yes") {
		t.Errorf("unconfirmed: %d %s, want 400 asking for confirmed=yes", status, body)
	}
	if status, body := call("POST", "/privacy/forget", all, url.Values{"what": {"app"}, "app": {"music"}, "confirmed": {"yes"}}); status != 200 || !strings.Contains(body, `"activities":1`) {
		t.Errorf("forget an app: %d %s", status, body)
	}
	if status, body := call("POST", "/privacy/settings", all, url.Values{"action": {"pause"}, "minutes": {"60"}}); status != 200 {
		t.Errorf("pause: %d %s", status, body)
	}
	if status, body := call("GET", "/privacy/settings", all, nil); status != 200 || !strings.Contains(body, `"pausedUntil":"20`) {
		t.Errorf("settings: %d %s", status, body)
	}
	if status, body := call("GET", "/privacy/export", all, nil); status != 200 || strings.Count(body, "\n") != 1 || !strings.Contains(body, "Note") || strings.Contains(body, "Bob") {
		t.Errorf("export: %d %s", status, body)
	}
}

// TestPage_Review: what the review of the page found, fixed: a link cannot put words in the page,
// unblocking what is not blocked says so, zones browsers do not know are not kept, Windows handlers
// that malware opens are not clickable, a backwards range is named, and a stream behind the change
// log's horizon tells the page to reload.
func TestPage_Review(t *testing.T) {
	e := newEnv(t)
	alice := e.signIn("alice")
	if _, body := alice.get("/privacy?done=" + url.QueryEscape("Your session is compromised")); strings.Contains(body, "compromised") {
		t.Errorf("a link put its words in the privacy page")
	}
	if res, body := alice.post("/privacy/settings", url.Values{"action": {"unblock-site"}, "site": {"BLOCKED.example"}, "csrf": {alice.csrf()}}); res.StatusCode != http.StatusNotFound || !strings.Contains(body, "is not blocked") {
		t.Errorf("unblocking a site that is not blocked: %d", res.StatusCode)
	}
	for _, zone := range []string{"Local", "Factory", "posix/Europe/Berlin", "right/UTC", "../../etc/passwd"} {
		if _, body := alice.get("/?tz=" + url.QueryEscape(zone)); !strings.Contains(body, `data-zone="UTC"`) {
			t.Errorf("?tz=%s is kept", zone)
		}
	}
	req, _ := http.NewRequest("PUT", e.srv.URL+"/v1.0/me/activities/follina", strings.NewReader(`{"appActivityId":"follina",
		"activitySourceHost":"https://x.example","activationUrl":"ms-msdt:/id%20PCWDiagnostic","fallbackUrl":"search-ms:query=a",
		"contentUrl":"https://safe.example/page","visualElements":{"displayText":"Follina"}}`))
	req.Header.Set("Authorization", "Bearer "+e.token("alice", "notes"))
	req.Header.Set("Content-Type", "application/json")
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != http.StatusCreated {
		t.Fatalf("PUT: %v %v", err, res)
	}
	if _, body := alice.get("/"); strings.Contains(body, "ms-msdt:") || strings.Contains(body, "search-ms:") || !strings.Contains(body, `href="https://safe.example/page"`) {
		t.Errorf("the Resume link of an activity whose activationUrl is ms-msdt: is not its https contentUrl")
	}
	if _, body := alice.get("/?from=2026-12-02&to=2026-12-01"); !strings.Contains(body, "ends before it starts") {
		t.Errorf("a backwards range is not named")
	}
	// A position from before the horizon: the change log is trimmed past it.
	_, page := alice.get("/")
	_, rest, _ := strings.Cut(page, `data-position="`)
	pos, _, _ := strings.Cut(rest, `"`)
	e.put("alice", "notes", "later", "Later", "")
	e.put("alice", "notes", "latest", "Latest", "")
	// The trim keeps the newest change: the one after pos is gone.
	if _, err := e.service.Store.TrimChanges(t.Context(), time.Now().Add(time.Hour), 1000); err != nil {
		t.Fatal(err)
	}
	alice.client.Timeout = 5 * time.Second
	_, body := alice.get("/timeline/events?after=" + url.QueryEscape(pos))
	if !strings.Contains(body, "event: reload") {
		t.Errorf("a stream behind the horizon: %q, want a reload event", body)
	}
}

// TestPage_LongSearch: a search longer than the box allows is cut where the page shows it.
func TestPage_LongSearch(t *testing.T) {
	e := newEnv(t)
	alice := e.signIn("alice")
	_, body := alice.get("/?q=" + strings.Repeat("lighthouse ", 500))
	if strings.Contains(body, strings.Repeat("lighthouse ", 30)) {
		t.Errorf("a 5 KB search is shown whole")
	}
}
