package graph

import (
	"crypto/hmac"
	"crypto/sha256"
)

// SecretSize is the size in bytes of the secret SetSecret wants.
const SecretSize = 32

// keys are derived from the server's secret, one per use, so that no key serves two purposes.
type keys struct {
	token []byte // HMAC-SHA256 key of skiptokens
}

// SetSecret sets the secret the server derives its keys from: what signs skiptokens. Processes that
// serve one store share it (Store.Secret), so a nextLink made by one works on another and after a
// restart; without it a server makes a random one. Call it before serving.
func (s *Server) SetSecret(secret []byte) {
	s.keys = keys{token: derive(secret, "activityd skiptoken v2")}
}

// derive returns HMAC-SHA256(secret, label): a key for one purpose (a PRF used as a KDF, as in
// RFC 5869's extract step with the secret as key).
func derive(secret []byte, label string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(label))
	return m.Sum(nil)
}
