package auth

import (
	"crypto/sha256"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/activityd/activityd"
)

// TestTokenCache_Bytes checks that the cache is bounded by the bytes its entries hold, not only by
// their number.
func TestTokenCache_Bytes(t *testing.T) {
	now := time.Now()
	const maxBytes = 64 << 10
	c := newTokenCache(1_000_000, maxBytes)
	big := strings.Repeat("x", maxClaimBytes)
	for i := range 10_000 {
		p := activity.Principal{TenantID: big, UserID: big + strconv.Itoa(i), AppID: big, UserName: big, Issuer: big}
		c.put(sha256.Sum256([]byte(strconv.Itoa(i))), cachedToken{p: p, expires: now.Add(time.Hour)}, now)
		if _, bytes := c.len(); bytes > maxBytes {
			t.Fatalf("after %d entries the cache holds %d bytes, over its %d", i+1, bytes, maxBytes)
		}
	}
	n, bytes := c.len()
	if n < 10 || bytes < maxBytes/2 {
		t.Errorf("the cache keeps %d entries, %d bytes: too few to be of use", n, bytes)
	}
	// Its byte count is exact: replacing and evicting entries keep it so.
	var sum int
	for _, e := range c.entries {
		sum += e.size()
	}
	if sum != bytes {
		t.Errorf("the cache counts %d bytes, its entries hold %d", bytes, sum)
	}
}
