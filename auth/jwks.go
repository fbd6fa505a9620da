package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// RemoteKeys is a KeySource that fetches an issuer's JWKS over https and keeps it. An unknown key id
// causes at most one fetch per MinRefresh, so forged kids cannot make activityd hammer the issuer.
// Plain http is refused (the keys decide who is who), except to a loopback address, for tests.
type RemoteKeys struct {
	URL        string
	Client     *http.Client  // nil means a client with a 10 s timeout
	MinRefresh time.Duration // default 1 minute

	mu      sync.Mutex
	keys    jose.JSONWebKeySet
	fetched time.Time
}

// maxJWKSBytes bounds a JWKS document; Entra's is a few KB.
const maxJWKSBytes = 1 << 20

// Key returns the key with id kid, fetching the key set when it is not known yet.
func (r *RemoteKeys) Key(ctx context.Context, kid string) (*jose.JSONWebKey, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if keys := r.keys.Key(kid); len(keys) > 0 {
		return &keys[0], nil
	}
	minRefresh := r.MinRefresh
	if minRefresh == 0 {
		minRefresh = time.Minute
	}
	if !r.fetched.IsZero() && time.Since(r.fetched) < minRefresh {
		return nil, fmt.Errorf("no key %q (key set fetched %s ago)", kid, time.Since(r.fetched).Round(time.Second))
	}
	r.fetched = time.Now()
	set, err := r.fetch(ctx)
	if err != nil {
		return nil, &FetchError{URL: r.URL, Err: err}
	}
	r.keys = set
	if keys := r.keys.Key(kid); len(keys) > 0 {
		return &keys[0], nil
	}
	return nil, fmt.Errorf("no key %q in %s", kid, r.URL)
}

// FetchError is a key set that could not be fetched: the issuer's JWKS URL is unreachable, answers
// an error, or is not a key set. Tokens of that issuer fail until it can be fetched again.
type FetchError struct {
	URL string
	Err error
}

func (e *FetchError) Error() string { return e.Err.Error() }
func (e *FetchError) Unwrap() error { return e.Err }

// Check fetches the key set now and reports whether it could be, for the start-up log.
func (r *RemoteKeys) Check(ctx context.Context) (int, error) {
	set, err := r.fetch(ctx)
	if err != nil {
		return 0, err
	}
	r.mu.Lock()
	r.keys, r.fetched = set, time.Now()
	r.mu.Unlock()
	return len(set.Keys), nil
}

func (r *RemoteKeys) fetch(ctx context.Context) (jose.JSONWebKeySet, error) {
	var set jose.JSONWebKeySet
	if err := CheckJWKSURL(r.URL); err != nil {
		return set, err
	}
	client := &http.Client{Timeout: 10 * time.Second}
	if r.Client != nil {
		c := *r.Client
		client = &c
	}
	// A redirect must not leave https either.
	client.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= 5 {
			return errors.New("too many redirects")
		}
		return CheckJWKSURL(req.URL.String())
	}
	req, err := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodGet, r.URL, nil)
	if err != nil {
		return set, fmt.Errorf("fetch JWKS: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return set, fmt.Errorf("fetch JWKS: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return set, fmt.Errorf("fetch JWKS %s: status %s", r.URL, resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxJWKSBytes)).Decode(&set); err != nil {
		return set, fmt.Errorf("fetch JWKS %s: %w", r.URL, err)
	}
	return set, nil
}

// CheckJWKSURL reports a JWKS URL that RemoteKeys will not fetch: one that is not https, unless it is
// http to a loopback address (localhost, 127.0.0.0/8, ::1), which never leaves the machine.
func CheckJWKSURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("JWKS URL %q is not an absolute URL", raw)
	}
	switch {
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return nil
	}
	return fmt.Errorf("JWKS URL %q is not https (http is allowed only to a loopback address)", raw)
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}
