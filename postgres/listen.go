package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/activityd/activityd"
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
		if s.OnCommit != nil {
			s.OnCommit() // what was missed while reconnecting: streams look at the log again
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

func (s *Store) listen(ctx context.Context, self string) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "LISTEN "+changesChannel); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), "UNLISTEN "+changesChannel)
	for {
		n, err := conn.Conn().WaitForNotification(ctx)
		if err != nil {
			return fmt.Errorf("listen: %w", err)
		}
		if n.Payload != self && s.OnCommit != nil {
			s.OnCommit()
		}
	}
}

// notifyLoop sends a notification after this process's commits, coalescing those that come while
// one is being sent.
func (s *Store) notifyLoop(ctx context.Context, self string) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.notify:
		}
		if _, err := s.pool.Exec(ctx, "SELECT pg_notify($1, $2)", changesChannel, self); err != nil && !errors.Is(err, context.Canceled) {
			// Nothing to do but go on: the other processes' streams poll the log as well.
			continue
		}
	}
}
