package graph_test

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/activityd/activityd"
	"github.com/activityd/activityd/auth"
	"github.com/activityd/activityd/graph"
	"github.com/activityd/activityd/postgres"
	"github.com/activityd/activityd/postgres/pgtest"
	"github.com/activityd/activityd/sqlite"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

const testIssuer = "https://issuer.test/v2.0"

// env is a Graph server over a real SQLite file, verifying real RS256 tokens whose keys it fetches
// from a JWKS endpoint, as it would from Entra ID.
type env struct {
	t        *testing.T
	srv      *httptest.Server
	api      *graph.Server
	key      *rsa.PrivateKey
	store    activity.Store
	service  *activity.Service
	logs     *syncBuffer // what the server logged, as text
	pgURL    string      // the PostgreSQL schema's URL, when the tests run on PostgreSQL
	verifier *auth.Verifier
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string { b.mu.Lock(); defer b.mu.Unlock(); return b.b.String() }

func newEnv(t *testing.T) *env {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	}))
	t.Cleanup(jwks.Close)
	store, pgURL := openStoreURL(t)
	verifier := &auth.Verifier{
		Issuers:   []auth.Issuer{{Name: testIssuer, Keys: &auth.RemoteKeys{URL: jwks.URL}}},
		Audiences: auth.GraphAudiences,
	}
	service := activity.NewService(store)
	logs := &syncBuffer{}
	api := graph.NewServer(service, verifier, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	api.Changes = &activity.Wakeups{}
	switch st := store.(type) {
	case *sqlite.Store:
		st.OnCommit = api.Changes.Notify
	case *postgres.Store:
		st.OnCommit = api.Changes.Notify
	}
	api.PageSize = 20
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	return &env{t: t, srv: srv, api: api, key: key, store: store, service: service, logs: logs, pgURL: pgURL, verifier: verifier}
}

// openStoreURL opens the store the tests run on: SQLite, or PostgreSQL when ACTIVITYD_TEST_STORE=postgres
// (.ci/run runs the HTTP tests both ways), and returns the PostgreSQL schema's URL ("" on SQLite).
func openStoreURL(t *testing.T) (activity.Store, string) {
	t.Helper()
	var store activity.Store
	var err error
	var url string
	if os.Getenv("ACTIVITYD_TEST_STORE") == "postgres" {
		url = pgtest.URL(t)
		store, err = postgres.Open(t.Context(), url)
	} else {
		store, err = sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "activityd.db"))
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return store, url
}

// token mints a token for user through app with the given extra claims (nil values delete a claim).
func (e *env) token(user, app string, extra map[string]any) string {
	e.t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: e.key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "k1"))
	if err != nil {
		e.t.Fatal(err)
	}
	now := time.Now()
	c := map[string]any{
		"iss": testIssuer, "aud": "https://graph.microsoft.com", "sub": "sub-" + user, "oid": user,
		"tid": "tenant", "azp": app, "scp": "User.Read UserActivity.ReadWrite.CreatedByApp",
		"preferred_username": user + "@example.com",
		"iat":                now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	tok, err := jwt.Signed(signer).Claims(c).Serialize()
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// response is an HTTP response with its body read.
type response struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body into a generic value.
func (r *response) json() map[string]any {
	var v map[string]any
	if err := json.Unmarshal(r.body, &v); err != nil {
		panic("response is not a JSON object: " + string(r.body))
	}
	return v
}

// client sends requests as one principal.
type client struct {
	e     *env
	token string
}

func (e *env) as(user, app string) *client { return &client{e: e, token: e.token(user, app, nil)} }

func (c *client) do(method, path string, body any, headers ...string) *response {
	c.e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			c.e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	url := path
	if !strings.HasPrefix(path, "http") {
		url = c.e.srv.URL + path
	}
	req, err := http.NewRequestWithContext(c.e.t.Context(), method, url, rd)
	if err != nil {
		c.e.t.Fatal(err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := &response{status: resp.StatusCode, header: resp.Header, body: b}
	checkResponse(c.e.t, method, path, r)
	return r
}

// checkResponse holds for every response: ids in headers, JSON with a JSON content type (except
// $count), never a 5xx, and the Graph error envelope on every error.
func checkResponse(t *testing.T, method, path string, r *response) {
	t.Helper()
	if r.header.Get("request-id") == "" || r.header.Get("client-request-id") == "" {
		t.Errorf("%s %s: no request-id or client-request-id header", method, path)
	}
	if r.header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("%s %s: no X-Content-Type-Options: nosniff", method, path)
	}
	if r.status >= 500 {
		t.Fatalf("%s %s: status %d: %s", method, path, r.status, r.body)
	}
	if r.status == http.StatusNoContent {
		if len(r.body) != 0 {
			t.Errorf("%s %s: 204 with a body", method, path)
		}
		return
	}
	ct := r.header.Get("Content-Type")
	if (strings.HasPrefix(ct, "text/plain") || ct == "application/xml") && r.status == 200 {
		return // a validation token's echo; $metadata
	}
	if !strings.HasPrefix(ct, "application/json;") {
		t.Errorf("%s %s: Content-Type %q", method, path, ct)
	}
	if r.status >= 400 {
		var env struct {
			Error struct {
				Code       string `json:"code"`
				Message    string `json:"message"`
				InnerError struct {
					Date      string `json:"date"`
					RequestID string `json:"request-id"`
					ClientID  string `json:"client-request-id"`
				} `json:"innerError"`
			} `json:"error"`
		}
		if err := json.Unmarshal(r.body, &env); err != nil || env.Error.Code == "" || env.Error.Message == "" ||
			env.Error.InnerError.RequestID == "" || !strings.HasSuffix(env.Error.InnerError.Date, "Z") {
			t.Errorf("%s %s: status %d without a complete Graph error envelope: %s", method, path, r.status, r.body)
		}
	}
}

// wantStatus fails the test unless r has the status.
func wantStatus(t *testing.T, what string, r *response, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d, want %d: %s", what, r.status, status, r.body)
	}
}

// wantError fails the test unless r is an error with the status whose message mentions mention.
func wantError(t *testing.T, what string, r *response, status int, mention string) {
	t.Helper()
	wantStatus(t, what, r, status)
	msg := r.json()["error"].(map[string]any)["message"].(string)
	if !strings.Contains(msg, mention) {
		t.Errorf("%s: message %q does not mention %q", what, msg, mention)
	}
}

// activityJSON returns a valid userActivity body.
func activityJSON(appActivityID string) map[string]any {
	return map[string]any{
		"appActivityId":      appActivityID,
		"activitySourceHost": "https://www.contoso.com",
		"userTimezone":       "Africa/Casablanca",
		"appDisplayName":     "Contoso, Ltd.",
		"activationUrl":      "https://www.contoso.com/article?id=12345",
		"contentUrl":         "https://www.contoso.com/article?id=12345",
		"fallbackUrl":        "https://www.contoso.com/article?id=12345",
		"contentInfo":        map[string]any{"@context": "https://schema.org", "@type": "Article", "author": "Jennifer Booth", "name": "How to Tie a Reef Knot"},
		"visualElements": map[string]any{
			"attribution":     map[string]any{"iconUrl": "https://www.contoso.com/icon", "alternateText": "Contoso, Ltd.", "addImageQuery": false},
			"description":     "How to Tie a Reef Knot. A step-by-step visual guide to the art of nautical knot-tying.",
			"backgroundColor": "#ff0000",
			"displayText":     "Contoso How-To: How to Tie a Reef Knot",
			"content":         map[string]any{"$schema": "https://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard", "body": []any{map[string]any{"type": "TextBlock", "text": "Contoso MainPage"}}},
		},
	}
}

func gzipped(t *testing.T, v any) []byte {
	t.Helper()
	j, _ := json.Marshal(v)
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(j)
	zw.Close()
	return buf.Bytes()
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
