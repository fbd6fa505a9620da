package browser

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"golang.org/x/oauth2"
)

// cli runs an activityd command on the server's data directory.
func (a *activityd) cli(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(a.bin, append(args, "--data", a.data)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("activityd %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// loopbackApp is a native app's redirect target on 127.0.0.1 (RFC 8252 §7.3): it takes the
// authorization response and shows a page saying so.
func loopbackApp(t *testing.T) (*httptest.Server, <-chan url.Values) {
	t.Helper()
	got := make(chan url.Values, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/callback" {
			http.NotFound(w, r)
			return
		}
		select {
		case got <- r.URL.Query():
		default:
			t.Errorf("the app got a second callback: %s", r.URL)
		}
		fmt.Fprint(w, `<!doctype html><title>Reading List</title><p id="done">Signed in. You can close this window.</p>`)
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

// shoot checks the look of the tab's page at 360 px in light and at 1440 px in dark, and saves a
// full-page screenshot of each as NAME-WIDTH-SCHEME.png in the artifacts.
func (tb *tab) shoot(name string) {
	tb.t.Helper()
	for _, v := range []struct {
		width  int64
		scheme string
	}{{360, "light"}, {1440, "dark"}} {
		tb.shootAs(name, v.width, v.scheme)
	}
}

func (tb *tab) shootAs(name string, width int64, scheme string) {
	t := tb.t
	t.Helper()
	viewport := chromedp.EmulateViewport(width, 800)
	if width < 600 {
		viewport = chromedp.EmulateViewport(width, 800, chromedp.EmulateMobile)
	}
	media := chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}})
		return err
	})
	tb.do(name, viewport, media)
	name = fmt.Sprintf("%s-%d-%s", name, width, scheme)
	l := tb.checkLook(name, scheme)
	ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	cancel()
	if err != nil {
		t.Fatalf("%s: screenshot: %v", name, err)
	}
	file := filepath.Join(artifactDir(t), name+".png")
	if err := os.WriteFile(file, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %s (%d bytes; background %s, text %s)", name, file, len(png), l.Background, l.Color)
}

// text returns the text of the elements selector matches, trimmed, in document order.
func (tb *tab) text(selector string) []string {
	tb.t.Helper()
	return eval[[]string](tb, fmt.Sprintf(`[...document.querySelectorAll(%q)].map((el) => el.textContent.replace(/\s+/g, " ").trim())`, selector))
}

// TestSignIn_Browser signs a person in for a native app in Chromium: the app (this test) opens an
// authorization URL with PKCE, the person types a wrong password and sees why, then the right one,
// allows the app on the consent page, and the browser lands on the app's loopback redirect URI with
// a code the app redeems. The person then signs the app out on the devices page, and its refresh
// token stops working.
func TestSignIn_Browser(t *testing.T) {
	e := startTimeline(t)
	a := e.a
	a.cli(t, "", "app", "add", "reading-list", "--name", "Reading List", "--redirect-uri", "http://127.0.0.1/callback")
	a.cli(t, "correct horse battery\n", "user", "add", "erin", "--password-stdin")
	app, callbacks := loopbackApp(t)
	cfg := &oauth2.Config{ClientID: "reading-list", RedirectURL: app.URL + "/callback",
		Scopes: []string{"openid", "offline_access", "https://graph.microsoft.com/UserActivity.ReadWrite.CreatedByApp"},
		Endpoint: oauth2.Endpoint{AuthURL: e.base + "/oauth2/authorize", TokenURL: e.base + "/oauth2/token",
			AuthStyle: oauth2.AuthStyleInParams}}
	ctx := context.WithValue(t.Context(), oauth2.HTTPClient, a.client) // trusts activityd's local CA
	verifier, state := oauth2.GenerateVerifier(), rand.Text()

	tb := e.newTab(t, "erin", browserZone)
	tb.do("open the authorization URL", chromedp.Navigate(cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier))))
	tb.mustWait("the sign-in page", `location.pathname === "/signin" && new URLSearchParams(location.search).get("request") && document.getElementById("password")`, 10*time.Second)
	if h := tb.text("h1"); len(h) != 1 || h[0] != "Sign in to your timeline" {
		t.Errorf("the sign-in page's heading: %q", h)
	}
	tb.shoot("signin")

	tb.do("type a wrong password",
		chromedp.SendKeys(chromedp.ID("name"), "erin"),
		chromedp.SendKeys(chromedp.ID("password"), "correct horse battery?"),
		chromedp.Click(chromedp.CSS(`#signin button[type=submit]`)))
	tb.mustWait("the sign-in page again, with the problem", `document.querySelector("#signin") && document.querySelector("[role=alert]")`, 10*time.Second)
	if got := tb.text("[role=alert]"); len(got) != 1 || got[0] != "The name or the password is not right." {
		t.Errorf("after a wrong password the page says %q", got)
	}
	if name := eval[string](tb, `document.getElementById("name").value`); name != "erin" {
		t.Errorf("after a wrong password the name field holds %q, want the name typed", name)
	}
	tb.shootAs("signin-wrong-password", 360, "dark")

	tb.do("type the password and press Enter", chromedp.SendKeys(chromedp.ID("password"), "correct horse battery"+kb.Enter))
	tb.mustWait("the consent page", `location.pathname === "/consent" && document.querySelector("button[value=approve]")`, 10*time.Second)
	if app := tb.text("main .app"); len(app) != 1 || app[0] != "Reading List" {
		t.Errorf("the consent page names the app %q, want Reading List", app)
	}
	scopes := strings.Join(tb.text(".scopes li"), "\n")
	if !strings.Contains(scopes, "UserActivity.ReadWrite.CreatedByApp") || !strings.Contains(scopes, "stay signed in") {
		t.Errorf("the consent page lists:\n%s\nwant the scope and staying signed in (offline_access)", scopes)
	}
	tb.shoot("consent")

	tb.do("click Allow", chromedp.Click(chromedp.CSS(`button[value=approve]`)))
	var back url.Values
	select {
	case back = <-callbacks:
	case <-time.After(15 * time.Second):
		t.Fatalf("the app got no callback; the browser is at %s", tb.location())
	}
	tb.mustWait("the app's page", `document.getElementById("done")`, 10*time.Second)
	if back.Get("state") != state || back.Get("code") == "" {
		t.Fatalf("the app's callback: %v, want a code and the state", back)
	}
	tok, err := cfg.Exchange(ctx, back.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	id := e.put(t, tok.AccessToken, activityBody("signed-in", "reading.example.com", "Reading List", "A signed-in app's activity", ""))
	if ids := e.storedIDs(t, a.token(t, "erin", "reading-list")); len(ids) != 1 || ids[0] != id {
		t.Errorf("activityd token --user erin --app reading-list sees %v, want the activity written with the app's token", ids)
	}
	refreshed, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}

	tb.do("open the devices page", chromedp.Navigate(e.base+"/devices"))
	tb.mustWait("the devices page", `location.pathname === "/devices" && document.querySelector("table.devices")`, 10*time.Second)
	if apps := tb.text("table.devices tbody td:first-child strong"); len(apps) != 1 || apps[0] != "Reading List" {
		t.Fatalf("the devices page lists %q, want Reading List", apps)
	}
	tb.shoot("devices")
	tb.do("click Sign out", chromedp.Click(chromedp.CSS(`table.devices button.danger`)))
	tb.mustWait("the devices page after signing out", `location.search.includes("revoked") && document.querySelector("[role=status]")`, 10*time.Second)
	if apps := tb.text("table.devices tbody td:first-child strong"); len(apps) != 0 {
		t.Errorf("after Sign out the devices page lists %q", apps)
	}
	_, err = cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: refreshed.RefreshToken}).Token()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Errorf("refresh after Sign out: %v, want invalid_grant", err)
	}
}
