package browser

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// The tests of the timeline page (package web): the real activityd over TLS, headless Chromium
// signing in through the page's own form, and activities written through the Graph API as apps write
// them. Each test has its own server, data directory and browser, and each browser tab that signs in
// has its own browser context (its own cookies). Chromium's time zone and locale are set per tab, so
// the page's dates are the same on any machine.

// browserZone is the time zone of the tabs unless a test says otherwise: not UTC, so that the page's
// script must set the tz cookie and reload, as it does for a person on first load.
const browserZone = "Europe/Berlin"

// timelineEnv is one activityd and one Chromium for a test.
type timelineEnv struct {
	a       *activityd
	base    string          // https://127.0.0.1:port, the page's origin and the API's
	browser context.Context // the browser; tabs are made from it
}

// startTimeline starts activityd and Chromium, which trusts exactly activityd's certificate.
func startTimeline(t *testing.T) *timelineEnv {
	t.Helper()
	requireChromium(t)
	a := startActivityd(t, "--throttle=false")
	e := &timelineEnv{a: a, base: "https://127.0.0.1:" + port(a.addr)}
	e.browser, _ = newBrowser(t, a.leafSPKI(t, "127.0.0.1"))
	return e
}

// requireChromium fails the test when Chromium is missing, unless ACTIVITYD_SKIP_BROWSER=1 (as
// requireBrowser does; the timeline tests do not need the npm bundle).
func requireChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromium); err == nil {
		return
	}
	msg := "missing " + chromium + " (apt-get install chromium)"
	if os.Getenv("ACTIVITYD_SKIP_BROWSER") == "1" {
		t.Skip(msg + "; skipped as ACTIVITYD_SKIP_BROWSER=1 asks")
	}
	t.Fatal(msg + "; set ACTIVITYD_SKIP_BROWSER=1 to skip this test")
}

// tab is one browser tab in a browser context of its own, with what it saw: JavaScript dialogs
// (dismissed at once) and console messages.
type tab struct {
	t    *testing.T
	e    *timelineEnv
	name string
	ctx  context.Context

	dialogs atomic.Int32
	mu      sync.Mutex
	console []string
}

// earlyScript runs in every document before the page's own scripts (DevTools injects it, so the
// page's CSP does not apply): it keeps the page's EventSource so the test can wait for the live stream
// to be open, which the page does not expose.
const earlyScript = `(() => {
  const ES = window.EventSource;
  if (!ES) return;
  window.__streams = [];
  const Wrapped = function (url, init) { const s = new ES(url, init); window.__streams.push(s); return s; };
  Wrapped.prototype = ES.prototype;
  window.EventSource = Wrapped;
})();`

// newTab opens a tab in a new browser context, in the time zone given and the en-US locale.
func (e *timelineEnv) newTab(t *testing.T, name, zone string) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(e.browser, chromedp.WithNewBrowserContext())
	tb := &tab{t: t, e: e, name: name, ctx: ctx}
	dialogs := chromedp.Events(ctx, cdppage.JavascriptDialogOpening)
	console := chromedp.Console(ctx)
	if err := chromedp.Do(ctx); err != nil { // opens the tab, for as long as ctx lives
		cancel()
		t.Fatalf("tab %s: %v", name, err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	wg.Go(func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			tb.dialogs.Add(1)
			t.Errorf("tab %s: a JavaScript %s dialog opened: %q", name, ev.Type, ev.Message)
			go chromedp.Call(ctx, cdppage.HandleJavaScriptDialog, cdppage.HandleJavaScriptDialogParams{Accept: false})
		}
	})
	wg.Go(func() {
		for m, err := range console {
			if err != nil {
				return
			}
			tb.mu.Lock()
			tb.console = append(tb.console, m.String())
			tb.mu.Unlock()
		}
	})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("tab %s's console:\n%s", name, strings.Join(tb.messages(), "\n"))
		}
	})
	cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
	defer ccancel()
	if _, err := chromedp.Call(cctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: zone}); err != nil {
		t.Fatalf("tab %s: time zone %s: %v", name, zone, err)
	}
	if _, err := chromedp.Call(cctx, emulation.SetLocaleOverride, emulation.SetLocaleOverrideParams{Locale: "en_US"}); err != nil {
		t.Fatalf("tab %s: locale: %v", name, err)
	}
	if _, err := chromedp.Call(cctx, cdppage.AddScriptToEvaluateOnNewDocument, cdppage.AddScriptToEvaluateOnNewDocumentParams{Source: earlyScript}); err != nil {
		t.Fatalf("tab %s: %v", name, err)
	}
	return tb
}

func (tb *tab) messages() []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return slices.Clone(tb.console)
}

// do runs steps in the tab within 20 seconds, failing the test on an error.
func (tb *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		tb.t.Fatalf("tab %s: %s: %v", tb.name, what, err)
	}
}

// eval evaluates a JavaScript expression in the tab and decodes its value into T.
func eval[T any](tb *tab, expr string) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		tb.t.Fatalf("tab %s: evaluate %s: %v", tb.name, firstLine(expr), err)
	}
	return v
}

// waitFor evaluates a boolean expression every 25 ms until it is true, for at most d; it survives
// navigations and reloads (an evaluation that fails counts as false). It returns how long it waited.
func (tb *tab) waitFor(what, expr string, d time.Duration) (time.Duration, error) {
	start := time.Now()
	deadline := start.Add(d)
	var last error
	for {
		ctx, cancel := context.WithTimeout(tb.ctx, time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+expr+")"))
		cancel()
		if err == nil && ok {
			return time.Since(start), nil
		}
		if err != nil {
			last = err
		}
		if time.Now().After(deadline) {
			if last != nil {
				return time.Since(start), fmt.Errorf("%s: not within %v (last error: %v)", what, d, last)
			}
			return time.Since(start), fmt.Errorf("%s: not within %v", what, d)
		}
		if tb.ctx.Err() != nil {
			return time.Since(start), tb.ctx.Err()
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// mustWait is waitFor that fails the test.
func (tb *tab) mustWait(what, expr string, d time.Duration) time.Duration {
	tb.t.Helper()
	took, err := tb.waitFor(what, expr, d)
	if err != nil {
		tb.t.Fatalf("tab %s: %v (at %s)", tb.name, err, tb.location())
	}
	return took
}

func (tb *tab) location() string {
	ctx, cancel := context.WithTimeout(tb.ctx, 2*time.Second)
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return "?"
	}
	return loc
}

// settled is true on a whole timeline page in the tab's zone: the page's script has set the tz cookie
// (reloading when the server drew another zone) and the document is loaded.
func settled(zone string) string {
	return fmt.Sprintf(`document.readyState === "complete" && document.getElementById("main")?.dataset.zone === %q && document.cookie.includes("tz=")`, zone)
}

// The sign-in page's token form: folded away under the account form ("Sign in with a token"), which
// a person opens by its summary.
const (
	tokenSummary = `details > summary`
	tokenButton  = `details form[action="/signin"] button[type=submit]`
)

// signIn signs the tab in through the page's form with a token of user, and waits for the timeline.
func (tb *tab) signIn(token, zone string) {
	tb.t.Helper()
	tb.do("sign in",
		chromedp.Navigate(tb.e.base+"/signin"),
		chromedp.Click(chromedp.CSS(tokenSummary)),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SetValue(chromedp.ID("token"), token),
		chromedp.Click(chromedp.CSS(tokenButton)),
	)
	tb.mustWait("the timeline after signing in", `location.pathname === "/" && `+settled(zone), 15*time.Second)
}

// open navigates to a path of the page and waits until it is loaded in zone.
func (tb *tab) open(path, zone string) {
	tb.t.Helper()
	tb.do("open "+path, chromedp.Navigate(tb.e.base+path))
	tb.mustWait("open "+path, settled(zone), 15*time.Second)
}

// waitLive waits until the page's live stream is open.
func (tb *tab) waitLive() {
	tb.t.Helper()
	tb.mustWait("the live stream open", `window.__streams && window.__streams.length > 0 && window.__streams[0].readyState === 1`, 10*time.Second)
}

// timelinePage is what a screen of the timeline shows, read from the DOM.
type timelinePage struct {
	Path     string     `json:"path"`
	Title    string     `json:"title"`
	Zone     string     `json:"zone"`
	First    string     `json:"first"`
	Empty    bool       `json:"empty"`
	Problems []string   `json:"problems"`
	Results  string     `json:"results"`
	Days     []shownDay `json:"days"`
}

type shownDay struct {
	Day         string      `json:"day"`
	Heading     string      `json:"heading"`
	HeadingText string      `json:"headingText"`
	Cards       []shownCard `json:"cards"`
}

type shownCard struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description"`
	App         string `json:"app"`
	Resume      string `json:"resume"`
	Target      string `json:"target"`
	When        string `json:"when"`
	Clock       string `json:"clock"`
}

const readTimeline = `(() => {
  const main = document.getElementById("main");
  const text = (el) => el ? el.textContent : "";
  return {
    path: location.pathname + location.search,
    title: document.title,
    zone: main ? main.dataset.zone || "" : "",
    first: main ? main.dataset.first || "" : "",
    empty: !!document.querySelector(".empty"),
    problems: [...document.querySelectorAll(".problem")].map((p) => p.textContent.trim()),
    results: text(document.querySelector("h1.results")),
    days: [...document.querySelectorAll("section.day")].map((s) => ({
      day: s.dataset.day || "",
      heading: s.querySelector("h2 time")?.getAttribute("datetime") || "",
      headingText: text(s.querySelector("h2 time")).trim(),
      cards: [...s.querySelectorAll("li.card")].map((c) => ({
        id: c.id,
        title: text(c.querySelector("h3")),
        description: text(c.querySelector(".description")),
        app: text(c.querySelector("a.app")),
        resume: c.querySelector("a.resume")?.getAttribute("href") || "",
        target: text(c.querySelector(".target")),
        when: c.querySelector("time.when")?.getAttribute("datetime") || "",
        clock: text(c.querySelector("time.when")).trim(),
      })),
    })),
  };
})()`

func (tb *tab) timeline() timelinePage {
	tb.t.Helper()
	return eval[timelinePage](tb, readTimeline)
}

// cards returns every card of the page by its element id (a-<public id>).
func (p timelinePage) cards() map[string]shownCard {
	m := map[string]shownCard{}
	for _, d := range p.Days {
		for _, c := range d.Cards {
			m[c.ID] = c
		}
	}
	return m
}

func (p timelinePage) cardIDs() []string {
	var ids []string
	for _, d := range p.Days {
		for _, c := range d.Cards {
			ids = append(ids, c.ID)
		}
	}
	return ids
}

// checkDays checks that the page groups its cards by day in zone as Go's time zone database does:
// each card's time (its datetime attribute, with its UTC offset) falls on the day of its section,
// with the offset the zone has at that instant; days are newest first and each appears once; day
// headings and card clocks read as the page's script writes them in en-US.
func checkDays(t *testing.T, p timelinePage, zone string) {
	t.Helper()
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatal(err)
	}
	if p.Zone != zone {
		t.Errorf("the page shows times in %q, want %q", p.Zone, zone)
	}
	seen := map[string]bool{}
	for i, d := range p.Days {
		if seen[d.Day] {
			t.Errorf("the day %s has two sections", d.Day)
		}
		seen[d.Day] = true
		if i > 0 && d.Day >= p.Days[i-1].Day {
			t.Errorf("the day %s comes after %s: days are not newest first", d.Day, p.Days[i-1].Day)
		}
		if d.Heading != d.Day {
			t.Errorf("section %s has a heading dated %q", d.Day, d.Heading)
		}
		if date, err := time.Parse(time.DateOnly, d.Day); err != nil {
			t.Errorf("section data-day %q: %v", d.Day, err)
		} else if want := date.Format("Monday, January 2, 2006"); spaces(d.HeadingText) != want {
			t.Errorf("section %s is headed %q, want %q", d.Day, d.HeadingText, want)
		}
		for _, c := range d.Cards {
			when, err := time.Parse(time.RFC3339, c.When)
			if err != nil {
				t.Errorf("card %s: datetime %q: %v", c.ID, c.When, err)
				continue
			}
			local := when.In(loc)
			if got := local.Format(time.DateOnly); got != d.Day {
				t.Errorf("card %s (%s) is under %s, but in %s it is on %s", c.ID, c.When, d.Day, zone, got)
			}
			if want := local.Format(time.RFC3339); c.When != want {
				t.Errorf("card %s: datetime %q, want %q (the offset of %s then)", c.ID, c.When, want, zone)
			}
			if want := local.Format("3:04 PM"); spaces(c.Clock) != want {
				t.Errorf("card %s shows the time %q, want %q in %s", c.ID, c.Clock, want, zone)
			}
		}
	}
}

// spaces turns the no-break spaces of ICU's formats into plain ones.
func spaces(s string) string {
	return strings.NewReplacer("\u202f", " ", "\u00a0", " ").Replace(strings.TrimSpace(s))
}

// pastEdge is a JavaScript function of a width that names the elements (tag.class, left and right
// edges in px) reaching past it or past the left edge, at most 12, for a failure message.
const pastEdge = `(w) => [...document.querySelectorAll("body *")].filter((el) => {
    const r = el.getBoundingClientRect();
    return r.width > 0 && (r.right > w + 0.5 || r.left < -0.5) && !el.closest(".visually-hidden, .skip");
  }).map((el) => {
    const r = el.getBoundingClientRect();
    return el.tagName.toLowerCase() + (el.className ? "." + String(el.className).trim().split(/\s+/).join(".") : "") + " [" + Math.round(r.left) + ", " + Math.round(r.right) + "]";
  }).slice(0, 12)`

// look is how a page looks in a tab: its colour scheme, colours and width.
type look struct {
	Dark        bool     `json:"dark"`
	Background  string   `json:"background"`
	Color       string   `json:"color"`
	ScrollWidth float64  `json:"scrollWidth"`
	ClientWidth float64  `json:"clientWidth"`
	Wide        []string `json:"wide"`
}

// checkLook checks that the tab's page is in scheme (light or dark), with the page's background of
// that scheme, and no wider than the screen; name names the page in failures.
func (tb *tab) checkLook(name, scheme string) look {
	t := tb.t
	t.Helper()
	l := eval[look](tb, `(() => {
  const w = document.documentElement.clientWidth;
  const wide = (`+pastEdge+`)(w);
  return {
    dark: matchMedia("(prefers-color-scheme: dark)").matches,
    background: getComputedStyle(document.body).backgroundColor,
    color: getComputedStyle(document.body).color,
    scrollWidth: document.documentElement.scrollWidth,
    clientWidth: w,
    wide,
  };
})()`)
	if l.Dark != (scheme == "dark") {
		t.Errorf("%s: prefers-color-scheme dark is %v", name, l.Dark)
	}
	wantBG := map[string]string{"light": "rgb(246, 247, 249)", "dark": "rgb(17, 20, 24)"}[scheme]
	if l.Background != wantBG {
		t.Errorf("%s: the page's background is %s, want %s", name, l.Background, wantBG)
	}
	if l.ScrollWidth > l.ClientWidth || len(l.Wide) > 0 {
		t.Errorf("%s: wider than the screen: scroll width %.0f > %.0f; elements past the edge: %v", name, l.ScrollWidth, l.ClientWidth, l.Wide)
	}
	return l
}

// activityBody is a userActivity as an app writes it, active in the last five minutes.
func activityBody(key, host, app, title, description string) map[string]any {
	now := time.Now().UTC()
	return map[string]any{
		"appActivityId":      key,
		"activitySourceHost": "https://" + host,
		"activationUrl":      "https://" + host + "/" + key,
		"appDisplayName":     app,
		"visualElements":     map[string]any{"displayText": title, "description": description},
		"historyItems": []any{map[string]any{
			"startedDateTime":    now.Add(-5 * time.Minute).Format(time.RFC3339),
			"lastActiveDateTime": now.Format(time.RFC3339),
		}},
	}
}

// apiDo sends a Graph API request with the token, outside the browser; it returns the status and body.
func (e *timelineEnv) apiDo(t *testing.T, method, path, token string, body any) (int, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, e.base+path, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := e.a.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return res.StatusCode, b
}

// put writes an activity through the Graph API and returns its public id, which the page uses too.
func (e *timelineEnv) put(t *testing.T, token string, body map[string]any) string {
	t.Helper()
	key := body["appActivityId"].(string)
	status, b := e.apiDo(t, http.MethodPut, "/v1.0/me/activities/"+url.PathEscape(key), token, body)
	if status != http.StatusOK && status != http.StatusCreated {
		t.Fatalf("PUT activity %q: %d %s", key, status, b)
	}
	var got struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(b, &got); err != nil || got.ID == "" {
		t.Fatalf("PUT activity %q: no id in %s (%v)", key, b, err)
	}
	return got.ID
}

// del deletes an activity through the Graph API.
func (e *timelineEnv) del(t *testing.T, token, id string) {
	t.Helper()
	if status, b := e.apiDo(t, http.MethodDelete, "/v1.0/me/activities/"+url.PathEscape(id), token, nil); status != http.StatusNoContent {
		t.Fatalf("DELETE activity %s: %d %s", id, status, b)
	}
}

// storedIDs lists the ids of the activities the token's app holds for its user, through the API.
func (e *timelineEnv) storedIDs(t *testing.T, token string) []string {
	t.Helper()
	all, _ := stored(t, e.a, e.base, token)
	var ids []string
	for _, l := range all {
		ids = append(ids, l.ID)
	}
	return ids
}

// cardID is the element id of an activity's card.
func cardID(id string) string { return "a-" + id }

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + "…"
	}
	return s
}

// TestTimeline_SignIn_Seeded_Resume signs in through the page's form and checks the person's
// activities of two apps, grouped by day, none of another person's, and where Resume goes.
func TestTimeline_SignIn_Seeded_Resume(t *testing.T) {
	e := startTimeline(t)
	a := e.a
	notes, music, bobNotes := a.token(t, "alice", "notes"), a.token(t, "alice", "music"), a.token(t, "bob", "notes")

	n1 := e.put(t, notes, activityBody("n1", "notes.example.com", "Notes", "Shopping list", "milk, eggs, flour"))
	// javascript: is accepted by the API, never by the page: Resume falls back to fallbackUrl.
	m1body := activityBody("m1", "music.example.com", "Music", "Evening playlist", "twelve songs")
	m1body["activationUrl"] = "javascript:alert(1)"
	m1body["fallbackUrl"] = "https://music.example.com/fallback/m1"
	m1 := e.put(t, music, m1body)
	// An app's own scheme is a link, and the page shows where it goes.
	const word = "ms-word:ofe|u|https://docs.example.com/report.docx"
	m2body := activityBody("m2", "music.example.com", "Music", "Liner notes", "the booklet")
	m2body["activationUrl"] = word
	m2 := e.put(t, music, m2body)
	b1 := e.put(t, bobNotes, activityBody("b1", "notes.example.com", "Notes", "Bob's secret plan", "not for alice"))

	tb := e.newTab(t, "alice", browserZone)

	// Not signed in: the timeline sends to the sign-in form.
	tb.do("open / signed out", chromedp.Navigate(e.base+"/"))
	tb.mustWait("the sign-in form", `location.pathname === "/signin" && document.getElementById("token")`, 10*time.Second)

	// A token that is not one is refused on the form, with a message.
	tb.do("sign in with a bad token",
		chromedp.Click(chromedp.CSS(tokenSummary)),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SetValue(chromedp.ID("token"), "not-a-token"),
		chromedp.Click(chromedp.CSS(tokenButton)),
	)
	tb.mustWait("the refusal", `document.querySelector('.problem[role="alert"]') && document.getElementById("token")`, 10*time.Second)

	tb.signIn(a.personToken(t, "alice"), browserZone)

	// The session cookie is HttpOnly, Secure and a __Host- cookie; the page's script cannot read it.
	ctx, cancel := context.WithTimeout(tb.ctx, 10*time.Second)
	cookies, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{e.base + "/"}})
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	var session *network.Cookie
	for _, c := range cookies.Cookies {
		if strings.Contains(c.Name, "session") {
			session = c
		}
	}
	switch {
	case session == nil:
		t.Error("no session cookie after signing in")
	case session.Name != "__Host-activityd-session" || !session.HTTPOnly || !session.Secure:
		t.Errorf("session cookie %s: HttpOnly %v, Secure %v; want __Host-activityd-session, HttpOnly, Secure", session.Name, session.HTTPOnly, session.Secure)
	}
	if js := eval[string](tb, "document.cookie"); strings.Contains(js, "session") {
		t.Errorf("the page's script can read the session cookie: %q", js)
	}

	p := tb.timeline()
	t.Logf("the timeline: %+v", p)
	if p.First != "true" || p.Empty {
		t.Errorf("the first screen: data-first %q, empty state %v", p.First, p.Empty)
	}
	cards := p.cards()
	for id, title := range map[string]string{n1: "Shopping list", m1: "Evening playlist", m2: "Liner notes"} {
		c, ok := cards[cardID(id)]
		if !ok {
			t.Errorf("the card of %q (#%s) is not on the timeline", title, cardID(id))
			continue
		}
		if strings.TrimSpace(c.Title) != title {
			t.Errorf("card #%s is titled %q, want %q", cardID(id), c.Title, title)
		}
	}
	if len(cards) != 3 {
		t.Errorf("the timeline shows %d cards %v, want alice's 3", len(cards), p.cardIDs())
	}
	if _, ok := cards[cardID(b1)]; ok {
		t.Errorf("alice's timeline shows bob's activity %s", b1)
	}
	if html := eval[string](tb, "document.body.innerHTML"); strings.Contains(html, "secret plan") {
		t.Error("alice's page holds the text of bob's activity")
	}
	if apps := map[string]bool{cards[cardID(n1)].App: true, cards[cardID(m1)].App: true}; !apps["Notes"] || !apps["Music"] {
		t.Errorf("the cards name the apps %v, want Notes and Music", apps)
	}
	checkDays(t, p, browserZone)

	if got, want := cards[cardID(n1)].Resume, "https://notes.example.com/n1"; got != want {
		t.Errorf("Resume of an https activationUrl goes to %q, want %q", got, want)
	}
	if got, want := cards[cardID(m1)].Resume, "https://music.example.com/fallback/m1"; got != want {
		t.Errorf("Resume with a javascript: activationUrl goes to %q, want the fallbackUrl %q", got, want)
	}
	c2 := cards[cardID(m2)]
	if c2.Resume == "" {
		t.Errorf("an app-scheme activationUrl %q has no Resume link", word)
	} else if decoded, err := url.PathUnescape(c2.Resume); err != nil || decoded != word {
		t.Errorf("Resume of an app-scheme activationUrl goes to %q, want %q", c2.Resume, word)
	} else if c2.Resume != word {
		t.Logf("note: the href of an app-scheme link is %q, not the activationUrl %q as written (html/template escapes |)", c2.Resume, word)
	}
	if strings.TrimSpace(c2.Target) != word {
		t.Errorf("the target shown next to an app-scheme Resume is %q, want %q", c2.Target, word)
	}
	if n := eval[int](tb, `[...document.querySelectorAll("a")].filter((a) => /^\s*javascript:/i.test(a.getAttribute("href") || "")).length`); n != 0 {
		t.Errorf("%d links on the page go to javascript: URLs", n)
	}
}

// TestTimeline_Search finds, through the search box, the one activity whose description holds a
// word, and shows the empty state, not an error, for queries made of search syntax.
func TestTimeline_Search(t *testing.T) {
	e := startTimeline(t)
	a := e.a
	notes, music := a.token(t, "alice", "notes"), a.token(t, "alice", "music")
	trip := e.put(t, notes, activityBody("trip", "notes.example.com", "Notes", "Trip plan", "flights to zanzibar in march"))
	e.put(t, notes, activityBody("groceries", "notes.example.com", "Notes", "Groceries", "apples and pears"))
	e.put(t, music, activityBody("road", "music.example.com", "Music", "Road songs", "a playlist for the drive"))

	tb := e.newTab(t, "alice", browserZone)
	tb.signIn(a.personToken(t, "alice"), browserZone)
	if n := len(tb.timeline().cards()); n != 3 {
		t.Fatalf("the timeline shows %d cards before searching, want 3", n)
	}

	tb.do("search for zanzibar", chromedp.SendKeys(chromedp.ID("q"), "zanzibar\n"))
	tb.mustWait("the results", `new URLSearchParams(location.search).get("q") === "zanzibar" && document.readyState === "complete"`, 10*time.Second)
	p := tb.timeline()
	if ids := p.cardIDs(); !slices.Equal(ids, []string{cardID(trip)}) {
		t.Errorf("searching zanzibar lists %v, want only %s", ids, cardID(trip))
	}
	if p.First == "true" {
		t.Error("a search result is marked as the first screen (data-first), which follows live changes")
	}
	if !strings.Contains(p.Results, "zanzibar") {
		t.Errorf("the results heading is %q, want it to name zanzibar", p.Results)
	}
	if v := eval[string](tb, `document.getElementById("q").value`); v != "zanzibar" {
		t.Errorf("the search box holds %q after searching, want zanzibar", v)
	}

	// Search syntax and quotes are words, not commands: nothing found, and no error.
	// The first is typed into the search box; the others, opened by URL, are search syntax of SQLite's
	// FTS5 and PostgreSQL's tsquery, LIKE wildcards and a NUL. Those marked may find the trip (as a
	// prefix or a word) and must only not fail.
	garbage := []string{`") OR 1=1 --`, `'`, `"`, `*`, `NEAR(a b)`, `a AND`, `-`, `:`, `^`, `%`, `_`, `\`, `'; DROP TABLE activities; --`}
	mayFind := []string{`zanz*`, `trip OR 1`, "zanzibar\x00"}
	tb.open("/", browserZone)
	tb.do("search for the garbage", chromedp.SendKeys(chromedp.ID("q"), garbage[0]+"\n"))
	tb.mustWait("the results of the garbage", `new URLSearchParams(location.search).get("q") !== null && document.readyState === "complete"`, 10*time.Second)
	for i, q := range append(garbage, mayFind...) {
		if i > 0 {
			tb.open("/?q="+url.QueryEscape(q), browserZone)
		}
		p := tb.timeline()
		if p.Title == "Problem · activityd" || len(p.Problems) > 0 || !strings.HasPrefix(p.Path, "/?") {
			t.Errorf("search %q: an error page (%q, %v) at %s, want the empty state", q, p.Title, p.Problems, p.Path)
			continue
		}
		if slices.Contains(mayFind, q) {
			continue
		}
		if !p.Empty || len(p.Days) != 0 {
			t.Errorf("search %q: empty state %v, %d days %v; want the empty state and no card", q, p.Empty, len(p.Days), p.cardIDs())
		}
		if !strings.Contains(p.Results, strings.TrimSpace(q)) {
			t.Errorf("search %q: the heading reads %q", q, p.Results)
		}
	}
	if n := tb.dialogs.Load(); n != 0 {
		t.Errorf("%d dialogs opened while searching", n)
	}
}

// TestTimeline_Live shows an activity written through the API on the open page within 2 seconds,
// without a reload, then its update, then its deletion.
func TestTimeline_Live(t *testing.T) {
	e := startTimeline(t)
	a := e.a
	notes := a.token(t, "alice", "notes")

	tb := e.newTab(t, "alice", browserZone)
	tb.signIn(a.personToken(t, "alice"), browserZone)
	if p := tb.timeline(); !p.Empty || len(p.Days) != 0 || p.First != "true" {
		t.Fatalf("a new person's timeline: empty %v, %d days, data-first %q; want the empty first screen", p.Empty, len(p.Days), p.First)
	}
	tb.waitLive()
	eval[chromedp.Void](tb, `window.__marker = "no reload"`)
	noReload := `window.__marker === "no reload"`

	id := e.put(t, notes, activityBody("live", "notes.example.com", "Notes", "Written just now", "through the Graph API"))
	took, err := tb.waitFor("the new card", fmt.Sprintf(`document.getElementById(%q)`, cardID(id)), 2*time.Second)
	if err != nil {
		t.Fatalf("the activity written through the API: %v", err)
	}
	t.Logf("the new card appeared %v after the PUT returned", took.Round(time.Millisecond))
	if !eval[bool](tb, noReload) {
		t.Fatal("the page reloaded to show the new card")
	}
	p := tb.timeline()
	if len(p.Days) != 1 || len(p.Days[0].Cards) != 1 || p.Days[0].Cards[0].ID != cardID(id) {
		t.Errorf("after the live insert the page shows %+v, want one day with the new card", p.Days)
	}
	if p.Empty {
		t.Error("the empty state is still shown beside the new card")
	}
	if c := p.cards()[cardID(id)]; strings.TrimSpace(c.Title) != "Written just now" || c.Resume != "https://notes.example.com/live" {
		t.Errorf("the live card: title %q, Resume %q", c.Title, c.Resume)
	}
	checkDays(t, p, browserZone)

	// An update replaces the card in place.
	body := activityBody("live", "notes.example.com", "Notes", "Renamed just now", "through the Graph API")
	if again := e.put(t, notes, body); again != id {
		t.Fatalf("the update has the id %s, want %s", again, id)
	}
	if _, err := tb.waitFor("the updated card", fmt.Sprintf(`document.getElementById(%q)?.querySelector("h3")?.textContent.trim() === "Renamed just now"`, cardID(id)), 2*time.Second); err != nil {
		t.Errorf("the update through the API: %v", err)
	}
	if n := eval[int](tb, fmt.Sprintf(`document.querySelectorAll("#%s").length`, cardID(id))); n != 1 {
		t.Errorf("after the update the page has %d cards of the activity, want 1", n)
	}

	e.del(t, notes, id)
	took, err = tb.waitFor("the card gone", fmt.Sprintf(`!document.getElementById(%q)`, cardID(id)), 2*time.Second)
	if err != nil {
		t.Fatalf("the activity deleted through the API: %v", err)
	}
	t.Logf("the card went %v after the DELETE returned", took.Round(time.Millisecond))
	if !eval[bool](tb, noReload) {
		t.Error("the page reloaded to remove the card")
	}
	if n := eval[int](tb, `document.querySelectorAll("section.day").length`); n != 0 {
		t.Errorf("the day of the deleted card is still shown, empty (%d sections)", n)
	}
}

// TestTimeline_ForgetLastHour forgets the last hour from the privacy page of one session; the other
// session's open timeline drops the cards live, and the API no longer lists them.
func TestTimeline_ForgetLastHour(t *testing.T) {
	e := startTimeline(t)
	a := e.a
	notes, music, bobNotes := a.token(t, "alice", "notes"), a.token(t, "alice", "music"), a.token(t, "bob", "notes")
	ids := []string{
		e.put(t, notes, activityBody("f1", "notes.example.com", "Notes", "Draft letter", "to the bank")),
		e.put(t, notes, activityBody("f2", "notes.example.com", "Notes", "Recipe", "bread")),
		e.put(t, music, activityBody("f3", "music.example.com", "Music", "Album", "listened twice")),
	}
	bobs := e.put(t, bobNotes, activityBody("keep", "notes.example.com", "Notes", "Bob's note", "bob keeps it"))

	one, other := e.newTab(t, "first", browserZone), e.newTab(t, "second", browserZone)
	one.signIn(a.personToken(t, "alice"), browserZone)
	other.signIn(a.personToken(t, "alice"), browserZone)
	for _, tb := range []*tab{one, other} {
		if got := tb.timeline().cardIDs(); len(got) != len(ids) {
			t.Fatalf("tab %s shows %v before forgetting, want %d cards", tb.name, got, len(ids))
		}
	}
	other.waitLive()
	eval[chromedp.Void](other, `window.__marker = "no reload"`)

	one.do("open /privacy", chromedp.Navigate(e.base+"/privacy"))
	one.mustWait("the privacy page", `document.readyState === "complete" && document.querySelector("main.privacy")`, 10*time.Second)
	one.do("press Last hour", chromedp.Click(chromedp.CSS(`form[action="/privacy/forget"]:has(input[name=minutes][value="60"]) button[type=submit]`)))
	one.mustWait("the confirmation", `location.pathname === "/privacy/forget" && document.querySelector("button.danger")`, 10*time.Second)
	question := eval[string](one, `document.querySelector("h1").textContent`)
	button := eval[string](one, `document.querySelector("button.danger").textContent.trim()`)
	t.Logf("the confirmation asks %q, button %q", question, button)
	if button != "Forget" {
		t.Errorf("the confirmation's button reads %q, want Forget", button)
	}
	one.do("confirm", chromedp.Click(chromedp.CSS("button.danger")))
	one.mustWait("back on the privacy page", `location.pathname === "/privacy" && document.querySelector(".done")`, 10*time.Second)
	if done := eval[string](one, `document.querySelector(".done").textContent.trim()`); done != "Forgot 3 activities." {
		t.Errorf("the privacy page says %q, want %q", done, "Forgot 3 activities.")
	}

	one.open("/", browserZone)
	if p := one.timeline(); len(p.Days) != 0 || !p.Empty {
		t.Errorf("after forgetting, the session that forgot shows %v (empty state %v), want nothing", p.cardIDs(), p.Empty)
	}

	var gone []string
	for _, id := range ids {
		gone = append(gone, fmt.Sprintf(`!document.getElementById(%q)`, cardID(id)))
	}
	took, err := other.waitFor("the other session's cards gone", strings.Join(gone, " && "), 5*time.Second)
	if err != nil {
		t.Errorf("the other session, live: %v; it still shows %v", err, other.timeline().cardIDs())
	} else {
		t.Logf("the other session dropped the cards %v after the forget", took.Round(time.Millisecond))
	}
	if !eval[bool](other, `window.__marker === "no reload"`) {
		t.Error("the other session reloaded to drop the cards")
	}

	for app, token := range map[string]string{"notes": notes, "music": music} {
		if left := e.storedIDs(t, token); len(left) != 0 {
			t.Errorf("the API still lists alice's %s activities %v", app, left)
		}
	}
	if left := e.storedIDs(t, bobNotes); !slices.Equal(left, []string{bobs}) {
		t.Errorf("bob's activities are %v after alice forgot her last hour, want %v", left, []string{bobs})
	}
}

// TestTimeline_XSS draws an activity whose every text is markup, script, links to javascript: and
// to an "attacker" server, right-to-left overrides and very long text: nothing runs, nothing is
// fetched from the attacker, the text reads as text, and the layout holds.
func TestTimeline_XSS(t *testing.T) {
	var requests, conns atomic.Int32
	var seen sync.Map
	attacker := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		seen.Store(r.URL.String(), true)
		io.WriteString(w, "attacker")
	}))
	attacker.Config.ConnState = func(c net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	attacker.Start()
	t.Cleanup(attacker.Close)
	evil := attacker.URL // http://127.0.0.1:port

	e := startTimeline(t)
	a := e.a
	notes := a.token(t, "alice", "notes")

	long := strings.Repeat("W", 64<<10) // one 64 KiB word, no place to break
	title := `<script>alert(1)</script><img src=x onerror=alert(1)>"><svg onload=alert(1)>` + "\u202e" + `txet desrever <img src=` + evil + `/title>`
	description := `<img src=` + evil + `/desc onerror=alert(1)> <a href="javascript:alert(1)">click</a> <iframe src=` + evil + `/frame></iframe> <style>body{display:none}</style> ` + "\u202e"
	appName := `"><svg onload=alert(1)>` + "\u202e" + `<img src=` + evil + `/app>`
	content := map[string]any{
		"type": "AdaptiveCard", "version": "1.5",
		"backgroundImage": evil + "/background.png",
		"body": []any{
			map[string]any{"type": "TextBlock", "text": `<script>alert(1)</script><img src=` + evil + `/textblock onerror=alert(1)>`, "wrap": true},
			map[string]any{"type": "TextBlock", "text": long[:56<<10]},
			map[string]any{"type": "Image", "url": evil + "/card.png", "altText": `"><svg onload=alert(1)>`},
			map[string]any{"type": "Image", "url": "javascript:alert(1)"},
			map[string]any{"type": "Image", "url": "data:image/svg+xml,<svg onload=alert(1)>"},
			map[string]any{"type": "RichTextBlock", "inlines": []any{
				map[string]any{"type": "TextRun", "text": "run <b>bold?</b>", "selectAction": map[string]any{"type": "Action.OpenUrl", "url": "javascript:alert(1)"}},
				map[string]any{"type": "TextRun", "text": "\u202eevil run", "selectAction": map[string]any{"type": "Action.OpenUrl", "url": " JaVaScRiPt:alert(1)"}},
			}},
			map[string]any{"type": "FactSet", "facts": []any{map[string]any{"title": `<script>alert(1)</script>`, "value": "\u202e" + `<img src=` + evil + `/fact>`}}},
			map[string]any{"type": "Input.Text", "id": "x", "fallback": map[string]any{"type": "TextBlock", "text": `fallback <svg onload=alert(1)>`}},
			map[string]any{"type": "Media", "sources": []any{map[string]any{"url": evil + "/media.mp4"}}},
		},
		"actions": []any{
			map[string]any{"type": "Action.OpenUrl", "title": `<img src=x onerror=alert(1)>`, "url": "javascript:alert(1)"},
			map[string]any{"type": "Action.OpenUrl", "title": "open", "url": evil + "/open"},
			map[string]any{"type": "Action.OpenUrl", "title": "vb", "url": "vbscript:msgbox(1)"},
			map[string]any{"type": "Action.Submit", "title": "submit", "data": map[string]any{"x": 1}},
		},
	}
	rawContent, err := json.Marshal(content)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the Adaptive Card is %d bytes", len(rawContent))
	xss := func(key string) map[string]any {
		b := activityBody(key, "notes.example.com", appName, title, description)
		b["activationUrl"] = "javascript:alert(document.domain)"
		b["fallbackUrl"] = " javascript:alert(2)"
		b["contentUrl"] = evil + "/content"
		ve := b["visualElements"].(map[string]any)
		ve["content"] = json.RawMessage(rawContent)
		ve["backgroundColor"] = "red;background:url(" + evil + "/css)"
		ve["attribution"] = map[string]any{"iconUrl": "javascript:alert(1)", "alternateText": `<script>alert(1)</script>`}
		return b
	}

	// A 64 KiB description is refused by the API (400), as any string over 4096 bytes is; the page
	// gets the longest the API keeps.
	big := xss("too-long")
	big["visualElements"].(map[string]any)["description"] = long
	if status, b := e.apiDo(t, http.MethodPut, "/v1.0/me/activities/too-long", notes, big); status != http.StatusBadRequest {
		t.Errorf("PUT with a 64 KiB description: %d %s, want 400", status, firstLine(string(b)))
	}
	first := xss("xss1")
	ve := first["visualElements"].(map[string]any)
	ve["description"] = description + long[:4096-len(description)]
	id1 := e.put(t, notes, first)

	tb := e.newTab(t, "alice", browserZone)
	tb.signIn(a.personToken(t, "alice"), browserZone)
	tb.waitLive()
	// The same activity again, arriving live through the page's stream (a template element's
	// innerHTML) rather than in the page.
	id2 := e.put(t, notes, xss("xss2"))
	tb.mustWait("the live card", fmt.Sprintf(`document.getElementById(%q)`, cardID(id2)), 3*time.Second)

	type cardCheck struct {
		Found        bool     `json:"found"`
		Title        string   `json:"title"`
		Description  string   `json:"description"`
		App          string   `json:"app"`
		Content      string   `json:"content"`
		Dangerous    []string `json:"dangerous"` // elements that run or fetch
		Handlers     []string `json:"handlers"`  // on* attributes
		ScriptLinks  []string `json:"scriptLinks"`
		Images       []string `json:"images"`
		Style        string   `json:"style"`
		Resume       string   `json:"resume"`
		CardRight    float64  `json:"cardRight"`
		CardWidth    float64  `json:"cardWidth"`
		InnerWidth   float64  `json:"innerWidth"`
		ScrollWidth  float64  `json:"scrollWidth"`
		ClientWidth  float64  `json:"clientWidth"`
		TitleHeight  float64  `json:"titleHeight"`
		BodyHidden   bool     `json:"bodyHidden"`
		ContentWidth float64  `json:"contentWidth"`
		Wide         []string `json:"wide"`
	}
	inspect := func(id string) cardCheck {
		t.Helper()
		return eval[cardCheck](tb, fmt.Sprintf(`(() => {
  const c = document.getElementById(%q);
  if (!c) return { found: false };
  c.scrollIntoView();
  const all = [c, ...c.querySelectorAll("*")];
  const r = c.getBoundingClientRect();
  const text = (el) => el ? el.textContent : "";
  return {
    found: true,
    title: text(c.querySelector("h3")),
    description: text(c.querySelector(".description")),
    app: text(c.querySelector("a.app")),
    content: text(c.querySelector(".content")),
    dangerous: [...c.querySelectorAll("script, svg, iframe, object, embed, style, link, meta, base, form:not(.forget), input:not([type=hidden]), video, audio, source")].map((el) => el.outerHTML.slice(0, 120)),
    handlers: all.flatMap((el) => [...el.attributes].filter((at) => /^on/i.test(at.name)).map((at) => el.tagName + " " + at.name)),
    scriptLinks: all.flatMap((el) => ["href", "src", "action", "formaction", "srcset", "background"].map((n) => el.getAttribute(n)).filter((v) => v && !/^(https?:|\/|#|ms-|mailto:)/i.test(v.trim()))),
    images: [...c.querySelectorAll("img")].map((i) => i.className + " " + i.getAttribute("src")),
    style: c.getAttribute("style") || "",
    resume: c.querySelector("a.resume")?.getAttribute("href") || "",
    cardRight: r.right, cardWidth: r.width,
    innerWidth: window.innerWidth,
    scrollWidth: document.documentElement.scrollWidth,
    clientWidth: document.documentElement.clientWidth,
    titleHeight: c.querySelector("h3")?.getBoundingClientRect().height || 0,
    bodyHidden: getComputedStyle(document.body).display === "none",
    contentWidth: c.querySelector(".content")?.getBoundingClientRect().width || 0,
    wide: (`+pastEdge+`)(document.documentElement.clientWidth),
  };
})()`, cardID(id)))
	}
	checkCard := func(id, when string) {
		t.Helper()
		c := inspect(id)
		if !c.Found {
			t.Errorf("%s: the card #%s is not on the page", when, cardID(id))
			return
		}
		for _, want := range []string{"<script>alert(1)</script>", "<img src=x onerror=alert(1)>", `"><svg onload=alert(1)>`, "\u202e"} {
			if !strings.Contains(c.Title, want) {
				t.Errorf("%s: the title reads %q, want the text %q in it", when, firstLine(c.Title), want)
			}
		}
		if !strings.HasPrefix(c.Description, `<img src=`+evil+`/desc onerror=alert(1)> <a href="javascript:alert(1)">`) {
			t.Errorf("%s: the description reads %.120q…, want the markup as text", when, c.Description)
		}
		if !strings.Contains(c.App, `"><svg onload=alert(1)>`) {
			t.Errorf("%s: the app name reads %q, want the markup as text", when, c.App)
		}
		for _, want := range []string{"<script>alert(1)</script><img src=" + evil + "/textblock", "fallback <svg onload=alert(1)>", "run <b>bold?</b>"} {
			if !strings.Contains(c.Content, want) {
				t.Errorf("%s: the Adaptive Card's text lacks %q", when, want)
			}
		}
		if len(c.Dangerous) > 0 {
			t.Errorf("%s: the card holds elements that run or fetch: %q", when, c.Dangerous)
		}
		if len(c.Handlers) > 0 {
			t.Errorf("%s: the card has event handler attributes: %q", when, c.Handlers)
		}
		if len(c.ScriptLinks) > 0 {
			t.Errorf("%s: the card links to other than http(s), the page or an app scheme: %q", when, c.ScriptLinks)
		}
		for _, img := range c.Images {
			if !strings.HasPrefix(img, "ac-image") {
				t.Errorf("%s: an image not from the Adaptive Card's Image: %q", when, img)
			}
		}
		if c.Style != "" {
			t.Errorf("%s: the card has the style %q from a backgroundColor that is not a colour", when, c.Style)
		}
		if c.Resume != evil+"/content" {
			t.Errorf("%s: Resume goes to %q, want the contentUrl %q (activationUrl and fallbackUrl are javascript:)", when, c.Resume, evil+"/content")
		}
		if c.BodyHidden {
			t.Errorf("%s: a <style> in the text hid the page", when)
		}
		if c.CardRight > c.InnerWidth+0.5 || c.CardWidth > c.InnerWidth || c.ScrollWidth > c.ClientWidth {
			t.Errorf("%s: the layout overflows: card right %.0f, width %.0f; viewport %.0f; page scroll width %.0f > %.0f; past the edge: %q",
				when, c.CardRight, c.CardWidth, c.InnerWidth, c.ScrollWidth, c.ClientWidth, c.Wide)
		}
		t.Logf("%s: card #%s %.0f px wide in a %.0f px viewport, title %.0f px high, images %q", when, cardID(id), c.CardWidth, c.InnerWidth, c.TitleHeight, c.Images)
	}
	tb.do("let lazy images load", chromedp.Sleep(300*time.Millisecond))
	checkCard(id1, "in the page")
	checkCard(id2, "arrived live")

	// On a phone too.
	tb.do("360 px wide", chromedp.EmulateViewport(360, 740, chromedp.EmulateMobile))
	tb.open("/", browserZone)
	tb.do("let lazy images load", chromedp.Sleep(300*time.Millisecond))
	checkCard(id1, "at 360 px")
	tb.do("back to the window's size", chromedp.ResetViewport())

	// The confirmation of the card's Forget repeats the title, as text.
	tb.do("press the card's Forget", chromedp.Click(chromedp.CSS("#"+cardID(id1)+" form.forget button")))
	tb.mustWait("the confirmation", `location.pathname === "/privacy/forget" && document.querySelector("button.danger")`, 10*time.Second)
	if q := eval[string](tb, `document.querySelector("h1").textContent`); !strings.Contains(q, "<script>alert(1)</script>") {
		t.Errorf("the confirmation asks %q, want the title's markup as text", q)
	}
	if n := eval[int](tb, `document.querySelectorAll("main script, main svg, main img, main iframe").length`); n != 0 {
		t.Errorf("the confirmation holds %d elements from the title", n)
	}
	tb.do("cancel", chromedp.Click(chromedp.CSS("a.button[href]")))
	tb.mustWait("back on the timeline", `location.pathname === "/" && `+settled(browserZone), 10*time.Second)

	// A search for markup shows it as text.
	tb.open("/?q="+url.QueryEscape(`<script>alert(1)</script><img src=x onerror=alert(1)>`), browserZone)
	if r := tb.timeline().Results; !strings.Contains(r, "<script>alert(1)</script>") {
		t.Errorf("the results heading of a search for markup reads %q", r)
	}
	tb.do("wait for anything late", chromedp.Sleep(300*time.Millisecond))

	if n := tb.dialogs.Load(); n != 0 {
		t.Errorf("%d JavaScript dialogs opened", n)
	}
	if n, c := requests.Load(), conns.Load(); n != 0 || c != 0 {
		var urls []string
		seen.Range(func(k, _ any) bool { urls = append(urls, k.(string)); return true })
		t.Errorf("the attacker's server got %d connections and %d requests: %v", c, n, urls)
	}
	// The control: Chromium does reach the attacker's server when it is asked to.
	tb.do("open the attacker's page", chromedp.Navigate(evil+"/control"))
	if _, ok := seen.Load("/control"); !ok {
		t.Errorf("Chromium could not reach the attacker's server at all (%d requests): the checks above prove nothing", requests.Load())
	}
	for _, m := range tb.messages() {
		if strings.Contains(m, "inline script") || strings.Contains(m, "inline event handler") || strings.Contains(m, "unsafe-eval") {
			t.Errorf("Chromium refused a script the page did not mean to have: %s", m)
		}
	}
}

// TestTimeline_Screenshots saves full-page screenshots of a seeded timeline at 360 and 1440 px,
// light and dark, and of the privacy page at 360 px, and checks that nothing is wider than the
// screen and that dark mode is dark.
func TestTimeline_Screenshots(t *testing.T) {
	e := startTimeline(t)
	a := e.a
	seedVaried(t, e)

	tb := e.newTab(t, "alice", browserZone)
	tb.signIn(a.personToken(t, "alice"), browserZone)
	dir := artifactDir(t)

	shoot := func(name, path string, width int64, scheme string) {
		t.Helper()
		viewport := chromedp.EmulateViewport(width, 800)
		if width < 600 {
			viewport = chromedp.EmulateViewport(width, 800, chromedp.EmulateMobile)
		}
		media := chromedp.Func(func(ctx context.Context, tt *chromedp.Target) error {
			_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
				Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}})
			return err
		})
		tb.do(name, viewport, media)
		if path == "/privacy" {
			tb.do("open "+path, chromedp.Navigate(e.base+path))
			tb.mustWait("the privacy page", `document.readyState === "complete" && document.querySelector("main.privacy")`, 10*time.Second)
		} else {
			tb.open(path, browserZone)
		}
		l := tb.checkLook(name, scheme)
		ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		cancel()
		if err != nil {
			t.Fatalf("%s: screenshot: %v", name, err)
		}
		file := filepath.Join(dir, "timeline-"+name+".png")
		if err := os.WriteFile(file, png, 0o644); err != nil {
			t.Fatal(err)
		}
		// Scrolled, a day's heading sticks below the sticky header, not under it.
		if path == "/" {
			edges := eval[[]float64](tb, `(() => {
  window.scrollTo(0, 400);
  const bar = document.querySelector("header.bar").getBoundingClientRect();
  const h = document.querySelector(".day h2").getBoundingClientRect();
  const out = [bar.bottom, h.top, h.bottom];
  window.scrollTo(0, 0);
  return out;
})()`)
			if len(edges) == 3 && edges[1] < edges[0]-1 {
				t.Errorf("%s: scrolled, the day's heading (%.0f to %.0f px) sticks under the header (its bottom at %.0f px): %.0f px of it hidden",
					name, edges[1], edges[2], edges[0], min(edges[0], edges[2])-edges[1])
			}
		}
		t.Logf("%s: %s (%d bytes; background %s, text %s)", name, file, len(png), l.Background, l.Color)
	}
	for _, width := range []int64{360, 1440} {
		for _, scheme := range []string{"light", "dark"} {
			shoot(fmt.Sprintf("%d-%s", width, scheme), "/", width, scheme)
		}
	}
	shoot("privacy-360-light", "/privacy", 360, "light")
	shoot("privacy-360-dark", "/privacy", 360, "dark")
}

// seedVaried writes activities of three apps as a person might have them: short and long texts,
// brand colours, an Adaptive Card, history, an app scheme.
func seedVaried(t *testing.T, e *timelineEnv) {
	t.Helper()
	a := e.a
	notes, music, docs := a.token(t, "alice", "notes"), a.token(t, "alice", "music"), a.token(t, "alice", "docs")
	b := activityBody("groceries", "notes.example.com", "Notes", "Groceries", "milk, eggs, flour,\nand something for the weekend")
	b["visualElements"].(map[string]any)["backgroundColor"] = "#1a7f37"
	e.put(t, notes, b)
	b = activityBody("essay", "notes.example.com", "Notes", "A rather long title for an essay about the history of the timeline, which wraps on a phone",
		strings.Repeat("A description long enough to wrap several times on a narrow screen. ", 6))
	e.put(t, notes, b)
	b = activityBody("album", "music.example.com", "Music", "Kind of Blue", "Miles Davis · 5 tracks")
	b["visualElements"].(map[string]any)["backgroundColor"] = "#b42318"
	b["visualElements"].(map[string]any)["content"] = map[string]any{
		"type": "AdaptiveCard", "version": "1.5",
		"body": []any{
			map[string]any{"type": "TextBlock", "text": "Now playing", "weight": "bolder", "size": "medium"},
			map[string]any{"type": "FactSet", "facts": []any{
				map[string]any{"title": "Artist", "value": "Miles Davis"},
				map[string]any{"title": "Track", "value": "So What"},
			}},
		},
		"actions": []any{map[string]any{"type": "Action.OpenUrl", "title": "Open in the player", "url": "https://music.example.com/album"}},
	}
	e.put(t, music, b)
	b = activityBody("report", "docs.example.com", "Docs", "Quarterly report", "Edited by you")
	b["activationUrl"] = "ms-word:ofe|u|https://docs.example.com/quarterly-report-with-a-long-file-name.docx"
	b["visualElements"].(map[string]any)["backgroundColor"] = "#0b5cad"
	e.put(t, docs, b)
	// A real app's display name can be long (Graph does not limit it below 4096 bytes).
	b = activityBody("tab", "news.example.com", "Microsoft Edge · Work profile (Contoso Pharmaceuticals)", "Morning news", "Three tabs")
	e.put(t, a.token(t, "alice", "edge"), b)
	b = activityBody("https://docs.example.com/a/very/long/path/that/does/not/break/easily/because/it/has/no/spaces/at/all", "docs.example.com", "Docs",
		"https://docs.example.com/a/very/long/path/that/does/not/break/easily/because/it/has/no/spaces/at/all", "")
	e.put(t, docs, b)
}

// TestTimeline_TimeZones shows the same activities in zones far apart, one of them on summer time
// now whatever the date, and checks each card's day and time against Go's time zone database. It
// cannot cross a daylight-saving change inside one timeline: the API stamps every write with the
// current time, so all the activities are minutes apart.
func TestTimeline_TimeZones(t *testing.T) {
	e := startTimeline(t)
	a := e.a
	notes, music := a.token(t, "alice", "notes"), a.token(t, "alice", "music")
	e.put(t, notes, activityBody("z1", "notes.example.com", "Notes", "First", "one"))
	e.put(t, music, activityBody("z2", "music.example.com", "Music", "Second", "two"))

	// Kiritimati is UTC+14 and Pago Pago UTC-11: their dates always differ. Berlin and Sydney are
	// on summer time in opposite halves of the year; Lord Howe moves by half an hour; Kathmandu is
	// +05:45 all year.
	zones := []string{"Pacific/Kiritimati", "Pacific/Pago_Pago", "Europe/Berlin", "Australia/Sydney", "Australia/Lord_Howe", "America/Santiago", "Asia/Kathmandu", "UTC"}
	now := time.Now()
	dst := 0
	for _, z := range zones {
		loc, err := time.LoadLocation(z)
		if err != nil {
			t.Fatal(err)
		}
		local := now.In(loc)
		if local.IsDST() {
			dst++
		}
		t.Logf("%s now: %s (summer time %v)", z, local.Format("2006-01-02 15:04 -07:00"), local.IsDST())
	}
	if dst == 0 {
		t.Log("none of the zones is on summer time today (the weeks around a change)")
	}

	tb := e.newTab(t, "alice", "Pacific/Pago_Pago")
	tb.signIn(a.personToken(t, "alice"), "Pacific/Pago_Pago")
	p := tb.timeline()
	if len(p.cards()) != 2 {
		t.Fatalf("the timeline shows %v, want 2 cards", p.cardIDs())
	}
	checkDays(t, p, "Pacific/Pago_Pago") // from the tz cookie the page's script set

	days := map[string]string{}
	for _, z := range zones {
		tb.open("/?tz="+url.QueryEscape(z), z)
		p := tb.timeline()
		if len(p.cards()) != 2 {
			t.Errorf("in %s the timeline shows %v, want 2 cards", z, p.cardIDs())
		}
		checkDays(t, p, z)
		if len(p.Days) > 0 {
			days[z] = p.Days[0].Day
		}
	}
	if days["Pacific/Kiritimati"] == days["Pacific/Pago_Pago"] {
		t.Errorf("Kiritimati and Pago Pago show the same day %s", days["Pacific/Kiritimati"])
	}

	// The from and to filters are days of the zone shown.
	for _, z := range []string{"Pacific/Kiritimati", "Pacific/Pago_Pago", "Australia/Lord_Howe", "America/Santiago"} {
		day, err := time.Parse(time.DateOnly, days[z])
		if err != nil {
			t.Errorf("the day shown in %s: %v", z, err)
			continue
		}
		for _, f := range []struct {
			from, to time.Time
			want     int
		}{
			{day, day, 2},
			{day.AddDate(0, 0, -1), day, 2},
			{day.AddDate(0, 0, 1), day.AddDate(0, 0, 1), 0},
			{day.AddDate(0, 0, -1), day.AddDate(0, 0, -1), 0},
		} {
			q := url.Values{"tz": {z}, "from": {f.from.Format(time.DateOnly)}, "to": {f.to.Format(time.DateOnly)}}
			tb.open("/?"+q.Encode(), z)
			p := tb.timeline()
			if n := len(p.cards()); n != f.want || len(p.Problems) > 0 {
				t.Errorf("in %s, from %s to %s: %d cards %v (problems %v), want %d", z, q.Get("from"), q.Get("to"), n, p.cardIDs(), p.Problems, f.want)
			}
			checkDays(t, p, z)
		}
	}

	// A zone the server does not know is UTC, not an error.
	tb.open("/?tz="+url.QueryEscape("Mars/Olympus_Mons"), "UTC")
	checkDays(t, tb.timeline(), "UTC")
}

// TestTimeline_LiveInChosenZone writes an activity while the page shows a zone chosen with ?tz= that
// is not the browser's (its tz cookie): the live card must be drawn in the zone the page shows.
func TestTimeline_LiveInChosenZone(t *testing.T) {
	e := startTimeline(t)
	a := e.a
	notes := a.token(t, "alice", "notes")
	e.put(t, notes, activityBody("before", "notes.example.com", "Notes", "Before", "already there"))

	// The browser is in Pago Pago (UTC-11), the page shows Kiritimati (UTC+14): always another date.
	tb := e.newTab(t, "alice", "Pacific/Pago_Pago")
	tb.signIn(a.personToken(t, "alice"), "Pacific/Pago_Pago")
	const zone = "Pacific/Kiritimati"
	tb.open("/?tz="+zone, zone)
	if p := tb.timeline(); p.First != "true" || len(p.Days) != 1 {
		t.Fatalf("the first screen in %s: data-first %q, %d days", zone, p.First, len(p.Days))
	}
	tb.waitLive()
	id := e.put(t, notes, activityBody("after", "notes.example.com", "Notes", "After", "written live"))
	if _, err := tb.waitFor("the live card", fmt.Sprintf(`document.getElementById(%q)`, cardID(id)), 3*time.Second); err != nil {
		var days []string
		for _, d := range tb.timeline().Days {
			days = append(days, d.Day)
		}
		t.Fatalf("a page showing %s (the browser's zone, its tz cookie, is Pacific/Pago_Pago): the live card never appeared (%v); the page shows the days %v",
			zone, err, days)
	}
	checkDays(t, tb.timeline(), zone)
}

// TestTimeline_Keyboard: the page works from the keyboard. The first Tab reaches the skip link,
// shown; Enter moves to the timeline; Tabs from there reach a card's Resume link with a visible focus
// outline, and Enter on it follows it.
func TestTimeline_Keyboard(t *testing.T) {
	e := startTimeline(t)
	a := e.a
	e.put(t, a.token(t, "alice", "notes"), activityBody("k1", "notes.example.com", "Notes", "Keyboard", "by keys"))
	tb := e.newTab(t, "alice", browserZone)
	tb.signIn(a.personToken(t, "alice"), browserZone)
	tb.do("Tab", chromedp.KeyEvent(kb.Tab))
	if got := eval[string](tb, `document.activeElement.className + "|" + (document.activeElement.getBoundingClientRect().left >= 0)`); got != "skip|true" {
		t.Fatalf("the first Tab focuses %q, want the skip link, on screen", got)
	}
	tb.do("Enter", chromedp.KeyEvent(kb.Enter))
	tb.mustWait("the skip link followed", `location.hash === "#main"`, 5*time.Second)
	for i := 0; i < 40; i++ {
		if eval[bool](tb, `document.activeElement.classList.contains("resume")`) {
			if style := eval[string](tb, `getComputedStyle(document.activeElement).outlineStyle`); style == "none" {
				t.Errorf("the focused Resume link has no outline")
			}
			return
		}
		tb.do("Tab", chromedp.KeyEvent(kb.Tab))
	}
	t.Errorf("40 Tabs from the timeline did not reach a Resume link; focus is on %q", eval[string](tb, `document.activeElement.outerHTML.slice(0, 120)`))
}
