// Package relyingparty signs people in to the timeline page through an external OpenID Connect
// provider (Entra ID, Keycloak, Authentik, Google, another activityd): the authorization code flow
// with PKCE (S256) and a nonce (OpenID Connect Core 1.0 §3.1; RFC 7636), on golang.org/x/oauth2 and
// coreos/go-oidc, which fetch the provider's discovery document and keys and verify its ID tokens.
// It must not import other adapters of activityd.
package relyingparty

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// Config names the provider and activityd's registration there.
type Config struct {
	Issuer       string // the provider's issuer URL (its discovery document is under it)
	ClientID     string
	ClientSecret string // empty for a public client
	// Name is the provider as the sign-in button names it ("Keycloak"); default the issuer's host.
	Name string
	// UsernameClaim is the ID token claim that names an account here; default preferred_username.
	UsernameClaim string
}

// Identity is who the provider says signed in.
type Identity struct {
	Issuer   string
	Subject  string // sub: stable at the provider, the key of the link to an account
	Username string // the UsernameClaim's value; empty when the token lacks it
}

// Client is the relying party. Its provider's discovery is fetched on first use (and again after a
// failure), so that activityd starts while the provider is down.
type Client struct {
	cfg Config
	// HTTP is the client for the provider; nil means one with a 10 s timeout.
	HTTP *http.Client

	mu       sync.Mutex
	provider *oidc.Provider
}

// New returns the relying party of cfg.
func New(cfg Config) *Client {
	if cfg.UsernameClaim == "" {
		cfg.UsernameClaim = "preferred_username"
	}
	if cfg.Name == "" {
		cfg.Name = strings.TrimPrefix(strings.TrimPrefix(cfg.Issuer, "https://"), "http://")
		cfg.Name, _, _ = strings.Cut(cfg.Name, "/")
	}
	return &Client{cfg: cfg}
}

// Name is the provider's name for the sign-in button.
func (c *Client) Name() string { return c.cfg.Name }

func (c *Client) context(ctx context.Context) context.Context {
	h := c.HTTP
	if h == nil {
		h = &http.Client{Timeout: 10 * time.Second}
	}
	return oidc.ClientContext(ctx, h)
}

func (c *Client) discover(ctx context.Context) (*oidc.Provider, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.provider != nil {
		return c.provider, nil
	}
	p, err := oidc.NewProvider(c.context(ctx), c.cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("the sign-in provider %s cannot be reached: %w", c.cfg.Issuer, err)
	}
	c.provider = p
	return p, nil
}

func (c *Client) oauth(p *oidc.Provider, redirectURL string) *oauth2.Config {
	return &oauth2.Config{ClientID: c.cfg.ClientID, ClientSecret: c.cfg.ClientSecret, RedirectURL: redirectURL,
		Endpoint: p.Endpoint(), Scopes: []string{oidc.ScopeOpenID, "profile"}}
}

// AuthURL returns where to send the browser to sign in, coming back to redirectURL with the given
// state; verifier is the PKCE code verifier (oauth2.GenerateVerifier), nonce binds the ID token to
// this sign-in.
func (c *Client) AuthURL(ctx context.Context, redirectURL, state, nonce, verifier string) (string, error) {
	p, err := c.discover(ctx)
	if err != nil {
		return "", err
	}
	return c.oauth(p, redirectURL).AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), nil
}

// ErrNoIDToken is a token response without an ID token.
var ErrNoIDToken = errors.New("the provider's answer has no ID token")

// Exchange redeems the code the provider sent back and returns who signed in, after checking the ID
// token's signature, issuer, audience, expiry and nonce.
func (c *Client) Exchange(ctx context.Context, redirectURL, code, verifier, nonce string) (Identity, error) {
	p, err := c.discover(ctx)
	if err != nil {
		return Identity{}, err
	}
	tok, err := c.oauth(p, redirectURL).Exchange(c.context(ctx), code, oauth2.VerifierOption(verifier))
	if err != nil {
		return Identity{}, fmt.Errorf("redeem the code: %w", err)
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok || raw == "" {
		return Identity{}, ErrNoIDToken
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: c.cfg.ClientID}).Verify(c.context(ctx), raw)
	if err != nil {
		return Identity{}, fmt.Errorf("the ID token: %w", err)
	}
	if idt.Nonce != nonce {
		return Identity{}, errors.New("the ID token's nonce is not this sign-in's")
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return Identity{}, fmt.Errorf("the ID token's claims: %w", err)
	}
	name, _ := claims[c.cfg.UsernameClaim].(string)
	return Identity{Issuer: idt.Issuer, Subject: idt.Subject, Username: name}, nil
}
