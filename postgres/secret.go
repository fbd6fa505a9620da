package postgres

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5"
)

// Secret returns the store's secret called name, making a random one of size bytes on first use.
// When two processes make it at once, the first to commit wins and both return its value.
func (s *Store) Secret(ctx context.Context, name string, size int) ([]byte, error) {
	fresh := make([]byte, size)
	_, _ = rand.Read(fresh) // crypto/rand.Read never fails on supported platforms
	var value []byte
	err := s.pool.QueryRow(ctx, `WITH made AS (
			INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING RETURNING value)
		SELECT value FROM made UNION ALL SELECT value FROM secrets WHERE name = $1 LIMIT 1`, name, fresh).Scan(&value)
	if errors.Is(err, pgx.ErrNoRows) {
		// Another process made it at the same moment: its insert committed after this statement's
		// snapshot was taken, so only a new statement sees it.
		err = s.pool.QueryRow(ctx, `SELECT value FROM secrets WHERE name = $1`, name).Scan(&value)
	}
	if err != nil {
		return nil, fmt.Errorf("secret %s: %w", name, err)
	}
	return value, nil
}

// Ready reports an error unless the database answers and every embedded migration is applied, as
// it was when this build was made.
func (s *Store) Ready(ctx context.Context) error {
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return err
	}
	var applied int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&applied); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	if applied < len(names) {
		return fmt.Errorf("postgres: %d of %d migrations applied", applied, len(names))
	}
	return nil
}
