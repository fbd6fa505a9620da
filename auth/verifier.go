// Package auth checks bearer JWTs and turns them into an activity.Principal, and runs activityd's
// local token issuer. Keys come from an issuer's JWKS (fetched over HTTP) or, for the local issuer,
// from memory; both go through the same verification. It must not import other adapters of activityd.
package auth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/activityd/activityd"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Scope is the one Graph permission of the user-activities API.
const Scope = "UserActivity.ReadWrite.CreatedByApp"

// ScopeAll is activityd's own permission beyond Graph's: a person's view across all their apps,
// which the privacy API acts on (forget, block, pause, export). It names no Graph permission;
// Graph routes still show an app only its own activities (activity.Principal.AllApps).
const ScopeAll = "UserActivity.ReadWrite.All"

// ScopeAdmin is the permission of the admin API (package admin): an administrator's account and
// apps management. The API's routes refuse it alone; the admin API wants it.
const ScopeAdmin = "activityd.admin"

// Algorithms are the signature algorithms a token may use. "none" and the HMAC family are never
// accepted: an HMAC "signed" with a public key would verify against anyone's forgery.
var Algorithms = []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA}

// Graph's audiences: its resource URI and its application id. Entra issues tokens for Graph with either.
var GraphAudiences = []string{"https://graph.microsoft.com", "00000003-0000-0000-c000-000000000000"}

// maxTokenLength bounds the work an oversized token can cause; Entra tokens are a few KB.
const maxTokenLength = 16 << 10

// maxClaimBytes bounds each claim that becomes part of a key (tenant, user, app, user name, issuer),
// so that none makes cache entries, throttle counters or rows large; Entra's are GUIDs, sign-in names
// and URLs far below it.
const maxClaimBytes = 256

// KeySource finds the public key that signed a token.
type KeySource interface {
	// Key returns the key with the given id (kid), or an error when there is none.
	Key(ctx context.Context, kid string) (*jose.JSONWebKey, error)
}

// Issuer is a token issuer the verifier trusts, and the tenants it may speak for: one issuer's tokens
// never name a tenant, and so a user, of another.
type Issuer struct {
	// Name is the exact iss value, or a template with "{tid}" that the token's tid claim fills, such as
	// Entra's "https://login.microsoftonline.com/{tid}/v2.0". With a template, the iss of a token must
	// carry the very tid the token claims, and that tid is the principal's tenant.
	Name string
	Keys KeySource
	// Tenant, when set, is the one tenant this issuer speaks for: its tokens' tid must be Tenant (or
	// absent), and no other issuer's token may claim it. The local issuer's is LocalTenant.
	//
	// An issuer with neither a template nor a Tenant is one tenant too, named by its iss: the tid its
	// tokens carry does not choose the tenant (it could name another issuer's).
	Tenant string
	// Audiences, when set, are the audiences accepted from this issuer instead of the Verifier's.
	Audiences []string
	// Revoked, when set, says whether a token of userID for the app appID (azp) issued at issued
	// (the iat claim; zero when the token has none) was revoked since: its account was disabled or
	// deleted, or its app removed. Such a token is refused (ReasonRevoked) though it has not
	// expired. It is asked on every request, cached tokens too, so it must be quick
	// (provider.Revocations is).
	Revoked func(userID, appID string, issued time.Time) bool

	local bool // the LocalIssuer of this process: an unknown kid means a token of another key file
}

// Verifier checks bearer tokens: signature with an allow-listed algorithm and a key of a trusted issuer,
// iss, aud, exp and nbf (with Leeway), and the scope.
type Verifier struct {
	Issuers   []Issuer
	Audiences []string      // at least one must be in aud
	Scopes    []string      // at least one must be in scp; default []string{Scope, ScopeAll}
	Leeway    time.Duration // clock skew allowed on exp and nbf
	Now       func() time.Time
	// CacheSize bounds the cache of verified tokens; 0 means DefaultCacheSize, negative turns it off.
	CacheSize int
	// CacheBytes bounds the memory the cache's entries hold; 0 means DefaultCacheBytes.
	CacheBytes int
	// Logger, when set, hears why a trusted issuer's key set could not be fetched (FetchError), which
	// the token's holder sees only as a key that is not known.
	Logger *slog.Logger

	cacheOnce sync.Once
	cache     *tokenCache
}

// claims are the token claims activityd reads.
type claims struct {
	keys    KeySource                                         // the issuer's keys, and
	kid     string                                            // the one that verified the token (for the cache)
	revoked func(userID, appID string, issued time.Time) bool // the issuer's Revoked (for the cache)
	jwt.Claims
	TenantID          string   `json:"tid"`
	ObjectID          string   `json:"oid"`
	AuthorizedParty   string   `json:"azp"`
	AppID             string   `json:"appid"`
	Scope             string   `json:"scp"`
	Roles             []string `json:"roles"`
	PreferredUsername string   `json:"preferred_username"`
	UPN               string   `json:"upn"`
}

// Reasons a token is refused: a bounded set, for metrics (graph.Server.Refused) and logs.
const (
	ReasonMalformed       = "malformed"        // not a JWS of an accepted algorithm, too long, claims not JSON or UTF-8, a crit header
	ReasonUntrustedIssuer = "untrusted_issuer" // iss is no trusted issuer, or tid is not one it speaks for
	ReasonUnknownKey      = "unknown_key"      // kid is not in the issuer's key set (or the set cannot be fetched)
	ReasonBadSignature    = "bad_signature"
	ReasonExpired         = "expired" // exp passed (or missing), or nbf/iat ahead
	ReasonWrongAudience   = "wrong_audience"
	ReasonMissingScope    = "missing_scope" // none of the wanted scopes, or an app-only token
	ReasonBadClaims       = "bad_claims"    // tid, oid/sub or azp/appid missing or not a usable value
	ReasonRevoked         = "revoked"       // its account was disabled or deleted, or its app removed, after it was issued (Issuer.Revoked)
)

// refusal is a token refused, with the reason: an *activity.Error (Unauthenticated or Forbidden)
// for the client, and Reason (one of the Reason constants) for the operator; graph.RefusalReason
// reads it.
type refusal struct {
	reason string
	err    *activity.Error
}

func (r *refusal) Error() string  { return r.err.Error() }
func (r *refusal) Unwrap() error  { return r.err }
func (r *refusal) Reason() string { return r.reason }

func unauthenticated(reason, format string, args ...any) error {
	return &refusal{reason, activity.Errorf(activity.Unauthenticated, format, args...)}
}

func forbidden(reason, format string, args ...any) error {
	return &refusal{reason, activity.Errorf(activity.Forbidden, format, args...)}
}

// Verify checks a bearer token and returns the principal it names. Errors: Unauthenticated for a
// token that is malformed, badly signed, expired or not for this service; Forbidden for a valid token
// without the scope (including app-only tokens).
func (v *Verifier) Verify(ctx context.Context, token string) (activity.Principal, error) {
	if len(token) > maxTokenLength {
		return activity.Principal{}, unauthenticated(ReasonMalformed, "The access token is longer than %d bytes.", maxTokenLength)
	}
	v.cacheOnce.Do(func() {
		size, bytes := v.CacheSize, v.CacheBytes
		if size == 0 {
			size = DefaultCacheSize
		}
		if bytes <= 0 {
			bytes = DefaultCacheBytes
		}
		if size > 0 {
			v.cache = newTokenCache(size, bytes)
		}
	})
	if v.cache == nil {
		p, _, err := v.verify(ctx, token)
		return p, err
	}
	key, now := sha256.Sum256([]byte(token)), v.now()
	if p, ok := v.cache.get(key, now); ok {
		return p, nil
	}
	p, c, err := v.verify(ctx, token)
	if err != nil {
		return p, err
	}
	// The cached entry obeys the same exp and nbf, with the same leeway, as a full verification.
	e := cachedToken{p: p, expires: c.Expiry.Time().Add(v.Leeway), keys: c.keys, kid: c.kid, issued: c.issued(), revoked: c.revoked}
	if c.NotBefore != nil {
		e.notBefore = c.NotBefore.Time().Add(-v.Leeway)
	}
	v.cache.put(key, e, now)
	return p, nil
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

// verify does every check of a token and returns its principal and claims.
func (v *Verifier) verify(ctx context.Context, token string) (activity.Principal, *claims, error) {
	// JSON is UTF-8 (RFC 8259); decoding would silently turn invalid bytes into U+FFFD, and two
	// different byte strings into one claim value.
	if parts := strings.Split(token, "."); len(parts) == 3 {
		if payload, err := base64.RawURLEncoding.DecodeString(parts[1]); err == nil && !utf8.Valid(payload) {
			return activity.Principal{}, nil, unauthenticated(ReasonMalformed, "The access token's claims are not valid UTF-8.")
		}
	}
	tok, err := jwt.ParseSigned(token, Algorithms)
	if err != nil {
		return activity.Principal{}, nil, unauthenticated(ReasonMalformed, "The access token is malformed or uses an algorithm other than RS256, ES256 or EdDSA.")
	}
	// RFC 7515 §4.1.11: a header parameter marked critical must be understood, or the token refused.
	// activityd understands none (go-jose would accept "b64", which has no place in a JWT).
	if crit, ok := tok.Headers[0].ExtraHeaders["crit"]; ok {
		return activity.Principal{}, nil, unauthenticated(ReasonMalformed, "The access token's header marks %s critical (crit), which this service does not understand.", critNames(crit))
	}
	// Which issuer, and so which keys, is named inside the token; the claims are trusted only below,
	// once the signature is verified with that issuer's key.
	var unverified claims
	if err := tok.UnsafeClaimsWithoutVerification(&unverified); err != nil {
		return activity.Principal{}, nil, unauthenticated(ReasonMalformed, "The access token's claims are malformed.")
	}
	iss := v.issuer(unverified.Issuer, unverified.TenantID)
	if iss == nil {
		return activity.Principal{}, nil, unauthenticated(ReasonUntrustedIssuer, "The access token's issuer is not trusted.")
	}
	kid := tok.Headers[0].KeyID
	key, err := iss.Keys.Key(ctx, kid)
	if err != nil {
		if iss.local {
			return activity.Principal{}, nil, unauthenticated(ReasonUnknownKey, "The access token was signed by another key than this server's local issuer (kid '%s'): "+
				"it was minted with another key file (e.g. by 'activityd token' with a different data directory or --issuer-key), or with a key that was rotated out.", kid)
		}
		var fe *FetchError
		if errors.As(err, &fe) && v.Logger != nil {
			v.Logger.Warn("the key set of a trusted issuer could not be fetched", slog.String("issuer", iss.Name),
				slog.String("jwks", fe.URL), slog.String("kid", kid), slog.String("error", fe.Err.Error()))
		}
		return activity.Principal{}, nil, unauthenticated(ReasonUnknownKey, "The access token's signing key '%s' is not known.", kid)
	}
	c := claims{keys: iss.Keys, kid: kid}
	if err := tok.Claims(key.Key, &c); err != nil {
		if tok.Headers[0].Nonce != "" {
			// Entra's tokens for Microsoft Graph itself carry a nonce header and are signed over its
			// hash: only Graph can check them. An app gets a token for an API it exposes instead.
			return activity.Principal{}, nil, unauthenticated(ReasonBadSignature, "The access token's signature is invalid: a token with a nonce header is one for Microsoft Graph itself, "+
				"which only Graph can validate; request a token for the API your app registration exposes.")
		}
		return activity.Principal{}, nil, unauthenticated(ReasonBadSignature, "The access token's signature is invalid.")
	}
	if err := v.validate(&c, iss); err != nil {
		return activity.Principal{}, nil, err
	}
	tenant, err := v.tenant(iss, &c)
	if err != nil {
		return activity.Principal{}, nil, err
	}
	p, err := principal(&c, tenant)
	if err == nil && iss.Revoked != nil && iss.Revoked(p.UserID, p.AppID, c.issued()) {
		return activity.Principal{}, nil, unauthenticated(ReasonRevoked, "The access token was revoked: its account was disabled or deleted, or its app removed, after it was issued. Sign in again.")
	}
	c.revoked = iss.Revoked
	return p, &c, err
}

// issued is the token's iat, or zero.
func (c *claims) issued() time.Time {
	if c.IssuedAt == nil {
		return time.Time{}
	}
	return c.IssuedAt.Time()
}

// critNames lists the names of a crit header for a message.
func critNames(crit any) string {
	names, _ := crit.([]any)
	var quoted []string
	for _, n := range names {
		if s, ok := n.(string); ok && claimProblem(s) == "" && len(quoted) < 3 {
			quoted = append(quoted, "'"+s+"'")
		}
	}
	if len(quoted) == 0 {
		return "a header parameter"
	}
	return strings.Join(quoted, ", ")
}

// issuer returns the trusted issuer whose name, with tid filled in, is iss.
func (v *Verifier) issuer(iss, tid string) *Issuer {
	for i := range v.Issuers {
		name := v.Issuers[i].Name
		if strings.Contains(name, "{tid}") {
			if tid == "" {
				continue
			}
			name = strings.ReplaceAll(name, "{tid}", tid)
		}
		if iss == name {
			return &v.Issuers[i]
		}
	}
	return nil
}

// tenant returns the tenant a verified token of iss speaks for, binding tenants to issuers: a tenant
// that another trusted issuer owns (its Tenant) is refused; a fixed Tenant must be the token's tid; a
// template's tid is the one its iss carries (issuer matched it so); any other issuer is one tenant,
// named by its iss.
func (v *Verifier) tenant(iss *Issuer, c *claims) (string, error) {
	for i := range v.Issuers {
		if other := &v.Issuers[i]; other != iss && other.Tenant != "" && c.TenantID == other.Tenant {
			return "", unauthenticated(ReasonUntrustedIssuer, "The access token's tenant (tid) belongs to another issuer than its own (iss).")
		}
	}
	switch {
	case iss.Tenant != "":
		if c.TenantID != "" && c.TenantID != iss.Tenant {
			return "", unauthenticated(ReasonUntrustedIssuer, "The access token's tenant (tid) is not one its issuer (iss) speaks for.")
		}
		return iss.Tenant, nil
	case strings.Contains(iss.Name, "{tid}"):
		return c.TenantID, nil
	}
	return c.Issuer, nil
}

func (v *Verifier) validate(c *claims, iss *Issuer) error {
	now := v.now()
	if c.Expiry == nil {
		return unauthenticated(ReasonExpired, "The access token has no expiry (exp).")
	}
	err := c.Claims.ValidateWithLeeway(jwt.Expected{Time: now}, v.Leeway)
	switch {
	case errors.Is(err, jwt.ErrExpired):
		return unauthenticated(ReasonExpired, "The access token has expired.")
	case errors.Is(err, jwt.ErrNotValidYet), errors.Is(err, jwt.ErrIssuedInTheFuture):
		return unauthenticated(ReasonExpired, "The access token is not valid yet.")
	case err != nil:
		return unauthenticated(ReasonExpired, "The access token is invalid: %v.", err)
	}
	audiences := v.Audiences
	if len(iss.Audiences) > 0 {
		audiences = iss.Audiences
	}
	if !slices.ContainsFunc(audiences, c.Audience.Contains) {
		return unauthenticated(ReasonWrongAudience, "The access token's audience is not this service.")
	}
	if c.Scope == "" && len(c.Roles) > 0 {
		return forbidden(ReasonMissingScope, "Application permissions are not supported; use a delegated token with the scope %s.", Scope)
	}
	scopes := v.Scopes
	if len(scopes) == 0 {
		scopes = []string{Scope, ScopeAll}
	}
	granted := strings.Fields(c.Scope)
	for _, s := range scopes {
		if slices.Contains(granted, s) {
			return nil
		}
	}
	return forbidden(ReasonMissingScope, "The access token lacks the scope %s.", strings.Join(scopes, " or "))
}

// principal maps verified claims to the principal of tenant: user oid falling back to sub, app azp
// falling back to appid, and the issuer. Every claim that becomes part of a key is bounded in size
// and may hold no control character, so that keys made of them (the throttle's, the cache's) stay
// small and unambiguous.
func principal(c *claims, tenant string) (activity.Principal, error) {
	for _, claim := range []struct{ name, value string }{
		{"tid", c.TenantID}, {"oid", c.ObjectID}, {"sub", c.Subject}, {"azp", c.AuthorizedParty}, {"appid", c.AppID},
		{"preferred_username", c.PreferredUsername}, {"upn", c.UPN}, {"iss", c.Issuer},
	} {
		if problem := claimProblem(claim.value); problem != "" {
			return activity.Principal{}, unauthenticated(ReasonBadClaims, "The access token's %s claim %s.", claim.name, problem)
		}
	}
	p := activity.Principal{TenantID: tenant, UserID: c.ObjectID, AppID: c.AuthorizedParty, UserName: c.PreferredUsername, Issuer: c.Issuer}
	if p.UserID == "" {
		p.UserID = c.Subject
	}
	if p.AppID == "" {
		p.AppID = c.AppID
	}
	if p.UserName == "" {
		p.UserName = c.UPN
	}
	p.AllApps = slices.Contains(strings.Fields(c.Scope), ScopeAll)
	switch {
	case p.TenantID == "":
		return p, unauthenticated(ReasonBadClaims, "The access token names no tenant (tid).")
	case p.UserID == "":
		return p, unauthenticated(ReasonBadClaims, "The access token names no user (oid or sub).")
	case p.AppID == "":
		return p, unauthenticated(ReasonBadClaims, "The access token names no client application (azp or appid).")
	}
	return p, nil
}

// claimProblem says what is wrong with a claim that becomes part of a key, or "" when nothing is.
func claimProblem(v string) string {
	if len(v) > maxClaimBytes {
		return fmt.Sprintf("is longer than %d bytes", maxClaimBytes)
	}
	if !utf8.ValidString(v) {
		return "is not valid UTF-8"
	}
	for _, r := range v {
		if unicode.IsControl(r) {
			return fmt.Sprintf("holds a control character (U+%04X)", r)
		}
	}
	return ""
}

// StaticKeys is a KeySource holding a fixed key set, such as the local issuer's.
type StaticKeys jose.JSONWebKeySet

// Key returns the key with id kid.
func (s StaticKeys) Key(_ context.Context, kid string) (*jose.JSONWebKey, error) {
	set := jose.JSONWebKeySet(s)
	if keys := set.Key(kid); len(keys) > 0 {
		return &keys[0], nil
	}
	return nil, fmt.Errorf("no key %q", kid)
}
