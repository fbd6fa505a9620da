package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/activityd/activityd"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// kindApp is the record of an app, keyed by its client_id.
const kindApp = "app"

// App is a registered OAuth client: a public client (RFC 6749 §2.1) that proves itself with PKCE,
// never with a secret. Its ID is the client_id and becomes the azp of its tokens, which is what
// keeps its activities apart from other apps'.
type App struct {
	ID           string    `json:"id"`
	Name         string    `json:"name,omitempty"` // shown on the consent page; ID when empty
	RedirectURIs []string  `json:"redirectUris"`
	Created      time.Time `json:"created"`
}

// DisplayName is the name the consent page shows.
func (a App) DisplayName() string {
	if a.Name != "" {
		return a.Name
	}
	return a.ID
}

// CLIAppID is the app `activityd login` signs in as; the server registers it on start. It uses the
// device grant only, so it has no redirect URI.
const CLIAppID = "activityd-cli"

// Apps are the registered apps.
type Apps struct {
	records activity.RecordStore
}

// NewApps returns the apps kept in records, for the activityd app command.
func NewApps(records activity.RecordStore) *Apps { return &Apps{records: records} }

// CheckRedirectURI reports a redirect URI an app may not register: it must be absolute, without a
// fragment (RFC 6749 §3.1.2), and https, http to a loopback address (RFC 8252 §7.3, any port at
// sign-in), or a private-use scheme with a dot in it (RFC 8252 §7.1, com.example.app:/cb).
func CheckRedirectURI(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() {
		return fmt.Errorf("the redirect URI %q is not an absolute URI", raw)
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return fmt.Errorf("the redirect URI %q has a fragment, which RFC 6749 §3.1.2 forbids", raw)
	}
	switch {
	case u.Scheme == "https" && u.Host != "":
		return nil
	case u.Scheme == "http":
		if _, loopback := op.HTTPLoopbackOrLocalhost(raw); loopback {
			return nil
		}
		return fmt.Errorf("the redirect URI %q is http to a host that is not loopback: use https (RFC 8252 §8.3)", raw)
	case strings.Contains(u.Scheme, "."):
		return nil
	}
	return fmt.Errorf("the redirect URI %q must be https, http to 127.0.0.1 or [::1], or a private-use scheme such as com.example.app:/callback (RFC 8252 §7)", raw)
}

// validClientID reports whether id can name an app registered here: it is the OAuth client_id
// (RFC 6749 §2.2), the azp of its tokens and a path segment of the admin API, so a short, plain one.
func validClientID(id string) bool {
	if id == "" || len(id) > 128 || strings.Trim(id, ".") == "" { // "." and ".." are path segments, not names
		return false
	}
	for _, c := range []byte(id) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// Add registers an app. A taken id is activity.Conflict.
func (as *Apps) Add(ctx context.Context, app App) (App, error) {
	if !validClientID(app.ID) {
		return App{}, activity.Errorf(activity.Invalid, "the app id %.100q is not valid: use 1 to 128 ASCII letters, digits, '.', '-' and '_'", app.ID)
	}
	if len(app.Name) > 200 || !utf8.ValidString(app.Name) || strings.ContainsFunc(app.Name, unicode.IsControl) {
		return App{}, activity.Errorf(activity.Invalid, "an app's name is at most 200 bytes of text, without control characters")
	}
	for _, u := range app.RedirectURIs {
		if err := CheckRedirectURI(u); err != nil {
			return App{}, activity.Errorf(activity.Invalid, "%s", err.Error())
		}
	}
	if app.Created.IsZero() {
		app.Created = time.Now().UTC()
	}
	body, _ := json.Marshal(app)
	if err := as.records.CreateRecord(ctx, activity.Record{Kind: kindApp, ID: app.ID, Body: body}); errors.Is(err, activity.ErrRecordExists) {
		return App{}, activity.Errorf(activity.Conflict, "an app with the id %q exists", app.ID)
	} else if err != nil {
		return App{}, err
	}
	return app, nil
}

// Ensure registers app unless an app with its id exists.
func (as *Apps) Ensure(ctx context.Context, app App) error {
	_, err := as.Add(ctx, app)
	if activity.ErrorCode(err) == activity.Conflict {
		return nil
	}
	return err
}

// Find returns the app with id, or activity.NotFound.
func (as *Apps) Find(ctx context.Context, id string) (App, error) {
	r, err := as.records.FindRecord(ctx, kindApp, id)
	if errors.Is(err, activity.ErrRecordNotFound) {
		return App{}, activity.Errorf(activity.NotFound, "no app has the id %.100q", id)
	} else if err != nil {
		return App{}, err
	}
	var a App
	if err := json.Unmarshal(r.Body, &a); err != nil {
		return App{}, fmt.Errorf("app %s: %w", id, err)
	}
	return a, nil
}

// List returns every app, by id.
func (as *Apps) List(ctx context.Context) ([]App, error) {
	rs, err := as.records.ListRecords(ctx, kindApp, "")
	if err != nil {
		return nil, err
	}
	out := make([]App, 0, len(rs))
	for _, r := range rs {
		var a App
		if err := json.Unmarshal(r.Body, &a); err != nil {
			return nil, fmt.Errorf("app %s: %w", r.ID, err)
		}
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Remove unregisters the app with id; the caller revokes its grants.
func (as *Apps) Remove(ctx context.Context, id string) error {
	if _, err := as.records.TakeRecord(ctx, kindApp, id); errors.Is(err, activity.ErrRecordNotFound) {
		return activity.Errorf(activity.NotFound, "no app has the id %.100q", id)
	} else if err != nil {
		return err
	}
	return nil
}

// client is an App as zitadel/oidc's op.Client: native (RFC 8252: exact redirect URIs, loopback
// ones on any port), public (no secret, PKCE), JWT access tokens.
type client struct {
	app App
}

var _ op.Client = client{}

func (c client) GetID() string                       { return c.app.ID }
func (c client) RedirectURIs() []string              { return c.app.RedirectURIs }
func (c client) PostLogoutRedirectURIs() []string    { return nil }
func (c client) ApplicationType() op.ApplicationType { return op.ApplicationTypeNative }
func (c client) AuthMethod() oidc.AuthMethod         { return oidc.AuthMethodNone }
func (c client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c client) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken, oidc.GrantTypeDeviceCode}
}
func (c client) LoginURL(id string) string            { return SignInPath + "?request=" + url.QueryEscape(id) }
func (c client) AccessTokenType() op.AccessTokenType  { return op.AccessTokenTypeJWT }
func (c client) IDTokenLifetime() time.Duration       { return time.Hour }
func (c client) DevMode() bool                        { return false }
func (c client) IsScopeAllowed(scope string) bool     { return knownScope(scope) }
func (c client) IDTokenUserinfoClaimsAssertion() bool { return false }
func (c client) ClockSkew() time.Duration             { return 0 }
func (c client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

// redirectAllowed reports whether uri is one of the app's redirect URIs: the same string, or, for a
// registered http://127.0.0.1 or http://[::1] one, the same but for a port (RFC 8252 §7.3). Stricter
// than the library's native-app rule, which also takes localhost, https and a fragment there.
func (a App) redirectAllowed(uri string) bool {
	if slices.Contains(a.RedirectURIs, uri) {
		return true
	}
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "http" || u.Fragment != "" || strings.Contains(uri, "#") || u.User != nil {
		return false
	}
	if ip := net.ParseIP(u.Hostname()); ip == nil || !ip.IsLoopback() {
		return false
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return false
		}
	}
	for _, reg := range a.RedirectURIs {
		ru, err := url.Parse(reg)
		if err == nil && ru.Scheme == "http" && ru.Hostname() == u.Hostname() && ru.Port() == "" &&
			ru.EscapedPath() == u.EscapedPath() && ru.RawQuery == u.RawQuery {
			return true
		}
	}
	return false
}
