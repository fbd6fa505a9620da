package graph

import (
	"crypto/hmac"
	"crypto/sha256"
	"strconv"

	"github.com/activityd/activityd"
)

// SecretSize is the size in bytes of the secret SetSecret wants.
const SecretSize = 32

// keys are derived from the server's secret, one per use, so that no key serves two purposes.
type keys struct {
	token []byte              // HMAC-SHA256 key of skiptokens
	ids   *activity.PublicIDs // stored activity ids to public ones and back
}

// SetSecret sets the secret the server derives its keys from: what signs skiptokens and what turns
// stored activity ids into public ones. Processes that serve one store must share it (Store.Secret),
// so that an id or a nextLink made by one works on another and after a restart; without it a server
// makes a random one, good for one process's lifetime. Call it before serving.
func (s *Server) SetSecret(secret []byte) {
	s.keys = keys{token: derive(secret, "activityd skiptoken v2"), ids: PublicIDs(secret)}
}

// PublicIDs returns the permutation between stored and public activity ids that a server with the
// secret uses: for tools that write to a store directly and then call the API (the load tool).
func PublicIDs(secret []byte) *activity.PublicIDs {
	ids, err := activity.NewPublicIDs(derive(secret, "activityd public ids v1")[:activity.PublicIDKeySize])
	if err != nil {
		panic(err) // the key has the size Triple DES wants
	}
	return ids
}

// ref returns the Ref of an activity key from a URL: a public id (turned into the stored one) or an
// appActivityId.
func (s *Server) ref(key string) activity.Ref {
	id, ok := activity.ParseID(key)
	if ok {
		id = s.keys.ids.Stored(id)
	}
	return activity.Ref{ID: id, AppActivityID: key}
}

// publicID is an activity's id as clients see it.
func (s *Server) publicID(stored int64) string {
	return strconv.FormatInt(s.keys.ids.Public(stored), 10)
}

// derive returns HMAC-SHA256(secret, label): a key for one purpose (a PRF used as a KDF, as in
// RFC 5869's extract step with the secret as key).
func derive(secret []byte, label string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(label))
	return m.Sum(nil)
}
