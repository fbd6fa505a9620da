package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/activityd/activityd"
	"github.com/activityd/activityd/auth"
	"github.com/activityd/activityd/provider"
	"github.com/activityd/activityd/relyingparty"
	"github.com/activityd/activityd/web"
)

// newProvider starts the OpenID provider on the local issuer's key and the store's records, and
// registers the app of 'activityd login'.
func newProvider(ctx context.Context, cfg Config, store activity.Store, issuer *auth.LocalIssuer, logger *slog.Logger) (*provider.Provider, error) {
	records, ok := store.(activity.RecordStore)
	if !ok {
		return nil, nil
	}
	secret, err := store.Secret(ctx, "provider", 32)
	if err != nil {
		return nil, fmt.Errorf("read the store's secret: %w", err)
	}
	prov, err := provider.New(records, provider.Config{Issuer: issuer.Name, Audience: issuer.Audience, Tenant: auth.LocalTenant,
		SigningKey: issuer.SigningKey, PublicKeys: issuer.PublicKeys, Secret: secret, Username: auth.Username, UserID: auth.UserID, Logger: logger,
		AccessTTL: cfg.AccessTokenTTL, RefreshTTL: cfg.RefreshTokenTTL})
	if err != nil {
		return nil, err
	}
	if err := prov.Apps.Ensure(ctx, provider.App{ID: provider.CLIAppID, Name: "activityd command line",
		RedirectURIs: []string{"http://127.0.0.1/"}}); err != nil {
		return nil, fmt.Errorf("register the app of activityd login: %w", err)
	}
	issuer.Provider = prov.Discovery
	return prov, nil
}

// pageAccounts is the provider as the page's web.Accounts.
type pageAccounts struct {
	p      *provider.Provider
	issuer string
}

var _ web.Accounts = pageAccounts{}

// principal is the page's principal of an account: the person's view, as the local issuer's.
func (a pageAccounts) principal(acc provider.Account) activity.Principal {
	return activity.Principal{TenantID: auth.LocalTenant, UserID: acc.ID, UserName: acc.Name, AppID: "timeline",
		Issuer: a.issuer, AllApps: true}
}

func (a pageAccounts) Authenticate(ctx context.Context, name, password, addr string) (activity.Principal, error) {
	acc, err := a.p.Accounts.Authenticate(ctx, name, password, addr)
	if err != nil {
		return activity.Principal{}, err
	}
	return a.principal(acc), nil
}

func consent(r provider.Request) web.Consent {
	c := web.Consent{ID: r.ID, AppID: r.App.ID, AppName: r.App.DisplayName(), Offline: r.Offline,
		RedirectURI: r.RedirectURI}
	for _, s := range r.Scopes {
		c.All = c.All || s == provider.ScopeAll
		c.Admin = c.Admin || s == provider.ScopeAdmin
		c.API = c.API || s == provider.ScopeApp || s == provider.ScopeAll
	}
	return c
}

// account returns the account of a page principal: one of the local issuer's that has an account.
func (a pageAccounts) account(ctx context.Context, p activity.Principal) (provider.Account, error) {
	if p.Issuer != a.issuer || p.TenantID != auth.LocalTenant {
		return provider.Account{}, activity.Errorf(activity.Forbidden, "You signed in with another issuer's token: sign in with your account here to answer.")
	}
	acc, err := a.p.Accounts.ByID(ctx, p.UserID)
	if activity.ErrorCode(err) == activity.NotFound {
		return acc, activity.Errorf(activity.Forbidden, "You signed in with a token, and %s has no account here: sign in with an account (activityd user add %s).", p.UserName, p.UserName)
	}
	if err == nil && acc.Disabled {
		return acc, activity.Errorf(activity.Forbidden, "Your account is disabled.")
	}
	return acc, err
}

func (a pageAccounts) Bound(r *http.Request, id string) bool { return a.p.Bound(r, id) }

func (a pageAccounts) Active(ctx context.Context, p activity.Principal) bool {
	acc, err := a.p.Accounts.ByID(ctx, p.UserID)
	return err == nil && !acc.Disabled && p.Issuer == a.issuer
}

func (a pageAccounts) Request(ctx context.Context, id string) (web.Consent, error) {
	r, err := a.p.Request(ctx, id)
	return consent(r), err
}

func (a pageAccounts) Approve(ctx context.Context, id string, p activity.Principal) (string, error) {
	acc, err := a.account(ctx, p)
	if err != nil {
		return "", err
	}
	return a.p.Approve(ctx, id, acc)
}

func (a pageAccounts) Deny(ctx context.Context, id string) (string, error) { return a.p.Deny(ctx, id) }

func (a pageAccounts) DeviceRequest(ctx context.Context, code string, p activity.Principal) (web.Consent, error) {
	r, err := a.p.DeviceRequest(ctx, code, p.UserID)
	return consent(r), err
}

func (a pageAccounts) ApproveDevice(ctx context.Context, code string, p activity.Principal) error {
	acc, err := a.account(ctx, p)
	if err != nil {
		return err
	}
	return a.p.ApproveDevice(ctx, code, acc)
}

func (a pageAccounts) DenyDevice(ctx context.Context, code string, p activity.Principal) error {
	return a.p.DenyDevice(ctx, code, p.UserID)
}

func (a pageAccounts) Devices(ctx context.Context, p activity.Principal) ([]web.Device, error) {
	grants, err := a.p.Grants.List(ctx, p.UserID)
	if err != nil || p.Issuer != a.issuer {
		return nil, err
	}
	out := make([]web.Device, 0, len(grants))
	for _, g := range grants {
		d := web.Device{ID: g.ID, AppID: g.ClientID, AppName: g.ClientID, Created: g.Created, LastUsed: g.LastUsed,
			Addr: g.LastAddr, UserAgent: g.UserAgent}
		if app, err := a.p.Apps.Find(ctx, g.ClientID); err == nil {
			d.AppName = app.DisplayName()
		}
		for _, s := range g.Scopes {
			d.All = d.All || s == provider.ScopeAll || s == "https://graph.microsoft.com/"+provider.ScopeAll
		}
		out = append(out, d)
	}
	return out, nil
}

func (a pageAccounts) Revoke(ctx context.Context, p activity.Principal, id string) error {
	if p.Issuer != a.issuer {
		return activity.Errorf(activity.NotFound, "no such signed-in device or app")
	}
	return a.p.Grants.Revoke(ctx, p.UserID, id)
}

// externalSignIn is the external OpenID provider and the accounts as the page's web.External.
type externalSignIn struct {
	*relyingparty.Client
	accounts pageAccounts
}

func (e externalSignIn) SignIn(ctx context.Context, redirectURL, code, verifier, nonce string) (activity.Principal, error) {
	id, err := e.Exchange(ctx, redirectURL, code, verifier, nonce)
	if err != nil {
		return activity.Principal{}, err
	}
	acc, err := e.accounts.p.Accounts.External(ctx, id.Issuer, id.Subject, id.Username)
	if err != nil {
		return activity.Principal{}, err
	}
	return e.accounts.principal(acc), nil
}
