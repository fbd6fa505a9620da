package sqlite

import (
	"fmt"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// statementJournalSpill is the size, in bytes, past which SQLite moves a statement journal from
// memory to a temporary file (SQLITE_CONFIG_STMTJRNL_SPILL, https://sqlite.org/c3ref/c_config_covering_index_scan.html).
//
// The writer wraps each write of a group commit in a SAVEPOINT, whose sub-journal is a statement
// journal: it holds the original of every page the write changes (the activity's table and index
// pages, the change log's, the full-text index's). A create often changes more than the sixteen
// pages that fit in SQLite's default of 64 KiB, and then made, wrote, read back and dropped a
// temporary file: per create, 42 write system calls and 108 KB written where 32 and 83 KB do now
// (BENCHMARKS.md §17).
//
// It must stay below 128 KiB. SQLite keeps an in-memory journal in chunks of this size and, when it
// spills, writes each chunk in one write to the file, and its Unix VFS writes at most 128 KiB - 1
// bytes at a time (seekAndWriteFd masks the length with 0x1ffff): with a threshold of 128 KiB or
// more, a journal that spills fails its statement with SQLITE_FULL ("database or disk is full"),
// which TestStatementJournal_Spills shows. A page less than 128 KiB keeps 30 pages in memory; a
// larger journal (a Forget of a whole history, trimming a long change log) still spills, so memory
// stays bounded.
const statementJournalSpill = 128<<10 - 4096

// statementJournalErr is why SQLite refused statementJournalSpill, nil when it took it.
// sqlite3_config works only before SQLite is initialised, that is before the process opens its
// first database: this package's init runs before any code that imports it can open one.
var statementJournalErr = configureStatementJournal(statementJournalSpill)

func configureStatementJournal(bytes int32) error {
	tls := libc.NewTLS()
	defer tls.Close()
	args := libc.NewVaList(bytes)
	if args == 0 {
		return fmt.Errorf("sqlite: configure statement journals: out of memory")
	}
	defer libc.Xfree(tls, args)
	if rc := sqlite3.Xsqlite3_config(tls, sqlite3.SQLITE_CONFIG_STMTJRNL_SPILL, args); rc != sqlite3.SQLITE_OK {
		return fmt.Errorf("sqlite: configure statement journals (SQLITE_CONFIG_STMTJRNL_SPILL): result code %d", rc)
	}
	return nil
}
