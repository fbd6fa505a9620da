package sqlite

import (
	"context"
	"database/sql"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestStatementJournal_Spills checks statementJournalSpill where it shows: in the temporary files
// SQLite opens. A child process (SQLite reads SQLITE_TMPDIR once, when it initialises) opens a
// SAVEPOINT that rewrites 20 pages (80 KiB: a file at SQLite's default of 64 KiB, in memory here),
// then one that rewrites 200 pages (800 KiB: a file either way, which shows that the check sees
// files, and which failed with SQLITE_FULL at thresholds of 256 KiB and 4 MiB). While each
// savepoint is open, it looks for open files in SQLITE_TMPDIR.
func TestStatementJournal_Spills(t *testing.T) {
	if statementJournalErr != nil {
		t.Fatal(statementJournalErr)
	}
	const child = "ACTIVITYD_TEST_STATEMENT_JOURNAL_CHILD"
	if os.Getenv(child) == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestStatementJournal_Spills$", "-test.v")
		cmd.Env = append(os.Environ(), child+"=1", "SQLITE_TMPDIR="+t.TempDir())
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("child: %v\n%s", err, out)
		}
		return
	}
	// The descriptors' links are resolved paths: so must the directory be (TMPDIR may be a link).
	tmp, err := filepath.EvalSymlinks(os.Getenv("SQLITE_TMPDIR"))
	if err != nil {
		t.Fatal(err)
	}

	// tempFiles counts this process's open files in SQLITE_TMPDIR (SQLite opens them with
	// O_TMPFILE, or opens and unlinks them: either way a descriptor links into the directory).
	tempFiles := func() int {
		fds, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, fd := range fds {
			if to, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name())); err == nil && strings.HasPrefix(to, tmp+"/") {
				n++
			}
		}
		return n
	}

	ctx := context.Background()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "journal.db")+"?_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := conn.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s %v: %v", q, args, err)
		}
	}
	// 300 rows of 3,000 bytes: a 4 KiB page each.
	exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, x BLOB)`)
	exec(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300)
		INSERT INTO t SELECT i, randomblob(3000) FROM n`)
	for _, c := range []struct {
		pages int
		spill bool
	}{{20, false}, {200, true}} {
		exec(`BEGIN`)
		exec(`SAVEPOINT write`)
		exec(`UPDATE t SET x = randomblob(3000) WHERE id <= ?`, c.pages)
		if n := tempFiles(); (n > 0) != c.spill {
			t.Errorf("a savepoint over %d pages (%d KiB) has %d temporary files open; want spilled=%v at %d KiB",
				c.pages, c.pages*4, n, c.spill, statementJournalSpill>>10)
		}
		exec(`RELEASE write`)
		exec(`COMMIT`)
	}
	var n int
	if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM t`).Scan(&n); err != nil || n != 300 {
		t.Fatalf("rows after the savepoints: %d, %v; want 300", n, err)
	}
}
