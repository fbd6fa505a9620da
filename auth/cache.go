package auth

import (
	"crypto/sha256"
	"sync"
	"time"

	"github.com/activityd/activityd"
)

// DefaultCacheSize bounds the number of entries of the verified-token cache.
const DefaultCacheSize = 100_000

// DefaultCacheBytes bounds the memory of the verified-token cache's entries: about 100,000 entries of
// Entra's claims, about 20,000 of the largest claims a token may carry (maxClaimBytes each).
const DefaultCacheBytes = 32 << 20

// entryOverhead is what an entry costs besides its strings: the key, the map slot, the times and the
// string headers, rounded up.
const entryOverhead = 192

// tokenCache remembers the principal of tokens that passed every check, so that a client sending the
// same token again costs a hash and a map look-up instead of an RSA or ECDSA verification. An entry
// is never used past the token's own exp, nor before its nbf; failures are never cached. It is
// bounded both in entries and in bytes.
type tokenCache struct {
	mu       sync.Mutex
	max      int // entries
	maxBytes int
	bytes    int // held by the entries now
	entries  map[[sha256.Size]byte]cachedToken
}

type cachedToken struct {
	p         activity.Principal
	notBefore time.Time
	expires   time.Time
	keys      KeySource // the issuer's keys; a key ring that dropped kid no longer vouches (keyHolder)
	kid       string
	issued    time.Time                                         // iat, for revoked
	revoked   func(userID, appID string, issued time.Time) bool // the issuer's Revoked: a revoked token is verified again (and refused)
}

// keyHolder is a KeySource that can say whether it still holds a key: the local issuer's ring, from
// which a rotation may drop keys.
type keyHolder interface {
	holds(kid string) bool
}

// size is what an entry costs in the cache's byte budget.
func (e cachedToken) size() int {
	p := e.p
	return entryOverhead + len(p.TenantID) + len(p.UserID) + len(p.AppID) + len(p.UserName) + len(p.Issuer)
}

func newTokenCache(max, maxBytes int) *tokenCache {
	return &tokenCache{max: max, maxBytes: maxBytes, entries: make(map[[sha256.Size]byte]cachedToken)}
}

// get returns the principal of a cached token that is valid at now.
func (c *tokenCache) get(key [sha256.Size]byte, now time.Time) (activity.Principal, bool) {
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	if !ok || !now.Before(e.expires) || now.Before(e.notBefore) {
		return activity.Principal{}, false
	}
	if h, ok := e.keys.(keyHolder); ok && !h.holds(e.kid) {
		return activity.Principal{}, false
	}
	if e.revoked != nil && e.revoked(e.p.UserID, e.p.AppID, e.issued) {
		return activity.Principal{}, false
	}
	return e.p, true
}

// put remembers a verified token. When the cache is full (in entries or in bytes) it first drops
// expired entries and, if that frees too little, arbitrary ones (map iteration order is random) until
// an eighth of it is free.
func (c *tokenCache) put(key [sha256.Size]byte, e cachedToken, now time.Time) {
	size := e.size()
	if size > c.maxBytes/8 {
		return // never worth evicting an eighth of the cache for
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.entries[key]; ok {
		c.bytes -= old.size()
		delete(c.entries, key)
	}
	if len(c.entries) >= c.max || c.bytes+size > c.maxBytes {
		for k, old := range c.entries {
			if !now.Before(old.expires) {
				c.bytes -= old.size()
				delete(c.entries, k)
			}
		}
		for k, old := range c.entries {
			if len(c.entries) < c.max-c.max/8 && c.bytes+size <= c.maxBytes-c.maxBytes/8 {
				break
			}
			c.bytes -= old.size()
			delete(c.entries, k)
		}
	}
	c.entries[key] = e
	c.bytes += size
}

// len returns the number of entries and the bytes they hold.
func (c *tokenCache) len() (entries, bytes int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries), c.bytes
}
