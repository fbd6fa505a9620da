package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/activityd/activityd"
	"github.com/jackc/pgx/v5"
)

// changesChannel is the LISTEN/NOTIFY channel on which processes tell each other that they committed.
const changesChannel = "activityd_changes"

// Listen makes the commits of every process on the database reach OnCommit, until ctx is done: it
// LISTENs on a connection of its own and calls OnCommit for every other process's notification, and
// it NOTIFYs the others after this process's commits, at most one notification in flight at a time
// (commits in between share it). The notification is only a wake-up: the change log is the truth, so
// a notification lost while reconnecting delays a stream, never loses a change. It returns nil when
// ctx is done.
func (s *Store) Listen(ctx context.Context) error {
	self := activity.NewGUID() // this process's payload, to tell its own notifications apart
	go s.notifyLoop(ctx, self)
	for {
		_ = s.listen(ctx, self) // returns when its connection fails, or ctx is done
		if ctx.Err() != nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

func (s *Store) listen(ctx context.Context, self string) error {
	// Its own connection, not one of the pool's: it is held for as long as it lasts, and the pool
	// is for requests (a pool of one connection serves them).
	conn, err := pgx.ConnectConfig(ctx, s.listenConfig)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		conn.Close(cctx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+changesChannel); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	// Commits of other processes before LISTEN took effect sent notifications no one heard (at
	// start, streams may already be open): every stream looks at the log once now.
	if s.OnCommit != nil {
		s.OnCommit(nil)
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return fmt.Errorf("listen: %w", err)
		}
		from, users, _ := strings.Cut(n.Payload, "\n")
		if from == self || s.OnCommit == nil {
			continue
		}
		if users == "*" {
			s.OnCommit(nil)
		} else {
			s.OnCommit(strings.Split(users, "\n"))
		}
	}
}

// notifyLoop sends a notification after this process's commits, coalescing those that come while
// one is being sent. Its payload is this process's id, then the users whose changes were committed,
// a line each ("*" for any, or when they would not fit in a notification's 8,000 bytes).
func (s *Store) notifyLoop(ctx context.Context, self string) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.notify:
		}
		s.mu.Lock()
		users := make([]string, 0, len(s.pending))
		size := len(self)
		for u := range s.pending {
			users, size = append(users, u), size+len(u)+1
			delete(s.pending, u)
		}
		s.mu.Unlock()
		payload := self + "\n" + strings.Join(users, "\n")
		if size > 7000 || slices.Contains(users, "*") {
			payload = self + "\n*"
		}
		wait := notifyEvery
		if _, err := s.pool.Exec(ctx, "SELECT pg_notify($1, $2)", changesChannel, payload); err != nil {
			if ctx.Err() != nil {
				return
			}
			// The database is away or refused: the users go back to pending, for another try after
			// notifyRetry (with what committed meanwhile).
			s.mu.Lock()
			for _, u := range users {
				s.pending[u] = struct{}{}
			}
			s.mu.Unlock()
			select {
			case s.notify <- struct{}{}:
			default:
			}
			wait = notifyRetry
		}
		// At most one notification per notifyEvery: under a stream of commits, each notification
		// carries many, instead of a round trip per commit taking a connection and the server's time.
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// notifyEvery is the least time between two notifications of this process; notifyRetry, the time
// before another try when one failed.
const (
	notifyEvery = 10 * time.Millisecond
	notifyRetry = time.Second
)
