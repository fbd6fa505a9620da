package auth

import (
	"crypto/sha256"
	"sync"
	"time"

	"github.com/activityd/activityd"
)

// DefaultCacheSize bounds the verified-token cache: about 100 bytes an entry.
const DefaultCacheSize = 100_000

// tokenCache remembers the principal of tokens that passed every check, so that a client sending the
// same token again costs a hash and a map look-up instead of an RSA or ECDSA verification. An entry
// is never used past the token's own exp, nor before its nbf; failures are never cached.
type tokenCache struct {
	mu      sync.Mutex
	max     int
	entries map[[sha256.Size]byte]cachedToken
}

type cachedToken struct {
	p         activity.Principal
	notBefore time.Time
	expires   time.Time
}

func newTokenCache(max int) *tokenCache {
	return &tokenCache{max: max, entries: make(map[[sha256.Size]byte]cachedToken)}
}

// get returns the principal of a cached token that is valid at now.
func (c *tokenCache) get(key [sha256.Size]byte, now time.Time) (activity.Principal, bool) {
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	if !ok || !now.Before(e.expires) || now.Before(e.notBefore) {
		return activity.Principal{}, false
	}
	return e.p, true
}

// put remembers a verified token. When the cache is full it first drops expired entries and, if that
// frees too little, an arbitrary eighth of them (map iteration order is random).
func (c *tokenCache) put(key [sha256.Size]byte, e cachedToken, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		for k, old := range c.entries {
			if !now.Before(old.expires) {
				delete(c.entries, k)
			}
		}
		for k := range c.entries {
			if len(c.entries) < c.max-c.max/8 {
				break
			}
			delete(c.entries, k)
		}
	}
	c.entries[key] = e
}
