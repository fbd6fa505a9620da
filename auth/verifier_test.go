package auth_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/activityd/activityd"
	"github.com/activityd/activityd/auth"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// fixture is a verifier trusting a local issuer and an Entra-like issuer whose keys come from a JWKS
// endpoint that counts its fetches.
type fixture struct {
	verifier *auth.Verifier
	local    *auth.LocalIssuer
	entraKey *ecdsa.PrivateKey
	fetches  *atomic.Int32
}

const entraIssuer = "https://login.microsoftonline.com/{tid}/v2.0"

func newFixture(t *testing.T) *fixture {
	t.Helper()
	local, err := auth.OpenLocalIssuer(filepath.Join(t.TempDir(), "key.pem"), "")
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	var fetches atomic.Int32
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "entra", Algorithm: "ES256"}}})
	}))
	t.Cleanup(jwks.Close)
	v := &auth.Verifier{
		Issuers: []auth.Issuer{
			local.Issuer(),
			{Name: entraIssuer, Keys: &auth.RemoteKeys{URL: jwks.URL, MinRefresh: time.Hour}},
		},
		Audiences: auth.GraphAudiences,
		Leeway:    30 * time.Second,
	}
	return &fixture{verifier: v, local: local, entraKey: key, fetches: &fetches}
}

// entraToken signs claims (merged over valid defaults; nil deletes) with the Entra-like key.
func (f *fixture) entraToken(t *testing.T, kid string, extra map[string]any) string {
	t.Helper()
	signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: f.entraKey},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
	now := time.Now()
	c := map[string]any{"iss": "https://login.microsoftonline.com/tenant-1/v2.0", "tid": "tenant-1",
		"aud": "00000003-0000-0000-c000-000000000000", "oid": "user-1", "sub": "pairwise", "azp": "app-1",
		"scp": "UserActivity.ReadWrite.CreatedByApp", "exp": now.Add(time.Hour).Unix(), "nbf": now.Unix(), "iat": now.Unix()}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	tok, err := jwt.Signed(signer).Claims(c).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestVerify_OK(t *testing.T) {
	f := newFixture(t)
	tok, err := f.local.Mint("alice", "notes", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.verifier.Verify(t.Context(), tok)
	if err != nil {
		t.Fatal(err)
	}
	want := activity.Principal{TenantID: auth.LocalTenant, UserID: auth.UserID("alice"), AppID: "notes", UserName: "alice", Issuer: auth.DefaultIssuer}
	if p != want {
		t.Errorf("local token: %+v, want %+v", p, want)
	}
	p, err = f.verifier.Verify(t.Context(), f.entraToken(t, "entra", map[string]any{"azp": nil, "appid": "v1-app", "oid": nil}))
	if err != nil {
		t.Fatal(err)
	}
	if p.TenantID != "tenant-1" || p.UserID != "pairwise" || p.AppID != "v1-app" || p.Issuer != "https://login.microsoftonline.com/tenant-1/v2.0" {
		t.Errorf("Entra token with appid and no oid: %+v", p)
	}
	// The person's view across apps: a token with activityd's own scope, alone or beside Graph's.
	for _, scopes := range [][]string{{auth.ScopeAll}, {auth.Scope, auth.ScopeAll}} {
		tok, err := f.local.Mint("alice", "privacy", time.Hour, scopes...)
		if err != nil {
			t.Fatal(err)
		}
		if p, err := f.verifier.Verify(t.Context(), tok); err != nil || !p.AllApps {
			t.Errorf("a token with %v: %+v, %v; want AllApps", scopes, p, err)
		}
	}
}

func TestVerify_Rejects(t *testing.T) {
	f := newFixture(t)
	now := time.Now()
	good := f.entraToken(t, "entra", nil)
	parts := strings.Split(good, ".")
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"https://login.microsoftonline.com/tenant-1/v2.0","tid":"tenant-1","aud":"https://graph.microsoft.com","oid":"admin","azp":"app-1","scp":"UserActivity.ReadWrite.CreatedByApp","exp":9999999999}`)) + "." + parts[2]
	header := func(h string) string { return base64.RawURLEncoding.EncodeToString([]byte(h)) }
	payload := parts[1]
	none := header(`{"alg":"none","typ":"JWT"}`) + "." + payload + "."

	// HS256 "signed" with the issuer's public key: the classic confusion attack.
	pub, _ := x509.MarshalPKIXPublicKey(f.entraKey.Public())
	hsSigner, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: pub}, (&jose.SignerOptions{}).WithHeader("kid", "entra"))
	hs, _ := jwt.Signed(hsSigner).Claims(map[string]any{"iss": "https://login.microsoftonline.com/tenant-1/v2.0", "tid": "tenant-1",
		"aud": "https://graph.microsoft.com", "oid": "u", "azp": "a", "scp": auth.Scope, "exp": now.Add(time.Hour).Unix()}).Serialize()

	tests := []struct {
		name, token, code, mention string
	}{
		{"Garbage", "not.a.token", activity.Unauthenticated, "malformed"},
		{"AlgNone", none, activity.Unauthenticated, "algorithm"},
		{"HS256WithPublicKey", hs, activity.Unauthenticated, "algorithm"},
		{"Tampered", tampered, activity.Unauthenticated, "signature"},
		{"UnknownKid", f.entraToken(t, "other", nil), activity.Unauthenticated, "'other'"},
		{"Expired", f.entraToken(t, "entra", map[string]any{"exp": now.Add(-time.Hour).Unix()}), activity.Unauthenticated, "expired"},
		{"NoExpiry", f.entraToken(t, "entra", map[string]any{"exp": nil}), activity.Unauthenticated, "exp"},
		{"NotYetValid", f.entraToken(t, "entra", map[string]any{"nbf": now.Add(time.Hour).Unix()}), activity.Unauthenticated, "not valid yet"},
		{"WrongAudience", f.entraToken(t, "entra", map[string]any{"aud": "api://other"}), activity.Unauthenticated, "audience"},
		{"WrongIssuer", f.entraToken(t, "entra", map[string]any{"iss": "https://evil.example.com/v2.0"}), activity.Unauthenticated, "issuer"},
		{"IssuerOfAnotherTenant", f.entraToken(t, "entra", map[string]any{"tid": "tenant-2"}), activity.Unauthenticated, "issuer"},
		{"Oversized", f.entraToken(t, "entra", map[string]any{"pad": strings.Repeat("x", 20000)}), activity.Unauthenticated, "longer"},
		{"NoApp", f.entraToken(t, "entra", map[string]any{"azp": nil}), activity.Unauthenticated, "client application"},
		{"MissingScope", f.entraToken(t, "entra", map[string]any{"scp": "User.Read Mail.Read"}), activity.Forbidden, auth.Scope},
		{"AppOnly", f.entraToken(t, "entra", map[string]any{"scp": nil, "roles": []string{"UserActivity.ReadWrite.All"}}), activity.Forbidden, "Application permissions"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.verifier.Verify(t.Context(), tc.token)
			if activity.ErrorCode(err) != tc.code || !strings.Contains(activity.ErrorMessage(err), tc.mention) {
				t.Errorf("Verify = %v, want code %s mentioning %q", err, tc.code, tc.mention)
			}
		})
	}
	// Forged kids cause at most one JWKS fetch per MinRefresh (the first fetch is for the first token).
	if n := f.fetches.Load(); n != 1 {
		t.Errorf("the JWKS was fetched %d times, want 1", n)
	}
}

func TestLocalIssuer_KeyPersists(t *testing.T) {
	dir := t.TempDir()
	a, err := auth.OpenLocalIssuer(filepath.Join(dir, "key.pem"), "")
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := a.Mint("alice", "notes", time.Hour)
	b, err := auth.OpenLocalIssuer(filepath.Join(dir, "key.pem"), "")
	if err != nil {
		t.Fatal(err)
	}
	v := &auth.Verifier{Issuers: []auth.Issuer{b.Issuer()}, Audiences: auth.GraphAudiences}
	if _, err := v.Verify(t.Context(), tok); err != nil {
		t.Errorf("a token of the first issuer fails with the reloaded key: %v", err)
	}
	other, _ := auth.OpenLocalIssuer(filepath.Join(t.TempDir(), "key.pem"), "")
	forged, _ := other.Mint("alice", "notes", time.Hour)
	_, err = v.Verify(t.Context(), forged)
	if activity.ErrorCode(err) != activity.Unauthenticated || !strings.Contains(activity.ErrorMessage(err), "signed by another key") ||
		!strings.Contains(activity.ErrorMessage(err), "data directory") {
		t.Errorf("a token of another data directory's key: %v, want 401 saying it was signed by another key", err)
	}
}

// TestLoadLocalIssuer checks that loading, unlike opening, never creates a key.
func TestLoadLocalIssuer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "key.pem")
	if _, err := auth.LoadLocalIssuer(path, ""); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LoadLocalIssuer of a missing key = %v, want fs.ErrNotExist", err)
	}
	if _, err := os.Stat(filepath.Dir(path)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LoadLocalIssuer created %s", filepath.Dir(path))
	}
	opened, err := auth.OpenLocalIssuer(path, "")
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := auth.LoadLocalIssuer(path, "")
	if err != nil {
		t.Fatal(err)
	}
	if opened.PublicKeys()[0].KeyID != loaded.PublicKeys()[0].KeyID {
		t.Error("LoadLocalIssuer loaded another key than OpenLocalIssuer made")
	}
}

func TestLocalIssuer_Discovery(t *testing.T) {
	l, _ := auth.OpenLocalIssuer(filepath.Join(t.TempDir(), "key.pem"), "")
	srv := httptest.NewServer(l.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	if doc["issuer"] != auth.DefaultIssuer || doc["jwks_uri"] != srv.URL+"/.well-known/jwks.json" {
		t.Errorf("discovery document: %v", doc)
	}
	// The published JWKS verifies the issuer's tokens: the same path an external verifier takes.
	v := &auth.Verifier{Issuers: []auth.Issuer{{Name: l.Name, Keys: &auth.RemoteKeys{URL: doc["jwks_uri"].(string)}}}, Audiences: auth.GraphAudiences}
	tok, _ := l.Mint("bob", "music", time.Minute)
	if p, err := v.Verify(t.Context(), tok); err != nil || p.AppID != "music" {
		t.Errorf("Verify via the served JWKS = %+v, %v", p, err)
	}
}

// TestVerify_LogsJWKSFetchError: a trusted issuer's key set that cannot be fetched is logged with its
// reason (the token's holder sees only a key that is not known).
func TestVerify_LogsJWKSFetchError(t *testing.T) {
	f := newFixture(t)
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	var logs bytes.Buffer
	f.verifier.Issuers[1].Keys = &auth.RemoteKeys{URL: gone.URL + "/keys"}
	f.verifier.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	_, err := f.verifier.Verify(t.Context(), f.entraToken(t, "entra", nil))
	if err == nil || !strings.Contains(err.Error(), "is not known") {
		t.Fatalf("Verify = %v", err)
	}
	if !strings.Contains(logs.String(), "could not be fetched") || !strings.Contains(logs.String(), "connection refused") {
		t.Errorf("log: %s", logs.String())
	}
}

// TestVerify_AudiencePerIssuer: each trusted issuer may name its own audience (--trust-audience);
// a token is checked against its issuer's, not another's.
func TestVerify_AudiencePerIssuer(t *testing.T) {
	dir := t.TempDir()
	one, err := auth.OpenLocalIssuer(filepath.Join(dir, "one.pem"), "https://one.example")
	if err != nil {
		t.Fatal(err)
	}
	two, err := auth.OpenLocalIssuer(filepath.Join(dir, "two.pem"), "https://two.example")
	if err != nil {
		t.Fatal(err)
	}
	v := &auth.Verifier{Audiences: auth.GraphAudiences, Issuers: []auth.Issuer{
		{Name: one.Name, Keys: one.Keys()},
		{Name: two.Name, Keys: two.Keys(), Audiences: []string{"api://two"}},
	}}
	mint := func(l *auth.LocalIssuer, aud string) string {
		l.Audience = aud
		tok, err := l.Mint("alice", "notes", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	for _, c := range []struct {
		name string
		tok  string
		ok   bool
	}{
		{"one, Graph's audience", mint(one, auth.GraphAudiences[0]), true},
		{"one, two's audience", mint(one, "api://two"), false},
		{"two, its audience", mint(two, "api://two"), true},
		{"two, Graph's audience", mint(two, auth.GraphAudiences[0]), false},
	} {
		if _, err := v.Verify(t.Context(), c.tok); (err == nil) != c.ok {
			t.Errorf("%s: %v, want accepted %v", c.name, err, c.ok)
		}
	}
}
