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
