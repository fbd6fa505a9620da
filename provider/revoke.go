package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/activityd/activityd"
)

// kindRevoked records, by account oid, when the tokens of an account were revoked: when it was
// disabled or deleted. Tokens issued until then (iat) are refused, whatever their expiry, so that
// a deleted account's devices cannot write on (into a new account of the same name, which has the
// same oid) and `activityd token`'s long-lived tokens die with the account.
const kindRevoked = "revoked"

// RevocationRefresh is how often a server reads the revocations of the store again: those of
// another process (activityd user on the command line, another server on PostgreSQL) hold after at
// most this long; its own at once.
const RevocationRefresh = 30 * time.Second

// Revocations are the revoked accounts' times, kept in memory for the token verifier
// (auth.Issuer.Revoked), which asks on every request.
type Revocations struct {
	records activity.RecordStore

	mu     sync.RWMutex
	before map[string]time.Time // oid → tokens issued at or before this second are revoked
}

// NewRevocations returns the revocations kept in records; Load reads them.
func NewRevocations(records activity.RecordStore) *Revocations {
	return &Revocations{records: records, before: map[string]time.Time{}}
}

type revocation struct {
	Before time.Time `json:"before"`
}

// Revoked reports whether the tokens of userID issued at issued are revoked: issued is not after
// the second of the account's latest revocation (iat has whole seconds, so a token of that very
// second is refused too), or unknown (zero) while a revocation exists.
func (rv *Revocations) Revoked(userID string, issued time.Time) bool {
	rv.mu.RLock()
	before, ok := rv.before[userID]
	rv.mu.RUnlock()
	return ok && (issued.IsZero() || !issued.After(before))
}

// revoke records that the tokens of userID issued until now are revoked, in the store and here.
func (rv *Revocations) revoke(ctx context.Context, userID string, now time.Time) error {
	body, _ := json.Marshal(revocation{Before: now.UTC().Truncate(time.Second)})
	if err := rv.records.PutRecord(ctx, activity.Record{Kind: kindRevoked, ID: userID, Body: body}); err != nil {
		return fmt.Errorf("revoke the tokens of %s: %w", userID, err)
	}
	rv.mu.Lock()
	rv.before[userID] = now.UTC().Truncate(time.Second)
	rv.mu.Unlock()
	return nil
}

// Load reads every revocation of the store.
func (rv *Revocations) Load(ctx context.Context) error {
	rs, err := rv.records.ListRecords(ctx, kindRevoked, "")
	if err != nil {
		return fmt.Errorf("read the revoked accounts: %w", err)
	}
	before := make(map[string]time.Time, len(rs))
	for _, r := range rs {
		var v revocation
		if err := json.Unmarshal(r.Body, &v); err != nil {
			return fmt.Errorf("revocation %s: %w", r.ID, err)
		}
		before[r.ID] = v.Before
	}
	rv.mu.Lock()
	rv.before = before
	rv.mu.Unlock()
	return nil
}

// Refresh loads the revocations every RevocationRefresh until ctx ends, telling onError of a read
// that fails (the last ones read stay in force).
func (rv *Revocations) Refresh(ctx context.Context, onError func(error)) {
	t := time.NewTicker(RevocationRefresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := rv.Load(ctx); err != nil && ctx.Err() == nil {
				onError(err)
			}
		}
	}
}
