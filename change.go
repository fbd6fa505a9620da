package activity

import (
	"sync"
	"time"
)

// ChangeKind is what a change did to an activity: the changeType of Graph's change notifications.
type ChangeKind string

// The kinds of change.
const (
	ChangeCreated ChangeKind = "created"
	// ChangeUpdated: the activity was replaced or changed, or one of its history items was written
	// or deleted.
	ChangeUpdated ChangeKind = "updated"
	// ChangeDeleted: the activity was deleted, or purged once expired.
	ChangeDeleted ChangeKind = "deleted"
)

// Position is a place in a store's change log. Positions are totally ordered (by Tx, then Seq), and
// every change committed after a position was handed out comes after it. Their meaning is the
// store's: callers compare them, keep them in tokens and give them back.
type Position struct {
	Tx  int64 // the committing transaction, where the store orders by it (PostgreSQL); 0 otherwise
	Seq int64
}

// Before reports whether p comes before q.
func (p Position) Before(q Position) bool { return p.Tx < q.Tx || p.Tx == q.Tx && p.Seq < q.Seq }

// Change is one entry of the change log. It holds ids and a kind, never content, so that what a
// person deletes is gone from the log too.
type Change struct {
	Position   Position
	AppID      string // the app of the principal whose activity changed
	ActivityID int64  // the stored id
	Kind       ChangeKind
	Time       time.Time // when it was committed, near enough
}

// ChangeQuery selects changes of a principal after a position, in log order.
type ChangeQuery struct {
	After Position
	Limit int // at least 1
	// AllApps selects the changes of the principal's user through every app (a person's view, the
	// timeline page); otherwise only those of the principal's own app (the Graph routes).
	AllApps bool
}

// ChangePage is a page of changes; Next is the position to continue from: after the last change of
// the page, or, when the page is empty, the latest position at which nothing for the query was left.
type ChangePage struct {
	Changes []Change
	Next    Position
	More    bool // the page is full: more changes may follow at once
}

// ChangeLog describes a store's change log: Horizon is the position before which changes were
// trimmed (a position before it can no longer be continued from), Latest the position after
// everything committed so far.
type ChangeLog struct {
	Horizon, Latest Position
}

// DefaultChangeRetention is how long the change log keeps a change.
const DefaultChangeRetention = 30 * 24 * time.Hour

// Wakeups wakes the goroutines waiting for the change log to grow: a live stream waits for changes
// of its user, the notifier for changes of anyone. Stores report their commits to Notify (on
// PostgreSQL also those of other processes), naming the users whose changes they appended, so that
// a write wakes the streams of its user only. A waiter takes its channel before it reads the log, so
// that a commit between its read and its wait still wakes it. The log, not the wake-up, is the truth:
// a lost wake-up delays, never loses.
type Wakeups struct {
	mu        sync.Mutex
	any       chan struct{}
	users     map[string]chan struct{}
	listeners []func(users []string)
}

// Listen calls f with the users of every later Notify (nil: any), on the notifier's goroutine: f must
// not block. It serves waiters that are not goroutines (the live streams' hub).
func (w *Wakeups) Listen(f func(users []string)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.listeners = append(w.listeners, f)
}

// UserKey is the key of a user in Wakeups: the tenant and the user id, joined by a control character
// that neither holds.
func UserKey(tenantID, userID string) string { return tenantID + "\x1f" + userID }

// User returns a channel closed at the next change of the user (UserKey).
func (w *Wakeups) User(key string) <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.users == nil {
		w.users = map[string]chan struct{}{}
	}
	ch := w.users[key]
	if ch == nil {
		ch = make(chan struct{})
		w.users[key] = ch
	}
	return ch
}

// Any returns a channel closed at the next change of anyone.
func (w *Wakeups) Any() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.any == nil {
		w.any = make(chan struct{})
	}
	return w.any
}

// Notify wakes the waiters of the users (UserKey) and of anyone; nil users wakes every waiter.
func (w *Wakeups) Notify(users []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, f := range w.listeners {
		f(users)
	}
	if w.any != nil {
		close(w.any)
		w.any = nil
	}
	if users == nil {
		for key, ch := range w.users {
			close(ch)
			delete(w.users, key)
		}
		return
	}
	for _, key := range users {
		if ch := w.users[key]; ch != nil {
			close(ch)
			delete(w.users, key)
		}
	}
}
