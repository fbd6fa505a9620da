package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/activityd/activityd"
	"github.com/go-jose/go-jose/v4"
)

// The local issuer's key ring. On a store (ShareKeys) the signing keys are records, so every
// process on one PostgreSQL signs with the same key and trusts the same ones, and a rotation by
// one (activityd keys rotate) reaches the others within KeyReload. The newest key signs; a key a
// rotation retired still verifies for RetiredKeyTTL, so the tokens it signed stay valid until they
// expire, and then the store forgets it.

const (
	kindSigningKey = "signing-key"
	// RetiredKeyTTL is how long a retired key still verifies tokens (it is still in the JWKS).
	// Tokens of the provider live an hour; those of activityd token as long as --ttl says (24 hours
	// by default): one older than this must be made again after a rotation.
	RetiredKeyTTL = 7 * 24 * time.Hour
	// KeyReload is how often a server reads the key ring again (Refresh).
	KeyReload = 30 * time.Second
	// keyMissReload is the least time between two reads caused by tokens naming unknown keys.
	keyMissReload = time.Second
)

type ringKey struct {
	priv    *ecdsa.PrivateKey
	jwk     jose.JSONWebKey
	created time.Time
	retired time.Time // zero while it may sign
	expires time.Time // when a retired key is forgotten
}

// keyRecord is a signing key as a record's body.
type keyRecord struct {
	PEM     string    `json:"pem"` // PKCS #8
	Created time.Time `json:"created"`
	Retired time.Time `json:"retired,omitzero"`
}

// KeyInfo describes a key of the ring, for activityd keys list.
type KeyInfo struct {
	ID      string    // kid
	Created time.Time // zero for the key file's key before it was shared
	Retired time.Time // zero for the signing key
	Expires time.Time // when a retired key stops verifying
	Signing bool
}

func newRingKey(priv *ecdsa.PrivateKey) (ringKey, error) {
	jwk := jose.JSONWebKey{Key: priv.Public(), Algorithm: string(jose.ES256), Use: "sig"}
	thumb, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return ringKey{}, fmt.Errorf("issuer key thumbprint: %w", err)
	}
	jwk.KeyID = base64.RawURLEncoding.EncodeToString(thumb)
	return ringKey{priv: priv, jwk: jwk}, nil
}

func keyToRecord(k ringKey) (activity.Record, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k.priv)
	if err != nil {
		return activity.Record{}, err
	}
	body, _ := json.Marshal(keyRecord{PEM: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		Created: k.created, Retired: k.retired})
	return activity.Record{Kind: kindSigningKey, ID: k.jwk.KeyID, Expires: k.expires, Body: body}, nil
}

func keyFromRecord(r activity.Record) (ringKey, error) {
	var kr keyRecord
	if err := json.Unmarshal(r.Body, &kr); err != nil {
		return ringKey{}, fmt.Errorf("signing key %s: %w", r.ID, err)
	}
	block, _ := pem.Decode([]byte(kr.PEM))
	if block == nil {
		return ringKey{}, fmt.Errorf("signing key %s holds no PEM block", r.ID)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	ec, ok := k.(*ecdsa.PrivateKey)
	if err != nil || !ok || ec.Curve != elliptic.P256() {
		return ringKey{}, fmt.Errorf("signing key %s is not a P-256 key", r.ID)
	}
	rk, err := newRingKey(ec)
	rk.created, rk.retired, rk.expires = kr.Created, kr.Retired, r.Expires
	return rk, err
}

// keys returns the ring: never empty, never changed in place (Reload stores a new one).
func (l *LocalIssuer) keys() []ringKey { return *l.ring.Load() }

// ShareKeys keeps the issuer's key ring in records from now on: the key file's key becomes its first
// key when the ring is empty (so every token made before stays valid), and the ring is read back.
func (l *LocalIssuer) ShareKeys(ctx context.Context, records activity.RecordStore) error {
	existing, err := records.ListRecords(ctx, kindSigningKey, "")
	if err != nil {
		return fmt.Errorf("read signing keys: %w", err)
	}
	if len(existing) == 0 {
		first := l.keys()[0]
		first.created = time.Now().UTC()
		r, err := keyToRecord(first)
		if err != nil {
			return err
		}
		if err := records.CreateRecord(ctx, r); err != nil && !errors.Is(err, activity.ErrRecordExists) {
			return fmt.Errorf("share the signing key: %w", err)
		}
	}
	l.mu.Lock()
	l.records = records
	l.mu.Unlock()
	return l.Reload(ctx)
}

// Reload reads the key ring from the records again (a rotation by another process).
func (l *LocalIssuer) Reload(ctx context.Context) error {
	l.mu.Lock()
	records := l.records
	l.mu.Unlock()
	if records == nil {
		return nil
	}
	rs, err := records.ListRecords(ctx, kindSigningKey, "")
	if err != nil {
		return fmt.Errorf("read signing keys: %w", err)
	}
	ring := make([]ringKey, 0, len(rs))
	for _, r := range rs {
		k, err := keyFromRecord(r)
		if err != nil {
			return err
		}
		ring = append(ring, k)
	}
	// The signing key first (not retired, newest), then the retired ones, newest first.
	sort.Slice(ring, func(i, j int) bool {
		if ring[i].retired.IsZero() != ring[j].retired.IsZero() {
			return ring[i].retired.IsZero()
		}
		return ring[i].created.After(ring[j].created)
	})
	if len(ring) == 0 || !ring[0].retired.IsZero() {
		return errors.New("the store holds no signing key that may sign: run activityd keys rotate")
	}
	l.ring.Store(&ring)
	return nil
}

// Refresh reads the key ring again every KeyReload until ctx ends, reporting failures to report.
func (l *LocalIssuer) Refresh(ctx context.Context, report func(error)) {
	t := time.NewTicker(KeyReload)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := l.Reload(ctx); err != nil && ctx.Err() == nil {
				report(err)
			}
		}
	}
}

// Rotate makes a new signing key and retires the others: they verify for RetiredKeyTTL more, or
// not at all with dropOld (when a key has leaked). It returns the new key's id.
func (l *LocalIssuer) Rotate(ctx context.Context, dropOld bool) (string, error) {
	l.mu.Lock()
	records := l.records
	l.mu.Unlock()
	if records == nil {
		return "", errors.New("the key ring is not on a store")
	}
	if err := l.Reload(ctx); err != nil {
		return "", err
	}
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", err
	}
	fresh, err := newRingKey(priv)
	if err != nil {
		return "", err
	}
	now := time.Now().UTC()
	fresh.created = now
	r, err := keyToRecord(fresh)
	if err != nil {
		return "", err
	}
	if err := records.CreateRecord(ctx, r); err != nil {
		return "", fmt.Errorf("store the new signing key: %w", err)
	}
	old := l.keys()
	for _, k := range old {
		if dropOld {
			if _, err := records.TakeRecord(ctx, kindSigningKey, k.jwk.KeyID); err != nil && !errors.Is(err, activity.ErrRecordNotFound) {
				return "", err
			}
			continue
		}
		if !k.retired.IsZero() {
			continue
		}
		k.retired, k.expires = now, now.Add(RetiredKeyTTL)
		r, err := keyToRecord(k)
		if err != nil {
			return "", err
		}
		if err := records.PutRecord(ctx, r); err != nil {
			return "", fmt.Errorf("retire signing key %s: %w", k.jwk.KeyID, err)
		}
	}
	return fresh.jwk.KeyID, l.Reload(ctx)
}

// KeyList describes the keys of the ring, the signing key first.
func (l *LocalIssuer) KeyList() []KeyInfo {
	ring := l.keys()
	out := make([]KeyInfo, 0, len(ring))
	for i, k := range ring {
		out = append(out, KeyInfo{ID: k.jwk.KeyID, Created: k.created, Retired: k.retired, Expires: k.expires, Signing: i == 0})
	}
	return out
}

// PublicKeys returns the public keys of the ring: the JWKS.
func (l *LocalIssuer) PublicKeys() []jose.JSONWebKey {
	ring := l.keys()
	keys := make([]jose.JSONWebKey, 0, len(ring))
	for _, k := range ring {
		keys = append(keys, k.jwk)
	}
	return keys
}

// ringKeys is the ring as a KeySource: a key id it does not hold makes it read the ring again (at
// most once a second), since another process may have rotated.
type ringKeys struct{ l *LocalIssuer }

func (r ringKeys) find(kid string) *jose.JSONWebKey {
	for _, k := range r.l.keys() {
		if k.jwk.KeyID == kid {
			jwk := k.jwk
			return &jwk
		}
	}
	return nil
}

func (r ringKeys) holds(kid string) bool { return r.find(kid) != nil }

func (r ringKeys) Key(ctx context.Context, kid string) (*jose.JSONWebKey, error) {
	if k := r.find(kid); k != nil {
		return k, nil
	}
	r.l.mu.Lock()
	stale := r.l.records != nil && time.Since(r.l.missed) >= keyMissReload
	if stale {
		r.l.missed = time.Now()
	}
	r.l.mu.Unlock()
	if stale {
		if err := r.l.Reload(ctx); err != nil {
			return nil, err
		}
		if k := r.find(kid); k != nil {
			return k, nil
		}
	}
	return nil, fmt.Errorf("no key %q", kid)
}

// StoredIssuer returns the local issuer whose key ring a server keeps in records, with no key file:
// for activityd token and keys on a store that already shares its keys. When records hold no key it
// fails with an error wrapping activity.ErrRecordNotFound.
func StoredIssuer(ctx context.Context, records activity.RecordStore, name string) (*LocalIssuer, error) {
	existing, err := records.ListRecords(ctx, kindSigningKey, "")
	if err != nil {
		return nil, fmt.Errorf("read signing keys: %w", err)
	}
	if len(existing) == 0 {
		return nil, fmt.Errorf("the store holds no signing key yet: %w", activity.ErrRecordNotFound)
	}
	if name == "" {
		name = DefaultIssuer
	}
	l := &LocalIssuer{Name: name, Audience: GraphAudiences[0], records: records}
	return l, l.Reload(ctx)
}
