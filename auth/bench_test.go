package auth_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/activityd/activityd/auth"
)

// BenchmarkVerify_Cached is a request's token check when the token was seen before: the cache hit
// on every API request, from all cores at once.
func BenchmarkVerify_Cached(b *testing.B) {
	local, err := auth.OpenLocalIssuer(filepath.Join(b.TempDir(), "key.pem"), "")
	if err != nil {
		b.Fatal(err)
	}
	v := &auth.Verifier{Issuers: []auth.Issuer{local.Issuer()}, Audiences: auth.GraphAudiences}
	tok, _ := local.Mint("alice", "notes", time.Hour)
	if _, err := v.Verify(b.Context(), tok); err != nil {
		b.Fatal(err)
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := v.Verify(b.Context(), tok); err != nil {
				b.Error(err)
			}
		}
	})
}
