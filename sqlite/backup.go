package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
)

// Backup writes a consistent copy of the database at path to dest (a new file) with SQLite's
// VACUUM INTO (https://sqlite.org/lang_vacuum.html#vacuuminto): one read transaction, so the copy
// is the database as of one commit, the WAL's committed frames included, while a server goes on
// writing (WAL readers do not block the writer). The copy is compact and in rollback-journal
// mode; dest must not exist. It returns the copy's size in bytes.
func Backup(ctx context.Context, path, dest string) (int64, error) {
	if _, err := os.Stat(path); err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	if _, err := os.Stat(dest); err == nil {
		return 0, fmt.Errorf("backup: %s exists; a backup never overwrites a file", dest)
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Set("mode", "ro")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, dest); err != nil {
		os.Remove(dest)
		return 0, fmt.Errorf("backup of %s: %w", path, err)
	}
	// VACUUM INTO does not sync what it wrote: a backup that a crash could lose is no backup.
	f, err := os.Open(dest)
	if err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	return st.Size(), nil
}

// Check opens the SQLite file at path read-only and runs SQLite's integrity check on it
// (https://sqlite.org/pragma.html#pragma_integrity_check), and reports whether it holds activityd's
// tables: what a restore checks before it puts a backup in place. Errors name the file and what is
// wrong with it.
func Check(ctx context.Context, path string) error {
	q := url.Values{}
	q.Set("mode", "ro")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer db.Close()
	var result string
	if err := db.QueryRowContext(ctx, `PRAGMA integrity_check(1)`).Scan(&result); err != nil {
		return fmt.Errorf("%s is not a SQLite database activityd can read: %w", path, err)
	}
	if result != "ok" {
		return fmt.Errorf("%s fails SQLite's integrity check: %s", path, result)
	}
	var n int
	err = db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('activities', 'history_items', 'schema_migrations')`).Scan(&n)
	if err != nil || n != 3 {
		return errors.Join(fmt.Errorf("%s is a SQLite database, but not one of activityd (no activities, history_items and schema_migrations tables)", path), err)
	}
	return nil
}
