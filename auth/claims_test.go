package auth_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/activityd/activityd"
	"github.com/activityd/activityd/auth"
	"github.com/go-jose/go-jose/v4"
)

// TestVerify_TenantBinding checks that no trusted issuer speaks for another's tenant.
func TestVerify_TenantBinding(t *testing.T) {
	f := newFixture(t)
	// A templated issuer's token claiming the local issuer's tenant, its iss carrying it as Entra's would.
	_, err := f.verifier.Verify(t.Context(), f.entraToken(t, "entra", map[string]any{
		"tid": auth.LocalTenant, "iss": "https://login.microsoftonline.com/" + auth.LocalTenant + "/v2.0"}))
	if activity.ErrorCode(err) != activity.Unauthenticated || !strings.Contains(activity.ErrorMessage(err), "another issuer") {
		t.Errorf("an external token claiming the local tenant: %v, want 401", err)
	}
	// A templated issuer's iss must carry the tid the token claims.
	_, err = f.verifier.Verify(t.Context(), f.entraToken(t, "entra", map[string]any{"tid": "tenant-2"}))
	if activity.ErrorCode(err) != activity.Unauthenticated {
		t.Errorf("iss of tenant-1 with tid tenant-2: %v, want 401", err)
	}

	// An issuer without a template is one tenant, named by its iss: its tid claims choose nothing.
	jwks := f.entraJWKS(t)
	plain := &auth.Verifier{Issuers: []auth.Issuer{f.local.Issuer(), {Name: "https://idp.example", Keys: jwks}},
		Audiences: auth.GraphAudiences}
	for _, tid := range []any{nil, "tenant-1", "00000003-0000-0000-c000-000000000000"} {
		p, err := plain.Verify(t.Context(), f.entraToken(t, "entra", map[string]any{"iss": "https://idp.example", "tid": tid}))
		if err != nil || p.TenantID != "https://idp.example" || p.Issuer != "https://idp.example" {
			t.Errorf("a token of a plain issuer with tid %v: %+v, %v; want the issuer as its tenant", tid, p, err)
		}
	}
	_, err = plain.Verify(t.Context(), f.entraToken(t, "entra", map[string]any{"iss": "https://idp.example", "tid": auth.LocalTenant}))
	if activity.ErrorCode(err) != activity.Unauthenticated || !strings.Contains(activity.ErrorMessage(err), "another issuer") {
		t.Errorf("a plain issuer's token claiming the local tenant: %v, want 401", err)
	}

	// An issuer with a fixed Tenant speaks for that tenant only.
	fixed := &auth.Verifier{Issuers: []auth.Issuer{{Name: "https://fixed.example", Keys: jwks, Tenant: "t-fixed"}},
		Audiences: auth.GraphAudiences}
	p, err := fixed.Verify(t.Context(), f.entraToken(t, "entra", map[string]any{"iss": "https://fixed.example", "tid": nil}))
	if err != nil || p.TenantID != "t-fixed" {
		t.Errorf("a fixed-tenant issuer's token without tid: %+v, %v", p, err)
	}
	_, err = fixed.Verify(t.Context(), f.entraToken(t, "entra", map[string]any{"iss": "https://fixed.example", "tid": "t-other"}))
	if activity.ErrorCode(err) != activity.Unauthenticated {
		t.Errorf("a fixed-tenant issuer's token for another tenant: %v, want 401", err)
	}
}

// entraJWKS is a key source holding the fixture's Entra-like key.
func (f *fixture) entraJWKS(t *testing.T) auth.StaticKeys {
	t.Helper()
	return auth.StaticKeys{Keys: []jose.JSONWebKey{{Key: f.entraKey.Public(), KeyID: "entra", Algorithm: "ES256"}}}
}

// TestVerify_ClaimBounds checks that every claim that becomes part of a key is bounded in size and
// holds no control character, and that what is refused is not cached.
func TestVerify_ClaimBounds(t *testing.T) {
	f := newFixture(t)
	long := strings.Repeat("x", 257)
	tests := []struct {
		name   string
		claims map[string]any
		claim  string
	}{
		{"HugeOID", map[string]any{"oid": strings.Repeat("a", 11<<10)}, "oid"},
		{"LongOID", map[string]any{"oid": long}, "oid"},
		{"NULInOID", map[string]any{"oid": "user-1\x00"}, "oid"},
		{"NewlineInOID", map[string]any{"oid": "user-1\nr/1@0"}, "oid"},
		{"LongSub", map[string]any{"oid": nil, "sub": long}, "sub"},
		{"DELInAzp", map[string]any{"azp": "app\x7f"}, "azp"},
		{"C1InAppID", map[string]any{"azp": nil, "appid": "app\u0085"}, "appid"},
		{"LongUsername", map[string]any{"preferred_username": long}, "preferred_username"},
		{"TabInUPN", map[string]any{"upn": "a\tb@example.com"}, "upn"},
		{"NewlineInTenant", map[string]any{"tid": "t\n1", "iss": "https://login.microsoftonline.com/t\n1/v2.0"}, "tid"},
		{"LongIssuer", map[string]any{"tid": long[:240], "iss": "https://login.microsoftonline.com/" + long[:240] + "/v2.0"}, "iss"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok := f.entraToken(t, "entra", tc.claims)
			for range 2 { // the second time would come from the cache
				_, err := f.verifier.Verify(t.Context(), tok)
				if activity.ErrorCode(err) != activity.Unauthenticated || !strings.Contains(activity.ErrorMessage(err), " "+tc.claim+" claim") {
					t.Fatalf("Verify = %v, want 401 naming the %s claim", err, tc.claim)
				}
			}
		})
	}

	// A payload that is not UTF-8 would decode to U+FFFD: two different oids, one user.
	signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: f.entraKey}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "entra"))
	now := time.Now().Unix()
	payload := []byte(`{"iss":"https://login.microsoftonline.com/tenant-1/v2.0","tid":"tenant-1","aud":"https://graph.microsoft.com",` +
		"\"oid\":\"user-\xff\"," + `"azp":"app-1","scp":"UserActivity.ReadWrite.CreatedByApp","exp":` + itoa(now+3600) + `}`)
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := jws.CompactSerialize()
	if _, err := f.verifier.Verify(t.Context(), raw); activity.ErrorCode(err) != activity.Unauthenticated || !strings.Contains(activity.ErrorMessage(err), "UTF-8") {
		t.Errorf("claims that are not UTF-8: %v, want 401", err)
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

// TestVerify_Crit checks RFC 7515 §4.1.11: a token marking a header parameter critical is refused,
// since activityd understands none; go-jose alone accepts "b64".
func TestVerify_Crit(t *testing.T) {
	f := newFixture(t)
	for _, opts := range []*jose.SignerOptions{
		(&jose.SignerOptions{}).WithHeader("b64", true).WithCritical("b64"),
		(&jose.SignerOptions{}).WithHeader("urn:example:policy", "x").WithCritical("urn:example:policy"),
	} {
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: f.entraKey}, opts.WithType("JWT").WithHeader("kid", "entra"))
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		jws, err := signer.Sign([]byte(`{"iss":"https://login.microsoftonline.com/tenant-1/v2.0","tid":"tenant-1","aud":"https://graph.microsoft.com",` +
			`"oid":"user-1","azp":"app-1","scp":"UserActivity.ReadWrite.CreatedByApp","exp":` + itoa(now.Add(time.Hour).Unix()) + `}`))
		if err != nil {
			t.Fatal(err)
		}
		tok, _ := jws.CompactSerialize()
		header, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
		if !strings.Contains(string(header), `"crit"`) {
			t.Fatalf("the test token has no crit header: %s", header)
		}
		_, err = f.verifier.Verify(t.Context(), tok)
		if activity.ErrorCode(err) != activity.Unauthenticated || !strings.Contains(activity.ErrorMessage(err), "crit") {
			t.Errorf("a token with header %s: %v, want 401 naming crit", header, err)
		}
	}
}

// TestRemoteKeys_HTTPS checks that keys are fetched over https only, loopback http aside, redirects
// included, and that a refused URL is not even requested.
func TestRemoteKeys_HTTPS(t *testing.T) {
	for _, u := range []string{"https://login.microsoftonline.com/common/discovery/v2.0/keys", "http://127.0.0.1:8080/keys",
		"http://localhost/keys", "http://[::1]:9/keys", "http://127.1.2.3/keys"} {
		if err := auth.CheckJWKSURL(u); err != nil {
			t.Errorf("CheckJWKSURL(%q) = %v, want nil", u, err)
		}
	}
	for _, u := range []string{"http://login.microsoftonline.com/keys", "http://10.0.0.1/keys", "http://localhost.example.com/keys",
		"ftp://example.com/keys", "/keys", "", "https://"} {
		if err := auth.CheckJWKSURL(u); err == nil {
			t.Errorf("CheckJWKSURL(%q) succeeded", u)
		}
	}

	var requests atomic.Int32
	client := &http.Client{Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
		requests.Add(1)
		return http.DefaultTransport.RoundTrip(r)
	})}
	keys := &auth.RemoteKeys{URL: "http://192.0.2.1/keys", Client: client}
	if _, err := keys.Key(t.Context(), "k"); err == nil || !strings.Contains(err.Error(), "https") {
		t.Errorf("Key over plain http = %v, want an error about https", err)
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("%d requests to a plain http JWKS URL", n)
	}
	// A loopback server that redirects to plain http elsewhere.
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://192.0.2.1/keys", http.StatusFound)
	}))
	defer redirect.Close()
	keys = &auth.RemoteKeys{URL: redirect.URL, Client: client}
	if _, err := keys.Key(t.Context(), "k"); err == nil || !strings.Contains(err.Error(), "https") {
		t.Errorf("Key through a redirect to plain http = %v, want an error about https", err)
	}
	if n := requests.Load(); n != 1 {
		t.Errorf("%d requests, want only the one to the loopback server", n)
	}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestVerify_GraphToken checks the message for a token Entra issued for Microsoft Graph itself: its
// header carries a nonce, and its signature covers the nonce's hash, so only Graph can check it.
func TestVerify_GraphToken(t *testing.T) {
	f := newFixture(t)
	nonce := "CWjr5mn1dpbaa3flA6Ld6dz0xfNmKx1gCVfj_9z8cyY"
	hashed := sha256.Sum256([]byte(nonce))
	signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: f.entraKey},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "entra").WithHeader("nonce", base64.RawURLEncoding.EncodeToString(hashed[:])))
	jws, _ := signer.Sign([]byte(`{"iss":"https://login.microsoftonline.com/tenant-1/v2.0","tid":"tenant-1","aud":"00000003-0000-0000-c000-000000000000",` +
		`"oid":"user-1","azp":"app-1","scp":"UserActivity.ReadWrite.CreatedByApp","exp":` + itoa(time.Now().Add(time.Hour).Unix()) + `}`))
	tok, _ := jws.CompactSerialize()
	parts := strings.Split(tok, ".")
	var header map[string]any
	h, _ := base64.RawURLEncoding.DecodeString(parts[0])
	json.Unmarshal(h, &header)
	header["nonce"] = nonce // as Graph's tokens are sent: the nonce itself, signed as its hash
	h, _ = json.Marshal(header)
	tok = base64.RawURLEncoding.EncodeToString(h) + "." + parts[1] + "." + parts[2]
	_, err := f.verifier.Verify(t.Context(), tok)
	if activity.ErrorCode(err) != activity.Unauthenticated || !strings.Contains(activity.ErrorMessage(err), "Microsoft Graph itself") {
		t.Errorf("a Graph token: %v, want 401 explaining it is Graph's", err)
	}
}
