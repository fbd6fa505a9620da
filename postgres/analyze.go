package postgres

import (
	"context"
	"fmt"
)

// Imported is told of the activities an import added (activity.BulkLoader). PostgreSQL plans each
// query from statistics that only ANALYZE gathers, and autovacuum may be off or behind a bulk load:
// planned for the empty table it was, a look-up by appActivityId picked the index on
// last_modified and read all of a user's activities, so that an import of 20,000 activities slowed
// quadratically (over 10 minutes, against seconds once analyzed). So once the activities imported
// since the last ANALYZE are more than a tenth of the table as it was then, and at least 500, it
// analyzes the tables an import fills; this process's imports count, not those of others.
func (s *Store) Imported(ctx context.Context, n int) error {
	s.mu.Lock()
	s.imported += int64(n)
	due := s.imported >= 500 && s.imported > s.analyzed/10
	if due {
		s.analyzed += s.imported
		s.imported = 0
	}
	s.mu.Unlock()
	if !due {
		return nil
	}
	if _, err := s.pool.Exec(ctx, `ANALYZE activities, history_items, changes`); err != nil {
		return fmt.Errorf("analyze after an import: %w", err)
	}
	return nil
}

// LockKey takes a transaction-scoped advisory lock on the transaction's app and appActivityID
// (activity.KeyLocker): an import reads the stored activity before it decides to write, and a row
// that does not exist yet cannot be locked with FOR UPDATE, so two imports of one key at once could
// otherwise both decide against nothing and the older win. The lock ends with the transaction.
func (tx *Tx) LockKey(ctx context.Context, appActivityID string) error {
	if _, err := tx.tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1 || E'\x1f' || $2 || E'\x1f' || $3 || E'\x1f' || $4, 1))`,
		tx.p.TenantID, tx.p.UserID, tx.p.AppID, appActivityID); err != nil {
		return fmt.Errorf("lock key: %w", err)
	}
	return nil
}
