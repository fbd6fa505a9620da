// Package provider is activityd's OpenID Connect provider: people sign in with an account (a name
// and an argon2id password), and apps get tokens for them by the authorization code grant with PKCE
// (RFC 6749 §4.1, RFC 7636, S256 only) or the device authorization grant (RFC 8628), with refresh
// tokens that rotate on use and can be revoked (RFC 7009). The protocol is zitadel/oidc's op
// package (an OpenID Certified library); this package is its storage and the rules activityd adds.
//
// Access tokens are the local issuer's: the same key, iss and aud, and Entra's delegated-token
// claims (tid, oid, azp, scp), so the Graph API checks them exactly as it checks tokens of
// `activityd token`. The sign-in and consent pages are the web package's; it drives them through
// the methods of Provider named after the pages (Request, Approve, Deny, DeviceRequest, …).
//
// State lives in an activity.RecordStore, so every process on one PostgreSQL shares it. It must not
// import other adapters of activityd.
package provider

import (
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/activityd/activityd"
	"github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// Scopes of activityd's API that an app may ask for (Graph's delegated permission names).
const (
	// ScopeApp lets an app read and write the activities it created for the person.
	ScopeApp = "UserActivity.ReadWrite.CreatedByApp"
	// ScopeAll lets a program read and forget the person's activities of every app (the privacy
	// API, export and import).
	ScopeAll = "UserActivity.ReadWrite.All"
	// ScopeAdmin lets a program manage the server's accounts and apps (the admin API), for an
	// account that is an administrator (Account.Admin); for anyone else it is left out of the token.
	ScopeAdmin = "activityd.admin"
	// graphPrefix is how the Graph SDKs and MSAL name a scope: the resource, then the permission.
	graphPrefix = "https://graph.microsoft.com/"
)

// Endpoints of the provider, relative to the server's root.
const (
	AuthorizePath = "/oauth2/authorize"
	TokenPath     = "/oauth2/token"
	RevokePath    = "/oauth2/revoke"
	DevicePath    = "/oauth2/devicecode"
	UserinfoPath  = "/oauth2/userinfo"
	// DeviceFormPath is the page where a person enters a device's user code (the web package's).
	DeviceFormPath = "/device"
	// SignInPath is the page an authorization request is sent to, with ?request=ID.
	SignInPath = "/signin"
)

// Defaults of Config.
const (
	DefaultAccessTTL  = time.Hour
	DefaultRefreshTTL = 90 * 24 * time.Hour // a device not used for this long signs in again
	requestTTL        = 15 * time.Minute    // an authorization request, from redirect to code
	codeTTL           = time.Minute         // an authorization code (RFC 6749 §4.1.2: at most 10 minutes)
	deviceTTL         = 10 * time.Minute    // a device code (RFC 8628 §3.2 expires_in)
	devicePoll        = 5 * time.Second     // RFC 8628 §3.2 interval
)

// Config is what New needs.
type Config struct {
	Issuer   string // iss of the tokens: the local issuer's name
	Audience string // aud of access tokens: https://graph.microsoft.com
	Tenant   string // tid of access tokens
	// SigningKey returns the key that signs now and its kid; PublicKeys every key that verifies
	// (auth.LocalIssuer's key ring).
	SigningKey func() (*ecdsa.PrivateKey, string)
	PublicKeys func() []jose.JSONWebKey
	// Secret (32 bytes or more, the same for every process on the store) keys the library's
	// encryption of opaque values.
	Secret []byte
	// Username maps a typed name to its canonical form (RFC 8265) or says why it is no name;
	// UserID gives a canonical name its stable oid, as the local issuer does.
	Username func(string) (string, error)
	UserID   func(string) string

	AccessTTL  time.Duration // 0 means DefaultAccessTTL
	RefreshTTL time.Duration // 0 means DefaultRefreshTTL
	Logger     *slog.Logger
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Provider is the OpenID Connect provider.
type Provider struct {
	cfg      Config
	records  activity.RecordStore
	op       *op.Provider
	storage  *storage
	Accounts *Accounts
	Apps     *Apps
	Grants   *GrantStore
}

// New returns the provider on records.
func New(records activity.RecordStore, cfg Config) (*Provider, error) {
	if cfg.AccessTTL == 0 {
		cfg.AccessTTL = DefaultAccessTTL
	}
	if cfg.RefreshTTL == 0 {
		cfg.RefreshTTL = DefaultRefreshTTL
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.SigningKey == nil || cfg.PublicKeys == nil || cfg.Username == nil || cfg.UserID == nil || len(cfg.Secret) < 32 {
		return nil, errors.New("provider: a key, a secret and the user name functions are needed")
	}
	p := &Provider{cfg: cfg, records: records}
	p.Accounts = newAccounts(records, cfg)
	p.Apps = &Apps{records: records}
	p.Grants = &GrantStore{records: records}
	p.storage = &storage{p: p}
	config := &op.Config{
		CryptoKey:             sha256.Sum256(append([]byte("activityd provider\x00"), cfg.Secret...)),
		CodeMethodS256:        true,
		GrantTypeRefreshToken: true,
		SupportedScopes:       []string{"openid", "profile", "offline_access", ScopeApp, ScopeAll, ScopeAdmin},
		DeviceAuthorization: op.DeviceAuthorizationConfig{
			Lifetime: deviceTTL, PollInterval: devicePoll, UserFormPath: DeviceFormPath, UserCode: op.UserCodeBase20,
		},
	}
	opts := []op.Option{
		op.WithCustomAuthEndpoint(op.NewEndpoint(AuthorizePath)),
		op.WithCustomTokenEndpoint(op.NewEndpoint(TokenPath)),
		op.WithCustomRevocationEndpoint(op.NewEndpoint(RevokePath)),
		op.WithCustomDeviceAuthorizationEndpoint(op.NewEndpoint(DevicePath)),
		op.WithCustomUserinfoEndpoint(op.NewEndpoint(UserinfoPath)),
		op.WithLogger(cfg.Logger),
	}
	if strings.HasPrefix(cfg.Issuer, "http://") {
		opts = append(opts, op.WithAllowInsecure())
	}
	provider, err := op.NewProvider(config, p.storage, op.StaticIssuer(cfg.Issuer), opts...)
	if err != nil {
		return nil, fmt.Errorf("provider: %w", err)
	}
	p.op = provider
	return p, nil
}

func (p *Provider) now() time.Time {
	if p.cfg.Now != nil {
		return p.cfg.Now()
	}
	return time.Now()
}

// Paths are the routes Handler serves.
var Paths = []string{AuthorizePath, AuthorizePath + "/callback", TokenPath, RevokePath, DevicePath, UserinfoPath}

// Handler serves the provider's endpoints (Paths). Its token, revocation and device endpoints
// answer cross-origin requests (CORS), as browser apps need.
//
// The issuer name is fixed (it is the iss every token carries), but the server may be reached by
// another name, so the URLs it hands out for people to open follow the request: the device
// endpoint's verification_uri (RFC 8628 §3.2) is rewritten to the server that was asked, as BaseURL
// names it.
func (p *Provider) Handler(baseURL func(*http.Request) string) http.Handler {
	h := http.Handler(p.op)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = r.WithContext(WithRequest(r.Context(), r))
		switch {
		case r.URL.Path == DevicePath && r.Method == http.MethodPost:
			p.deviceAuthorization(h, baseURL(r), w, r)
		case r.URL.Path == AuthorizePath:
			p.authorize(h, w, r)
		case r.URL.Path == AuthorizePath+"/callback" && !p.Bound(r, r.URL.Query().Get("id")):
			w.Header().Set("Cache-Control", "no-store")
			http.Error(w, "This sign-in did not start in this browser: start again from the app.", http.StatusBadRequest)
		default:
			h.ServeHTTP(w, r)
		}
	})
}

// boundCookie holds the authorization requests this browser started (their ids, signed), so that
// only this browser may consent to them and collect their code: a request id that leaks (a link to
// the consent page sent to someone else) is worth nothing elsewhere (RFC 9700 §4.7, §4.2.4).
const boundCookie = "activityd-authorize"

// maxBound is how many authorization requests a browser may have going at once.
const maxBound = 4

func (p *Provider) bindMAC(id string) string {
	m := hmac.New(sha256.New, p.cfg.Secret)
	m.Write([]byte("activityd authorization request\x00" + id))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:18])
}

// boundIDs returns the ids the request's cookie binds, checked.
func (p *Provider) boundIDs(r *http.Request) []string {
	c, err := r.Cookie(boundCookie)
	if err != nil {
		return nil
	}
	var ids []string
	for _, item := range strings.Split(c.Value, "~") {
		id, mac, ok := strings.Cut(item, ".")
		if ok && hmac.Equal([]byte(mac), []byte(p.bindMAC(id))) {
			ids = append(ids, id)
		}
	}
	return ids
}

// Bound reports whether the browser of r started the authorization request id.
func (p *Provider) Bound(r *http.Request, id string) bool {
	return id != "" && slices.Contains(p.boundIDs(r), id)
}

// authorize serves the authorization endpoint and, when it sends the browser to sign in for a new
// request, binds the request to the browser with a cookie (HttpOnly, SameSite=Lax, Secure over TLS).
func (p *Provider) authorize(h http.Handler, w http.ResponseWriter, r *http.Request) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	defer replay(w, rec, rec.Body.Bytes())
	if loc := rec.Header().Get("Location"); rec.Code/100 == 3 && strings.HasPrefix(loc, SignInPath+"?request=") {
		id, _ := url.QueryUnescape(strings.TrimPrefix(loc, SignInPath+"?request="))
		ids := append([]string{id}, p.boundIDs(r)...)
		if len(ids) > maxBound {
			ids = ids[:maxBound]
		}
		items := make([]string, len(ids))
		for i, id := range ids {
			items[i] = id + "." + p.bindMAC(id)
		}
		http.SetCookie(w, &http.Cookie{Name: boundCookie, Value: strings.Join(items, "~"), Path: "/", MaxAge: int(requestTTL / time.Second),
			HttpOnly: true, Secure: r.TLS != nil || r.URL.Scheme == "https", SameSite: http.SameSiteLaxMode})
	}
}

// replay writes a response the library wrote to rec, with body in place of its body.
func replay(w http.ResponseWriter, rec *httptest.ResponseRecorder, body []byte) {
	for k, v := range rec.Header() {
		if k != "Content-Length" {
			w.Header()[k] = append(w.Header()[k], v...)
		}
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(body)
}

// deviceAuthorization serves the device endpoint with the verification URIs rewritten from the
// issuer's name to base.
func (p *Provider) deviceAuthorization(h http.Handler, base string, w http.ResponseWriter, r *http.Request) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	body := rec.Body.Bytes()
	if rec.Code == http.StatusOK {
		var m map[string]any
		if json.Unmarshal(body, &m) == nil {
			for _, k := range []string{"verification_uri", "verification_uri_complete"} {
				if s, ok := m[k].(string); ok && strings.HasPrefix(s, strings.TrimSuffix(p.cfg.Issuer, "/")) {
					m[k] = base + strings.TrimPrefix(s, strings.TrimSuffix(p.cfg.Issuer, "/"))
				}
			}
			if b, err := json.Marshal(m); err == nil {
				body = b
			}
		}
	}
	replay(w, rec, body)
}

// Discovery is what the provider adds to the OpenID discovery document (OpenID Connect Discovery
// 1.0 §3; RFC 8414), its endpoints under base.
func (p *Provider) Discovery(base string) map[string]any {
	return map[string]any{
		"authorization_endpoint":                base + AuthorizePath,
		"token_endpoint":                        base + TokenPath,
		"revocation_endpoint":                   base + RevokePath,
		"device_authorization_endpoint":         base + DevicePath,
		"userinfo_endpoint":                     base + UserinfoPath,
		"response_types_supported":              []string{"code"},
		"response_modes_supported":              []string{"query"},
		"grant_types_supported":                 []string{"authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code"},
		"code_challenge_methods_supported":      []string{"S256"},
		"token_endpoint_auth_methods_supported": []string{"none"},
		"scopes_supported":                      []string{"openid", "profile", "offline_access", ScopeApp, ScopeAll, ScopeAdmin},
	}
}

// apiScopes returns the API scopes among scopes, in their short form: Graph's full names
// (https://graph.microsoft.com/UserActivity.ReadWrite.CreatedByApp) and .default, which asks for
// the app's permission, map to the short ones.
func apiScopes(scopes []string) []string {
	var out []string
	add := func(s string) {
		for _, have := range out {
			if have == s {
				return
			}
		}
		out = append(out, s)
	}
	for _, s := range scopes {
		s = strings.TrimPrefix(s, graphPrefix)
		switch {
		case strings.EqualFold(s, ScopeApp), s == ".default":
			add(ScopeApp)
		case strings.EqualFold(s, ScopeAll):
			add(ScopeAll)
		case strings.EqualFold(s, ScopeAdmin):
			add(ScopeAdmin)
		}
	}
	return out
}

// knownScope reports whether an app may ask for scope.
func knownScope(scope string) bool {
	switch scope {
	case "openid", "profile", "offline_access":
		return true
	}
	return len(apiScopes([]string{scope})) > 0
}
