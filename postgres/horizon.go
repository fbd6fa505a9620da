package postgres

import (
	"context"
	"time"
)

// A change is shown once every transaction older than its own has ended (Changes), so a commit of a
// young transaction behind an old one that is still running (a long import, a migration, any other
// program's transaction on the cluster) is held back. The wake-up of its commit has come and gone by
// then, and the old transaction's end wakes no one: it may write nothing to the log, or belong to
// another database. So the store watches the horizon for the readers it held back, and wakes them
// (OnCommit) when it passes. Each process watches for its own readers, with one query at a time.

// horizonWait bounds the wait between two looks at the horizon while readers are held back; the
// first look comes after horizonFirst, and the waits double up to horizonWait.
const (
	horizonFirst = 10 * time.Millisecond
	horizonWait  = time.Second
)

// holdBack records that a read of the user (activity.UserKey) left out committed changes up to
// transaction tx, and starts the watch if it is not running.
func (s *Store) holdBack(user string, tx int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	if s.held == nil {
		s.held = map[string]int64{}
	}
	s.held[user] = max(s.held[user], tx)
	if !s.watching {
		s.watching = true
		go s.watchHorizon()
	}
}

// watchHorizon looks at the horizon until no reader is held back, and calls OnCommit with the users
// whose held-back changes it has passed. It ends when nothing is held back, or the store closes.
func (s *Store) watchHorizon() {
	wait := horizonFirst
	for {
		time.Sleep(wait)
		wait = min(2*wait, horizonWait)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var xmin int64
		err := s.pool.QueryRow(ctx, `SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint`).Scan(&xmin)
		cancel()
		var users []string
		s.mu.Lock()
		if s.closed {
			s.held, s.watching = nil, false
			s.mu.Unlock()
			return
		}
		if err == nil {
			for u, tx := range s.held {
				if tx < xmin {
					users = append(users, u)
					delete(s.held, u)
				}
			}
		}
		done := len(s.held) == 0
		if done {
			s.watching = false
		}
		s.mu.Unlock()
		if len(users) > 0 {
			wait = horizonFirst
			if s.OnCommit != nil {
				s.OnCommit(users)
			}
		}
		if done {
			return
		}
	}
}
