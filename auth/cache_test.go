package auth_test

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/activityd/activityd"
	"github.com/activityd/activityd/auth"
	"github.com/go-jose/go-jose/v4"
)

// countingKeys counts the key look-ups of full verifications.
type countingKeys struct {
	auth.StaticKeys
	n atomic.Int32
}

func (c *countingKeys) Key(ctx context.Context, kid string) (*jose.JSONWebKey, error) {
	c.n.Add(1)
	return c.StaticKeys.Key(ctx, kid)
}

func TestVerify_Cache(t *testing.T) {
	local, err := auth.OpenLocalIssuer(filepath.Join(t.TempDir(), "key.pem"), "")
	if err != nil {
		t.Fatal(err)
	}
	keys := &countingKeys{StaticKeys: auth.StaticKeys{Keys: local.PublicKeys()}}
	now := time.Now()
	v := &auth.Verifier{Issuers: []auth.Issuer{{Name: local.Name, Keys: keys}}, Audiences: auth.GraphAudiences,
		Now: func() time.Time { return now }, CacheSize: 2}
	tok, _ := local.Mint("alice", "notes", time.Hour)
	for range 3 {
		if p, err := v.Verify(t.Context(), tok); err != nil || p.AppID != "notes" {
			t.Fatalf("Verify = %+v, %v", p, err)
		}
	}
	if n := keys.n.Load(); n != 1 {
		t.Errorf("three verifications of one token did %d full verifications, want 1", n)
	}
	// Never past the token's own expiry.
	now = now.Add(2 * time.Hour)
	if _, err := v.Verify(t.Context(), tok); activity.ErrorCode(err) != activity.Unauthenticated {
		t.Errorf("a cached token past its exp: %v, want 401", err)
	}
	// A bounded cache keeps working when full.
	now = time.Now()
	for _, u := range []string{"a", "b", "c", "d"} {
		tk, _ := local.Mint(u, "notes", time.Hour)
		if _, err := v.Verify(t.Context(), tk); err != nil {
			t.Fatal(err)
		}
	}
	// With the cache off, every call verifies.
	off := &auth.Verifier{Issuers: v.Issuers, Audiences: auth.GraphAudiences, CacheSize: -1}
	before := keys.n.Load()
	off.Verify(t.Context(), tok)
	off.Verify(t.Context(), tok)
	if keys.n.Load()-before != 2 {
		t.Error("CacheSize -1 still caches")
	}
}

func TestVerify_CacheKeepsFailures(t *testing.T) {
	f := newFixture(t)
	missing := f.entraToken(t, "entra", map[string]any{"scp": "User.Read"})
	for range 2 {
		if _, err := f.verifier.Verify(t.Context(), missing); activity.ErrorCode(err) != activity.Forbidden {
			t.Fatalf("a token without the scope: %v, want 403 every time", err)
		}
	}
	future := f.entraToken(t, "entra", map[string]any{"nbf": time.Now().Add(time.Hour).Unix()})
	for range 2 {
		if _, err := f.verifier.Verify(t.Context(), future); activity.ErrorCode(err) != activity.Unauthenticated {
			t.Fatalf("a token not valid yet: %v, want 401 every time", err)
		}
	}
}
