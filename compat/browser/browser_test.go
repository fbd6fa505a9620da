package browser

import (
	"context"
	"encoding/json"
	"html/template"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

const chromium = "/usr/bin/chromium" // Debian's package

// bundle is the Graph JavaScript client's browser bundle from the npm package compat/js pins.
var bundle = filepath.Join("..", "js", "node_modules", "@microsoft", "microsoft-graph-client", "lib", "graph-js-sdk.js")

// TestBrowser runs the Graph JavaScript client's browser bundle in headless Chromium, in a page of
// another origin than the API: the page creates activities, posts a history item and lists them over
// TLS, and the test checks that against what the server stored. A second page, of an origin that
// --cors-origins does not list, must be stopped by the browser before anything reaches the API.
func TestBrowser(t *testing.T) {
	requireBrowser(t)
	allowedPage, refusedPage := newPage(t, "create"), newPage(t, "refused")
	a := startActivityd(t, "--cors-origins", allowedPage.origin(), "--throttle=false")
	token := a.token(t, "alice", "web")
	base := "https://localhost:" + port(a.addr) // another host and port than the pages
	keys := []string{"/article?12345", "draft 2"}
	allowedPage.config.Store(&pageConfig{Mode: "create", BaseURL: base, Host: "localhost", Token: token, Keys: keys})
	refusedPage.config.Store(&pageConfig{Mode: "refused", BaseURL: base, Host: "localhost", Token: token, Keys: []string{"refused"}})

	// Chromium trusts exactly the certificates of activityd (checked here to chain to its local CA)
	// and of the pages, by their public keys; no certificate error is ignored for any other.
	ctx, messages := newBrowser(t, a.leafSPKI(t, "localhost"), spki(allowedPage.srv.Certificate()), spki(refusedPage.srv.Certificate()))
	artifacts := artifactDir(t)

	var got createResult
	runPage(t, ctx, allowedPage.srv.URL, filepath.Join(artifacts, "allowed-origin.png"), &got)
	if got.Error != "" {
		t.Fatalf("the page of %s failed: %s\nChromium's messages:\n%s", allowedPage.origin(), got.Error, strings.Join(messages(), "\n"))
	}
	checkCreated(t, a, base, token, keys, got)

	var refused refusedResult
	runPage(t, ctx, refusedPage.srv.URL, filepath.Join(artifacts, "refused-origin.png"), &refused)
	checkRefused(t, a, base, token, refused, messages())
}

// createResult is what the page of the allowed origin reports (testdata/page.js, create).
type createResult struct {
	Error   string `json:"error"`
	Created []struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	} `json:"created"`
	HistoryItem struct {
		ID                    string `json:"id"`
		ActiveDurationSeconds int    `json:"activeDurationSeconds"`
	} `json:"historyItem"`
	Count     int      `json:"count"`
	Listed    []listed `json:"listed"`
	RequestID string   `json:"requestId"`
}

// listed is one activity of a list, as the page and the test see it.
type listed struct {
	ID            string   `json:"id"`
	AppActivityID string   `json:"appActivityId"`
	DisplayText   string   `json:"displayText"`
	HistoryItems  []string `json:"historyItems"`
}

// refusedResult is what the page of the origin not allowed reports (testdata/page.js, refused).
type refusedResult struct {
	Error  string `json:"error"`
	NoCORS string `json:"noCors"` // the response type of a fetch without CORS
	Fetch  string `json:"fetch"`  // the error of a fetch with a bearer token
	Put    string `json:"put"`    // the error of the Graph client's PUT
}

// checkCreated compares what the page reports with what the server stored.
func checkCreated(t *testing.T, a *activityd, base, token string, keys []string, got createResult) {
	t.Helper()
	if len(got.Created) != len(keys) {
		t.Fatalf("the page created %d activities, want %d", len(got.Created), len(keys))
	}
	for i, c := range got.Created {
		if c.Status != "active" || c.ID == "" {
			t.Errorf("PUT %q from the page: id %q, status %q; want an id and status active", keys[i], c.ID, c.Status)
		}
	}
	if got.HistoryItem.ID == "" || got.HistoryItem.ActiveDurationSeconds != 20 {
		t.Errorf("POST historyItems from the page = %+v, want an id and activeDurationSeconds 20", got.HistoryItem)
	}
	if got.RequestID == "" {
		t.Error("the page could not read the request-id header (Access-Control-Expose-Headers)")
	}
	if a.logLines(`method=OPTIONS .*status=204`) == 0 {
		t.Error("activityd logged no preflight answered (OPTIONS, 204): did the page really come from another origin?")
	}

	want, count := stored(t, a, base, token)
	if !reflect.DeepEqual(got.Listed, want) {
		t.Errorf("the page listed\n%+v\nthe server has\n%+v", got.Listed, want)
	}
	if got.Count != len(keys) || count != len(keys) {
		t.Errorf("@odata.count: the page saw %d, the server says %d; want %d", got.Count, count, len(keys))
	}
	for i, key := range keys {
		if !slices.ContainsFunc(want, func(l listed) bool { return l.ID == got.Created[i].ID && l.AppActivityID == key }) {
			t.Errorf("the server does not list the activity %q the page created", key)
		}
	}
	first := slices.IndexFunc(want, func(l listed) bool { return l.ID == got.Created[0].ID })
	if first < 0 || !slices.Equal(want[first].HistoryItems, []string{got.HistoryItem.ID}) {
		t.Errorf("the server does not hold the page's history item %q under %q", got.HistoryItem.ID, keys[0])
	}
}

// checkRefused checks that the browser, not the network or TLS, stopped the page of an origin not
// allowed, and that nothing it tried reached the store.
func checkRefused(t *testing.T, a *activityd, base, token string, got refusedResult, console []string) {
	t.Helper()
	if got.Error != "" {
		t.Fatalf("the page of the origin not allowed failed before its checks: %s", got.Error)
	}
	if got.NoCORS != "opaque" {
		t.Errorf("a no-cors fetch from the origin not allowed gave a %q response, want opaque (the server reachable)", got.NoCORS)
	}
	if !strings.HasPrefix(got.Fetch, "TypeError") {
		t.Errorf("fetch with a token from an origin not allowed: %s; want a TypeError (CORS)", got.Fetch)
	}
	if got.Put == "succeeded" {
		t.Error("the Graph client's PUT from an origin not allowed succeeded")
	}
	blocked := slices.ContainsFunc(console, func(m string) bool { return strings.Contains(m, "blocked by CORS policy") })
	if !blocked {
		t.Errorf("Chromium reported no CORS block; its messages:\n%s", strings.Join(console, "\n"))
	}
	now, _ := stored(t, a, base, token)
	if slices.ContainsFunc(now, func(l listed) bool { return l.AppActivityID == "refused" }) {
		t.Error("the activity that the page of an origin not allowed tried to PUT is stored")
	}
	// The browser asked first (a preflight) and was told no.
	if a.logLines(`method=OPTIONS .*status=403`) == 0 {
		t.Errorf("activityd logged no refused preflight (OPTIONS, 403)")
	}
}

// stored lists the user's activities with their history items, as the server has them, read without a
// browser; it returns them and @odata.count.
func stored(t *testing.T, a *activityd, base, token string) ([]listed, int) {
	t.Helper()
	var page struct {
		Count int `json:"@odata.count"`
		Value []struct {
			ID             string `json:"id"`
			AppActivityID  string `json:"appActivityId"`
			VisualElements struct {
				DisplayText string `json:"displayText"`
			} `json:"visualElements"`
			HistoryItems []struct {
				ID string `json:"id"`
			} `json:"historyItems"`
		} `json:"value"`
	}
	getJSON(t, a, base+"/v1.0/me/activities?$expand=historyItems&$count=true", token, &page)
	var all []listed
	for _, v := range page.Value {
		l := listed{ID: v.ID, AppActivityID: v.AppActivityID, DisplayText: v.VisualElements.DisplayText, HistoryItems: []string{}}
		for _, h := range v.HistoryItems {
			l.HistoryItems = append(l.HistoryItems, h.ID)
		}
		all = append(all, l)
	}
	return all, page.Count
}

// getJSON GETs url with the bearer token, outside the browser, and decodes the answer (200) into v.
func getJSON(t *testing.T, a *activityd, url, token string, v any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := a.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, res.Status)
	}
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

// requireBrowser fails the test, naming what is missing, when Chromium or the bundle is not there,
// unless ACTIVITYD_SKIP_BROWSER=1: a machine without them must not look green.
func requireBrowser(t *testing.T) {
	t.Helper()
	var missing []string
	if _, err := os.Stat(chromium); err != nil {
		missing = append(missing, chromium+" (apt-get install chromium)")
	}
	if _, err := os.Stat(bundle); err != nil {
		missing = append(missing, bundle+" (npm ci in compat/js)")
	}
	if len(missing) == 0 {
		return
	}
	msg := "missing " + strings.Join(missing, " and ")
	if os.Getenv("ACTIVITYD_SKIP_BROWSER") == "1" {
		t.Skip(msg + "; skipped as ACTIVITYD_SKIP_BROWSER=1 asks")
	}
	t.Fatal(msg + "; set ACTIVITYD_SKIP_BROWSER=1 to skip this test")
}

// page is an https origin of its own serving testdata/page.html, page.js and the client's bundle.
type page struct {
	srv    *httptest.Server
	config atomic.Pointer[pageConfig] // set once activityd runs, before the browser comes
}

// pageConfig is what the page's script is told (testdata/page.js).
type pageConfig struct {
	Mode    string   `json:"mode"` // create or refused
	BaseURL string   `json:"baseUrl"`
	Host    string   `json:"host"` // the client's customHosts
	Token   string   `json:"token"`
	Keys    []string `json:"keys"` // appActivityIds to write
}

func newPage(t *testing.T, name string) *page {
	t.Helper()
	html := template.Must(template.ParseFiles(filepath.Join("testdata", "page.html")))
	p := &page{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		if err := html.Execute(w, p.config.Load()); err != nil {
			t.Errorf("page %s: %v", name, err)
		}
	})
	mux.HandleFunc("GET /page.js", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, filepath.Join("testdata", "page.js"))
	})
	mux.HandleFunc("GET /graph-js-sdk.js", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, bundle)
	})
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	p.srv = httptest.NewTLSServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

// origin is the page's origin as a browser names it in the Origin header.
func (p *page) origin() string { return p.srv.URL }

// newBrowser starts headless Chromium trusting the certificates of the SPKI hashes given; it returns
// the browser's context and a function that returns the console and log messages so far.
func newBrowser(t *testing.T, spkis ...string) (context.Context, func() []string) {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox, // as root in a container
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1000, 560),
		// Quiet on a closed network: no QUIC probes, updates, sync or other background fetches.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		// Honoured only with --user-data-dir; the SPKI list must be given as one flag.
		chromedp.Flag("ignore-certificate-errors-spki-list", strings.Join(spkis, ",")),
	}
	ctx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel = chromedp.NewContext(ctx)
	t.Cleanup(cancel)

	// The first call starts the browser, for as long as ctx lives.
	messages := chromedp.Console(ctx)
	var (
		mu   sync.Mutex
		seen []string
		done = make(chan struct{})
	)
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			mu.Lock()
			seen = append(seen, m.String())
			mu.Unlock()
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[string]("navigator.userAgent")); err != nil {
		t.Fatalf("start %s: %v", chromium, err)
	}
	return ctx, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(seen)
	}
}

// runPage opens url, waits for its script to finish, saves a screenshot and decodes window.result.
func runPage(t *testing.T, ctx context.Context, url, screenshot string, result any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 45*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("Chromium on %s: %v", url, err)
	}
	raw, err := chromedp.Run(ctx, chromedp.Poll[string]("window.done && JSON.stringify(window.result)", chromedp.WithPollingTimeout(30*time.Second)))
	if err != nil {
		t.Fatalf("Chromium on %s, waiting for the page's result: %v", url, err)
	}
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("Chromium on %s, screenshot: %v", url, err)
	}
	if err := os.WriteFile(screenshot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %s (screenshot %s)", url, raw, screenshot)
	if err := json.Unmarshal([]byte(raw), result); err != nil {
		t.Fatalf("the page's result %q: %v", raw, err)
	}
}

// artifactDir is where screenshots go: $ACTIVITYD_ARTIFACTS, else a temporary directory.
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("ACTIVITYD_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// port is the port of a host:port address.
func port(addr string) string {
	u := url.URL{Host: addr}
	return u.Port()
}
