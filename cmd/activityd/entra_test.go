package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// TestProcess_Entra runs activityd with the README's Entra ID set-up: an app registration that exposes
// its own API (audience its client id, scope the one it exposes), Entra's v2 issuer template and a
// JWKS served over https, like login.microsoftonline.com's; the token is shaped like Entra's v2
// access tokens for such an API.
func TestProcess_Entra(t *testing.T) {
	const (
		clientID  = "6e74172b-be56-4843-9ff4-e66a39bb12e3"
		clientApp = "4a1aa1d5-c567-49d0-ad0b-cd957a47f842"
		tenant    = "72f988bf-86f1-41af-91ab-2d7cd011db47"
		kid       = "nOo3ZDrODXEK1jKWhXslHR_KXEg"
	)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "accounts.accesscontrol.windows.net"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	thumb := sha1.Sum(der)
	b64 := base64.RawURLEncoding.EncodeToString
	jwk := map[string]any{"kty": "RSA", "use": "sig", "kid": kid, "x5t": b64(thumb[:]), "n": b64(key.N.Bytes()),
		"e": b64(big.NewInt(int64(key.E)).Bytes()), "x5c": []string{base64.StdEncoding.EncodeToString(der)},
		"issuer": "https://login.microsoftonline.com/{tenantid}/v2.0"}
	jwks := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"keys": []any{jwk}})
	}))
	defer jwks.Close()
	// The process trusts the JWKS server's certificate as it would trust login.microsoftonline.com's.
	roots := filepath.Join(t.TempDir(), "roots.pem")
	os.WriteFile(roots, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: jwks.Certificate().Raw}), 0o600)

	p := startProcessEnv(t, []string{"SSL_CERT_FILE=" + roots}, "--data", t.TempDir(),
		"--trust-issuer", "https://login.microsoftonline.com/{tid}/v2.0",
		"--trust-jwks", jwks.URL+"/common/discovery/v2.0/keys",
		"--audience", "api://"+clientID+","+clientID, "--scopes", "UserActivity.ReadWrite.CreatedByApp")

	signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
	now := time.Now()
	claims := map[string]any{
		"aud": clientID, "iss": "https://login.microsoftonline.com/" + tenant + "/v2.0",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(75 * time.Minute).Unix(),
		"aio": "AWQAm/8ZAAAA", "azp": clientApp, "azpacr": "0", "name": "Alice Smith",
		"oid": "690222be-ff1a-4d56-abd1-7e4f7d38e474", "preferred_username": "alice@contoso.com",
		"rh": "1.AXkAv4j5cvGGr0GRqy180BHbR", "scp": "UserActivity.ReadWrite.CreatedByApp",
		"sub": "MXH_hoM1kGh0vwtLRrYXtx8jaUXiJ3wqc2FCYm5lb_A", "tid": tenant, "uti": "fqiBqXLPj0eQa82S-IYFAA", "ver": "2.0",
	}
	tok, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	status, body, err := request(t.Context(), "PUT", p.base+"/v1.0/me/activities/entra", tok, activityBody("entra"))
	if err != nil || status != 201 {
		t.Fatalf("PUT with an Entra v2 token for the exposed API: %d %s %v", status, body, err)
	}
	status, body, _ = request(t.Context(), "GET", p.base+"/v1.0/users/alice@contoso.com/activities", tok, "")
	if status != 200 || !strings.Contains(string(body), `"appActivityId":"entra"`) {
		t.Errorf("GET /users/{upn}/activities: %d %s", status, body)
	}
	// A token for Graph itself (aud Graph) is not one for this API.
	claims["aud"] = "00000003-0000-0000-c000-000000000000"
	graphTok, _ := jwt.Signed(signer).Claims(claims).Serialize()
	if status, body, _ := request(t.Context(), "GET", p.base+"/v1.0/me/activities", graphTok, ""); status != 401 {
		t.Errorf("a token for Graph: %d %s, want 401", status, body)
	}
}
