package activity

import (
	"context"
	"fmt"
	"time"
)

// Store keeps activities and history items. Every method is scoped to one principal: rows of other
// principals are never read, changed or counted. Expired rows are invisible to every method from the
// instant they expire, before any purge. Two implementations (sqlite, postgres) pass one conformance
// suite, activitytest.TestStore.
type Store interface {
	// Update runs fn in one read-write transaction and commits it when fn returns nil; the writes are
	// durable when Update returns nil. fn may be called more than once when the backend retries a
	// transaction that lost a race, so it must have no side effects outside tx.
	Update(ctx context.Context, p Principal, fn func(tx Tx) error) error
	// PutActivity is Tx.PutActivity in a transaction of its own, for the most frequent write: a
	// backend may do it in fewer round trips than Update would. Errors: Forbidden (as Tx.PutActivity).
	PutActivity(ctx context.Context, p Principal, a *Activity) (created bool, err error)

	// FindActivity returns the activity whose id is ref.ID or, when no activity has that id, whose
	// appActivityId is ref.AppActivityID. Errors: NotFound.
	FindActivity(ctx context.Context, p Principal, ref Ref) (*Activity, error)
	// ListActivities returns a page of activities by lastModifiedDateTime, newest first.
	ListActivities(ctx context.Context, p Principal, q ActivityQuery) (*ActivityPage, error)
	// RecentActivities returns a page of the activities that have history items, ordered by their
	// newest item's lastModifiedDateTime, newest first; q.Modified applies to the activity.
	RecentActivities(ctx context.Context, p Principal, q ActivityQuery) (*ActivityPage, error)
	// CountActivities returns how many activities fall in the range.
	CountActivities(ctx context.Context, p Principal, modified TimeRange) (int, error)

	// FindHistoryItem returns one history item of an activity. Errors: NotFound.
	FindHistoryItem(ctx context.Context, p Principal, activityID int64, itemID string) (*HistoryItem, error)
	// ListHistoryItems returns a page of one activity's history items, newest lastModifiedDateTime first.
	ListHistoryItems(ctx context.Context, p Principal, activityID int64, q HistoryQuery) (*HistoryPage, error)
	// ExpandHistoryItems returns, for each of the given activities, its newest history items in the
	// range, at most limit of each (limit ≥ 1), newest first: the $expand=historyItems of a page.
	ExpandHistoryItems(ctx context.Context, p Principal, activityIDs []int64, modified TimeRange, limit int) (map[int64][]*HistoryItem, error)
	// CountHistoryItems returns how many history items of the activity fall in the range.
	CountHistoryItems(ctx context.Context, p Principal, activityID int64, modified TimeRange) (int, error)

	// ActivitiesByID returns the live activities of p among ids, by id; those it lacks were deleted
	// or expired.
	ActivitiesByID(ctx context.Context, p Principal, ids []int64) (map[int64]*Activity, error)

	// Changes returns a page of the change log: changes of p (of p's app, or with q.AllApps of p's
	// user) after q.After, in log order. Every write of every Tx and of PutActivity and PurgeExpired
	// appends its changes in its own transaction.
	Changes(ctx context.Context, p Principal, q ChangeQuery) (*ChangePage, error)
	// ChangeLog returns the change log's horizon and latest position.
	ChangeLog(ctx context.Context) (ChangeLog, error)
	// TrimChanges deletes at most limit changes committed before the instant, oldest first, moves
	// the horizon past them, and returns how many it deleted.
	TrimChanges(ctx context.Context, before time.Time, limit int) (int, error)

	// Secret returns the store's secret called name: size random bytes made on first use and the same
	// for every process on the store from then on (the first to make it wins). Keys that must agree
	// across processes and restarts (skiptoken signatures, public ids) are derived from it.
	Secret(ctx context.Context, name string, size int) ([]byte, error)
	// Ready reports an error unless the store answers and its migrations are all applied.
	Ready(ctx context.Context) error

	// Forget deletes what f selects among the activities of p's user through every app (p.AppID is
	// not read), logs each deletion in the change log in the same transaction, and says how much it
	// deleted. f has passed Check.
	Forget(ctx context.Context, p Principal, f Forget) (Forgotten, error)
	// Privacy returns the privacy settings of p's user; the zero Privacy when none were set.
	Privacy(ctx context.Context, p Principal) (*Privacy, error)
	// SetPrivacy replaces the privacy settings of p's user; pv has been normalized. It is ordered with
	// the user's writes: each write either sees the new settings, or commits before SetPrivacy
	// returns (so that a Forget after it deletes what the write stored).
	SetPrivacy(ctx context.Context, p Principal, pv *Privacy) error

	// PurgeExpired deletes at most limit expired activities and history items (of every principal)
	// and returns how many it deleted.
	PurgeExpired(ctx context.Context, now time.Time, limit int) (int, error)

	Close() error
}

// Tx is a read-write transaction of one principal, given to the function passed to Store.Update.
type Tx interface {
	// FindActivity is Store.FindActivity inside the transaction. Errors: NotFound.
	FindActivity(ctx context.Context, ref Ref) (*Activity, error)
	// FindActivityToWrite is FindActivity and then Privacy, for a write that checks the user's
	// settings against the activity it changes: on PostgreSQL one round trip, where they were two.
	// Errors: NotFound.
	FindActivityToWrite(ctx context.Context, ref Ref) (*Activity, *Privacy, error)
	// PutActivity stores a under its appActivityId. When a live activity has that key, it is replaced
	// but keeps its ID, CreatedDateTime and history items, its Status becomes StatusUpdated, and a's
	// ID, CreatedDateTime and Status are set to match; otherwise a is inserted as given under a new
	// ID (set in a) with Status StatusActive, after an expired activity with the key is deleted with
	// its history items. It reports whether a was inserted. When the user's privacy settings refuse
	// the write (Privacy.Refuses, at the transaction's time), nothing is written. Errors: Forbidden.
	PutActivity(ctx context.Context, a *Activity) (created bool, err error)
	// Privacy returns the privacy settings of the transaction's user, as SetPrivacy orders them
	// with this transaction (see Store.SetPrivacy).
	Privacy(ctx context.Context) (*Privacy, error)
	// UpdateActivity replaces the stored activity with a's ID. Errors: NotFound.
	UpdateActivity(ctx context.Context, a *Activity) error
	// DeleteActivity deletes an activity and its history items. Errors: NotFound.
	DeleteActivity(ctx context.Context, id int64) error

	// FindHistoryItem is Store.FindHistoryItem inside the transaction. Errors: NotFound.
	FindHistoryItem(ctx context.Context, activityID int64, itemID string) (*HistoryItem, error)
	// PutHistoryItem inserts the history item or replaces the one with the same activity and id.
	PutHistoryItem(ctx context.Context, h *HistoryItem) error
	// UpsertHistoryItem is Graph's PUT of a history item: it inserts h with StatusActive, or, when
	// the activity holds a live item with h's id, replaces it keeping that item's createdDateTime,
	// with StatusUpdated (an expired item with the id is replaced as if it were not there). It sets
	// h.CreatedDateTime and h.Status to what it stored, and returns whether it created the item and,
	// when it did and count asks, how many live items the activity holds after it (0 otherwise):
	// the look-up, the write and the count in one statement where the store allows (one round trip
	// on PostgreSQL, where they were three). A write of many items counts once itself instead (a
	// count reads every item of the activity).
	UpsertHistoryItem(ctx context.Context, h *HistoryItem, count bool) (created bool, items int, err error)
	// CountHistoryItems returns how many live history items the activity holds.
	CountHistoryItems(ctx context.Context, activityID int64) (int, error)
	// DeleteHistoryItem deletes one history item. Errors: NotFound.
	DeleteHistoryItem(ctx context.Context, activityID int64, itemID string) error
}

// UnknownMigrations refuses a database that records migrations this activityd does not have
// (applied, the names the database's schema_migrations holds; known, this binary's): a newer
// activityd migrated it, and an older one serving it could write what the newer schema no longer
// expects (the SQLite store's migration 0012 says how much care that took once). It names the first
// unknown migration; nil when there is none.
func UnknownMigrations(applied, known []string) error {
	have := make(map[string]bool, len(known))
	for _, k := range known {
		have[k] = true
	}
	for _, a := range applied {
		if !have[a] {
			return fmt.Errorf("the database was migrated by a newer activityd (its migration %s is not one of this version's): "+
				"run that version or a newer one; to go back to this version, restore a backup taken before the upgrade", a)
		}
	}
	return nil
}
