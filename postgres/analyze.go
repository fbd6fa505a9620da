package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/activityd/activityd"
	"github.com/jackc/pgx/v5"
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

// AnalyzeInterval is how often KeepStatistics looks for tables that changed enough to be analyzed.
const AnalyzeInterval = 30 * time.Second

// AnalyzeDue runs ANALYZE on each table of the store that changed by more than a tenth of its rows,
// and at least 500, since it was last analyzed (by anyone: autovacuum, an import, another process),
// as autovacuum's analyze would with its defaults (autovacuum_analyze_threshold 50,
// autovacuum_analyze_scale_factor 0.1). PostgreSQL plans each query from statistics only ANALYZE
// gathers, and autovacuum may be off: without them a growing table's queries drifted from
// milliseconds to hundreds (BENCHMARKS §9), and a look-up by appActivityId read all of a user's
// activities through another index of the same leading columns. One process at a time analyzes
// (a transaction-scoped advisory lock); the others skip. Only tables the role may analyze count:
// those it owns, or whose owner it has the rights of (before PostgreSQL 17 another role's ANALYZE
// only warns). It returns the tables it analyzed.
//
// Source: https://www.postgresql.org/docs/current/routine-vacuuming.html#VACUUM-FOR-STATISTICS
func (s *Store) AnalyzeDue(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT t.relname FROM pg_stat_user_tables t JOIN pg_class c ON c.oid = t.relid
		WHERE t.relid = ANY (ARRAY[to_regclass('activities'), to_regclass('history_items'), to_regclass('changes')])
		AND t.n_mod_since_analyze > greatest(500, 0.1 * greatest(c.reltuples, 0))
		AND pg_has_role(c.relowner, 'USAGE')`)
	if err != nil {
		return nil, fmt.Errorf("find tables to analyze: %w", err)
	}
	due, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(due) == 0 {
		return nil, err
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var mine bool
	if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1)`, analyzeLock).Scan(&mine); err != nil || !mine {
		return nil, err
	}
	for _, t := range due {
		if _, err := tx.Exec(ctx, "ANALYZE "+pgx.Identifier{t}.Sanitize()); err != nil {
			return nil, fmt.Errorf("analyze %s: %w", t, err)
		}
	}
	return due, tx.Commit(ctx)
}

// analyzeLock is the advisory lock key under which one process at a time runs AnalyzeDue.
const analyzeLock = migrationLock + 1

// KeepStatistics runs AnalyzeDue every AnalyzeInterval until ctx ends, logging what it analyzed at
// INFO and its errors (WARN when the database cannot serve for now).
func (s *Store) KeepStatistics(ctx context.Context, logger *slog.Logger) {
	t := time.NewTicker(AnalyzeInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		start := time.Now()
		tables, err := s.AnalyzeDue(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			logger.Log(ctx, activity.LogLevel(s, err), "analyze the tables", slog.String("error", err.Error()))
		case len(tables) > 0:
			logger.Info("analyzed", slog.Any("tables", tables), slog.Duration("took", time.Since(start)))
		}
	}
}
