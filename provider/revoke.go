package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/activityd/activityd"
)

// kindRevoked records when the tokens of an account (by oid) or of an app (by "app:" and its id)
// were revoked: when the account was disabled or deleted, when the app was removed. Tokens issued
// until then (iat) are refused, whatever their expiry, so that a deleted account's devices cannot
// write on (into a new account of the same name, which has the same oid), a removed app's tokens
// do not outlive it, and `activityd token`'s long-lived tokens die with either.
const kindRevoked = "revoked"

// RevocationRefresh is how often a server reads the revocations of the store again: those of
// another process (activityd user on the command line, another server on PostgreSQL) hold after at
// most this long; its own at once.
const RevocationRefresh = 30 * time.Second

// Revocations are the revoked accounts' times, kept in memory for the token verifier
// (auth.Issuer.Revoked), which asks on every request.
type Revocations struct {
	records activity.RecordStore

	// before maps an oid, or "app:" and an app id, to the second until which its tokens are
	// revoked. Read on every request without a lock; replaced whole (copy on write) by the rare
	// revocation and the periodic Load.
	before atomic.Pointer[map[string]time.Time]
	mu     sync.Mutex // serializes the writers of before
}

// NewRevocations returns the revocations kept in records; Load reads them.
func NewRevocations(records activity.RecordStore) *Revocations {
	rv := &Revocations{records: records}
	rv.before.Store(&map[string]time.Time{})
	return rv
}

type revocation struct {
	Before time.Time `json:"before"`
}

// Revoked reports whether a token of userID for appID issued at issued is revoked: issued is not
// after the second of the latest revocation of the account or of the app (iat has whole seconds, so
// a token of that very second is refused too), or unknown (zero) while a revocation exists.
func (rv *Revocations) Revoked(userID, appID string, issued time.Time) bool {
	before := *rv.before.Load()
	if len(before) == 0 {
		return false
	}
	user, byUser := before[userID]
	app, byApp := before[appPrefix+appID]
	revoked := func(before time.Time) bool { return issued.IsZero() || !issued.After(before) }
	return (byUser && revoked(user)) || (byApp && revoked(app))
}

// appPrefix marks an app's revocation among the accounts' (whose ids are GUIDs).
const appPrefix = "app:"

// RevokeApp revokes every token of the app id issued until now (it is being removed).
func (rv *Revocations) RevokeApp(ctx context.Context, id string, now time.Time) error {
	return rv.revoke(ctx, appPrefix+id, now)
}

// revoke records that the tokens of key (an oid, or appPrefix and an app id) issued until now are
// revoked, in the store and here.
func (rv *Revocations) revoke(ctx context.Context, key string, now time.Time) error {
	body, _ := json.Marshal(revocation{Before: now.UTC().Truncate(time.Second)})
	if err := rv.records.PutRecord(ctx, activity.Record{Kind: kindRevoked, ID: key, Body: body}); err != nil {
		return fmt.Errorf("revoke the tokens of %s: %w", key, err)
	}
	rv.mu.Lock()
	defer rv.mu.Unlock()
	next := maps.Clone(*rv.before.Load())
	next[key] = now.UTC().Truncate(time.Second)
	rv.before.Store(&next)
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
	defer rv.mu.Unlock()
	// What this process revoked since the read began stays: a revocation is never undone.
	for k, t := range *rv.before.Load() {
		if t.After(before[k]) {
			before[k] = t
		}
	}
	rv.before.Store(&before)
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
