package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/activityd/activityd"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/text/secure/precis"
)

// DefaultIssuer is the local issuer's iss when no public URL is configured. It is fixed, never taken
// from a request's Host header, so tokens stay valid whatever name a client uses for the server.
const DefaultIssuer = "https://activityd.local"

// LocalTenant is the tid of the local issuer's tokens.
const LocalTenant = "00000000-0000-0000-0000-00000000ac71"

// LocalIssuer mints ES256 tokens shaped like Entra's delegated Graph tokens, with a key kept in the
// data directory, and serves its JWKS and OpenID discovery document.
type LocalIssuer struct {
	Name     string // iss
	Audience string // aud; default https://graph.microsoft.com
	// Provider, when set, returns the entries an OpenID provider on this issuer adds to the
	// discovery document (its endpoints under base): provider.Provider.Discovery.
	Provider func(base string) map[string]any

	ring atomic.Pointer[[]ringKey] // newest first; the first signs (read on every verification: no lock)

	mu      sync.Mutex
	records activity.RecordStore // where the key ring is kept (ShareKeys); nil: the key file only
	missed  time.Time            // when a token naming an unknown key last made it read the ring
}

// OpenLocalIssuer loads the issuer's P-256 key from the PEM file keyFile, creating it (and its
// directory) on first use. The server calls it; a tool that only mints tokens calls LoadLocalIssuer,
// so that it never makes a key no server uses.
func OpenLocalIssuer(keyFile, name string) (*LocalIssuer, error) {
	key, err := loadOrCreateKey(keyFile)
	if err != nil {
		return nil, err
	}
	return newLocalIssuer(key, name)
}

// LoadLocalIssuer loads the issuer's key from keyFile and never creates it. When the file does not
// exist the error wraps fs.ErrNotExist.
func LoadLocalIssuer(keyFile, name string) (*LocalIssuer, error) {
	key, err := loadKey(keyFile)
	if err != nil {
		return nil, err
	}
	return newLocalIssuer(key, name)
}

func newLocalIssuer(key *ecdsa.PrivateKey, name string) (*LocalIssuer, error) {
	if name == "" {
		name = DefaultIssuer
	}
	k, err := newRingKey(key)
	if err != nil {
		return nil, err
	}
	l := &LocalIssuer{Name: name, Audience: GraphAudiences[0]}
	l.ring.Store(&[]ringKey{k})
	return l, nil
}

func loadOrCreateKey(path string) (*ecdsa.PrivateKey, error) {
	key, err := loadKey(path)
	if errors.Is(err, fs.ErrNotExist) {
		return createKey(path)
	}
	return key, err
}

func loadKey(path string) (*ecdsa.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, err
	} else if err != nil {
		return nil, fmt.Errorf("read issuer key: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("issuer key %s holds no PEM block", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse issuer key %s: %w", path, err)
	}
	ec, ok := k.(*ecdsa.PrivateKey)
	if !ok || ec.Curve != elliptic.P256() {
		return nil, fmt.Errorf("issuer key %s is not a P-256 key", path)
	}
	return ec, nil
}

// createKey writes a new key to path so that concurrent starts agree on one key: it is written to a
// temporary file and linked into place, and whoever loses the race reads the winner's key.
func createKey(path string) (*ecdsa.PrivateKey, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".issuer-key-*")
	if err != nil {
		return nil, fmt.Errorf("write issuer key: %w", err)
	}
	defer os.Remove(tmp.Name())
	// Readable by the owner only, whatever the umask or the file system's defaults.
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("write issuer key: %w", err)
	}
	if err := pem.Encode(tmp, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("write issuer key: %w", err)
	}
	if err := errors.Join(tmp.Sync(), tmp.Close()); err != nil {
		return nil, fmt.Errorf("write issuer key: %w", err)
	}
	if err := os.Link(tmp.Name(), path); errors.Is(err, fs.ErrExist) {
		return loadKey(path)
	} else if err != nil {
		return nil, fmt.Errorf("write issuer key: %w", err)
	}
	return key, nil
}

// Keys returns the issuer's public keys, for a Verifier: the key ring, read again from the store
// when a token names a key it does not hold yet (another process rotated).
func (l *LocalIssuer) Keys() KeySource { return ringKeys{l} }

// Issuer returns the issuer as a Verifier trusts it: its name, its key, and LocalTenant as the one
// tenant it speaks for (no other trusted issuer may claim that tenant).
func (l *LocalIssuer) Issuer() Issuer {
	return Issuer{Name: l.Name, Keys: l.Keys(), Tenant: LocalTenant, local: true}
}

// Username returns the form in which the local issuer keeps and compares a user name: the PRECIS
// UsernameCaseMapped profile of RFC 8265 (width mapping, lower case, NFC), so "Alice" and "ａｌｉｃｅ"
// are one user, while names the profile refuses (spaces, control and compatibility characters such
// as "ǆ", an empty name) are an error that says why.
func Username(name string) (string, error) {
	if name == "" {
		return "", errors.New("the user name is empty")
	}
	if len(name) > maxClaimBytes {
		return "", fmt.Errorf("the user name is longer than %d bytes", maxClaimBytes)
	}
	if !utf8.ValidString(name) {
		return "", fmt.Errorf("the user name %q is not valid UTF-8", name)
	}
	out, err := precis.UsernameCaseMapped.String(name)
	if err == nil && out != "" {
		return out, nil
	}
	// Name the first character the profile refuses on its own, when there is one.
	for _, r := range name {
		if _, e := precis.UsernameCaseMapped.String(string(r)); e != nil {
			return "", fmt.Errorf("the user name %q holds %q (U+%04X), which user names may not contain (RFC 8265, UsernameCaseMapped)", name, r, r)
		}
	}
	return "", fmt.Errorf("the user name %q is not a valid user name (RFC 8265, UsernameCaseMapped): %v", name, err)
}

// UserID returns the oid the local issuer gives a user name: a stable GUID derived from the name's
// Username form, as Entra's object ids are GUIDs. (For names in ASCII it is the same id as before
// names were mapped by PRECIS: their form is their lower case.) A name Username refuses has no id: "".
func UserID(user string) string {
	name, err := Username(user)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256([]byte("activityd user\x00" + name))
	b := sum[:16]
	b[6] = b[6]&0x0f | 0x50 // shaped like a name-based (v5) UUID
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// Mint returns a signed token for user through app, valid for ttl from now: the claims of an Entra
// delegated token for Graph with the activities scope. The user name must pass Username (the token
// carries its mapped form as preferred_username), and the app name the bounds a Verifier puts on
// claims. scopes replace the default scope, Scope (ScopeAll adds the person's view).
func (l *LocalIssuer) Mint(user, app string, ttl time.Duration, scopes ...string) (string, error) {
	name, err := Username(user)
	if err != nil {
		return "", err
	}
	if app == "" {
		return "", errors.New("a token needs an app")
	}
	if problem := claimProblem(app); problem != "" {
		return "", fmt.Errorf("the app name %q %s", app, problem)
	}
	key, kid := l.SigningKey()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader(jose.HeaderKey("kid"), kid))
	if err != nil {
		return "", err
	}
	now := time.Now()
	oid := UserID(name)
	std := jwt.Claims{
		Issuer: l.Name, Subject: oid, Audience: jwt.Audience{l.Audience},
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(ttl)),
	}
	scp := Scope
	if len(scopes) > 0 {
		scp = strings.Join(scopes, " ")
	}
	extra := map[string]any{"tid": LocalTenant, "oid": oid, "azp": app, "scp": scp,
		"preferred_username": name, "name": user, "ver": "2.0"}
	return jwt.Signed(signer).Claims(std).Claims(extra).Serialize()
}

// SigningKey returns the key that signs the issuer's tokens now (the newest of its ring) and its
// key id (kid), for an OpenID provider that signs as this issuer.
func (l *LocalIssuer) SigningKey() (*ecdsa.PrivateKey, string) {
	k := l.keys()[0]
	return k.priv, k.jwk.KeyID
}

// Handler serves the issuer's OpenID discovery document at /.well-known/openid-configuration and its
// JWKS at /.well-known/jwks.json. Links in the document follow BaseURL (the configured public URL
// when there is one); the issuer name does not. The document varies with the host, so no cache may
// keep it for another host.
func (l *LocalIssuer) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/jwks.json", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, jose.JSONWebKeySet{Keys: l.PublicKeys()})
	})
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Vary", "Host, X-Forwarded-Host, X-Forwarded-Proto")
		doc := map[string]any{
			"issuer":                                l.Name,
			"jwks_uri":                              BaseURL(r) + "/.well-known/jwks.json",
			"id_token_signing_alg_values_supported": []string{string(jose.ES256)},
			"response_types_supported":              []string{"token"},
			"subject_types_supported":               []string{"pairwise"},
			"scopes_supported":                      []string{Scope},
			"claims_supported":                      []string{"iss", "sub", "aud", "exp", "nbf", "iat", "tid", "oid", "azp", "scp", "preferred_username", "name"},
		}
		if l.Provider != nil {
			for k, v := range l.Provider(BaseURL(r)) {
				doc[k] = v
			}
		}
		writeJSON(w, doc)
	})
	return mux
}

// BaseURL returns the scheme and host of links to the server, such as http://127.0.0.1:8080: the
// request's URL scheme when middleware in front (graph.PublicOrigin) set it from the configured
// public URL or a trusted proxy, else the connection's, and the request's Host (which that
// middleware sets too).
func BaseURL(r *http.Request) string {
	scheme := r.URL.Scheme
	if scheme == "" {
		scheme = "http"
		if r.TLS != nil {
			scheme = "https"
		}
	}
	return scheme + "://" + r.Host
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
