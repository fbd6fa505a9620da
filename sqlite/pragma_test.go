package sqlite

import (
	"path/filepath"
	"testing"
)

// TestOpen_Pragmas checks the durability promise on both pools: WAL, synchronous=FULL (2), foreign keys.
func TestOpen_Pragmas(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "activityd.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, pool := range []struct {
		name string
		q    querier
	}{{"write", s.conn}, {"read", s.read}} {
		var mode string
		var sync, fk int
		ctx := t.Context()
		if err := pool.q.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
			t.Fatal(err)
		}
		pool.q.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync)
		pool.q.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk)
		if mode != "wal" || sync != 2 || fk != 1 {
			t.Errorf("%s pool: journal_mode=%s synchronous=%d foreign_keys=%d; want wal, 2 (FULL), 1", pool.name, mode, sync, fk)
		}
	}
}
