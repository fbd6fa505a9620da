package provider

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/activityd/activityd"
	"github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// Record kinds of the protocol's state.
const (
	kindRequest  = "authreq"   // an authorization request, from /authorize to its code's exchange
	kindCode     = "code"      // an authorization code (by its value), pointing at its request
	kindCodeUsed = "code-used" // a code exchanged once: a second exchange revokes what the first gave
	kindDevice   = "device"    // a device authorization, by the SHA-256 of its device code
	kindUserCode = "user-code" // a device authorization's user code, pointing at it
	kindGrant    = "grant"     // a signed-in device or app of an account (owner: the account)
	kindRefresh  = "refresh"   // a refresh token, by its SHA-256 (owner: its grant)
)

// authRequest is an authorization request (RFC 6749 §4.1.1) as op.AuthRequest.
type authRequest struct {
	ID            string    `json:"id"`
	ClientID      string    `json:"clientId"`
	RedirectURI   string    `json:"redirectUri"`
	State         string    `json:"state,omitempty"`
	Nonce         string    `json:"nonce,omitempty"`
	Scopes        []string  `json:"scopes"`
	ResponseMode  string    `json:"responseMode,omitempty"`
	CodeChallenge string    `json:"codeChallenge"`
	Audience      []string  `json:"audience"`
	Subject       string    `json:"subject,omitempty"` // the account's oid, once approved
	AuthTime      time.Time `json:"authTime,omitzero"`
	Approved      bool      `json:"done,omitempty"`
}

var _ op.AuthRequest = (*authRequest)(nil)

func (a *authRequest) GetID() string          { return a.ID }
func (a *authRequest) GetACR() string         { return "" }
func (a *authRequest) GetAMR() []string       { return []string{"pwd"} }
func (a *authRequest) GetAudience() []string  { return a.Audience }
func (a *authRequest) GetAuthTime() time.Time { return a.AuthTime }
func (a *authRequest) GetClientID() string    { return a.ClientID }
func (a *authRequest) GetNonce() string       { return a.Nonce }
func (a *authRequest) GetRedirectURI() string { return a.RedirectURI }
func (a *authRequest) GetScopes() []string    { return a.Scopes }
func (a *authRequest) GetState() string       { return a.State }
func (a *authRequest) GetSubject() string     { return a.Subject }
func (a *authRequest) Done() bool             { return a.Approved }
func (a *authRequest) GetResponseType() oidc.ResponseType {
	return oidc.ResponseTypeCode
}
func (a *authRequest) GetResponseMode() oidc.ResponseMode { return oidc.ResponseMode(a.ResponseMode) }
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge {
	return &oidc.CodeChallenge{Challenge: a.CodeChallenge, Method: oidc.CodeChallengeMethodS256}
}

// Grant is a signed-in device or app of an account: what the person sees on the devices page and
// can revoke. Its refresh tokens (one live at a time; each use replaces it) carry it.
type Grant struct {
	ID        string    `json:"id"`
	Subject   string    `json:"subject"` // the account's oid
	ClientID  string    `json:"clientId"`
	Scopes    []string  `json:"scopes"`
	AuthTime  time.Time `json:"authTime"`
	Created   time.Time `json:"created"`
	LastUsed  time.Time `json:"lastUsed"`
	LastAddr  string    `json:"lastAddr,omitempty"`  // the client address of its last token request
	UserAgent string    `json:"userAgent,omitempty"` // the User-Agent of its last token request
	Expires   time.Time `json:"expires"`             // when it ends unless used again
}

// refreshToken is a refresh token's record. Rotated marks one already exchanged: presenting it
// again means it leaked, and the grant is revoked (OAuth 2.0 Security BCP, RFC 9700 §4.14.2).
type refreshToken struct {
	Grant   string `json:"grant"`
	Rotated bool   `json:"rotated,omitempty"`
}

// refreshRequest is a refresh token's grant as op.RefreshTokenRequest.
type refreshRequest struct {
	aud    []string
	grant  Grant
	hash   string
	scopes []string
}

func (r *refreshRequest) GetAMR() []string            { return []string{"pwd"} }
func (r *refreshRequest) GetAudience() []string       { return r.aud }
func (r *refreshRequest) GetAuthTime() time.Time      { return r.grant.AuthTime }
func (r *refreshRequest) GetClientID() string         { return r.grant.ClientID }
func (r *refreshRequest) GetScopes() []string         { return r.scopes }
func (r *refreshRequest) GetSubject() string          { return r.grant.Subject }
func (r *refreshRequest) SetCurrentScopes(s []string) { r.scopes = s }

// device is a device authorization (RFC 8628 §3.1–3.5).
type device struct {
	ClientID string    `json:"clientId"`
	Scopes   []string  `json:"scopes"`
	UserCode string    `json:"userCode"`
	Expires  time.Time `json:"expires"`
	Done     bool      `json:"done,omitempty"`
	Denied   bool      `json:"denied,omitempty"`
	Subject  string    `json:"subject,omitempty"`
	AuthTime time.Time `json:"authTime,omitzero"`
}

// storage is op.Storage (and op.DeviceAuthorizationStorage) on the provider's records.
type storage struct {
	p *Provider
}

var (
	_ op.Storage                        = (*storage)(nil)
	_ op.DeviceAuthorizationStorage     = (*storage)(nil)
	_ op.CanGetPrivateClaimsFromRequest = (*storage)(nil)
	_ op.CanSetUserinfoFromRequest      = (*storage)(nil)
)

func digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s *storage) put(ctx context.Context, kind, id, owner string, expires time.Time, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.p.records.PutRecord(ctx, activity.Record{Kind: kind, ID: id, Owner: owner, Expires: expires, Body: body})
}

func (s *storage) get(ctx context.Context, kind, id string, v any) (activity.Record, error) {
	r, err := s.p.records.FindRecord(ctx, kind, id)
	if err != nil {
		return r, err
	}
	return r, json.Unmarshal(r.Body, v)
}

// CreateAuthRequest keeps a validated authorization request. PKCE with S256 is required of every
// app (RFC 9700 §2.1.1; plain and no challenge are refused), and so is a scope of the API.
func (s *storage) CreateAuthRequest(ctx context.Context, req *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	// Bounded so that a request always fits its record: too long is the app's mistake (a 4xx), not ours.
	if len(req.State) > 1024 || len(req.Nonce) > 1024 || len(req.RedirectURI) > 2048 || len(req.Scopes) > 20 || len(strings.Join(req.Scopes, " ")) > 2048 ||
		len(req.CodeChallenge) > 128 {
		return nil, oidc.ErrInvalidRequest().WithDescription("state and nonce may have 1,024 bytes, redirect_uri and scope 2,048, code_challenge 128 (and scope 20 names)")
	}
	if app, err := s.p.Apps.Find(ctx, req.ClientID); err != nil || !app.redirectAllowed(req.RedirectURI) {
		return nil, oidc.ErrInvalidRequestRedirectURI().WithDescription("the redirect_uri is not one the app registered")
	}
	if req.CodeChallenge == "" {
		return nil, oidc.ErrInvalidRequest().WithDescription("code_challenge is missing: activityd requires PKCE with code_challenge_method=S256 (RFC 7636)")
	}
	if req.CodeChallengeMethod != oidc.CodeChallengeMethodS256 {
		return nil, oidc.ErrInvalidRequest().WithDescription("code_challenge_method must be S256: plain is not accepted (RFC 7636 §4.2)")
	}
	if len(apiScopes(req.Scopes)) == 0 && !hasScope(req.Scopes, "openid") {
		return nil, oidc.ErrInvalidScope().WithDescription("ask for the scope " + ScopeApp + " (or " + ScopeAll + "), or openid to sign a person in")
	}
	if req.ResponseMode != "" && req.ResponseMode != oidc.ResponseModeQuery {
		return nil, oidc.ErrInvalidRequest().WithDescription("response_mode must be query")
	}
	a := &authRequest{ID: uuid.NewString(), ClientID: req.ClientID, RedirectURI: req.RedirectURI, State: req.State,
		Nonce: req.Nonce, Scopes: req.Scopes, ResponseMode: string(req.ResponseMode), CodeChallenge: req.CodeChallenge,
		Audience: []string{s.p.cfg.Audience}}
	if err := s.put(ctx, kindRequest, a.ID, "", s.p.now().Add(requestTTL), a); err != nil {
		return nil, err
	}
	return a, nil
}

func (s *storage) AuthRequestByID(ctx context.Context, id string) (op.AuthRequest, error) {
	var a authRequest
	if _, err := s.get(ctx, kindRequest, id, &a); errors.Is(err, activity.ErrRecordNotFound) {
		return nil, oidc.ErrInvalidRequest().WithDescription("the sign-in request is unknown or expired: start again from the app")
	} else if err != nil {
		return nil, err
	}
	return &a, nil
}

// AuthRequestByCode exchanges a code once (RFC 6749 §4.1.2): the code is taken, so of two racing
// exchanges one wins, and a code presented again revokes the grant the first exchange made.
func (s *storage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	r, err := s.p.records.TakeRecord(ctx, kindCode, digest(code))
	if errors.Is(err, activity.ErrRecordNotFound) {
		if used, err := s.p.records.FindRecord(ctx, kindCodeUsed, digest(code)); err == nil {
			_ = s.p.Grants.revoke(ctx, "", string(used.Body))
		}
		return nil, oidc.ErrInvalidGrant().WithDescription("the authorization code is unknown, expired or used")
	} else if err != nil {
		return nil, err
	}
	requestID := string(r.Body)
	_ = s.p.records.PutRecord(ctx, activity.Record{Kind: kindCodeUsed, ID: digest(code), Expires: s.p.now().Add(s.p.cfg.RefreshTTL), Body: []byte(requestID)})
	return s.AuthRequestByID(ctx, requestID)
}

func (s *storage) SaveAuthCode(ctx context.Context, id, code string) error {
	return s.p.records.CreateRecord(ctx, activity.Record{Kind: kindCode, ID: digest(code), Expires: s.p.now().Add(codeTTL), Body: []byte(id)})
}

func (s *storage) DeleteAuthRequest(ctx context.Context, id string) error {
	if _, err := s.p.records.TakeRecord(ctx, kindRequest, id); err != nil && !errors.Is(err, activity.ErrRecordNotFound) {
		return err
	}
	return nil
}

// grantOf returns the grant a token request continues or starts. An authorization request's grant
// takes its id, so that a code exchanged twice can find and revoke it.
func (s *storage) grantOf(ctx context.Context, req op.TokenRequest, refresh bool) (Grant, error) {
	now := s.p.now().UTC()
	g := Grant{ID: uuid.NewString(), Subject: req.GetSubject(), Scopes: req.GetScopes(), Created: now, AuthTime: now}
	switch r := req.(type) {
	case *refreshRequest:
		g = r.grant
		g.Scopes = r.scopes
	case *authRequest:
		g.ID, g.ClientID, g.AuthTime = r.ID, r.ClientID, r.AuthTime
	case *op.DeviceAuthorizationState:
		g.ClientID, g.AuthTime = r.ClientID, r.AuthTime
	default:
		return g, fmt.Errorf("token request of type %T", req)
	}
	if g.Subject == "" {
		return g, oidc.ErrInvalidGrant().WithDescription("the request has no signed-in person")
	}
	if a, err := s.p.Accounts.ByID(ctx, g.Subject); err != nil || a.Disabled {
		return g, oidc.ErrInvalidGrant().WithDescription("the account is disabled or gone")
	}
	meta := requestMetaFrom(ctx)
	g.LastUsed, g.LastAddr, g.UserAgent = now, meta.addr, meta.userAgent
	g.Expires = now.Add(s.p.cfg.AccessTTL)
	if refresh {
		g.Expires = now.Add(s.p.cfg.RefreshTTL)
	}
	return g, nil
}

func (s *storage) accessTokenID(g Grant) string { return g.ID + "." + randomToken()[:16] }

func (s *storage) CreateAccessToken(ctx context.Context, req op.TokenRequest) (string, time.Time, error) {
	g, err := s.grantOf(ctx, req, false)
	if err != nil {
		return "", time.Time{}, err
	}
	if err := s.put(ctx, kindGrant, g.ID, g.Subject, g.Expires, g); err != nil {
		return "", time.Time{}, err
	}
	return s.accessTokenID(g), s.p.now().Add(s.p.cfg.AccessTTL), nil
}

// CreateAccessAndRefreshTokens starts a grant with its first refresh token, or rotates a grant's
// refresh token: the one presented is marked used, and a new one is handed out.
func (s *storage) CreateAccessAndRefreshTokens(ctx context.Context, req op.TokenRequest, current string) (string, string, time.Time, error) {
	g, err := s.grantOf(ctx, req, true)
	if err != nil {
		return "", "", time.Time{}, err
	}
	if rr, ok := req.(*refreshRequest); ok {
		// One exchange per token: whoever takes it rotates it.
		if _, err := s.p.records.TakeRecord(ctx, kindRefresh, rr.hash); errors.Is(err, activity.ErrRecordNotFound) {
			return "", "", time.Time{}, oidc.ErrInvalidGrant().WithDescription("the refresh token is unknown, expired or revoked")
		} else if err != nil {
			return "", "", time.Time{}, err
		}
		if err := s.put(ctx, kindRefresh, rr.hash, g.ID, g.Expires, refreshToken{Grant: g.ID, Rotated: true}); err != nil {
			return "", "", time.Time{}, err
		}
	}
	if err := s.put(ctx, kindGrant, g.ID, g.Subject, g.Expires, g); err != nil {
		return "", "", time.Time{}, err
	}
	token := randomToken()
	if err := s.put(ctx, kindRefresh, digest(token), g.ID, g.Expires, refreshToken{Grant: g.ID}); err != nil {
		return "", "", time.Time{}, err
	}
	return s.accessTokenID(g), token, s.p.now().Add(s.p.cfg.AccessTTL), nil
}

func (s *storage) TokenRequestByRefreshToken(ctx context.Context, token string) (op.RefreshTokenRequest, error) {
	var rt refreshToken
	hash := digest(token)
	if _, err := s.get(ctx, kindRefresh, hash, &rt); errors.Is(err, activity.ErrRecordNotFound) {
		return nil, op.ErrInvalidRefreshToken
	} else if err != nil {
		return nil, err
	}
	if rt.Rotated {
		// A used token again: it leaked, or its holder lost a race with a thief. Either way the grant
		// ends, and its holder signs in again.
		_ = s.p.Grants.revoke(ctx, "", rt.Grant)
		s.p.cfg.Logger.Warn("a used refresh token was presented again: its grant is revoked", "grant", rt.Grant)
		return nil, op.ErrInvalidRefreshToken
	}
	var g Grant
	if _, err := s.get(ctx, kindGrant, rt.Grant, &g); errors.Is(err, activity.ErrRecordNotFound) {
		return nil, op.ErrInvalidRefreshToken
	} else if err != nil {
		return nil, err
	}
	return &refreshRequest{aud: []string{s.p.cfg.Audience}, grant: g, hash: hash, scopes: g.Scopes}, nil
}

func (s *storage) TerminateSession(ctx context.Context, userID, clientID string) error {
	grants, err := s.p.Grants.List(ctx, userID)
	if err != nil {
		return err
	}
	for _, g := range grants {
		if g.ClientID == clientID {
			if err := s.p.Grants.revoke(ctx, userID, g.ID); err != nil {
				return err
			}
		}
	}
	return nil
}

// RevokeToken revokes the grant of a refresh token or an access token (RFC 7009 §2.1: revoking
// either ends the grant). A token of another app, or unknown, is answered as revoked (§2.2).
func (s *storage) RevokeToken(ctx context.Context, tokenOrID, userID, clientID string) *oidc.Error {
	grantID := tokenOrID
	if userID == "" {
		var rt refreshToken
		if _, err := s.get(ctx, kindRefresh, digest(tokenOrID), &rt); err != nil {
			return nil
		}
		grantID = rt.Grant
	} else if id, _, ok := strings.Cut(tokenOrID, "."); ok {
		grantID = id
	}
	var g Grant
	if _, err := s.get(ctx, kindGrant, grantID, &g); err != nil || g.ClientID != clientID {
		return nil
	}
	if err := s.p.Grants.revoke(ctx, g.Subject, g.ID); err != nil {
		return oidc.ErrServerError().WithParent(err)
	}
	return nil
}

func (s *storage) GetRefreshTokenInfo(ctx context.Context, clientID, token string) (string, string, error) {
	var rt refreshToken
	if _, err := s.get(ctx, kindRefresh, digest(token), &rt); err != nil {
		return "", "", op.ErrInvalidRefreshToken
	}
	var g Grant
	if _, err := s.get(ctx, kindGrant, rt.Grant, &g); err != nil || g.ClientID != clientID {
		return "", "", op.ErrInvalidRefreshToken
	}
	return g.Subject, g.ID, nil
}

// signingKey is a key of the ring as op.SigningKey.
type signingKey struct {
	key *ecdsa.PrivateKey
	kid string
}

func (k signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.ES256 }
func (k signingKey) Key() any                                    { return k.key }
func (k signingKey) ID() string                                  { return k.kid }

// publicKey is a key of the ring as op.Key.
type publicKey struct{ jwk jose.JSONWebKey }

func (k publicKey) ID() string                         { return k.jwk.KeyID }
func (k publicKey) Algorithm() jose.SignatureAlgorithm { return jose.ES256 }
func (k publicKey) Use() string                        { return "sig" }
func (k publicKey) Key() any                           { return k.jwk.Key }

func (s *storage) SigningKey(context.Context) (op.SigningKey, error) {
	key, kid := s.p.cfg.SigningKey()
	return signingKey{key: key, kid: kid}, nil
}
func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.ES256}, nil
}
func (s *storage) KeySet(context.Context) ([]op.Key, error) {
	var keys []op.Key
	for _, k := range s.p.cfg.PublicKeys() {
		keys = append(keys, publicKey{k})
	}
	return keys, nil
}

func (s *storage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	app, err := s.p.Apps.Find(ctx, id)
	if activity.ErrorCode(err) == activity.NotFound {
		return nil, oidc.ErrInvalidClient().WithDescription("no app is registered with this client_id")
	} else if err != nil {
		return nil, err
	}
	return client{app: app}, nil
}

func (s *storage) AuthorizeClientIDSecret(context.Context, string, string) error {
	return errors.New("apps of activityd are public clients: they have no secret")
}

func (s *storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

func (s *storage) setUserinfo(ctx context.Context, info *oidc.UserInfo, subject string) error {
	a, err := s.p.Accounts.ByID(ctx, subject)
	if err != nil {
		return err
	}
	info.Subject, info.PreferredUsername, info.Name = a.ID, a.Name, a.Name
	return nil
}

func (s *storage) SetUserinfoFromRequest(ctx context.Context, info *oidc.UserInfo, req op.IDTokenRequest, _ []string) error {
	return s.setUserinfo(ctx, info, req.GetSubject())
}

func (s *storage) SetUserinfoFromToken(ctx context.Context, info *oidc.UserInfo, _, subject, _ string) error {
	return s.setUserinfo(ctx, info, subject)
}

func (s *storage) SetIntrospectionFromToken(ctx context.Context, resp *oidc.IntrospectionResponse, _, subject, clientID string) error {
	resp.Active, resp.Subject, resp.ClientID = true, subject, clientID
	return nil
}

// GetPrivateClaimsFromRequest gives access tokens the claims of an Entra delegated token that the
// API reads (tid, oid, azp, scp; Microsoft identity platform access token claims reference), and
// sid, the grant, which the devices page names.
func (s *storage) GetPrivateClaimsFromRequest(ctx context.Context, req op.TokenRequest, scopes []string) (map[string]any, error) {
	var clientID string
	if r, ok := req.(interface{ GetClientID() string }); ok {
		clientID = r.GetClientID()
	}
	return s.GetPrivateClaimsFromScopes(ctx, req.GetSubject(), clientID, scopes)
}

func (s *storage) GetPrivateClaimsFromScopes(ctx context.Context, userID, clientID string, scopes []string) (map[string]any, error) {
	a, err := s.p.Accounts.ByID(ctx, userID)
	if err != nil {
		return nil, err
	}
	claims := map[string]any{"tid": s.p.cfg.Tenant, "oid": a.ID, "azp": clientID,
		"preferred_username": a.Name, "name": a.Name, "ver": "2.0"}
	// A sign-in without an API scope (openid only) gets an access token the API refuses: no scp. The
	// admin scope is an administrator's only, checked at every token (a refresh after the account
	// lost the role gives a token without it).
	api := apiScopes(scopes)
	if !a.Admin || a.Disabled {
		api = slices.DeleteFunc(api, func(s string) bool { return s == ScopeAdmin })
	}
	if len(api) > 0 {
		claims["scp"] = strings.Join(api, " ")
	}
	return claims, nil
}

func (s *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errors.New("the JWT profile grant is not supported")
}

func (s *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errors.New("the JWT profile grant is not supported")
}

func (s *storage) Health(context.Context) error { return nil }

// StoreDeviceAuthorization keeps a device authorization under the digest of its device code, and its
// user code (without its dash) pointing at it.
func (s *storage) StoreDeviceAuthorization(ctx context.Context, clientID, deviceCode, userCode string, expires time.Time, scopes []string) error {
	if len(apiScopes(scopes)) == 0 {
		return oidc.ErrInvalidScope().WithDescription("ask for the scope " + ScopeApp + " (or " + ScopeAll + ")")
	}
	code := normalizeUserCode(userCode)
	// The records outlive the authorization a little, so that polling after it ends is told
	// expired_token rather than access_denied.
	keep := expires.Add(time.Minute)
	err := s.p.records.CreateRecord(ctx, activity.Record{Kind: kindUserCode, ID: code, Expires: keep, Body: []byte(digest(deviceCode))})
	if errors.Is(err, activity.ErrRecordExists) {
		return op.ErrDuplicateUserCode
	} else if err != nil {
		return err
	}
	return s.put(ctx, kindDevice, digest(deviceCode), "", keep, device{ClientID: clientID, Scopes: scopes, UserCode: code, Expires: expires})
}

// GetDeviceAuthorizatonState answers a device's poll. An approved authorization is taken on the
// poll that gets its tokens, so a device code is exchanged once.
func (s *storage) GetDeviceAuthorizatonState(ctx context.Context, clientID, deviceCode string) (*op.DeviceAuthorizationState, error) {
	var d device
	if _, err := s.get(ctx, kindDevice, digest(deviceCode), &d); err != nil {
		return nil, err
	}
	if d.ClientID != clientID {
		return nil, errors.New("the device code is another app's")
	}
	state := &op.DeviceAuthorizationState{ClientID: d.ClientID, Audience: []string{s.p.cfg.Audience}, Scopes: d.Scopes, Expires: d.Expires,
		Done: d.Done, Denied: d.Denied, Subject: d.Subject, AuthTime: d.AuthTime, AMR: []string{"pwd"}}
	if d.Done {
		if _, err := s.p.records.TakeRecord(ctx, kindDevice, digest(deviceCode)); err != nil {
			return nil, err
		}
	}
	return state, nil
}

// normalizeUserCode is a user code as stored: upper case, without dashes or spaces (RFC 8628 §6.1:
// people type codes in any case, with or without punctuation).
func normalizeUserCode(code string) string {
	code = strings.ToUpper(code)
	return strings.Map(func(r rune) rune {
		if r == '-' || r == ' ' || r == '\t' {
			return -1
		}
		return r
	}, code)
}

// hasScope reports whether scopes hold s.
func hasScope(scopes []string, s string) bool { return slices.Contains(scopes, s) }
