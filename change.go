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

// Signal wakes every goroutine waiting for the change log to grow: stores call Notify after a commit
// (on PostgreSQL also when another process commits), and live streams wait on C. A waiter takes C
// before it reads the log, so that a commit between its read and its wait still wakes it. The log,
// not the signal, is the truth: a lost wake-up delays, never loses.
type Signal struct {
	mu sync.Mutex
	ch chan struct{}
}

// C returns a channel that is closed at the next Notify.
func (s *Signal) C() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch == nil {
		s.ch = make(chan struct{})
	}
	return s.ch
}

// Notify wakes every goroutine waiting on a channel C returned before it.
func (s *Signal) Notify() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch != nil {
		close(s.ch)
		s.ch = nil
	}
}
