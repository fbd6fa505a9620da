package provider

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"time"

	"github.com/activityd/activityd"
)

// The methods the sign-in, consent, device and devices pages call.

// Request is an authorization or device request as the consent page shows it.
type Request struct {
	ID      string   // the authorization request's id, or the device's user code
	App     App      // who asks
	Scopes  []string // the API scopes asked for (ScopeApp, ScopeAll)
	Offline bool     // a refresh token is asked for: the app stays signed in
	// RedirectURI is where the answer goes (an authorization request's, checked against the app's).
	RedirectURI string
}

// Request returns the authorization request id, or activity.NotFound when it is unknown, expired
// or already answered.
func (p *Provider) Request(ctx context.Context, id string) (Request, error) {
	var a authRequest
	if _, err := p.storage.get(ctx, kindRequest, id, &a); errors.Is(err, activity.ErrRecordNotFound) || a.Approved {
		return Request{}, activity.Errorf(activity.NotFound, "this sign-in request is unknown, expired or answered: start again from the app")
	} else if err != nil {
		return Request{}, err
	}
	app, err := p.Apps.Find(ctx, a.ClientID)
	if err != nil {
		return Request{}, err
	}
	return Request{ID: a.ID, App: app, Scopes: apiScopes(a.Scopes), Offline: hasScope(a.Scopes, "offline_access"),
		RedirectURI: a.RedirectURI}, nil
}

// Approve records that account consented to the authorization request id, and returns where to
// send the browser: the provider's callback, which redirects to the app with a code.
func (p *Provider) Approve(ctx context.Context, id string, account Account) (string, error) {
	var a authRequest
	if _, err := p.storage.get(ctx, kindRequest, id, &a); errors.Is(err, activity.ErrRecordNotFound) || a.Approved {
		return "", activity.Errorf(activity.NotFound, "this sign-in request is unknown, expired or answered: start again from the app")
	} else if err != nil {
		return "", err
	}
	if err := mayGrant(a.Scopes, account); err != nil {
		return "", err
	}
	a.Subject, a.AuthTime, a.Approved = account.ID, p.now().UTC(), true
	if err := p.storage.put(ctx, kindRequest, a.ID, "", p.now().Add(requestTTL), a); err != nil {
		return "", err
	}
	return AuthorizePath + "/callback?id=" + url.QueryEscape(a.ID), nil
}

// Deny ends the authorization request id and returns where to send the browser: the app's
// redirect URI, registered and checked when the request was made, with error=access_denied (RFC
// 6749 §4.1.2.1).
func (p *Provider) Deny(ctx context.Context, id string) (string, error) {
	r, err := p.records.TakeRecord(ctx, kindRequest, id)
	if errors.Is(err, activity.ErrRecordNotFound) {
		return "", activity.Errorf(activity.NotFound, "this sign-in request is unknown, expired or answered: start again from the app")
	} else if err != nil {
		return "", err
	}
	var a authRequest
	if err := json.Unmarshal(r.Body, &a); err != nil {
		return "", err
	}
	u, err := url.Parse(a.RedirectURI)
	if err != nil {
		return "", err
	}
	q := u.Query()
	q.Set("error", "access_denied")
	q.Set("error_description", "The person declined.")
	if a.State != "" {
		q.Set("state", a.State)
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// DeviceRequest returns the pending device authorization of a user code (typed in any case, with
// or without its dash), or activity.NotFound. who (the account looking) may get 10 codes wrong, then
// one a minute (RFC 8628 §5.1): past that, activity.Forbidden.
func (p *Provider) DeviceRequest(ctx context.Context, userCode, who string) (Request, error) {
	guesses := p.Accounts.limiter("d:"+who, deviceGuesses, time.Minute)
	if guesses.Tokens() < 1 {
		return Request{}, activity.Errorf(activity.Forbidden, "Too many codes that match no device: wait a minute and try again.")
	}
	d, _, err := p.device(ctx, userCode)
	if activity.ErrorCode(err) == activity.NotFound {
		guesses.Allow()
	}
	if err != nil {
		return Request{}, err
	}
	app, err := p.Apps.Find(ctx, d.ClientID)
	if err != nil {
		return Request{}, err
	}
	return Request{ID: d.UserCode, App: app, Scopes: apiScopes(d.Scopes), Offline: hasScope(d.Scopes, "offline_access")}, nil
}

func (p *Provider) device(ctx context.Context, userCode string) (device, string, error) {
	notFound := activity.Errorf(activity.NotFound, "no device is waiting with this code: check it, or start again on the device")
	code := normalizeUserCode(userCode)
	if code == "" {
		return device{}, "", notFound
	}
	ref, err := p.records.FindRecord(ctx, kindUserCode, code)
	if errors.Is(err, activity.ErrRecordNotFound) {
		return device{}, "", notFound
	} else if err != nil {
		return device{}, "", err
	}
	var d device
	if _, err := p.storage.get(ctx, kindDevice, string(ref.Body), &d); errors.Is(err, activity.ErrRecordNotFound) {
		return device{}, "", notFound
	} else if err != nil {
		return device{}, "", err
	}
	if d.Done || d.Denied || !p.now().Before(d.Expires) {
		return device{}, "", notFound
	}
	return d, string(ref.Body), nil
}

// deviceGuesses is how many wrong user codes an account may enter before one a minute.
const deviceGuesses = 10

// ApproveDevice records that account consented to the device authorization of userCode; the
// device's next poll gets its tokens.
func (p *Provider) ApproveDevice(ctx context.Context, userCode string, account Account) error {
	return p.answerDevice(ctx, userCode, account.ID, func(d *device) error {
		if err := mayGrant(d.Scopes, account); err != nil {
			return err
		}
		d.Done, d.Subject, d.AuthTime = true, account.ID, p.now().UTC()
		return nil
	})
}

// mayGrant refuses an approval of scopes that the account cannot give: ScopeAdmin is an
// administrator's.
func mayGrant(scopes []string, account Account) error {
	if slices.Contains(apiScopes(scopes), ScopeAdmin) && !account.Admin {
		return activity.Errorf(activity.Forbidden, "This app asks to manage the server's accounts and apps (%s), and %s is not an administrator.", ScopeAdmin, account.Name)
	}
	return nil
}

// DenyDevice records that who (an account's oid) declined the device authorization of userCode;
// the device's next poll gets access_denied.
func (p *Provider) DenyDevice(ctx context.Context, userCode, who string) error {
	return p.answerDevice(ctx, userCode, who, func(d *device) error { d.Denied = true; return nil })
}

// answerDevice answers the device authorization of userCode for who, whose wrong codes count as in
// DeviceRequest; an answer that fails leaves the device waiting.
func (p *Provider) answerDevice(ctx context.Context, userCode, who string, answer func(*device) error) error {
	guesses := p.Accounts.limiter("d:"+who, deviceGuesses, time.Minute)
	if guesses.Tokens() < 1 {
		return activity.Errorf(activity.Forbidden, "Too many codes that match no device: wait a minute and try again.")
	}
	// The user code is taken first: of two answers, one counts.
	d, id, err := p.device(ctx, userCode)
	if activity.ErrorCode(err) == activity.NotFound {
		guesses.Allow()
	}
	if err != nil {
		return err
	}
	if err := answer(&d); err != nil {
		return err
	}
	if _, err := p.records.TakeRecord(ctx, kindUserCode, d.UserCode); errors.Is(err, activity.ErrRecordNotFound) {
		return activity.Errorf(activity.NotFound, "this code was answered already")
	} else if err != nil {
		return err
	}
	return p.storage.put(ctx, kindDevice, id, "", d.Expires.Add(time.Minute), d)
}

// GrantStore keeps the grants of every account.
type GrantStore struct {
	records activity.RecordStore
}

// NewGrants returns the grants kept in records, for the activityd user command.
func NewGrants(records activity.RecordStore) *GrantStore { return &GrantStore{records: records} }

// List returns the live grants of the account with oid subject, most recently used first.
func (p *GrantStore) List(ctx context.Context, subject string) ([]Grant, error) {
	rs, err := p.records.ListRecords(ctx, kindGrant, subject)
	if err != nil {
		return nil, err
	}
	out := make([]Grant, 0, len(rs))
	for _, r := range rs {
		var g Grant
		if err := json.Unmarshal(r.Body, &g); err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].LastUsed.After(out[j].LastUsed) })
	return out, nil
}

// Revoke ends the grant id of the account with oid subject: its refresh tokens fail at once, its
// access tokens when they expire (within Config.AccessTTL). Another account's grant is
// activity.NotFound.
func (p *GrantStore) Revoke(ctx context.Context, subject, id string) error {
	r, err := p.records.FindRecord(ctx, kindGrant, id)
	if errors.Is(err, activity.ErrRecordNotFound) || (err == nil && r.Owner != subject) {
		return activity.Errorf(activity.NotFound, "no such signed-in device or app")
	} else if err != nil {
		return err
	}
	return p.revoke(ctx, subject, id)
}

// RevokeAll ends every grant of the account with oid subject and says how many.
func (p *GrantStore) RevokeAll(ctx context.Context, subject string) (int, error) {
	grants, err := p.List(ctx, subject)
	if err != nil {
		return 0, err
	}
	for _, g := range grants {
		if err := p.revoke(ctx, subject, g.ID); err != nil {
			return 0, err
		}
	}
	return len(grants), nil
}

// RevokeApp ends every grant of the app clientID, of every account, and says how many: an app that
// is removed, then registered again under its id (by someone else), revives none of them.
func (p *GrantStore) RevokeApp(ctx context.Context, clientID string) (int, error) {
	rs, err := p.records.ListRecords(ctx, kindGrant, "")
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range rs {
		var g Grant
		if err := json.Unmarshal(r.Body, &g); err != nil {
			return n, err
		}
		if g.ClientID != clientID {
			continue
		}
		if err := p.revoke(ctx, "", g.ID); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// revoke removes grant id and its refresh tokens. subject, when not empty, must own it.
func (p *GrantStore) revoke(ctx context.Context, subject, id string) error {
	r, err := p.records.TakeRecord(ctx, kindGrant, id)
	if err != nil && !errors.Is(err, activity.ErrRecordNotFound) {
		return err
	}
	if err == nil && subject != "" && r.Owner != subject {
		// Not theirs: put it back untouched.
		return p.records.PutRecord(ctx, r)
	}
	_, err = p.records.DeleteRecords(ctx, kindRefresh, id)
	return err
}

// requestMeta is what a grant remembers of the token request that used it last.
type requestMeta struct {
	addr, userAgent string
}

type metaKey struct{}

// WithRequest returns ctx carrying r's client address and User-Agent, for the grants a token
// request makes or uses. Handler calls it; remoteAddr names the client (the server's view of it,
// after any trusted proxy).
func WithRequest(ctx context.Context, r *http.Request) context.Context {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ua := r.UserAgent()
	if len(ua) > 200 {
		ua = ua[:200]
	}
	return context.WithValue(ctx, metaKey{}, requestMeta{addr: host, userAgent: ua})
}

func requestMetaFrom(ctx context.Context) requestMeta {
	m, _ := ctx.Value(metaKey{}).(requestMeta)
	return m
}
