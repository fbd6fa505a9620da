// Package auth checks bearer JWTs and turns them into an activity.Principal, and runs activityd's
// local token issuer. Keys come from an issuer's JWKS (fetched over HTTP) or, for the local issuer,
// from memory; both go through the same verification. It must not import other adapters of activityd.
package auth

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/activityd/activityd"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Scope is the one Graph permission of the user-activities API.
const Scope = "UserActivity.ReadWrite.CreatedByApp"

// Algorithms are the signature algorithms a token may use. "none" and the HMAC family are never
// accepted: an HMAC "signed" with a public key would verify against anyone's forgery.
var Algorithms = []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA}

// Graph's audiences: its resource URI and its application id. Entra issues tokens for Graph with either.
var GraphAudiences = []string{"https://graph.microsoft.com", "00000003-0000-0000-c000-000000000000"}

// maxTokenLength bounds the work an oversized token can cause; Entra tokens are a few KB.
const maxTokenLength = 16 << 10

// KeySource finds the public key that signed a token.
type KeySource interface {
	// Key returns the key with the given id (kid), or an error when there is none.
	Key(ctx context.Context, kid string) (*jose.JSONWebKey, error)
}

// Issuer is a token issuer the verifier trusts.
type Issuer struct {
	// Name is the exact iss value, or a template with "{tid}" that the token's tid claim fills, such as
	// Entra's "https://login.microsoftonline.com/{tid}/v2.0".
	Name string
	Keys KeySource
}

// Verifier checks bearer tokens: signature with an allow-listed algorithm and a key of a trusted issuer,
// iss, aud, exp and nbf (with Leeway), and the scope.
type Verifier struct {
	Issuers   []Issuer
	Audiences []string      // at least one must be in aud
	Scopes    []string      // at least one must be in scp; default []string{Scope}
	Leeway    time.Duration // clock skew allowed on exp and nbf
	Now       func() time.Time
	// CacheSize bounds the cache of verified tokens; 0 means DefaultCacheSize, negative turns it off.
	CacheSize int

	cacheOnce sync.Once
	cache     *tokenCache
}

// claims are the token claims activityd reads.
type claims struct {
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

func unauthenticated(format string, args ...any) error {
	return activity.Errorf(activity.Unauthenticated, format, args...)
}

// Verify checks a bearer token and returns the principal it names. Errors: Unauthenticated for a
// token that is malformed, badly signed, expired or not for this service; Forbidden for a valid token
// without the scope (including app-only tokens).
func (v *Verifier) Verify(ctx context.Context, token string) (activity.Principal, error) {
	if len(token) > maxTokenLength {
		return activity.Principal{}, unauthenticated("The access token is longer than %d bytes.", maxTokenLength)
	}
	v.cacheOnce.Do(func() {
		switch {
		case v.CacheSize == 0:
			v.cache = newTokenCache(DefaultCacheSize)
		case v.CacheSize > 0:
			v.cache = newTokenCache(v.CacheSize)
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
	e := cachedToken{p: p, expires: c.Expiry.Time().Add(v.Leeway)}
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
	tok, err := jwt.ParseSigned(token, Algorithms)
	if err != nil {
		return activity.Principal{}, nil, unauthenticated("The access token is malformed or uses an algorithm other than RS256, ES256 or EdDSA.")
	}
	// Which issuer, and so which keys, is named inside the token; the claims are trusted only below,
	// once the signature is verified with that issuer's key.
	var unverified claims
	if err := tok.UnsafeClaimsWithoutVerification(&unverified); err != nil {
		return activity.Principal{}, nil, unauthenticated("The access token's claims are malformed.")
	}
	iss := v.issuer(unverified.Issuer, unverified.TenantID)
	if iss == nil {
		return activity.Principal{}, nil, unauthenticated("The access token's issuer is not trusted.")
	}
	kid := tok.Headers[0].KeyID
	key, err := iss.Keys.Key(ctx, kid)
	if err != nil {
		return activity.Principal{}, nil, unauthenticated("The access token's signing key '%s' is not known.", kid)
	}
	var c claims
	if err := tok.Claims(key.Key, &c); err != nil {
		return activity.Principal{}, nil, unauthenticated("The access token's signature is invalid.")
	}
	if err := v.validate(&c); err != nil {
		return activity.Principal{}, nil, err
	}
	p, err := principal(&c)
	return p, &c, err
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

func (v *Verifier) validate(c *claims) error {
	now := v.now()
	if c.Expiry == nil {
		return unauthenticated("The access token has no expiry (exp).")
	}
	err := c.Claims.ValidateWithLeeway(jwt.Expected{Time: now}, v.Leeway)
	switch {
	case errors.Is(err, jwt.ErrExpired):
		return unauthenticated("The access token has expired.")
	case errors.Is(err, jwt.ErrNotValidYet), errors.Is(err, jwt.ErrIssuedInTheFuture):
		return unauthenticated("The access token is not valid yet.")
	case err != nil:
		return unauthenticated("The access token is invalid: %v.", err)
	}
	if !slices.ContainsFunc(v.Audiences, c.Audience.Contains) {
		return unauthenticated("The access token's audience is not this service.")
	}
	if c.Scope == "" && len(c.Roles) > 0 {
		return activity.Errorf(activity.Forbidden, "Application permissions are not supported; use a delegated token with the scope %s.", Scope)
	}
	scopes := v.Scopes
	if len(scopes) == 0 {
		scopes = []string{Scope}
	}
	granted := strings.Fields(c.Scope)
	for _, s := range scopes {
		if slices.Contains(granted, s) {
			return nil
		}
	}
	return activity.Errorf(activity.Forbidden, "The access token lacks the scope %s.", strings.Join(scopes, " or "))
}

// principal maps verified claims to the principal: tenant tid (or, outside Entra, the issuer), user oid
// falling back to sub, app azp falling back to appid.
func principal(c *claims) (activity.Principal, error) {
	p := activity.Principal{TenantID: c.TenantID, UserID: c.ObjectID, AppID: c.AuthorizedParty, UserName: c.PreferredUsername}
	if p.TenantID == "" {
		p.TenantID = c.Issuer
	}
	if p.UserID == "" {
		p.UserID = c.Subject
	}
	if p.AppID == "" {
		p.AppID = c.AppID
	}
	if p.UserName == "" {
		p.UserName = c.UPN
	}
	switch {
	case p.UserID == "":
		return p, unauthenticated("The access token names no user (oid or sub).")
	case p.AppID == "":
		return p, unauthenticated("The access token names no client application (azp or appid).")
	}
	return p, nil
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
