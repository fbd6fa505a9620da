package auth

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// RemoteKeys is a KeySource that fetches an issuer's JWKS over HTTP and keeps it. An unknown key id
// causes at most one fetch per MinRefresh, so forged kids cannot make activityd hammer the issuer.
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
		return nil, err
	}
	r.keys = set
	if keys := r.keys.Key(kid); len(keys) > 0 {
		return &keys[0], nil
	}
	return nil, fmt.Errorf("no key %q in %s", kid, r.URL)
}

func (r *RemoteKeys) fetch(ctx context.Context) (jose.JSONWebKeySet, error) {
	var set jose.JSONWebKeySet
	client := r.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
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
