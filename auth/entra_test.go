package auth_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/activityd/activityd"
	"github.com/activityd/activityd/auth"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// entraKey is an RSA signing key published as Entra publishes its keys at
// https://login.microsoftonline.com/common/discovery/v2.0/keys: kty, use, kid, x5t, n, e, x5c, issuer.
type entraKey struct {
	key *rsa.PrivateKey
	kid string
	jwk map[string]any
}

func newEntraKey(t *testing.T, kid string) entraKey {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "accounts.accesscontrol.windows.net"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	thumb := sha1.Sum(der)
	b64 := base64.RawURLEncoding.EncodeToString
	return entraKey{key: key, kid: kid, jwk: map[string]any{
		"kty": "RSA", "use": "sig", "kid": kid, "x5t": b64(thumb[:]),
		"n": b64(key.N.Bytes()), "e": b64(big.NewInt(int64(key.E)).Bytes()),
		"x5c":    []string{base64.StdEncoding.EncodeToString(der)},
		"issuer": "https://login.microsoftonline.com/{tenantid}/v2.0",
	}}
}

// TestVerify_EntraAPIToken verifies a token shaped like the v2 access tokens Entra ID issues for an app
// registration that exposes its own API (the set-up the README describes), with the key fetched over
// https from a JWKS shaped like Entra's.
func TestVerify_EntraAPIToken(t *testing.T) {
	const (
		clientID  = "6e74172b-be56-4843-9ff4-e66a39bb12e3" // the app registration exposing the API
		clientApp = "4a1aa1d5-c567-49d0-ad0b-cd957a47f842" // the app that asked for the token
		tenant    = "72f988bf-86f1-41af-91ab-2d7cd011db47"
		scope     = "UserActivity.ReadWrite.CreatedByApp" // the scope the registration exposes
	)
	signing, other := newEntraKey(t, "nOo3ZDrODXEK1jKWhXslHR_KXEg"), newEntraKey(t, "KQ2tAcrE7lBaviGmZJfgDo4bgDk")
	jwks := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/common/discovery/v2.0/keys" {
			http.NotFound(w, r)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"keys": []any{other.jwk, signing.jwk}})
	}))
	defer jwks.Close()
	local, err := auth.OpenLocalIssuer(filepath.Join(t.TempDir(), "key.pem"), "")
	if err != nil {
		t.Fatal(err)
	}
	v := &auth.Verifier{
		Issuers: []auth.Issuer{local.Issuer(), {Name: "https://login.microsoftonline.com/{tid}/v2.0",
			Keys: &auth.RemoteKeys{URL: jwks.URL + "/common/discovery/v2.0/keys", Client: jwks.Client()}}},
		Audiences: []string{"api://" + clientID, clientID},
		Scopes:    []string{scope},
		Leeway:    time.Minute,
	}
	mint := func(extra map[string]any) string {
		t.Helper()
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: signing.key},
			(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", signing.kid))
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		c := map[string]any{
			"aud": clientID, "iss": "https://login.microsoftonline.com/" + tenant + "/v2.0",
			"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(75 * time.Minute).Unix(),
			"aio": "AWQAm/8ZAAAA", "azp": clientApp, "azpacr": "0", "name": "Alice Smith",
			"oid": "690222be-ff1a-4d56-abd1-7e4f7d38e474", "preferred_username": "alice@contoso.com",
			"rh": "1.AXkAv4j5cvGGr0GRqy180BHbR", "scp": scope, "sid": "00b1ba9c-a5b6-4e6c-9c1c-3c9b8b5d0c31",
			"sub": "MXH_hoM1kGh0vwtLRrYXtx8jaUXiJ3wqc2FCYm5lb_A", "tid": tenant, "uti": "fqiBqXLPj0eQa82S-IYFAA", "ver": "2.0",
		}
		for k, val := range extra {
			c[k] = val
		}
		tok, err := jwt.Signed(signer).Claims(c).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}

	p, err := v.Verify(t.Context(), mint(nil))
	if err != nil {
		t.Fatalf("an Entra v2 access token for the exposed API: %v", err)
	}
	want := activity.Principal{TenantID: tenant, UserID: "690222be-ff1a-4d56-abd1-7e4f7d38e474", AppID: clientApp,
		UserName: "alice@contoso.com", Issuer: "https://login.microsoftonline.com/" + tenant + "/v2.0"}
	if p != want {
		t.Errorf("principal %+v, want %+v", p, want)
	}
	if _, err := v.Verify(t.Context(), mint(map[string]any{"aud": "api://" + clientID})); err != nil {
		t.Errorf("aud api://<client id>: %v", err)
	}
	refused := []struct {
		name   string
		extra  map[string]any
		code   string
		reason string
	}{
		{"TokenForGraph", map[string]any{"aud": "00000003-0000-0000-c000-000000000000"}, activity.Unauthenticated, "audience"},
		{"OtherScope", map[string]any{"scp": "User.Read"}, activity.Forbidden, scope},
		{"IssuerOfOtherTenant", map[string]any{"iss": "https://login.microsoftonline.com/f8cdef31-a31e-4b4a-93e4-5f571e91255a/v2.0"}, activity.Unauthenticated, "issuer"},
		{"V1Issuer", map[string]any{"iss": "https://sts.windows.net/" + tenant + "/", "ver": "1.0"}, activity.Unauthenticated, "issuer"},
	}
	for _, tc := range refused {
		_, err := v.Verify(t.Context(), mint(tc.extra))
		if activity.ErrorCode(err) != tc.code || !strings.Contains(activity.ErrorMessage(err), tc.reason) {
			t.Errorf("%s: %v, want %s mentioning %q", tc.name, err, tc.code, tc.reason)
		}
	}
}
